"""The `keras-famous` console script's entry point (`keras_famous.cli.main` does the work).

It lives outside the `keras_famous` package on purpose. TensorFlow prints its C++ notices (oneDNN,
CPU instructions, CUDA drivers) while it loads, some through absl before its logging is set up, which
TF_CPP_MIN_LOG_LEVEL does not reach; and a console script imports its module's package first, so an
entry point inside `keras_famous` (whose `__init__` imports Keras and TensorFlow) would run after the
notices. Here, unless `--verbose` is given or the user set TF_CPP_MIN_LOG_LEVEL, `main` sets it to 3
(subprocesses inherit it) and loads TensorFlow with stderr held back (shown if the import fails)
before importing keras_famous. Library users' imports are untouched.
"""

import contextlib
import os
import sys
import tempfile


def verbose_requested(argv):
    """Whether `argv` asks for --verbose (as argparse reads it: the flag or a prefix, before any "--")."""
    argv = argv[: argv.index("--")] if "--" in argv else argv
    return any(arg.startswith("--v") and "--verbose".startswith(arg) for arg in argv)


@contextlib.contextmanager
def _stderr_held():
    """File descriptor 2 (where C++ logs go) into a temporary file; its text is written out on an error."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            sys.stderr.flush()
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if os.environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES") and not os.environ.get("KERAS_BACKEND"):
        os.environ["KERAS_BACKEND"] = "jax"  # a cluster run of `keras-famous train`: only JAX trains across processes
    if not verbose_requested(argv) and "TF_CPP_MIN_LOG_LEVEL" not in os.environ:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        with _stderr_held():
            # Keras first: it loads its backend, and torch loaded after TensorFlow crashes (SIGSEGV) here
            import keras  # noqa: F401
            import tensorflow  # noqa: F401

    from keras_famous import cli

    return cli.main(argv)
