"""weights="imagenet" through the manifest and the cache, and weights="path" in every format, on files
the tests make in the sources' own formats (no internet): the real download path, hash checks,
atomic cache entries, all-or-nothing loading and the errors users see."""

import functools
import hashlib
import os
import sys

import numpy as np
import pytest
import safetensors.numpy
import torch
import torchvision

import keras_famous
import keras

from keras_famous import convert, registry, weights
from conftest import infer, assert_close_to_magnitude, one_file_entry, random_images, serving, write_manifest

SIZE = (64, 64, 3)


def _reference_resnet18():
    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None).eval()
    generator = torch.Generator().manual_seed(0)
    for module in reference.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            with torch.no_grad():
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) + 0.5)
                module.running_mean.copy_(torch.rand(module.running_mean.shape, generator=generator) - 0.5)
    return reference


def _logits(reference, images):
    with torch.no_grad():
        return reference(torch.from_numpy(images.transpose(0, 3, 1, 2))).numpy()


@pytest.fixture(scope="module")
def resnet18_files(tmp_path_factory):
    """A random torchvision ResNet18 saved as .pth and .safetensors, and its logits on fixed images."""
    directory = tmp_path_factory.mktemp("resnet18")
    reference = _reference_resnet18()
    state = reference.state_dict()
    torch.save(state, directory / "resnet18.pth")
    safetensors.numpy.save_file({k: v.numpy() for k, v in state.items()}, str(directory / "resnet18.safetensors"))
    images = random_images((224, 224, 3))
    logits = _logits(reference, images)
    reference.fc = torch.nn.Identity()
    features = _logits(reference, random_images(SIZE))
    return directory, images, logits, features


@pytest.mark.parametrize("suffix", ["pth", "safetensors"])
def test_torch_checkpoints_load_by_path(resnet18_files, suffix):
    directory, images, logits, features = resnet18_files
    path = str(directory / f"resnet18.{suffix}")
    model = keras_famous.ResNet18(variant="torchvision", weights=path, classifier_activation=None)
    assert_close_to_magnitude(infer(model, images), logits, 1e-4)
    headless = keras_famous.ResNet18(
        variant="torchvision", weights=path, include_top=False, pooling="avg", input_shape=SIZE
    )
    assert_close_to_magnitude(infer(headless, random_images(SIZE)), features, 1e-4)


