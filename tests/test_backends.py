"""The builders use keras.ops only, so they run on the torch backend too (in a fresh process)."""

import os
import subprocess
import sys

SCRIPT = """
import numpy as np, keras, keras_famous
assert keras.backend.backend() == "torch"
for builder, shape in ((keras_famous.LeNet5, (32, 32, 1)), (keras_famous.AlexNet, (227, 227, 3)),
                       (keras_famous.ResNeXt50, (64, 64, 3))):
    kwargs = {} if builder is not keras_famous.ResNeXt50 else {"include_top": False, "input_shape": shape}
    model = builder(**kwargs)
    out = model(np.zeros((1, *shape), "float32"))
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(out))), builder.__name__
print("ok")
"""


def test_builders_run_on_torch_backend():
    env = dict(os.environ, KERAS_BACKEND="torch")
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")


PREPROCESSING_SCRIPT = """
import numpy as np, keras, keras_famous
from keras_famous import preprocessing
from keras_famous.layers import ImagePreprocessing
assert keras.backend.backend() == "torch"
pixels = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
for mode in preprocessing.MODES:
    out = keras.ops.convert_to_numpy(ImagePreprocessing(mode)(pixels))
    np.testing.assert_allclose(out, preprocessing.scale(pixels, mode), rtol=1e-6, atol=1e-6)
model = keras_famous.LeNet5(include_preprocessing=True)
plain = keras_famous.LeNet5()
plain.set_weights(model.get_weights())
images = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 1)).astype("float32")
raw = keras.ops.convert_to_numpy(model(images))
expected = keras.ops.convert_to_numpy(plain(keras_famous.preprocess_input(images, "LeNet5")))
np.testing.assert_allclose(raw, expected, atol=1e-5)
print("ok")
"""


def test_include_preprocessing_on_torch_backend():
    """ImagePreprocessing (keras.ops only) computes preprocessing.scale in every mode on the torch backend too."""
    env = dict(os.environ, KERAS_BACKEND="torch")
    result = subprocess.run(
        [sys.executable, "-c", PREPROCESSING_SCRIPT], capture_output=True, text=True, env=env, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
