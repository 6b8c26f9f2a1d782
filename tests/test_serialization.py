"""Every model saves to `.keras` and reloads with safe_mode=True to identical outputs: here the
variants that test_export does not already round-trip (and export from the reloaded model).

ImageNet-size networks are built at 96x96 here: the same layers and configs, but VGG's and AlexNet's
flattening fc layer shrinks from ~100M to a few million weights, which keeps the suite fast."""

import keras
import numpy as np
import pytest

from keras_famous import registry
from conftest import EXPORTED_MODELS, random_images

CASES = [
    (spec.name, variant) for spec in registry.SPECS.values() for variant in spec.variants
    if not (variant == spec.default_variant and spec.name in EXPORTED_MODELS)
]
LARGE = ("ResNet101", "ResNet152", "ResNeXt101", "WideResNet101_2", "InceptionResNetV2", "DenseNet169", "DenseNet201", "DenseNetBC")


def _params():
    return [
        pytest.param(name, variant, marks=[pytest.mark.slow] if name.startswith(LARGE) else [], id=f"{name}-{variant}")
        for name, variant in CASES
    ]


@pytest.mark.parametrize("name,variant", _params())
def test_keras_round_trip_safe_mode(name, variant, tmp_path):
    default_shape = registry.get_spec(name).input_shape
    has_aux = registry.get_spec(name).variants[variant].kwargs.get("aux_logits", False)  # needs its full size
    shape = (96, 96, default_shape[-1]) if default_shape[0] > 96 and not has_aux else default_shape
    model = registry.build_variant(name, variant, input_shape=shape)
    images = random_images(model.input_shape[1:], batch=1)
    expected = model.predict(images, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    keras.backend.clear_session()
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_equal(reloaded.predict(images, verbose=0), expected)
    assert [layer.name for layer in reloaded.layers] == [layer.name for layer in model.layers]
