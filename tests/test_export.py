"""SavedModel / TFLite export verifies itself with TensorFlow and the LiteRT interpreter."""

import re

import keras
import numpy as np
import pytest

import keras_famous
from keras_famous import datasets, export, transfer
from conftest import infer, EXPORTED_MODELS, build_small, random_images


@pytest.fixture(scope="module")
def digits():
    return datasets.digits_32x32()


def test_saved_model_and_float_tflite_match_keras(tmp_path):
    model = keras_famous.ResNet18(variant="torchvision", input_shape=(64, 64, 3), classes=7)
    saved = export.export(model, tmp_path / "r18", format="saved_model")
    assert saved.relative_difference <= 1e-5 and saved.top1_agreement == 1.0
    for quantize, tolerance in ((None, 1e-4), ("float16", 2e-2), ("dynamic", 1e-1)):
        report = export.export(model, tmp_path / f"r18-{quantize}.tflite", format="tflite", quantize=quantize)
        assert report.relative_difference <= tolerance and report.size_bytes > 0
    sizes = {q: (tmp_path / f"r18-{q}.tflite").stat().st_size for q in (None, "float16", "dynamic")}
    assert sizes["float16"] < 0.6 * sizes[None] and sizes["dynamic"] < 0.35 * sizes[None]
    images = random_images((64, 64, 3), batch=3, seed=5)
    np.testing.assert_allclose(export.run_tflite(tmp_path / "r18-None.tflite", images), infer(model, images), atol=1e-4)


def test_int8_lenet5_keeps_its_accuracy(tmp_path, digits):
    (x_train, _), (x_test, y_test) = digits
    model = keras_famous.LeNet5(weights="digits")
    report = export.export(
        model, tmp_path / "lenet.tflite", format="tflite", quantize="int8", representative_data=x_train[:200]
    )
    assert report.top1_agreement >= 0.8
    keras_top1 = np.mean(infer(model, x_test).argmax(1) == y_test)
    int8_top1 = np.mean(export.run_tflite(tmp_path / "lenet.tflite", x_test).argmax(1) == y_test)
    assert int8_top1 >= keras_top1 - 0.02
    assert report.verified_on == 50  # the last quarter of the 200, held out of the calibration
    report = export.export(
        model,
        tmp_path / "lenet.tflite",
        quantize="int8",
        representative_data=x_train[:100],
        validation_data=x_test[:30],
        overwrite=True,
    )
    assert report.verified_on == 30 and report.top1_agreement >= 0.8


def test_int8_refuses_calibration_that_would_fool_its_check(tmp_path, digits):
    """Blank images, or images on which the float32 model's outputs barely vary, calibrate nothing and agree on
    anything: LeNet-5 calibrated on 20 blank images reported 100% agreement on them and scored 0.10 on the digits."""
    (x_train, _), _ = digits
    model = keras_famous.LeNet5(weights="digits")
    flat = np.full((40, 32, 32, 1), 0.5, "float32") + np.random.default_rng(0).normal(0, 1e-7, (40, 32, 32, 1))
    cases = {
        "blank": (np.zeros((20, 32, 32, 1), "float32"), None, "20 of the 20 `representative_data` images are blank"),
        "flat": (flat, None, "outputs barely vary over the `representative_data` images"),
        "flat held out": (x_train[:40], flat, "barely vary over the `validation_data` images"),
        "too few": (x_train[:12], None, "at least 20 are needed to hold 10 out"),
    }
    for data, validation, message in cases.values():
        with pytest.raises(ValueError, match=re.escape(message)):
            export.export(
                model, tmp_path / "m.tflite", quantize="int8", representative_data=data, validation_data=validation
            )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "data, shown",
    [
        (np.zeros((4, 28, 28, 1), "float32"), "(4, 28, 28, 1)"),  # the wrong size
        (np.zeros((32, 32, 1), "float32"), "(32, 32, 1)"),  # one image, not a batch
        (np.zeros((0, 32, 32, 1), "float32"), "(0, 32, 32, 1)"),  # empty
        (np.full((2, 32, 32, 1), np.nan, "float32"), "NaN"),
    ],
    ids=["wrong-shape", "wrong-rank", "empty", "nan"],
)
def test_representative_data_is_checked_before_converting(tmp_path, data, shown):
    model = keras_famous.LeNet5(variant="modern")
    with pytest.raises(ValueError, match="representative_data") as error:
        export.export(model, tmp_path / "m.tflite", format="tflite", quantize="int8", representative_data=data)
    assert shown in str(error.value) and ("(N, 32, 32, 1)" in str(error.value) or shown == "NaN")
    assert list(tmp_path.iterdir()) == []


