"""`include_preprocessing=True` (keras.applications' EfficientNetV2 / ConvNeXt convention): the model starts with
an `ImagePreprocessing` layer applying its weights' preprocessing mode, so it takes pixels in [0, 255] and computes
what the plain model computes on `keras_famous.preprocess_input(images, ...)`."""

import re

import keras
import numpy as np
import pytest
import safetensors.numpy

import keras_famous
from keras_famous import export, inference, preprocessing, registry, transfer
from keras_famous.convert import keras_h5, state_dict
from keras_famous.layers import ImagePreprocessing
from conftest import assert_close_to_magnitude, build_small, infer

# One model per family (each with the first variant that declares a mode, NiN's ImageNet model), and VGG16,
# whose keras.applications weights are the catalog's only caffe-mode ones among small enough networks.
FAMILIES = ("LeNet5", "AlexNet", "NiN", "VGG11", "GoogLeNet", "ResNet18", "InceptionV3", "InceptionV4",
            "InceptionResNetV2", "Xception", "DenseNet121", "SqueezeNet1_1", "VGG16")  # fmt: skip
EXPLICIT_MODE = "tf"  # for a family whose variants declare none


def _variant_and_mode(name):
    """(variant, mode): the first variant that declares a preprocessing mode, else the default with EXPLICIT_MODE."""
    spec = registry.get_spec(name)
    declared = [(variant, layout.preprocessing) for variant, layout in spec.variants.items() if layout.preprocessing]
    return declared[0] if declared else (spec.default_variant, EXPLICIT_MODE)


def _pixels(shape, batch=2, seed=0):
    return np.random.default_rng(seed).uniform(0.0, 255.0, size=(batch, *shape)).astype("float32")


def _plain_and_raw(name, variant, mode, **kwargs):
    """The model without and with the preprocessing layer, with the same weights."""
    declared = registry.get_spec(name).variants[variant].preprocessing
    plain = build_small(name, variant, **kwargs)
    raw = build_small(name, variant, include_preprocessing=True if mode == declared else mode, **kwargs)
    raw.set_weights(plain.get_weights())
    return plain, raw


@pytest.mark.parametrize("name", FAMILIES)
def test_raw_pixel_model_equals_the_plain_model_on_preprocessed_images(name):
    variant, mode = _variant_and_mode(name)
    plain, raw = _plain_and_raw(name, variant, mode)
    layer = raw.get_layer("preprocessing")
    assert isinstance(layer, ImagePreprocessing) and layer.mode == mode and not layer.weights
    assert raw.layers[1] is layer and raw.input_shape == plain.input_shape
    assert len(raw.layers) == len(plain.layers) + 1
    images = _pixels(plain.input_shape[1:])
    if registry.get_spec(name).variants[variant].preprocessing:
        scaled = keras_famous.preprocess_input(images, name, variant)
    else:
        scaled = preprocessing.scale(images, mode)
    assert_close_to_magnitude(infer(raw, images), infer(plain, scaled), 1e-5)


def test_keras_round_trip_safe_mode_keeps_the_mode(tmp_path):
    model = build_small("ResNet18", "torchvision", include_preprocessing=True)
    images = _pixels(model.input_shape[1:])
    expected = infer(model, images)
    assert model.get_layer("preprocessing").get_config()["mode"] == "torch"
    model.save(tmp_path / "model.keras")
    keras.backend.clear_session()
    reloaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    layer = reloaded.get_layer("preprocessing")
    assert isinstance(layer, ImagePreprocessing) and layer.get_config()["mode"] == "torch"
    np.testing.assert_equal(infer(reloaded, images), expected)


def test_inference_model_and_feature_extractor_keep_the_preprocessing():
    model = build_small("ResNet18", "torchvision", include_preprocessing=True)
    images = _pixels(model.input_shape[1:])
    fast = inference.inference_model(model)
    assert isinstance(fast.get_layer("preprocessing"), ImagePreprocessing)
    assert_close_to_magnitude(infer(fast, images), infer(model, images), 1e-5)
    headless = build_small("ResNet18", "torchvision", include_top=False, include_preprocessing=True)
    features = transfer.feature_extractor(headless)
    assert sorted(infer(features, images)) == ["stride_16", "stride_32", "stride_4", "stride_8"]


