"""The one way keras_famous keeps a library quiet: users see our output, not TensorFlow's, tf2onnx's,
LiteRT's or Ray's. Standard library only (the TensorFlow-free LiteRT runner uses it too).

`quiet(*loggers, native_stderr=False)` for a block: the Python loggers named show errors only (absl's too,
while "absl" is among them), and with `native_stderr` what C++ code writes on file descriptor 2 is held back
(LiteRT's "Created TensorFlow Lite XNNPACK delegate", the TFLite converter's "fully_quantize: 0, ..."), and
shown only if the block raises. `quiet_by_default(verbose)` is the command line's setting for the process
(which then loads TensorFlow inside `quiet(native_stderr=True)`: its start-up notices are held back too).
"""

import contextlib
import logging
import os
import sys
import tempfile


@contextlib.contextmanager
def quiet(*loggers, native_stderr=False):
    """Within the block the Python `loggers` show errors only, and with `native_stderr` file descriptor 2 is held
    back (and shown if the block raises)."""
    with contextlib.ExitStack() as stack:
        for name in loggers:
            logger = logging.getLogger(name)
            stack.callback(logger.setLevel, logger.level)
            logger.setLevel(logging.ERROR)
        if native_stderr:
            stack.enter_context(_native_stderr_held())
        yield


@contextlib.contextmanager
def _native_stderr_held():
    """File descriptor 2 into a temporary file for the block; its text is written out when the block raises."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real descriptor 2 (some embedded interpreters)
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def quiet_by_default(verbose=False):
    """The command line's setting, for the whole process: unless `verbose`, TF_CPP_MIN_LOG_LEVEL=3 where the user
    set no level (subprocesses inherit it), and absl's Python logger at errors when the level is 3. Whether the
    process is quiet (the level is 3 and not `verbose`)."""
    if verbose or os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3") != "3":
        return False
    logging.getLogger("absl").setLevel(logging.ERROR)
    return True
