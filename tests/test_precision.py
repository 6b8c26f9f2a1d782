"""Policy choice, and models built under it computing in that dtype with a float32 classifier."""

import keras
import numpy as np
import pytest

import keras_famous
from keras_famous import precision
from conftest import random_images


def test_auto_picks_by_device():
    assert precision.choose_policy("auto", {"CPU"}) == "float32"
    assert precision.choose_policy("auto", {"CPU", "GPU"}) == "mixed_float16"
    assert precision.choose_policy("auto", {"CPU", "TPU"}) == "mixed_bfloat16"
    assert precision.choose_policy("mixed_bfloat16", {"CPU"}) == "mixed_bfloat16"
    with pytest.raises(ValueError, match="`request`"):
        precision.choose_policy("half")
    assert precision.use_mixed_precision("auto") == "float32"  # this machine has no accelerator


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_resnet18_under_mixed_policy_stays_close_and_trains(policy):
    reference = keras_famous.ResNet18(variant="torchvision", input_shape=(64, 64, 3), classes=5)
    images = random_images((64, 64, 3), batch=4)
    expected = reference.predict(images, verbose=0)
    assert precision.use_mixed_precision(policy) == policy
    model = keras_famous.ResNet18(variant="torchvision", input_shape=(64, 64, 3), classes=5)
    model.set_weights(reference.get_weights())
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert all(layer.compute_dtype == policy.split("_")[1] for layer in convs)
    assert model.get_layer("predictions").compute_dtype == "float32"
    outputs = model.predict(images, verbose=0)
    assert outputs.dtype == np.float32
    assert np.abs(outputs - expected).max() < (2e-2 if policy == "mixed_float16" else 1e-1)
    optimizer = keras.optimizers.SGD(0.01)  # Keras wraps it in a LossScaleOptimizer under mixed_float16
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    history = model.fit(images, np.arange(4) % 5, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
