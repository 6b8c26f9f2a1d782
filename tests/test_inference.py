"""Inference rewrites (BN folding, dropout and auxiliary heads removed, grouped convolutions split)
compute what the original model computes, family by family."""

import keras
import numpy as np
import pytest

import keras_famous as kf
from keras_famous import transfer
from keras_famous.inference import inference_model
from keras_famous.inference.engines import OpenVINOEngine
from conftest import assert_close_to_magnitude, infer, random_images

CASES = [
    ("ResNet50", dict(input_shape=(96, 96, 3)), False), ("VGG11", dict(batch_norm=True, input_shape=(64, 64, 3), include_top=False), False),
    ("GoogLeNet", dict(variant="torchvision", aux_logits=True, input_shape=(96, 96, 3)), False),
    ("InceptionV3", dict(input_shape=(96, 96, 3), include_top=False, pooling="avg"), False), ("Xception", dict(input_shape=(96, 96, 3)), False),
    ("DenseNet121", dict(input_shape=(64, 64, 3)), False), ("ResNeXt50", dict(input_shape=(64, 64, 3)), True),
    ("AlexNet", dict(variant="original", input_shape=(127, 127, 3)), True), ("SqueezeNet1_1", dict(input_shape=(96, 96, 3)), False),
    ("ResNet50V2", dict(input_shape=(64, 64, 3)), False),
]  # fmt: skip


def randomize_batchnorm(model, seed=1):
    """Random statistics (a fresh BN is the identity, which would hide a wrong fold)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            for variable in layer.weights:
                positive = variable.path.endswith(("gamma", "moving_variance"))
                value = rng.uniform(0.5, 1.5, variable.shape) if positive else rng.normal(0, 0.3, variable.shape)
                variable.assign(value.astype("float32"))


def _main(outputs):
    return outputs[0] if isinstance(outputs, (list, tuple)) else outputs


def _values(model):
    return [keras.ops.convert_to_numpy(w) for w in model.weights]


@pytest.mark.parametrize("name, kwargs, split", CASES, ids=[case[0] for case in CASES])
def test_inference_model_preserves_outputs(name, kwargs, split, tmp_path):
    model = kf.get_model(name, **({"classes": 10} if kwargs.get("include_top", True) else {}), **kwargs)
    randomize_batchnorm(model)
    before = _values(model)
    optimized = inference_model(model, split_grouped=split)
    x = random_images(model.input_shape[1:], batch=2, seed=3)
    expected = _main(infer(model, x))
    actual = infer(optimized, x)
    assert np.max(np.abs(actual - expected)) <= 1e-5 * max(np.max(np.abs(expected)), 1.0)
    assert len(optimized.outputs) == 1
    layers = optimized.layers
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in layers)
    for layer in layers:
        if isinstance(layer, keras.layers.BatchNormalization):  # only BNs that no convolution feeds remain
            source = layer._inbound_nodes[0].arguments.args[0]._keras_history.operation
            assert not isinstance(source, (keras.layers.Conv2D, keras.layers.SeparableConv2D)), layer.name
    if any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers) and name != "DenseNet121":
        assert len(layers) < len(model.layers) or split
    if split:
        assert not any(isinstance(layer, keras.layers.Conv2D) and layer.groups > 1 for layer in layers)
        assert any(isinstance(layer, keras.layers.Conv2D) and layer.groups > 1 for layer in model.layers)
    for old, new in zip(before, _values(model)):  # the original is untouched
        np.testing.assert_array_equal(old, new)
    if name not in ("ResNeXt50", "ResNet50V2"):  # one case per family file: ResNet50 runs resnet.py's on OpenVINO
        fast = inference_model(model) if split else optimized  # as the predictor's engines take it: unsplit
        assert_close_to_magnitude(openvino_outputs(fast, x, tmp_path), expected, 1e-4)


def openvino_outputs(fast, x, directory):
    """`fast` (an inference graph) converted by OpenVINO and run at float32, as the predictor's engine does."""
    engine = OpenVINOEngine(threads=2)
    engine.convert(fast, directory)
    engine.load(fast, directory)
    return engine(x)


# The families CASES leaves out, for the OpenVINO engine's parity (the rest is checked in the test above).
OPENVINO_CASES = [
    ("LeNet5", {}), ("ZFNet", dict(input_shape=(99, 99, 3), include_top=False, pooling="max")),
    ("NiN", dict(variant="cifar")), ("InceptionV4", dict(input_shape=(75, 75, 3), include_top=False)),
    ("InceptionResNetV2", dict(input_shape=(75, 75, 3), include_top=False, pooling="avg")),
]  # fmt: skip


@pytest.mark.parametrize("name, kwargs", OPENVINO_CASES, ids=[case[0] for case in OPENVINO_CASES])
def test_openvino_runs_every_family(name, kwargs, tmp_path):
    model = kf.get_model(name, **kwargs)
    randomize_batchnorm(model)
    x = random_images(model.input_shape[1:], batch=2, seed=4)
    assert_close_to_magnitude(openvino_outputs(inference_model(model), x, tmp_path), infer(model, x), 1e-4)


def test_nested_backbone_is_rewritten_and_round_trips(tmp_path):
    model = transfer.classifier("ResNeXt50", classes=4, input_shape=(32, 32, 3))
    randomize_batchnorm(model.get_layer("backbone"))
    keras.Model(model.inputs, model.get_layer("backbone")(model.inputs[0]))  # the backbone is shared with a 2nd model
    optimized = inference_model(model, split_grouped=True)
    inner = optimized.get_layer("backbone")
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in inner.layers)
    x = random_images((32, 32, 3), batch=2)
    np.testing.assert_allclose(infer(optimized, x), infer(model, x), rtol=1e-5, atol=1e-6)
    optimized.save(tmp_path / "optimized.keras")
    loaded = keras.models.load_model(tmp_path / "optimized.keras", safe_mode=True)
    np.testing.assert_allclose(infer(loaded, x), infer(model, x), rtol=1e-5, atol=1e-6)