def test_keras_formats_load_by_path(tmp_path):
    source = keras_famous.ResNet18(variant="torchvision", input_shape=SIZE, include_top=False)
    images = random_images(SIZE)
    expected = infer(source, images)
    source.save_weights(tmp_path / "r.weights.h5")
    source.save(tmp_path / "r.keras")
    for name in ("r.weights.h5", "r.keras"):
        model = keras_famous.ResNet18(
            variant="torchvision", input_shape=SIZE, include_top=False, weights=str(tmp_path / name)
        )
        np.testing.assert_allclose(infer(model, images), expected, atol=1e-6)
    # a file saved with the top loads into a model built without it (by layer name, classifier skipped)
    full = keras_famous.ResNet18(variant="torchvision", input_shape=SIZE, classes=4)
    full.save_weights(tmp_path / "full.weights.h5")
    headless = keras_famous.ResNet18(
        variant="torchvision", input_shape=SIZE, include_top=False, weights=str(tmp_path / "full.weights.h5")
    )
    for layer in (layer for layer in headless.layers if layer.weights):
        for a, b in zip(layer.get_weights(), full.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_wrong_model_or_variant_file_leaves_the_model_unchanged(resnet18_files, tmp_path):
    directory = resnet18_files[0]
    for build in (
        functools.partial(keras_famous.ResNet34, variant="torchvision"),  # wrong model
        functools.partial(keras_famous.ResNet18, variant="keras"),  # wrong variant: conv biases
    ):
        model = build(input_shape=SIZE, include_top=False)
        before = [w.copy() for w in model.get_weights()]
        with pytest.raises(ValueError, match="does not match this model") as error:
            registry.load_weights(model, directory / "resnet18.safetensors", "ResNet18", "torchvision")
        assert "expects shapes" in str(error.value) or "no weights for layers" in str(error.value)
        assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    # a Keras file of another network, through Keras' own loader, is refused all-or-nothing too
    keras_famous.SqueezeNet1_1(include_top=False, input_shape=SIZE).save_weights(tmp_path / "other.weights.h5")
    model = keras_famous.ResNet18(variant="torchvision", input_shape=SIZE, include_top=False)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match="does not match this model"):
        registry.load_weights(model, tmp_path / "other.weights.h5", "ResNet18", "torchvision")
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_truncated_and_unsupported_files(resnet18_files, tmp_path):
    directory = resnet18_files[0]
    for suffix in ("pth", "safetensors"):
        data = (directory / f"resnet18.{suffix}").read_bytes()
        truncated = tmp_path / f"cut.{suffix}"
        truncated.write_bytes(data[: len(data) // 3])
        with pytest.raises(ValueError, match="truncated"):
            keras_famous.ResNet18(variant="torchvision", weights=str(truncated))
    (tmp_path / "w.npz").write_bytes(b"x")
    with pytest.raises(ValueError, match="Unsupported `weights` file format"):
        keras_famous.ResNet18(weights=str(tmp_path / "w.npz"))


def test_pth_without_torch_is_a_clear_error(resnet18_files, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails, as without torch installed
    with pytest.raises(ValueError, match="needs torch"):
        keras_famous.ResNet18(variant="torchvision", weights=str(resnet18_files[0] / "resnet18.pth"))


@pytest.fixture
def served(resnet18_files):
    """The checkpoint directory served over HTTP on 127.0.0.1, as a publisher's server would."""
    with serving(resnet18_files[0]) as url:
        yield url


def _manifest(tmp_path, monkeypatch, url, file_hash):
    path = write_manifest(tmp_path / "manifest.json", [one_file_entry("ResNet18", "resnet18", url, file_hash)])
    monkeypatch.setenv("KERAS_FAMOUS_MANIFEST", str(path))
    monkeypatch.setenv("KERAS_FAMOUS_HOME", str(tmp_path / "home"))


def _cache_files(tmp_path):
    """The cache's files, without the downloads' locks (`.<file>.lock`, which outlive them)."""
    home = tmp_path / "home"
    if not home.exists():
        return []
    return sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file() and p.suffix != ".lock")


def test_imagenet_downloads_verifies_converts_and_caches(resnet18_files, served, tmp_path, monkeypatch):
    directory, images, logits, _ = resnet18_files
    sha256 = hashlib.sha256((directory / "resnet18.safetensors").read_bytes()).hexdigest()
    _manifest(tmp_path, monkeypatch, f"{served}/resnet18.safetensors", {"sha256": sha256})
    model = keras_famous.ResNet18(variant="torchvision", weights="imagenet", classifier_activation=None)
    assert_close_to_magnitude(infer(model, images), logits, 1e-4)
    files = _cache_files(tmp_path)
    assert len(files) == 4  # no temporary files left behind
    assert files[0].startswith("converted/ResNet18_torchvision_") and files[0].endswith(f"_{sha256[:16]}.h5")
    assert files[1] == files[0] + ".verified"  # the converted file's own sha256
    assert files[2:] == [
        "downloads/torchvision/resnet18.safetensors",
        "downloads/torchvision/resnet18.safetensors.verified",
    ]

    # The second build is a cache hit: no server needed, the converted file is used.
    _manifest(tmp_path, monkeypatch, "http://127.0.0.1:9/resnet18.safetensors", {"sha256": sha256})
    again = keras_famous.ResNet18(variant="torchvision", weights="imagenet", classifier_activation=None)
    assert_close_to_magnitude(infer(again, images), logits, 1e-4)
    headless = keras_famous.ResNet18(variant="torchvision", weights="imagenet", include_top=False, input_shape=SIZE)
    assert headless.output.shape[-1] == 512 and len(_cache_files(tmp_path)) == 6  # a converted file per layout


def test_download_progress_is_reported(resnet18_files, served, tmp_path, capsys):
    sha256 = hashlib.sha256((resnet18_files[0] / "resnet18.safetensors").read_bytes()).hexdigest()
    target = tmp_path / "home" / "file"
    weights.cache.fetch(f"{served}/resnet18.safetensors", str(target), {"sha256": sha256})
    err = capsys.readouterr().err
    assert "Downloading file" in err and "100%" in err


def test_hash_mismatch_never_enters_the_cache(resnet18_files, served, tmp_path, monkeypatch):
    _manifest(tmp_path, monkeypatch, f"{served}/resnet18.safetensors", {"sha256": "0" * 64})
    with pytest.raises(ValueError, match="corrupt, truncated or not the published one"):
        keras_famous.ResNet18(variant="torchvision", weights="imagenet")
    assert _cache_files(tmp_path) == []


def test_md5_and_prefix_hashes_are_checked(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"weights")
    weights.cache.verify(str(path), {"md5": hashlib.md5(b"weights").hexdigest()})
    weights.cache.verify(str(path), {"sha256_prefix": hashlib.sha256(b"weights").hexdigest()[:8]})
    with pytest.raises(ValueError, match="md5"):
        weights.cache.verify(str(path), {"md5": "0" * 32})


def test_offline_error_names_url_and_cache_path(tmp_path, monkeypatch):
    _manifest(tmp_path, monkeypatch, "http://127.0.0.1:9/resnet18.safetensors", {"sha256": "0" * 64})
    with pytest.raises(OSError) as error:
        keras_famous.ResNet18(variant="torchvision", weights="imagenet")
    message = str(error.value)
    assert "http://127.0.0.1:9/resnet18.safetensors" in message and "weights=None" in message
    assert os.path.join(str(tmp_path / "home"), "downloads", "torchvision", "resnet18.safetensors") in message
    assert _cache_files(tmp_path) == []


def test_models_without_a_source_name_the_variants_that_have_one():
    with pytest.raises(ValueError, match=r"exist for `variant` 'torchvision'\."):
        keras_famous.ResNet18(variant="keras", weights="imagenet")
    with pytest.raises(ValueError, match="No public pretrained source"):
        keras_famous.ZFNet(weights="imagenet")


def test_manifest_covers_every_public_source():
    manifest = weights.load_manifest()
    keras_sources = {m for (m, v, d), e in manifest.items() if e.source in ("keras.applications", "keras-applications")}
    assert keras_sources == {
        "VGG16",
        "VGG19",
        "ResNet50",
        "ResNet101",
        "ResNet152",
        "ResNet50V2",
        "ResNet101V2",
        "ResNet152V2",
        "ResNeXt50",
        "ResNeXt101",
        "InceptionV3",
        "InceptionResNetV2",
        "Xception",
        "DenseNet121",
        "DenseNet169",
        "DenseNet201",
    }
    for (model, variant, dataset), entry in manifest.items():
        spec = keras_famous.registry.get_spec(model)
        assert variant in spec.variants, (model, variant)
        # the Caffe model zoo serves BVLC's files over plain http, with a sha1 on the model's page
        secure = ("https://", "package:") + (("http://",) if "sha1" in entry.files["top"].hash else ())
        assert entry.files["top"].url.startswith(secure), (model, variant)
        if (entry.source, dataset) not in (("timm", "imagenet"), ("caffe", "cifar10")):  # publishers that give none
            assert entry.files["top"].hash, (model, variant)
        layout = spec.variants[variant]
        if dataset != "cifar10":  # NiN's CIFAR-10 input is whitened data, which no preprocessing mode computes
            assert layout.preprocessing, (model, variant)  # weights exist, so their input scaling is declared
        if entry.converter == "torch":
            assert layout.torch_names, (model, variant)
        if entry.converter == "caffe":
            assert layout.caffe_names and entry.files["top"].url.split("?")[0].endswith(".caffemodel"), (model, variant)
    assert {
        ("InceptionV4", "timm", "imagenet"),
        ("AlexNet", "torchvision", "imagenet"),
        ("GoogLeNet", "torchvision", "imagenet"),
    } <= set(manifest)
    caffe_releases = {key: entry.files["top"].hash for key, entry in manifest.items() if entry.source == "caffe"}
    assert set(caffe_releases) == {
        ("AlexNet", "bvlc", "imagenet"),
        ("GoogLeNet", "bvlc", "imagenet"),
        ("NiN", "imagenet", "imagenet"),
        ("NiN", "cifar", "cifar10"),
    }
    assert all(set(found) <= {"sha1"} for found in caffe_releases.values())


def test_shipped_lenet5_scores_what_its_reference_records():
    """The LeNet-5 we trained (tools/train_lenet_digits.py) on scikit-learn's digits: its test accuracy is
    recorded in lenet.py's Reference, and the shipped file still gives exactly that."""
    from keras_famous import datasets

    entry = next(ref for ref in keras_famous.registry.get_spec("LeNet5").variants["original"].references if ref.top1)
    (_, _), (x_test, y_test) = datasets.digits_32x32()
    model = keras_famous.LeNet5(weights="digits")
    scores = infer(model, x_test)
    ranked = np.argsort(-scores, axis=1)
    top1 = float(np.mean(ranked[:, 0] == y_test))
    top5 = float(np.mean((ranked[:, :5] == y_test[:, None]).any(axis=1)))
    assert (top1, top5) == pytest.approx((entry.top1, entry.top5), abs=1e-6)
    assert top1 > 0.95
    with pytest.raises(ValueError, match="weights='digits' instead"):
        keras_famous.LeNet5(weights="imagenet")


# -- pretrained weights for another task: other classes, other channels (convert.adapt) ---------------------


def test_imagenet_into_other_classes_and_channels_keeps_the_backbone(resnet18_files, served, tmp_path, monkeypatch):
    """A torchvision resnet18 .pth (served locally) into 5 classes and one channel: the backbone equals
    the 1000-class model's, the classifier is new with a warning; the converted cache keeps the source's arrays,
    so a later 1000-class RGB build from the cache still scores the reference's logits."""
    directory, images, logits, _ = resnet18_files
    sha256 = hashlib.sha256((directory / "resnet18.pth").read_bytes()).hexdigest()
    _manifest(tmp_path, monkeypatch, f"{served}/resnet18.pth", {"sha256": sha256})
    with pytest.warns(UserWarning, match=r"classifier layers \['predictions'\] are new.*adapted from 3 to 1"):
        gray = keras_famous.ResNet18(
            variant="torchvision", weights="imagenet", classes=5, input_shape=(224, 224, 1), classifier_activation=None
        )
    assert gray.output.shape == (None, 5)
    full = keras_famous.ResNet18(variant="torchvision", weights="imagenet", classifier_activation=None)
    assert_close_to_magnitude(infer(full, images), logits, 1e-4)  # from the converted cache
    features = lambda model: keras.Model(model.inputs, model.get_layer("avg_pool").output)  # noqa: E731
    one = images.mean(axis=-1, keepdims=True)
    assert_close_to_magnitude(infer(features(gray), one), infer(features(full), np.repeat(one, 3, axis=-1)), 1e-5)


@pytest.mark.parametrize("channels", [1, 4, 6])
def test_a_legacy_h5_by_order_into_other_channels(tmp_path, channels):
    """keras.applications' VGG16 file layout (legacy .h5 matched by order) into 1, 4 and 6 channels: x on the
    adapted model equals x repeated to RGB on the original (6: an RGB image twice is the image once)."""
    source = keras_famous.VGG11(include_top=False, input_shape=(32, 32, 3))
    path = tmp_path / "vgg11_notop.h5"
    by_position = {f"layer_{i}": layer.get_weights() for i, layer in enumerate(source.layers) if layer.weights}
    convert.keras_h5.write_legacy_h5(str(path), by_position)  # names not ours: matched by order
    with pytest.warns(UserWarning, match=f"'block1_conv1' was adapted from 3 to {channels} channels"):
        model = keras_famous.VGG11(include_top=False, input_shape=(32, 32, channels), weights=str(path))
    rgb = random_images((32, 32, 3))
    if channels == 1:
        gray = rgb[..., :1]
        assert_close_to_magnitude(infer(model, gray), infer(source, np.repeat(gray, 3, -1)), 1e-5)
    elif channels == 6:
        assert_close_to_magnitude(infer(model, np.concatenate([rgb, rgb], -1)), infer(source, rgb), 1e-5)
    else:
        kernel = model.get_layer("block1_conv1").get_weights()[0]
        original = source.get_layer("block1_conv1").get_weights()[0]
        np.testing.assert_allclose(kernel, original[:, :, [0, 1, 2, 0]] * 0.75, rtol=1e-6)


def test_digits_weights_into_rgb_lenet5():
    """LeNet5's shipped digits weights (one channel) into a three-channel model: a gray image repeated three times
    scores what the original scores on it, and the classifier can be new as well."""
    digits = keras_famous.LeNet5(weights="digits")
    with pytest.warns(UserWarning, match="'c1' was adapted from 1 to 3 channels"):
        rgb = keras_famous.LeNet5(weights="digits", input_shape=(32, 32, 3))
    gray = random_images((32, 32, 1))
    assert_close_to_magnitude(infer(rgb, np.repeat(gray, 3, -1)), infer(digits, gray), 1e-5)
    with pytest.warns(UserWarning, match="are new"):
        three = keras_famous.LeNet5(weights="digits", classes=3)
    np.testing.assert_array_equal(three.get_layer("c1").get_weights()[0], digits.get_layer("c1").get_weights()[0])


def test_loading_after_the_build_still_needs_an_exact_fit(tmp_path):
    """`registry.load_weights` (and `keras-famous convert`) load a file as it is: another class count is refused."""
    path = tmp_path / "resnet18.weights.h5"
    keras_famous.ResNet18(variant="torchvision", input_shape=SIZE).save_weights(path)
    model = keras_famous.ResNet18(variant="torchvision", input_shape=SIZE, classes=5)
    with pytest.raises(ValueError, match="'predictions' expects shapes"):
        registry.load_weights(model, path, "ResNet18", "torchvision")
