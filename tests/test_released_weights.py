"""Every manifest entry loads a fixture shaped like its released file through the real `weights="imagenet"`
path: one local HTTP server on 127.0.0.1 and one temporary cache per test session, a test manifest
(`KERAS_FAMOUS_MANIFEST`) pointing at the server with the fixture's own hash, then download -> verify ->
convert -> load. `release_fixtures.py` writes each fixture as its publisher wrote the real file (the writer,
the era, the quirks: Keras 2.0's numbering, Keras 1's weight names, Keras 2.1's "conv1/conv" and "fc1000",
keras-applications' "probs", torchvision's legacy pickles and DenseNet keys, auxiliary heads, timm's hub
safetensors); each test's id names the released file it imitates.

For one entry of every writer and quirk (REFERENCE_ENTRIES) our outputs are compared with the reference
library's own outputs for the same file (tf_keras / keras_applications running the writer's model,
torchvision's own loader reading the file from its hub cache, timm's `pretrained_cfg_overlay(file=...)`).
For the others every tensor of the file must be assigned (all-or-nothing, so a count) and a few tensors are
compared with the file's values by position. Each fixture is deleted once loaded (VGG's top files are ~550 MB)."""

import hashlib
import json
import os
from importlib import resources

import h5py
import numpy as np
import pytest
import timm
import torch
from safetensors.numpy import load_file

import keras_famous
from keras_famous import registry, weights
from conftest import infer, assert_close_to_magnitude, random_images, serving, write_manifest
from release_fixtures import fixture_path, write_release_fixture

RAW_ENTRIES = json.loads(resources.files("keras_famous.weights").joinpath("manifest.json").read_text())["entries"]
# The Caffe model zoo releases have their own release-shaped fixtures, compared with OpenCV's Caffe importer through the
# same local server and test manifest: tests/test_caffe.py
CASES = [
    (index, file_kind) for index, raw in enumerate(RAW_ENTRIES) if raw["source"] != "caffe" for file_kind in raw["files"]
]  # fmt: skip

# (model, variant, file kind): one per writer and quirk, compared with the reference library's outputs
REFERENCE_ENTRIES = {
    ("InceptionV3", "keras", "top"), ("InceptionV3", "keras", "notop"),  # Keras 2.0 numbering
    ("Xception", "keras", "top"), ("InceptionResNetV2", "keras", "notop"),  # Keras 2.0 numbering, other patterns
    ("VGG16", "plain", "notop"),  # Keras 1 weight names
    ("DenseNet121", "keras", "top"),  # Keras 2.1: "conv1/conv", "fc1000"
    ("ResNet50", "keras", "top"), ("ResNet50V2", "keras", "notop"),  # keras-applications 1.0.7: "probs"
    ("ResNeXt50", "keras", "top"),  # keras-applications 1.0.8: depthwise-emulated grouped convolutions
    ("ResNet18", "torchvision", "top"),  # 2017 file re-saved in the zip format
    ("DenseNet121", "torchvision", "top"),  # legacy pickle, "norm.1" keys, no num_batches_tracked
    ("GoogLeNet", "torchvision", "top"), ("InceptionV3", "torchvision", "top"),  # auxiliary heads in the file
    ("ResNeXt50", "torchvision", "top"),  # 2019 legacy pickle with num_batches_tracked
    ("InceptionV4", "timm", "top"),  # timm's hub safetensors
}  # fmt: skip
AUXILIARY_PREFIXES = ("aux1.", "aux2.", "AuxLogits.")  # torchvision's heads its GoogLeNet / Inception-v3 files carry
SLOW_MODELS = ("VGG", "ResNet101", "ResNet152", "DenseNet169", "DenseNet201", "WideResNet", "ResNeXt101", "AlexNet",
               "InceptionResNetV2", "InceptionV4")  # fmt: skip


def _case_id(case):
    index, file_kind = case
    raw = RAW_ENTRIES[index]
    return f"{raw['model']}-{raw['variant']}-{os.path.basename(raw['files'][file_kind]['url'])}"


