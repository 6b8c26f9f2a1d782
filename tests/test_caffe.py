"""The Caffe model zoo releases (BVLC AlexNet and GoogLeNet, the authors' Network-in-Network models) read without
Caffe, proven against an implementation no one here wrote: OpenCV's Caffe importer (`cv2.dnn.readNetFromCaffe`,
OpenCV < 5) runs each release-shaped fixture with its deploy prototxt, and our model, loaded from the same file through
`weights="imagenet"` (NiN CIFAR: `weights="cifar10"`) from a local HTTP server and a test manifest, gives the same
logits within 1e-4 of their magnitude. `caffe_fixtures.py` writes each file as Caffe wrote the release in its year;
each test's id names the released file it imitates."""

import hashlib
import json
from importlib import resources

import numpy as np
import pytest

import keras_famous
from keras_famous import cli, convert, registry, transfer
from keras_famous.convert import caffe
from conftest import assert_close_to_magnitude, infer, serving, write_manifest
from caffe_fixtures import RELEASES, caffemodel_bytes, images, nin_layers, opencv_outputs, write_release

RAW_ENTRIES = json.loads(resources.files("keras_famous.weights").joinpath("manifest.json").read_text())["entries"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """(served directory, its URL): one local server for the module's release fixtures."""
    served = tmp_path_factory.mktemp("caffe_zoo")
    with serving(served) as url:
        yield served, url


def _serve(site, monkeypatch, tmp_path, release, path):
    """The package's manifest with this release's entry pointing at the served fixture and carrying its hash, in
    the kind the publisher gives (the model zoo's sha1; none for cifar10_nin)."""
    served, url = site
    raws = json.loads(json.dumps(RAW_ENTRIES))
    entry = next(
        r for r in raws if r["source"] == "caffe" and r["source_model"] == release.imitates[: -len(".caffemodel")]
    )
    file = entry["files"]["top"]
    file["url"] = f"{url}/{path.name}?dl=1"  # the Dropbox links carry a query
    file["hash"] = {kind: hashlib.new(kind, path.read_bytes()).hexdigest() for kind in file["hash"]}
    monkeypatch.setenv("KERAS_FAMOUS_MANIFEST", str(write_manifest(tmp_path / "manifest.json", raws)))
    return entry


def _loaded_matches_opencv(key, site, monkeypatch, tmp_path, **options):
    release = RELEASES[key]
    served, _ = site
    model_path, proto_path, _ = write_release(key, served)
    try:
        x = images(key)
        expected = opencv_outputs(proto_path, model_path, x, release.outputs)
        entry = _serve(site, monkeypatch, tmp_path, release, model_path)
        assert entry["files"]["top"]["hash"] or key == "cifar10_nin"
        model = registry.build_variant(
            release.model, release.variant, weights=release.dataset, classifier_activation=None, **options
        )
        outputs = infer(model, x)
        outputs = outputs if isinstance(outputs, list) else [outputs]
        assert len(outputs) == len(expected)
        for ours, theirs in zip(outputs, expected):
            assert_close_to_magnitude(ours, theirs, 1e-4)
        return model, x, expected
    finally:
        model_path.unlink()


@pytest.mark.slow
def test_bvlc_alexnet_caffemodel_matches_opencv(site, monkeypatch, tmp_path):
    """bvlc_alexnet.caffemodel (2014, V1, 244 MB): grouped conv2/4/5, Caffe's LRN, fc6 over Caffe's (C, H, W)."""
    model, _, _ = _loaded_matches_opencv("bvlc_alexnet", site, monkeypatch, tmp_path)
    assert model.get_layer("conv2").groups == 2 and model.count_params() == 60_965_224


@pytest.mark.slow
def test_bvlc_googlenet_caffemodel_matches_opencv_with_and_without_aux_heads(site, monkeypatch, tmp_path):
    """bvlc_googlenet.caffemodel (2014, V1) with its loss1/loss2 heads: into a model built with them (all three
    outputs match OpenCV's), and into one without (the heads skipped; the same main output, from the cached download)."""
    _, x, expected = _loaded_matches_opencv("bvlc_googlenet", site, monkeypatch, tmp_path, aux_logits=True)
    plain = keras_famous.GoogLeNet(variant="bvlc", weights="imagenet", classifier_activation=None)
    assert not any(layer.name.startswith("aux") for layer in plain.layers)
    assert_close_to_magnitude(infer(plain, x), expected[0], 1e-4)
    paper = keras_famous.GoogLeNet(classifier_activation=None)  # the paper's LRN: not the release's computation
    paper.set_weights(plain.get_weights())
    with pytest.raises(AssertionError, match="max abs error"):
        assert_close_to_magnitude(infer(paper, x), expected[0], 1e-2)


def test_nin_imagenet_caffemodel_matches_opencv(site, monkeypatch, tmp_path):
    """nin_imagenet.caffemodel (2014, V1): Caffe's rounding-up pools, 224 -> 54 -> 27 -> 13 -> 6."""
    model, _, _ = _loaded_matches_opencv("nin_imagenet", site, monkeypatch, tmp_path)
    assert model.get_layer("mlpconv3_pool").output.shape[1:3] == (6, 6)


def test_cifar10_nin_caffemodel_matches_opencv(site, monkeypatch, tmp_path):
    """cifar10_nin.caffemodel (2014, V1), weights="cifar10", the publisher gives no hash (pinned at first use)."""
    _loaded_matches_opencv("cifar10_nin", site, monkeypatch, tmp_path)


def test_v2_caffemodel_loads_from_a_path_and_converts(tmp_path, capsys):
    """2015's spelling (`layer`, string types, BlobShape) of the CIFAR NiN, by weights=path, and
    `keras-famous convert FILE.caffemodel`: the written .weights.h5 gives OpenCV's outputs too."""
    model_path, proto_path, _ = write_release("cifar10_nin", tmp_path, version="V2")
    assert caffe.read_caffemodel(model_path).format == "V2"
    x = images("cifar10_nin")
    (expected,) = opencv_outputs(proto_path, model_path, x, ("pool3",))
    model = keras_famous.NiN(weights=str(model_path), classifier_activation=None)
    assert_close_to_magnitude(infer(model, x), expected, 1e-4)
    output = tmp_path / "nin.weights.h5"
    args = ["convert", str(model_path), "--model", "NiN", "--variant", "cifar", "--output", str(output)]
    assert cli.main(args) == 0
    assert "wrote" in capsys.readouterr().out
    converted = keras_famous.NiN(classifier_activation=None)
    converted.load_weights(output)
    assert_close_to_magnitude(infer(converted, x), expected, 1e-4)


def test_reader_reads_both_blob_spellings(tmp_path):
    """V1 blobs are 4-D (a fully connected layer's weights 1 x 1 x out x in), V2 blobs have their own shape."""
    layers = nin_layers("cifar")[:1]
    weights = {"conv1": [np.arange(192 * 3 * 25, dtype="float32").reshape(192, 3, 5, 5), np.ones(192, "float32")]}
    for version in ("V1", "V2"):
        net = caffe.parse(caffemodel_bytes("n", layers, weights, version, training_layers=False))
        conv, relu = net.layers
        assert (net.format, conv.name, conv.type, relu.type, relu.blobs) == (
            version,
            "conv1",
            "Convolution",
            "ReLU",
            [],
        )
        np.testing.assert_array_equal(conv.blobs[0], weights["conv1"][0])
        assert conv.blobs[1].shape == ((1, 1, 1, 192) if version == "V1" else (192,))


def _cifar_file(tmp_path, **changes):
    """The CIFAR NiN file with some layers' weights replaced ({layer: arrays}) or renamed ({layer: new name})."""
    from caffe_fixtures import _weights

    layers = nin_layers("cifar")
    weights, _ = _weights(np.random.default_rng(0), layers, (3, 32, 32))
    for name, change in changes.items():
        if isinstance(change, str):
            layers = [
                type(layer)(**{**layer.__dict__, "name": change}) if layer.name == name else layer for layer in layers
            ]
            weights[change] = weights.pop(name)
        else:
            weights[name] = change
    path = tmp_path / "cifar10_nin.caffemodel"
    path.write_bytes(caffemodel_bytes("cifar10_nin", layers, weights, "V1"))
    return path


def test_a_file_that_does_not_fit_names_the_layer_and_changes_nothing(tmp_path):
    model = keras_famous.NiN(classifier_activation=None)
    before = model.get_layer("mlpconv2_cccp1").get_weights()[0].copy()
    bad = _cifar_file(tmp_path, cccp3=[np.zeros((192, 100, 1, 1), "float32"), np.zeros(192, "float32")])
    takes = r"'mlpconv2_cccp1' takes Caffe layer 'cccp3', whose blobs are \[\(192, 100, 1, 1\), \(1, 1, 1, 192\)\]"
    with pytest.raises(ValueError, match=takes + ".*'mlpconv2_cccp1' expects shapes"):
        registry.load_weights(model, bad, "NiN", "cifar")
    np.testing.assert_array_equal(model.get_layer("mlpconv2_cccp1").get_weights()[0], before)
    renamed = _cifar_file(tmp_path, cccp4="cccp4_new")
    with pytest.raises(ValueError, match="no Keras layer for Caffe layer 'cccp4_new'.*no weights for layers"):
        registry.load_weights(model, renamed, "NiN", "cifar")


def test_truncated_and_foreign_files_are_refused_naming_the_file(tmp_path):
    whole = _cifar_file(tmp_path).read_bytes()
    cut = tmp_path / "cut.caffemodel"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match=r"cut\.caffemodel.*not a whole \.caffemodel \(truncated\?\)"):
        caffe.read_caffemodel(cut)
    foreign = tmp_path / "foreign.caffemodel"
    foreign.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(64))
    with pytest.raises(ValueError, match="foreign.caffemodel"):
        caffe.read_caffemodel(foreign)
    assert convert.file_format(foreign) == "caffe"


