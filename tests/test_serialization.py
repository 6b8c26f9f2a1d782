"""Every model saves to `.keras` and reloads with safe_mode=True to identical outputs."""

import keras
import numpy as np
import pytest

from keras_famous import registry
from conftest import random_images

CASES = [(spec.name, variant) for spec in registry.SPECS.values() for variant in spec.variants]
LARGE = ("VGG", "ResNet101", "ResNet152", "ResNeXt101", "WideResNet")


def _params():
    return [
        pytest.param(name, variant, marks=[pytest.mark.slow] if name.startswith(LARGE) else [], id=f"{name}-{variant}")
        for name, variant in CASES
    ]


@pytest.mark.parametrize("name,variant", _params())
def test_keras_round_trip_safe_mode(name, variant, tmp_path):
    model = registry.build_variant(name, variant)
    images = random_images(model.input_shape[1:], batch=1)
    expected = model.predict(images, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    keras.backend.clear_session()
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(reloaded.predict(images, verbose=0), expected)
    assert [layer.name for layer in reloaded.layers] == [layer.name for layer in model.layers]