def _params():
    return [
        pytest.param(
            *case,
            id=_case_id(case),
            marks=[pytest.mark.slow] if RAW_ENTRIES[case[0]]["model"].startswith(SLOW_MODELS) else [],
        )
        for case in CASES
    ]


@pytest.fixture(scope="session")
def release_site(tmp_path_factory):
    """(served directory, its URL, the session's cache): one server and one cache per test session."""
    served = tmp_path_factory.mktemp("releases")
    with serving(served) as url:
        yield served, url, tmp_path_factory.mktemp("keras_famous_home")


def _hash_like(published, path):
    """The fixture's hash in the kind the publisher gives ({} where it gives none, as for timm's hub files)."""
    digests = {}
    for kind in published:
        algorithm = "sha256" if kind.startswith("sha256") else kind
        with open(path, "rb") as handle:
            digests[kind] = hashlib.file_digest(handle, algorithm).hexdigest()
        if kind.endswith("_prefix"):
            digests[kind] = digests[kind][: len(published[kind])]
    return digests


def _serve(release_site, monkeypatch, index, file_kind, path):
    """A manifest of every entry, this one's file served from `path` with its own hash."""
    served, url, home = release_site
    raws = json.loads(json.dumps(RAW_ENTRIES))
    file = raws[index]["files"][file_kind]
    file["url"] = f"{url}/{os.path.relpath(path, served)}"
    file["hash"] = _hash_like(file["hash"], path)
    manifest = write_manifest(served / "manifest.json", raws)
    monkeypatch.setenv("KERAS_FAMOUS_MANIFEST", str(manifest))
    monkeypatch.setenv("KERAS_FAMOUS_HOME", str(home))


def _input_shape(entry):
    return registry.get_spec(entry.model).input_shape


def _build(entry, include_top, **options):
    activation = {} if entry.converter == "keras_h5" or not include_top else {"classifier_activation": None}
    return registry.build_variant(
        entry.model, entry.variant, weights=entry.dataset, include_top=include_top, **activation, **options
    )


def _main_output(model, images):
    outputs = infer(model, images)
    return outputs[0] if isinstance(outputs, list) else outputs


def _keras_file_layers(path, positions=None):
    """[(layer name, [arrays])] of a legacy Keras .h5 in the file's order, read with h5py alone; with `positions`
    only those layers' arrays are read, the others' shapes stand in (VGG's files are 500 MB)."""
    decode = lambda values: [v.decode() if isinstance(v, bytes) else str(v) for v in values]  # noqa: E731
    with h5py.File(path, "r") as f:
        layers = []
        for name in decode(f.attrs["layer_names"]):
            weight_names = decode(f[name].attrs["weight_names"])
            if weight_names:
                read = positions is None or len(layers) in positions
                layers.append((name, [np.asarray(f[name][w]) if read else f[name][w].shape for w in weight_names]))
        return layers


def _torch_file_tensors(path, model, entry):
    """{key: array} of a checkpoint in its module order, without BN's step counters and the auxiliary heads
    the model lacks. safetensors sorts its keys: the order is then that of timm's own model."""
    if path.endswith(".safetensors"):
        tensors = load_file(path)
        state = {key: tensors[key] for key in timm.create_model(entry.source_model, pretrained=False).state_dict()}
    else:
        state = {key: value.numpy() for key, value in torch.load(path, map_location="cpu", weights_only=True).items()}
    has_aux = any(layer.name.startswith("aux") for layer in model.layers)
    return {
        key: value
        for key, value in state.items()
        if not key.endswith("num_batches_tracked") and (has_aux or not key.startswith(AUXILIARY_PREFIXES))
    }


def _first_layer(model, kind):
    return next(layer for layer in model.layers if type(layer).__name__ == kind)


