"""The keras.applications argument set: validation, inputs, tops, dtype of the classifier, weights hook."""

import json
import keras
import numpy as np
import pytest

import keras_famous
from keras_famous import registry
from conftest import random_images

ALL_BUILDERS = [getattr(keras_famous, name) for name in keras_famous.list_models()]


def test_every_registered_model_is_a_public_builder():
    for name in keras_famous.list_models():
        assert getattr(keras_famous, name) is registry.get_spec(name).builder
        assert "include_top" in registry.get_spec(name).builder.__doc__


@pytest.mark.parametrize("pooling", ["mean", "AVG", 1])
def test_bad_pooling_names_the_argument(pooling):
    with pytest.raises(ValueError, match="`pooling`"):
        keras_famous.ResNet18(include_top=False, pooling=pooling)


def test_classes_with_imagenet_top_names_the_argument():
    with pytest.raises(ValueError, match="`classes` must be 1000"):
        keras_famous.ResNet50(weights="imagenet", classes=10)


def test_imagenet_weights_are_never_silently_random(tmp_path, monkeypatch):
    """No source: a ValueError. A source that cannot be reached: an OSError. Never a random model."""
    with pytest.raises(ValueError, match="No public pretrained source"):
        keras_famous.ZFNet(weights="imagenet")
    manifest = {"version": 1, "entries": [{
        "model": "ResNeXt50", "variant": "keras", "source": "keras-applications", "source_model": "ResNeXt50",
        "format": "keras_h5", "converter": "keras_h5",
        "files": {"top": {"url": "http://127.0.0.1:9/resnext50.h5", "hash": {"md5": "0" * 32}}},
    }]}  # fmt: skip
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("KERAS_FAMOUS_MANIFEST", str(tmp_path / "manifest.json"))
    monkeypatch.setenv("KERAS_FAMOUS_HOME", str(tmp_path / "home"))
    with pytest.raises(OSError, match="weights=None"):
        keras_famous.ResNeXt50(weights="imagenet")


@pytest.mark.parametrize("weights", ["missing.weights.h5", "model.pth", 3])
def test_bad_weights_argument(weights, tmp_path):
    with pytest.raises((ValueError, OSError), match="weights"):
        keras_famous.ResNet18(weights=str(tmp_path / weights) if isinstance(weights, str) else weights)


def test_pretrained_weights_restrict_classifier_activation(tmp_path):
    path = tmp_path / "w.weights.h5"
    keras_famous.LeNet5(variant="modern").save_weights(path)
    with pytest.raises(ValueError, match="`classifier_activation`"):
        keras_famous.LeNet5(variant="modern", weights=str(path), classifier_activation="sigmoid")


@pytest.mark.parametrize("name", keras_famous.list_models())
def test_minimum_input_size_is_enforced_and_sufficient(name):
    builder = registry.get_spec(name).builder
    contract_min = _min_size(name)
    channels = registry.get_spec(name).input_shape[-1]
    with pytest.raises(ValueError, match=f"at least {contract_min} pixels"):
        builder(include_top=False, input_shape=(contract_min - 1, contract_min + 8, channels))
    model = builder(include_top=False, input_shape=(contract_min, contract_min, channels))
    output = model.predict(random_images((contract_min, contract_min, channels), batch=1), verbose=0)
    assert min(output.shape[1:3]) >= 1


def _min_size(name):
    message = None
    try:
        registry.get_spec(name).builder(include_top=False, input_shape=(1, 1, registry.get_spec(name).input_shape[-1]))
    except ValueError as error:
        message = str(error)
    assert message is not None
    return int(message.split("at least ")[1].split(" ")[0])


def test_unknown_model_and_variant_name_the_argument():
    with pytest.raises(ValueError, match="Unknown model `name` 'resnet51'.*Did you mean"):
        keras_famous.get_model("resnet51")
    with pytest.raises(ValueError, match="`variant`"):
        keras_famous.ResNet50(variant="caffe")
    with pytest.raises(ValueError, match="`variant`"):
        keras_famous.AlexNet(variant="two")
    with pytest.raises(ValueError, match="`variant`"):
        keras_famous.model_info("VGG16", variant="nope")


def test_input_shape_rank_and_channels():
    with pytest.raises(ValueError, match="`input_shape`"):
        keras_famous.VGG11(include_top=False, input_shape=(64, 64))


def test_get_model_is_case_insensitive():
    assert keras_famous.get_model("resnext50").name == "resnext50"
    assert keras_famous.get_model("ResNeXt50", name="mine").name == "mine"
    assert keras_famous.get_model("wide_resnet50_2", include_top=False).name == "wideresnet50_2"


@pytest.mark.parametrize("pooling,rank", [(None, 4), ("avg", 2), ("max", 2)])
def test_headless_pooling(pooling, rank):
    model = keras_famous.VGG11(include_top=False, pooling=pooling, input_shape=(64, 64, 3))
    assert len(model.output.shape) == rank
    assert model.output.shape[-1] == 512


def test_input_tensor_is_used_and_predecessors_are_kept():
    inputs = keras.Input((48, 48, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    model = keras_famous.ResNet18(include_top=False, input_tensor=x, pooling="avg")
    assert model.inputs[0] is inputs
    assert model.output.shape == (None, 512)


def test_flatten_top_requires_static_shape_and_other_sizes_change_fc():
    with pytest.raises(ValueError, match="static"):
        keras_famous.VGG11(input_shape=(None, None, 3))
    model = keras_famous.AlexNet(variant="torchvision", input_shape=(128, 128, 3), classes=5)
    assert model.output.shape == (None, 5)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_classifier_activation_is_float32_under_mixed_precision(policy):
    for builder in (keras_famous.ResNet18, keras_famous.VGG11, keras_famous.LeNet5):
        keras.config.set_dtype_policy(policy)  # clear_session() resets the global policy
        model = builder(input_shape=None)
        assert model.get_layer("predictions").compute_dtype == "float32"
        assert model.output.dtype == "float32"
        assert model.layers[2].compute_dtype != "float32"
        keras.backend.clear_session()


def test_weights_path_loads_keras_files_by_name(tmp_path):
    """A keras.applications ResNet50's weights file loads into ours through `weights=`."""
    reference = keras.applications.ResNet50(weights=None)
    path = tmp_path / "resnet50.weights.h5"
    reference.save_weights(path)
    ours = keras_famous.ResNet50(weights=str(path))
    for a, b in zip(ours.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_mismatched_weights_file_is_a_clear_error(tmp_path):
    path = tmp_path / "resnet18.weights.h5"
    keras_famous.ResNet18().save_weights(path)
    with pytest.raises(ValueError, match="does not match this model") as error:
        keras_famous.ResNet34(weights=str(path))
    assert "conv2_block3_1_conv" in str(error.value)  # names the layers ResNet34 has and the file lacks
