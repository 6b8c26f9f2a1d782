"""The registry's metadata: stored table = the graphs; counts = the references; info complete."""

import keras
import pytest
from keras.src.ops import operation  # private: where Keras names unnamed layers (test only)
from keras.src.utils import naming

import keras_famous
from keras_famous import catalog, registry

CASES = [(spec.name, variant) for spec in registry.SPECS.values() for variant in spec.variants]


def test_stored_table_has_every_variant_and_lists_what_the_families_say():
    table = registry.load_table()
    assert list(table) == registry.list_models()
    assert all(list(table[name]) == list(registry.SPECS[name].variants) for name in table)
    for name, variant in CASES:  # what `keras-famous list` shows without building: the spec's, as it is now
        listing = catalog.listing(registry.model_info(name, variant))
        assert table[name][variant]["listing"] == listing, f"{name}/{variant}: run tools/update_model_table.py"


@pytest.mark.slow
@pytest.mark.parametrize("name, variant", CASES, ids=[f"{n}-{v}" for n, v in CASES])
def test_stored_table_is_what_the_graphs_give_and_counts_equal_references(name, variant, monkeypatch):
    # Every layer is named by its builder: a Keras automatic name would depend on what the session built before.
    automatic = []
    monkeypatch.setattr(operation, "auto_name", lambda prefix: automatic.append(prefix) or naming.auto_name(prefix))
    stats = registry.compute_stats(name, variant)
    assert automatic == [], f"{name}/{variant} leaves layers to Keras' automatic names: {automatic[:5]}"
    stored = registry.load_table()[name][variant]
    assert {**stats, "listing": stored["listing"]} == stored, f"{name}/{variant}: run tools/update_model_table.py"
    for ref in registry.get_spec(name).variants[variant].references:
        if ref.params is not None:
            assert stats["params"] == ref.params, (name, variant, ref)
        if ref.trainable_params is not None:
            assert stats["trainable_params"] == ref.trainable_params, (name, variant, ref)


def test_issue_counts():
    """The figures the catalog promises, read through model_info."""
    info = keras_famous.model_info
    assert (info("ResNeXt50").params, info("ResNeXt50").trainable_params) == (25_097_128, 25_028_904)
    assert (info("ResNeXt101").params, info("ResNeXt101").trainable_params) == (44_315_560, 44_177_704)
    assert info("LeNet5").trainable_params == 60_000 and info("LeNet5").non_trainable_params == 840
    assert info("ZFNet").params == 62_357_608
    assert info("AlexNet", "torchvision").params == 61_100_840
    assert info("VGG16").params == 138_357_544 and info("VGG16").depth == 23 and info("VGG16").weighted_depth == 16
    assert info("ResNet50").weighted_depth == 107
    # Keras' pretrained table: topological depth InceptionV3 159, Xception 126, InceptionResNetV2 572.
    assert (info("InceptionV3").depth, info("Xception").depth, info("InceptionResNetV2").depth) == (159, 126, 572)
    assert info("VGG16", "bn").trainable_params == 138_365_992


def test_keras_variant_differs_from_torchvision_only_by_conv_biases():
    """ResNet18/34 have no Keras reference; their Caffe-style variant adds exactly one bias per conv filter."""
    for name in ("ResNet18", "ResNet34"):
        keras_model = registry.build_variant(name, "keras")
        tv_model = registry.build_variant(name, "torchvision")
        biases = sum(layer.filters for layer in keras_model.layers if type(layer).__name__ == "Conv2D")
        tv_params = sum(int(w.numpy().size) for w in tv_model.trainable_weights)
        keras_params = sum(int(w.numpy().size) for w in keras_model.trainable_weights)
        assert keras_params == tv_params + biases


@pytest.mark.parametrize("name", keras_famous.list_models())
def test_model_info_is_complete(name):
    spec = registry.get_spec(name)
    for variant in spec.variants:
        info = keras_famous.model_info(name, variant)
        assert info.params > 0 and info.trainable_params > 0 and info.macs > 0
        assert (
            info.depth > 1 and info.weighted_depth > 0
        )  # branches can hold more weighted layers than the longest path
        assert info.year >= 1998 and info.paper and len(info.input_size) == 3
        assert info.variants == tuple(spec.variants)
        if info.top1 is not None:  # a publisher may give top-1 alone (NiN's ImageNet model)
            assert 0 < info.top1 <= 1 and info.accuracy_source
            assert info.top5 is None or info.top1 < info.top5 <= 1


def test_model_info_compute_equals_table():
    assert keras_famous.model_info("LeNet5", compute=True) == keras_famous.model_info("LeNet5")


def test_list_models_is_the_catalog():
    assert keras_famous.list_models() == [
        "LeNet5",
        "AlexNet",
        "ZFNet",
        "NiN",
        "VGG11",
        "VGG13",
        "VGG16",
        "VGG19",
        "GoogLeNet",
        "ResNet18",
        "ResNet34",
        "ResNet50",
        "ResNet101",
        "ResNet152",
        "ResNet50V2",
        "ResNet101V2",
        "ResNet152V2",
        "ResNeXt50",
        "ResNeXt101",
        "WideResNet50_2",
        "WideResNet101_2",
        "InceptionV3",
        "InceptionV4",
        "InceptionResNetV2",
        "Xception",
        "DenseNet121",
        "DenseNet169",
        "DenseNet201",
        "DenseNetBC",
        "SqueezeNet1_0",
        "SqueezeNet1_1",
    ]


def test_model_info_compute_leaves_the_session_alone():
    keras.config.set_dtype_policy("mixed_float16")
    keras_famous.model_info("LeNet5", compute=True)
    assert keras.config.dtype_policy().name == "mixed_float16"