def _check_every_tensor_and_spot_values(entry, model, path):
    model_weights = [w for layer in model.layers for w in layer.weights]
    if entry.converter == "keras_h5":  # by position: the file's layers are the model's in order
        ours = [layer for layer in model.layers if layer.weights]
        positions = (0, len(ours) // 2, len(ours) - 1)
        file_layers = _keras_file_layers(path, positions)
        assert sum(len(arrays) for _, arrays in file_layers) == len(model_weights)
        for position in positions:
            if type(ours[position]).__name__ == "Conv2D" and ours[position].groups > 1:
                continue  # keras-applications' depthwise emulation, rewritten (test_keras_parity checks its outputs)
            for ours_array, file_array in zip(ours[position].get_weights(), file_layers[position][1]):
                np.testing.assert_array_equal(ours_array, file_array)
        return
    tensors = _torch_file_tensors(path, model, entry)
    assert len(tensors) == len(model_weights)
    first_kernel = next(value for value in tensors.values() if value.ndim == 4)
    np.testing.assert_array_equal(_first_layer(model, "Conv2D").get_weights()[0], first_kernel.transpose(2, 3, 1, 0))
    variances = [value for key, value in tensors.items() if key.endswith("running_var")]
    if variances:
        np.testing.assert_array_equal(_first_layer(model, "BatchNormalization").get_weights()[-1], variances[0])
    last_key = [key for key in tensors if key.endswith("weight")][-1]
    classifier = model.get_layer("conv10" if tensors[last_key].ndim == 4 else "predictions").get_weights()[0]
    expected = tensors[last_key].transpose(2, 3, 1, 0) if tensors[last_key].ndim == 4 else tensors[last_key].T
    np.testing.assert_array_equal(classifier, expected)


@pytest.mark.parametrize("index,file_kind", _params())
def test_release_shaped_file_loads_through_weights_imagenet(index, file_kind, release_site, monkeypatch):
    raw = RAW_ENTRIES[index]
    entry = weights.load_manifest()[(raw["model"], raw["variant"], raw.get("dataset", "imagenet"))]
    include_top = file_kind == "top"
    if entry.files[file_kind].url.startswith("package:"):  # LeNet-5's digits weights ship in the package
        model = _build(entry, include_top)
        path, _ = weights.resolve(entry.model, entry.variant, entry.dataset)
        _check_every_tensor_and_spot_values(entry, model, path)
        return
    served, _, home = release_site
    compare = (entry.model, entry.variant, file_kind) in REFERENCE_ENTRIES
    images = random_images(_input_shape(entry)) if compare else None
    fixture = write_release_fixture(entry, include_top, str(served / entry.source), images)
    assert fixture.path == fixture_path(entry, include_top, str(served / entry.source))
    _serve(release_site, monkeypatch, index, file_kind, fixture.path)
    try:
        model = _build(entry, include_top)
        if compare:
            assert_close_to_magnitude(_main_output(model, images), fixture.expected, 1e-4)
        else:
            _check_every_tensor_and_spot_values(entry, model, fixture.path)
        if entry.source_model in ("googlenet", "inception_v3"):  # the file's auxiliary heads: with and without them
            with_aux = not any(layer.name.startswith("aux") for layer in model.layers)
            other = _build(entry, include_top, aux_logits=with_aux)
            assert any(layer.name.startswith("aux") for layer in other.layers) == with_aux
            np.testing.assert_allclose(_main_output(other, images), _main_output(model, images), rtol=1e-5, atol=1e-6)
    finally:
        os.remove(fixture.path)
        for cached in home.rglob("*"):
            if cached.is_file():
                cached.unlink()


def test_data_parallel_checkpoints_load(tmp_path):
    """Users' own checkpoints saved from DataParallel / DistributedDataParallel prefix every key with "module.",
    often nested under "state_dict" with the optimizer's state beside it."""
    import torchvision

    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None).eval()
    state = {f"module.{key}": value for key, value in reference.state_dict().items()}
    torch.save({"epoch": 3, "state_dict": state, "optimizer": {"lr": 0.1}}, tmp_path / "checkpoint.pth")
    images = random_images((64, 64, 3))
    with torch.no_grad():
        expected = reference(torch.from_numpy(images.transpose(0, 3, 1, 2))).numpy()
    model = keras_famous.ResNet18(
        variant="torchvision",
        weights=str(tmp_path / "checkpoint.pth"),
        input_shape=(64, 64, 3),
        classifier_activation=None,
    )
    assert_close_to_magnitude(infer(model, images), expected, 1e-4)
