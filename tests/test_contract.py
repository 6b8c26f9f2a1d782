"""The keras.applications argument set: validation, inputs, tops, dtype of the classifier, weights hook."""

import json
import keras
import numpy as np
import pytest

import keras_famous
from keras_famous import registry
from conftest import infer, random_images

ALL_BUILDERS = [getattr(keras_famous, name) for name in keras_famous.list_models()]


def test_every_registered_model_is_a_public_builder():
    for name in keras_famous.list_models():
        assert getattr(keras_famous, name) is registry.get_spec(name).builder
        assert "include_top" in registry.get_spec(name).builder.__doc__


@pytest.mark.parametrize("pooling", ["mean", "AVG", 1])
def test_bad_pooling_names_the_argument(pooling):
    with pytest.raises(ValueError, match="`pooling`"):
        keras_famous.ResNet18(include_top=False, pooling=pooling)


def test_pretrained_flatten_top_needs_its_side_but_takes_other_channels():
    with pytest.raises(ValueError, match="must be 224x224 for VGG16"):
        keras_famous.VGG16(weights="imagenet", input_shape=(160, 160, 1))


def test_imagenet_weights_are_never_silently_random(tmp_path, monkeypatch):
    """No source: a ValueError. A source that cannot be reached: an OSError. Never a random model."""
    with pytest.raises(ValueError, match="No public pretrained source"):
        keras_famous.ZFNet(weights="imagenet")
    manifest = {
        "version": 1,
        "entries": [
            {
                "model": "ResNeXt50",
                "variant": "keras",
                "source": "keras-applications",
                "source_model": "ResNeXt50",
                "format": "keras_h5",
                "converter": "keras_h5",
                "files": {"top": {"url": "http://127.0.0.1:9/resnext50.h5", "hash": {"md5": "0" * 32}}},
            }
        ],
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("KERAS_FAMOUS_MANIFEST", str(tmp_path / "manifest.json"))
    monkeypatch.setenv("KERAS_FAMOUS_HOME", str(tmp_path / "home"))
    with pytest.raises(OSError, match="weights=None"):
        keras_famous.ResNeXt50(weights="imagenet")


@pytest.mark.parametrize("weights", ["missing.weights.h5", "model.pth", 3])
def test_bad_weights_argument(weights, tmp_path):
    with pytest.raises((ValueError, OSError), match="weights"):
        keras_famous.ResNet18(weights=str(tmp_path / weights) if isinstance(weights, str) else weights)


def test_pretrained_weights_take_any_classifier_activation(tmp_path):
    """keras.applications allows only softmax or None with weights; a new task may want sigmoid (multi-label)."""
    path = tmp_path / "w.weights.h5"
    source = keras_famous.LeNet5(variant="modern")
    source.save_weights(path)
    model = keras_famous.LeNet5(variant="modern", weights=str(path), classifier_activation="sigmoid")
    images = random_images((32, 32, 1))
    logits = keras_famous.LeNet5(variant="modern", weights=str(path), classifier_activation=None)
    np.testing.assert_allclose(infer(model, images), 1 / (1 + np.exp(-infer(logits, images))), atol=1e-6)
    with pytest.raises(ValueError, match="Unknown `classifier_activation`"):
        keras_famous.LeNet5(variant="modern", weights=str(path), classifier_activation="nope")


def _contract_representatives():
    """One model per (family, input contract): deeper siblings (ResNet101/152, DenseNet169/201, ...) share their
    representative's stem, strides and contract, so its build at the minimum size stands for theirs."""
    seen = {}
    for name in keras_famous.list_models():
        spec = registry.get_spec(name)
        seen.setdefault((spec.family, spec.contract), name)
    return list(seen.values())


def test_siblings_share_their_representatives_contract():
    representatives = set(_contract_representatives())
    assert {"ResNet18", "DenseNet121", "InceptionV3", "VGG11"} <= representatives
    assert not {"ResNet152", "DenseNet201", "VGG19", "WideResNet101_2"} & representatives
    for name in keras_famous.list_models():
        spec = registry.get_spec(name)
        twin = next(other for other in representatives if registry.get_spec(other).family == spec.family
                    and registry.get_spec(other).contract == spec.contract)  # fmt: skip
        assert _min_size(name) == _min_size(twin) == spec.contract.min_size, name


@pytest.mark.parametrize("name", _contract_representatives())
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


# Issue 14's list of bad arguments: each error names the argument (or the family option) and the fix.
BAD_ARGUMENTS = [
    ("ResNet18", {"input_shape": (64, 64, 0)}, "`input_shape`.*positive integer channels"),
    ("ResNet18", {"input_shape": (64, 64, 2.5)}, "`input_shape`.*positive integer channels"),
    ("ResNet18", {"input_shape": "224,224,3"}, "`input_shape` must be a \\(height, width, channels\\) tuple"),
    ("ResNet18", {"input_shape": 224}, "`input_shape` must be a \\(height, width, channels\\) tuple"),
    ("ResNet18", {"classifier_activation": "sofmax"}, "Unknown `classifier_activation` 'sofmax'"),
    ("ResNet18", {"include_top": "yes"}, "`include_top` must be True or False"),
    ("ResNet18", {"classes": 0}, "`classes` must be a positive integer"),
    ("ResNet18", {"classes": 2.0}, "`classes` must be a positive integer"),
    ("ResNet18", {"name": 3}, "`name` must be a string"),
    ("ResNet18", {"variant": "v9"}, "Unknown `variant` 'v9'"),
    ("VGG16", {"batch_norm": "yes"}, "`batch_norm` must be True or False"),
    ("VGG16", {"dropout": 1.5}, "`dropout` must be a number in \\[0, 1\\)"),
    ("VGG16", {"variant": "bn", "batch_norm": False}, "disagree"),
    ("GoogLeNet", {"aux_logits": "yes"}, "`aux_logits` must be True or False"),
    ("InceptionV3", {"aux_logits": 1}, "`aux_logits` must be True or False"),
    ("DenseNet", {"growth_rate": 0}, "`growth_rate` must be a positive integer"),
    ("ResNet18", {"input_tensor": np.zeros((2, 3))}, "`input_tensor` must be a 4D image tensor"),
    ("ResNet18", {"input_tensor": keras.Input((16, 16, 3)), "include_top": False}, "`input_tensor` is too small"),
]


@pytest.mark.parametrize(
    "builder, kwargs, message", BAD_ARGUMENTS, ids=[f"{b}-{'-'.join(k)}" for b, k, _ in BAD_ARGUMENTS]
)
def test_bad_arguments_name_the_argument(builder, kwargs, message):
    with pytest.raises(ValueError, match=message):
        getattr(keras_famous, builder)(**kwargs)


def test_numpy_integers_are_integers():
    model = keras_famous.ResNet18(classes=np.int64(10), input_shape=(np.int64(32), 32, np.int32(3)))
    assert model.output_shape == (None, 10) and model.input_shape == (None, 32, 32, 3)
    assert isinstance(model.layers[-1].units, int)


def test_a_missing_weights_file_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="`weights` file not found.*missing.weights.h5"):
        keras_famous.ResNet18(weights=tmp_path / "missing.weights.h5")
    with pytest.raises(FileNotFoundError):  # still a FileNotFoundError for code that caught one
        keras_famous.ResNet18(weights=str(tmp_path / "missing.h5"))