def test_a_variant_without_a_caffe_layout_refuses_a_caffemodel(tmp_path):
    path = _cifar_file(tmp_path)
    model = registry.build_variant("AlexNet", "torchvision")
    with pytest.raises(ValueError, match="no Caffe layer-name map.*variant='bvlc'"):
        registry.load_weights(model, path, "AlexNet", "torchvision")


def test_caffe_pooling_rounds_up_as_caffe():
    """ceil((side - k) / s) + 1, windows over real pixels only: 5 -> 2 for 3/2 (Keras' "same" gives 3)."""
    from keras_famous.layers import CaffePooling2D

    x = np.arange(25, dtype="float32").reshape(1, 5, 5, 1)
    np.testing.assert_array_equal(np.asarray(CaffePooling2D(3, 2, "max")(x))[0, :, :, 0], [[12, 14], [22, 24]])
    x6 = np.arange(36, dtype="float32").reshape(1, 6, 6, 1)
    averaged = np.asarray(CaffePooling2D(3, 2, "ave")(x6))[0, :, :, 0]
    assert averaged.shape == (3, 3)
    assert averaged[2, 2] == pytest.approx(x6[0, 4:, 4:, 0].mean())  # a 2x2 window of real pixels
    assert averaged[0, 0] == pytest.approx(x6[0, :3, :3, 0].mean())