def test_outputs_are_not_overwritten_and_errors_name_the_argument(tmp_path):
    model = keras_famous.LeNet5(variant="modern")
    target = tmp_path / "m.tflite"
    target.write_bytes(b"keep")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export.export(model, target, format="tflite")
    assert target.read_bytes() == b"keep"
    export.export(model, target, format="tflite", overwrite=True)
    assert target.read_bytes() != b"keep" and [p.name for p in tmp_path.iterdir()] == ["m.tflite"]
    (tmp_path / "mine.tflite").mkdir()
    (tmp_path / "mine.tflite" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="is a folder: overwrite=True replaces a file, never a folder"):
        export.export(model, tmp_path / "mine.tflite", overwrite=True)
    assert (tmp_path / "mine.tflite" / "notes.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="`format` 'tflite' contradicts `path`"):
        export.export(model, tmp_path / "m.onnx", format="tflite")
    with pytest.raises(ValueError, match="`format`"):
        export.export(model, tmp_path / "x", format="coreml")
    with pytest.raises(ValueError, match="representative_data"):
        export.export(model, tmp_path / "x.tflite", format="tflite", quantize="int8")
    googlenet = keras_famous.GoogLeNet(aux_logits=True, classes=3, input_shape=(96, 96, 3))
    with pytest.raises(ValueError, match="without_auxiliary_heads"):
        export.export(googlenet, tmp_path / "g.tflite", format="tflite", optimize=False)
    # optimize=True (the default) exports the inference graph: the main output, BN folded, no dropout
    report = export.export(googlenet, tmp_path / "g.tflite", format="tflite")
    assert report.relative_difference <= 1e-4 and report.top1_agreement == 1.0


# One model per family and the layouts with their own operations; the other models use the same operations
# (test_serialization.test_deeper_siblings_share_every_layer_configuration).
EXPORTED = [(name, None) for name in EXPORTED_MODELS] + [("AlexNet", "torchvision"), ("GoogLeNet", "torchvision")]
# ONNX (tf2onnx maps each operation on its own, 10-20 s a model) for every operation the catalog uses, each model
# bringing its own: LeNet-5's subsampling, C3 table and RBF; AlexNet's LRN, grouped convolutions, flatten and dense
# (all VGG has); NiN's Caffe pooling; GoogLeNet's concatenations; ResNeXt's grouped bottlenecks and additions (all
# ResNet has); Inception-v3's factorized convolutions and padded average pooling; Xception's separable convolutions;
# DenseNet's BatchNormalization before a convolution (not folded); SqueezeNet's fire modules
ONNX_EXPORTED = {"LeNet5", "AlexNet", "NiN", "GoogLeNet", "ResNeXt50", "InceptionV3", "Xception", "DenseNet121",
                 "SqueezeNet1_1"}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name, variant", EXPORTED, ids=[f"{n}-{v or 'default'}" for n, v in EXPORTED])
def test_every_model_round_trips_and_exports_to_saved_model_float32_tflite_and_onnx(tmp_path, name, variant):
    model = build_small(name, variant)
    images = random_images(model.input_shape[1:], batch=2, seed=4)
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    np.testing.assert_equal(keras.ops.convert_to_numpy(reloaded(images)), keras.ops.convert_to_numpy(model(images)))
    assert [layer.name for layer in reloaded.layers] == [layer.name for layer in model.layers]
    report = export.export(
        reloaded,
        tmp_path / "model.tflite",
        format="tflite",
        saved_model_path=tmp_path / "saved_model",
        sample_inputs=images,
    )
    assert report.relative_difference <= 1e-4 and report.top1_agreement == 1.0
    assert report.saved_model.relative_difference <= 1e-5 and (tmp_path / "saved_model" / "saved_model.pb").exists()
    written = ["model.keras", "model.tflite", "saved_model"]
    if variant is None and name in ONNX_EXPORTED:
        onnx = export.export(reloaded, tmp_path / "model.onnx", format="onnx", sample_inputs=images)
        assert onnx.relative_difference <= 1e-4 and onnx.top1_agreement == 1.0  # grouped convolutions included
        written.insert(1, "model.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == written  # no scratch left


def _trained_on_digits(name):
    """A classifier on the real digits (as RGB): the randomly initialised `name` backbone gets its
    BatchNormalization statistics from the digits, then is frozen and a new head is trained - real
    predictions to judge int8 by, at the cost of forward passes (full training is slow on this CPU)."""
    (x_train, y_train), (x_test, y_test) = datasets.digits_32x32()
    x_train, x_test = np.repeat(x_train, 3, -1), np.repeat(x_test, 3, -1)
    keras.utils.set_random_seed(0)
    model = transfer.classifier(name, classes=10, variant="torchvision", input_shape=(32, 32, 3), dropout=0.0)
    backbone = model.get_layer("backbone")
    transfer.unfreeze(backbone, keep_batchnorm_frozen=False)
    norms = [layer for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in norms:
        layer.momentum = 0.0  # one pass sets the moving statistics to those of 512 digits
    backbone(x_train[:512], training=True)
    for layer in norms:
        layer.momentum = 0.99
    transfer.freeze(backbone)
    model.compile(keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=6, batch_size=64, verbose=0)
    return model, x_train, x_test, y_test


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ResNet18"])  # GoogLeNet this way: agreement 0.69 (near-tie logits); see below
def test_int8_resnet_keeps_its_accuracy(tmp_path, name):
    model, x_train, x_test, y_test = _trained_on_digits(name)
    keras_top1 = np.mean(infer(model, x_test).argmax(1) == y_test)
    report = export.export(
        model,
        tmp_path / "int8.tflite",
        format="tflite",
        quantize="int8",
        representative_data=x_train[:200],
        sample_inputs=x_test[:64],
    )
    int8_top1 = np.mean(export.run_tflite(tmp_path / "int8.tflite", x_test).argmax(1) == y_test)
    float_size = 4 * model.count_params()  # a float32 TFLite file of it is its weights (1.001x this for ResNet18)
    assert keras_top1 > 0.5, keras_top1  # a trained head (chance 0.1): the comparison means something
    assert int8_top1 >= keras_top1 - 0.03 and report.top1_agreement >= 0.8, (keras_top1, int8_top1)
    assert report.size_bytes < 0.35 * float_size


def _googlenet_trained_in_torch(x_train, y_train, epochs=2):
    """torchvision's GoogLeNet trained on the digits with PyTorch (7-10 s an epoch here, no XLA compile),
    its BatchNormalization statistics then recomputed over the whole training set (cumulative averages
    of training-mode forward passes): a checkpoint as a user's own would arrive. Two epochs reach 0.90
    test top-1 (five: 0.95), well above the test's 0.8."""
    import torch
    import torchvision

    torch.manual_seed(0)
    network = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=True, num_classes=10)
    images, labels = torch.from_numpy(x_train.transpose(0, 3, 1, 2).copy()), torch.from_numpy(y_train)
    optimizer = torch.optim.Adam(network.parameters(), 1e-3)
    network.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(images)).split(32):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(network(images[batch]), labels[batch]).backward()
            optimizer.step()
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average over the passes below
    with torch.no_grad():
        for batch in images.split(256):
            network(batch)
    return network.eval()


@pytest.mark.slow
def test_int8_inception_trained_in_torch_keeps_its_accuracy(tmp_path):
    """An Inception through the whole deployment path: a GoogLeNet trained on the digits in PyTorch,
    its safetensors checkpoint loaded with `weights=`, exported to full-integer int8."""
    import safetensors.torch

    (x_train, y_train), (x_test, y_test) = datasets.digits_32x32()
    x_train, x_test = np.repeat(x_train, 3, -1), np.repeat(x_test, 3, -1)
    network = _googlenet_trained_in_torch(x_train, y_train)
    safetensors.torch.save_file(network.state_dict(), str(tmp_path / "googlenet.safetensors"))
    model = keras_famous.GoogLeNet(
        variant="torchvision", input_shape=(32, 32, 3), classes=10, weights=str(tmp_path / "googlenet.safetensors")
    )
    keras_top1 = np.mean(infer(model, x_test).argmax(1) == y_test)
    report = export.export(
        model,
        tmp_path / "int8.tflite",
        format="tflite",
        quantize="int8",
        representative_data=x_train[:200],
        sample_inputs=x_test,
    )
    int8_top1 = np.mean(export.run_tflite(tmp_path / "int8.tflite", x_test).argmax(1) == y_test)
    assert keras_top1 > 0.8, keras_top1  # trained (chance 0.1): the comparison means something
    assert report.top1_agreement >= 0.9 and int8_top1 >= keras_top1 - 0.02, (keras_top1, int8_top1)
