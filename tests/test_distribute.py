"""Training under tf.distribute.MirroredStrategy with two logical CPU devices, in a fresh process
(logical devices must be configured before TensorFlow starts, and this session's TF has started)."""

import json
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
from keras_famous import training
devices = training.split_cpu(2)
import keras, keras_famous
from keras_famous import datasets, transfer
keras.utils.set_random_seed(0)
strategy = training.strategy("mirrored")
(x_train, y_train), (x_test, y_test) = datasets.digits_32x32()
model, history = training.fit(lambda: keras_famous.LeNet5(variant="modern"), x_train, y_train, strategy=strategy,
                              epochs=4, global_batch_size=64, verbose=0)
lenet_top1 = float(np.mean(model.predict(x_test, verbose=0).argmax(1) == y_test))
mirrored = type(model.trainable_weights[0].value).__name__  # the tf.Variable behind the Keras variable
# a frozen-backbone classifier built in the strategy's scope and fine-tuned there
rgb = np.repeat(x_train[:256], 3, axis=-1)
with strategy.scope():
    classifier = transfer.classifier("ResNet18", classes=10, input_shape=(32, 32, 3))
    head, tuned = transfer.fine_tune(classifier, rgb, y=y_train[:256], head_epochs=1, fine_tune_epochs=1, batch_size=64, verbose=0)
print(json.dumps(dict(devices=devices, replicas=strategy.num_replicas_in_sync, loss=history.history["loss"],
                      lenet_top1=lenet_top1, variable=mirrored, head_loss=head.history["loss"][-1], tuned_loss=tuned.history["loss"][-1])))
"""


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus_trains(tmp_path):
    script = tmp_path / "mirrored.py"
    script.write_text(SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=600, env=dict(os.environ)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2 and len(report["devices"]) == 2
    assert report["variable"] == "MirroredVariable"
    assert report["loss"][-1] < report["loss"][0]
    assert report["lenet_top1"] > 0.8, report
    assert all(value == value for value in (report["head_loss"], report["tuned_loss"]))  # not NaN
