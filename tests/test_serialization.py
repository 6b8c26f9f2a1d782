"""Every model saves to `.keras` and reloads with safe_mode=True to identical outputs: here the
variants that test_export does not already round-trip (and export from the reloaded model), except
the deeper siblings in DEEPER_SIBLINGS: the same layer classes with the same configurations as the
sibling named there, only more blocks per stage (their builds are checked by test_registry), so a
round trip of theirs proves nothing the sibling's does not - and cost ~6 minutes of CPU per run.

ImageNet-size networks are built at 96x96 here: the same layers and configs, but VGG's and AlexNet's
flattening fc layer shrinks from ~100M to a few million weights, which keeps the suite fast."""

import keras
import numpy as np
import pytest

from keras_famous import registry
from conftest import infer, EXPORTED_MODELS, random_images

DEEPER_SIBLINGS = {
    "ResNet101": "ResNet50", "ResNet152": "ResNet50", "ResNet101V2": "ResNet50V2", "ResNet152V2": "ResNet50V2",
    "ResNeXt101": "ResNeXt50", "WideResNet101_2": "WideResNet50_2", "DenseNet169": "DenseNet121",
    "DenseNet201": "DenseNet121", "DenseNetBC/L250_k24": "DenseNetBC/L100_k12", "DenseNetBC/L190_k40": "DenseNetBC/L100_k12",
}  # fmt: skip
CASES = [
    (spec.name, variant)
    for spec in registry.SPECS.values()
    for variant in spec.variants
    if not (variant == spec.default_variant and spec.name in EXPORTED_MODELS)
    and spec.name not in DEEPER_SIBLINGS
    and f"{spec.name}/{variant}" not in DEEPER_SIBLINGS
]
LARGE = ("InceptionResNetV2", "DenseNetBC")


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
    try:
        model = registry.build_variant(name, variant, input_shape=shape)
    except ValueError as error:  # a variant whose minimum exceeds its family's default side (NiN ImageNet's 39)
        if "too small" not in str(error):
            raise
        model = registry.build_variant(name, variant, input_shape=(64, 64, shape[-1]))
    images = random_images(model.input_shape[1:], batch=1)
    expected = infer(model, images)
    path = tmp_path / "model.keras"
    model.save(path)
    keras.backend.clear_session()
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_equal(infer(reloaded, images), expected)
    assert [layer.name for layer in reloaded.layers] == [layer.name for layer in model.layers]


def test_deeper_siblings_share_every_layer_configuration():
    """What lets DEEPER_SIBLINGS skip their own round trip: no layer class or configuration in the
    deeper model that its sibling lacks (names and widths aside: DenseNet's channel counts grow)."""

    def configurations(name, variant):
        model = registry.build_variant(name, variant, input_shape=(64, 64, 3), weights=None)
        ignored = ("name", "build_config", "trainable", "dtype")
        return {
            (
                type(layer).__name__,
                repr(
                    sorted((k, v) for k, v in layer.get_config().items() if k not in ignored and (type(v) is not int))
                ),
            )
            for layer in model.layers
            if not isinstance(layer, keras.layers.InputLayer)
        }

    for deeper, sibling in (("ResNet152", "ResNet50"), ("DenseNet201", "DenseNet121")):
        for variant in registry.get_spec(deeper).variants:
            assert configurations(deeper, variant) <= configurations(sibling, variant), (deeper, variant)