def test_nin_imagenet_features_at_any_size_despite_its_larger_minimum():
    """Caffe's pools need 39 pixels in NiN's ImageNet model (its family's default side is CIFAR's 32): a
    variable-size feature extractor finds its taps at the variant's own default size."""
    extractor = transfer.feature_extractor("NiN", variant="imagenet", input_shape=(None, None, 3))
    assert list(extractor.output) == ["stride_4", "stride_8", "stride_16", "stride_32"]
    with pytest.raises(ValueError, match="at least 39 pixels"):
        registry.build_variant("NiN", "imagenet", include_top=False, input_shape=(38, 38, 3))
    assert extractor(np.zeros((1, 39, 39, 3), "float32"))["stride_32"].shape == (1, 1, 1, 1024)


def test_a_release_into_other_classes_gets_a_new_classifier(site, monkeypatch, tmp_path):
    """weights="cifar10" with 4 classes: the release's class maps (a classifier of the family) are new, with a
    warning, and the rest loads; loaded after the build (`registry.load_weights`), the same file is refused."""
    served, _ = site
    model_path, _, weights = write_release("cifar10_nin", served, seed=3)
    try:
        _serve(site, monkeypatch, tmp_path, RELEASES["cifar10_nin"], model_path)
        with pytest.warns(UserWarning, match=r"classifier layers \['mlpconv3_cccp2'\] are new"):
            model = keras_famous.NiN(weights="cifar10", classes=4)
        kernel = model.get_layer("mlpconv1_conv").get_weights()[0]
        np.testing.assert_array_equal(kernel, weights["conv1"][0].transpose(2, 3, 1, 0))
        with pytest.raises(ValueError, match="'mlpconv3_cccp2' expects shapes"):
            registry.load_weights(model, model_path, "NiN", "cifar")
    finally:
        model_path.unlink()
