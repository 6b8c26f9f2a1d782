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
