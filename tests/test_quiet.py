"""keras_famous.quiet, the one way a library is kept quiet: loggers at errors, C++ lines on descriptor 2 held
back, and shown when the block fails."""

import logging
import os

import pytest

from keras_famous.quiet import quiet


def test_loggers_and_native_stderr_are_held_back_and_shown_on_an_error(capfd):
    logger = logging.getLogger("tf2onnx")
    level = logger.level
    with quiet("tf2onnx", native_stderr=True):
        assert logger.level == logging.ERROR
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")  # as C++ code writes it
    assert logger.level == level and "XNNPACK" not in capfd.readouterr().err
    with pytest.raises(RuntimeError, match="conversion failed"), quiet(native_stderr=True):
        os.write(2, b"error: 'tf.Foo' op is neither a custom op nor a flex op\n")
        raise RuntimeError("conversion failed")
    assert "neither a custom op nor a flex op" in capfd.readouterr().err  # the cause, with the error
    assert logger.level == level