@pytest.mark.parametrize("mode", preprocessing.MODES)
def test_layer_computes_what_preprocessing_scale_computes(mode):
    images = _pixels((7, 9, 3), batch=3, seed=1)
    expected = preprocessing.scale(images, mode)
    layer = ImagePreprocessing(mode)
    for pixels in (images, np.round(images).astype("uint8")):
        actual = keras.ops.convert_to_numpy(layer(pixels))
        assert actual.dtype == np.float32
        np.testing.assert_allclose(actual, preprocessing.scale(pixels, mode), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(images)), expected, rtol=1e-6, atol=1e-6)
    clone = ImagePreprocessing.from_config(layer.get_config())
    assert clone.mode == mode and layer.compute_output_shape((None, 7, 9, 3)) == (None, 7, 9, 3)
    if mode in ("tf", "digits"):  # elementwise: any channel count
        gray = images[..., :1]
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(ImagePreprocessing(mode)(gray)), preprocessing.scale(gray, mode), atol=1e-6
        )


@pytest.mark.parametrize("mode", preprocessing.MODES)
def test_every_mode_survives_int8_tflite(mode, tmp_path):
    """A TFLite int8 file takes raw pixels and scales them itself. (The LiteRT converter quantizes a channel flip
    followed by the caffe mean's subtraction wrongly, 60% off; the layer subtracts first.)"""
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 1)(ImagePreprocessing(mode)(inputs)))
    images = _pixels((8, 8, 3), batch=16)
    path = tmp_path / "preprocessing.tflite"
    export.export(model, path, format="tflite", quantize="int8", representative_data=images, verify=False)
    assert_close_to_magnitude(export.run_tflite(str(path), images), infer(model, images), 5e-2)


def test_the_layer_computes_in_float32_under_a_mixed_policy():
    keras.config.set_dtype_policy("mixed_float16")  # conftest restores float32
    model = build_small("LeNet5", "original", include_preprocessing=True)
    layer = model.get_layer("preprocessing")
    assert layer.compute_dtype == "float32" and layer.get_config()["dtype"]["config"]["name"] == "float32"
    assert model.get_layer("c1").compute_dtype == "float16"
    assert ImagePreprocessing("tf", dtype="bfloat16").compute_dtype == "bfloat16"  # unless asked otherwise
    images = _pixels(model.input_shape[1:])
    assert np.all(np.isfinite(infer(model, images)))


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: keras_famous.ResNet18(include_preprocessing="yes"), r"`include_preprocessing` must be True, False"),
        (lambda: keras_famous.ResNet18(include_preprocessing=1), r"`include_preprocessing` must be True, False"),
        (lambda: keras_famous.ResNet18(include_preprocessing=None), r"`include_preprocessing` must be True, False"),
        (
            lambda: keras_famous.ResNet18(variant="keras", include_preprocessing=True),
            r"`include_preprocessing=True`.*ResNet18 variant 'keras'.*'caffe', 'torch', 'tf', 'digits'",
        ),
        (
            lambda: keras_famous.DenseNet(include_preprocessing=True),
            r"`include_preprocessing=True`.*variant 'custom'.*include_preprocessing='tf'",
        ),
    ],
    ids=["yes", "one", "none", "no-mode", "generic-densenet"],
)
def test_bad_include_preprocessing_raises_naming_it(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_the_layer_alone_rejects_unknown_modes():
    with pytest.raises(ValueError, match="Unknown preprocessing `mode` 'bgr'"):
        ImagePreprocessing("bgr")


@pytest.mark.parametrize("mode", ["caffe", "torch"])
@pytest.mark.parametrize("channels", [1, 4, 6])
def test_rgb_modes_take_other_channel_counts_as_the_adapted_kernel_does(mode, channels):
    """One channel: the mean of the RGB constants; N: the constants repeated (caffe: each full triple flipped to
    BGR), so six channels holding an RGB image twice scale to the BGR/RGB scaling twice."""
    images = _pixels((5, 6, channels), batch=2, seed=2)
    layer = ImagePreprocessing(mode)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer(images)), preprocessing.scale(images, mode), rtol=1e-6, atol=1e-5
    )
    rgb = _pixels((5, 6, 3), batch=2, seed=3)
    if channels == 6:
        np.testing.assert_allclose(
            preprocessing.scale(np.concatenate([rgb, rgb], -1), mode),
            np.concatenate([preprocessing.scale(rgb, mode)] * 2, -1),
            rtol=1e-6,
        )
    if channels == 1 and mode == "caffe":  # x minus the mean pixel's mean: the mean of the BGR scaling
        expected = preprocessing.scale(np.repeat(images, 3, -1), mode).mean(-1, keepdims=True)
        np.testing.assert_allclose(preprocessing.scale(images, mode), expected, rtol=1e-5, atol=1e-3)


