"""Transfer learning: multi-scale features for every family, frozen backbones that really stay frozen,
the two-phase fine-tuning recipe, and per-model input scaling and ImageNet labels."""

import math

import keras
import numpy as np
import pytest

import keras_famous
import keras_famous as kf
from keras_famous import preprocessing, transfer
from conftest import infer

# One network of every family, at a small input where the family allows it (name, variant, input side).
FAMILY_MEMBERS = [
    ("LeNet5", None, 32), ("AlexNet", "torchvision", 224), ("ZFNet", None, 224), ("NiN", "imagenet", 224),
    ("VGG11", None, 128), ("GoogLeNet", "torchvision", 128), ("ResNet18", None, 128), ("ResNet50V2", None, 128),
    ("ResNeXt50", None, 128), ("WideResNet50_2", None, 128), ("InceptionV3", None, 299), ("InceptionV4", None, 299),
    ("InceptionResNetV2", None, 299), ("Xception", None, 299), ("DenseNet121", None, 128), ("DenseNetBC", None, 32),
    ("SqueezeNet1_1", None, 224),
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name, variant, side", FAMILY_MEMBERS, ids=[m[0] for m in FAMILY_MEMBERS])
def test_feature_extractor_returns_maps_at_their_strides(name, variant, side):
    channels = 1 if name == "LeNet5" else 3
    extractor = transfer.feature_extractor(name, variant=variant, input_shape=(side, side, channels))
    keys = list(extractor.output)
    strides = [int(key.removeprefix("stride_")) for key in keys]
    assert strides == sorted(strides) and len(strides) == min(4, len(strides)) and strides
    if side >= 128 and name not in ("LeNet5", "SqueezeNet1_1"):
        assert strides == [4, 8, 16, 32]
    for key, stride in zip(keys, strides):
        height, width = extractor.output[key].shape[1:3]
        assert height == width and 2 ** round(math.log2(side / height)) == stride, (key, height)


def test_coarsest_feature_is_the_headless_model_output():
    backbone = kf.ResNet18(include_top=False, input_shape=(64, 64, 3))
    extractor = transfer.feature_extractor(backbone)
    x = np.random.default_rng(0).normal(size=(2, 64, 64, 3)).astype("float32")
    features = infer(extractor, x)
    assert list(features) == ["stride_4", "stride_8", "stride_16", "stride_32"]
    np.testing.assert_allclose(features["stride_32"], infer(backbone, x), rtol=1e-6, atol=1e-6)
    assert features["stride_4"].shape == (2, 16, 16, 64) and features["stride_16"].shape == (2, 4, 4, 256)


def test_feature_extractor_takes_any_input_size_and_levels():
    extractor = transfer.feature_extractor("ResNet18", levels=("stride_8", 32), input_shape=(None, None, 3))
    outputs = extractor(np.zeros((1, 96, 128, 3), "float32"))
    assert {key: tuple(value.shape) for key, value in outputs.items()} == {
        "stride_8": (1, 12, 16, 128),
        "stride_32": (1, 3, 4, 512),
    }


def test_feature_extractor_names_the_available_levels():
    with pytest.raises(ValueError, match=r"stride\(s\) \[32\].*any of \[2, 4, 8, 16\]"):
        transfer.feature_extractor("SqueezeNet1_1", levels=(8, 32), input_shape=(224, 224, 3))
    with pytest.raises(ValueError, match="`levels`"):
        transfer.feature_extractor("ResNet18", levels=("p3",), input_shape=(64, 64, 3))


def _small_classifier(dropout=0.0):
    return transfer.classifier("ResNet18", classes=3, input_shape=(32, 32, 3), dropout=dropout)


def _data(count=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(count, 32, 32, 3)).astype("float32"), rng.integers(0, 3, count)


def _values(layers):
    return [keras.ops.convert_to_numpy(w) for layer in layers for w in layer.weights]


def test_frozen_backbone_keeps_weights_and_batchnorm_statistics_during_fit():
    model = _small_classifier()
    backbone = model.get_layer("backbone")
    assert not backbone.trainable and all(not layer.trainable for layer in backbone.layers)
    assert len(model.trainable_weights) == 2  # the new Dense kernel and bias only
    x, y = _data()
    # BatchNormalization of a frozen backbone runs in inference mode: training output == inference output
    np.testing.assert_allclose(model(x, training=True), model(x, training=False), rtol=1e-5, atol=1e-6)
    before, head_before = _values(backbone.layers), _values([model.get_layer("predictions")])
    model.compile(keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    for old, new in zip(before, _values(backbone.layers)):
        np.testing.assert_array_equal(old, new)
    assert any(not np.allclose(a, b) for a, b in zip(head_before, _values([model.get_layer("predictions")])))


def test_fine_tune_trains_head_then_top_of_backbone_with_batchnorm_frozen():
    model = _small_classifier(dropout=0.2)
    backbone = model.get_layer("backbone")
    x, y = _data()
    bn = [layer for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization)]
    early_conv, late_conv = backbone.get_layer("conv1_conv"), backbone.get_layer("conv5_block2_2_conv")
    bn_before, early_before, late_before = _values(bn), _values([early_conv]), _values([late_conv])
    head, tuned = transfer.fine_tune(
        model,
        x,
        head_epochs=1,
        fine_tune_epochs=1,
        unfreeze_from="conv5_block1_1_conv",
        batch_size=8,
        verbose=0,
        y=y,
    )
    assert len(head.history["loss"]) == 1 and tuned.epoch == [1]
    assert all(not layer.trainable for layer in bn) and late_conv.trainable and not early_conv.trainable
    for old, new in zip(bn_before + early_before, _values(bn) + _values([early_conv])):
        np.testing.assert_array_equal(old, new)
    assert not np.allclose(late_before[0], _values([late_conv])[0])


def test_freeze_until_and_unfreeze_everything():
    model = kf.ResNet18(include_top=False, input_shape=(32, 32, 3))
    transfer.freeze(model, until="conv3_block1_out")
    cut = [layer.name for layer in model.layers].index("conv3_block1_out")
    assert all(not layer.trainable for layer in model.layers[: cut + 1])
    assert all(layer.trainable for layer in model.layers[cut + 1 :])
    transfer.unfreeze(model, keep_batchnorm_frozen=False)
    assert all(layer.trainable for layer in model.layers)
    with pytest.raises(ValueError, match="until='nope' is not a layer"):
        transfer.freeze(model, until="nope")


def test_classifier_round_trips_through_keras_file(tmp_path):
    model = _small_classifier()
    path = tmp_path / "classifier.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    x, _ = _data(2)
    np.testing.assert_allclose(infer(loaded, x), infer(model, x), rtol=1e-5, atol=1e-6)


def test_preprocess_input_follows_the_weights_source():
    images = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(
        keras_famous.preprocess_input(images, "ResNet50"), images[..., ::-1] - preprocessing.CAFFE_MEAN_BGR
    )
    np.testing.assert_allclose(
        keras_famous.preprocess_input(images, "DenseNet121"),
        (images / 255 - preprocessing.IMAGENET_MEAN) / preprocessing.IMAGENET_STD,
        rtol=1e-5,
    )
    np.testing.assert_allclose(keras_famous.preprocess_input(images, "InceptionV3"), images / 127.5 - 1, rtol=1e-6)
    np.testing.assert_allclose(
        keras_famous.preprocess_input(images, "resnet50", variant="torchvision"), preprocessing.scale(images, "torch")
    )
    np.testing.assert_allclose(
        keras_famous.preprocess_input(images, "GoogLeNet", "torchvision"), images / 127.5 - 1, rtol=1e-6
    )  # ported from TF
    with pytest.raises(ValueError, match="no pretrained weights.*'torchvision'"):
        keras_famous.preprocess_input(images, "ResNet18", variant="keras")
    with pytest.raises(ValueError, match="Unknown `variant`"):
        keras_famous.preprocess_input(images, "ResNet50", variant="nope")


def test_decode_predictions_uses_the_shipped_imagenet_index():
    classes = keras_famous.imagenet_utils.imagenet_classes()
    assert len(classes) == 1000 and len({wnid for wnid, _ in classes}) == 1000
    assert [wnid for wnid, _ in classes] == sorted(wnid for wnid, _ in classes)  # training order
    predictions = np.zeros((2, 1000), "float32")
    predictions[0, [1, 2]] = [0.7, 0.2]
    predictions[1, 999] = 1.0
    decoded = keras_famous.decode_predictions(predictions, top=2)
    assert decoded[0] == [
        ("n01443537", "goldfish", pytest.approx(0.7)),
        ("n01484850", "great white shark", pytest.approx(0.2)),
    ]
    assert decoded[1][0][:2] == ("n15075141", "toilet tissue")
    with pytest.raises(ValueError, match=r"`predictions`.*shape \(batch, 1000\)"):
        keras_famous.decode_predictions(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="`top`"):
        keras_famous.decode_predictions(predictions, top=0)