def test_vgg_variant_is_the_registry_spelling():
    """`VGG16(variant="bn")` is torchvision's vgg16_bn; `batch_norm=True` is kept as the older spelling."""
    bn = keras_famous.VGG16(variant="bn", include_top=False, input_shape=(32, 32, 3))
    alias = keras_famous.VGG16(batch_norm=True, include_top=False, input_shape=(32, 32, 3))
    assert [layer.name for layer in bn.layers] == [layer.name for layer in alias.layers]
    assert "block1_conv1_bn" in {layer.name for layer in bn.layers}
    assert registry.get_spec("VGG16").variants["bn"].kwargs == {"variant": "bn"}


def test_builders_have_real_signatures():
    """help() and IDEs read the def: the keras.applications arguments, then the family's options."""
    import inspect

    keras_args = [
        "include_top",
        "weights",
        "input_tensor",
        "input_shape",
        "pooling",
        "classes",
        "classifier_activation",
        "name",
    ]
    for name in keras_famous.list_models():
        builder = registry.get_spec(name).builder
        parameters = inspect.signature(builder).parameters
        assert list(parameters)[: len(keras_args)] == keras_args, name
        assert not any(p.kind is p.VAR_KEYWORD for p in parameters.values()), name
        assert "variant" in parameters and parameters["variant"].kind is inspect.Parameter.KEYWORD_ONLY, name
        assert parameters["variant"].default == registry.get_spec(name).default_variant, name
        assert not hasattr(builder, "__signature__") and builder.__code__.co_name == name, name