def test_shipped_legacy_h5_loads_into_a_raw_pixel_model():
    """LeNet5's "digits" weights ship as a legacy Keras .h5 (matched to the layers with weights)."""
    plain = keras_famous.LeNet5(weights="digits")
    raw = keras_famous.LeNet5(weights="digits", include_preprocessing=True)
    images = _pixels((32, 32, 1))
    scaled = keras_famous.preprocess_input(images, "LeNet5")
    assert_close_to_magnitude(infer(raw, images), infer(plain, scaled), 1e-5)


def _torchvision_name(keras_name):
    """The torchvision ResNet module of one of our ResNet layer names (the inverse of its name map)."""
    fixed = {"conv1_conv": "conv1", "conv1_bn": "bn1", "predictions": "fc"}
    if keras_name in fixed:
        return fixed[keras_name]
    stage, block, k, kind = re.fullmatch(r"conv(\d)_block(\d+)_(\d)_(conv|bn)", keras_name).groups()
    module = f"downsample.{0 if kind == 'conv' else 1}" if k == "0" else f"{kind}{k}"
    return f"layer{int(stage) - 1}.{int(block) - 1}.{module}"


def _torchvision_state(model):
    """`model`'s (a torchvision-layout ResNet) weights as torchvision's state dict."""
    rules = registry.get_spec("ResNet18").variants["torchvision"].torch_names
    state = {}
    for layer in (layer for layer in model.layers if layer.weights):
        module = _torchvision_name(layer.name)
        assert state_dict.keras_name(module, rules) == layer.name
        arrays = layer.get_weights()
        if isinstance(layer, keras.layers.BatchNormalization):
            params = dict(zip(("weight", "bias", "running_mean", "running_var"), arrays))
        elif isinstance(layer, keras.layers.Conv2D):
            params = {"weight": arrays[0].transpose(3, 2, 0, 1)}
        else:
            params = {"weight": arrays[0].T, "bias": arrays[1]}
        state.update({f"{module}.{key}": np.ascontiguousarray(value) for key, value in params.items()})
    return state


def _resnet18_source():
    """A torchvision-layout ResNet18 (64x64, 10 logits) with random weights, BN statistics included."""
    model = keras_famous.ResNet18(
        variant="torchvision", input_shape=(64, 64, 3), classes=10, classifier_activation=None
    )
    rng = np.random.default_rng(3)
    lows = (0.5, -0.5, -0.5, 0.5)  # gamma, beta, moving mean, moving variance: each uniform in [low, low + 1)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights(
                [rng.uniform(low, low + 1, w.shape).astype("float32") for w, low in zip(layer.weights, lows)]
            )
    return model


def test_torch_and_legacy_files_load_into_a_raw_pixel_model(tmp_path):
    """A torchvision .safetensors (through the name map) and a legacy .h5 (by the order of the layers with weights)
    written from a model without the layer load into one with it: it has no weights, so both skip it."""
    resnet18_source = _resnet18_source()
    images = _pixels((64, 64, 3))
    expected = infer(resnet18_source, keras_famous.preprocess_input(images, "ResNet18", "torchvision"))
    weighted = [layer for layer in resnet18_source.layers if layer.weights]
    safetensors.numpy.save_file(_torchvision_state(resnet18_source), str(tmp_path / "resnet18.safetensors"))
    # legacy names that are not ours, so the layers are matched by order (keras.applications' released files)
    keras_h5.write_legacy_h5(
        tmp_path / "resnet18.h5", {f"w{i}": layer.get_weights() for i, layer in enumerate(weighted)}
    )
    for file_name in ("resnet18.safetensors", "resnet18.h5"):
        model = keras_famous.ResNet18(
            variant="torchvision",
            input_shape=(64, 64, 3),
            classes=10,
            classifier_activation=None,
            weights=str(tmp_path / file_name),
            include_preprocessing=True,
        )
        assert_close_to_magnitude(infer(model, images), expected, 1e-5)
