"""Small-effort, faithful imitations of the released pretrained-weights files of the manifest.

`write_release_fixture(entry, include_top, directory, images)` writes, for one manifest entry, a file with random
(seeded) weights but otherwise as the publisher's file was written: the same writer, the era's quirks and the same
file name. With `images` it also returns the reference library's own outputs for exactly these weights, so a loader
test can serve the file over HTTP, load it through `weights="imagenet"` and compare.

Our earlier fixtures were written the way libraries write files today, so the real files failed to load. The quirks
reproduced here, per writer (the real file names are the manifest's; the tables below name each one's era):

Keras (`.h5`, legacy layout: root attribute `layer_names`, a group per layer with `weight_names`):
  * every era: attributes are fixed-length byte strings (h5py 2 stored lists of `bytes` so; they read back as
    `numpy.bytes_`, where today's h5py writes variable-length strings), `keras_version` is the era's release;
  * Keras 1 (VGG16, VGG19: fchollet/deep-learning-models v0.1, 2016): the weights are named
    `<layer>_W_1:0` / `<layer>_b_1:0` directly in the layer's group, and the file has no `keras_version` nor
    `backend` attribute (Keras 2 reads such a file as version "1");
  * every era numbered unnamed layers from 1, where a fresh session today starts at `conv2d`: in the Keras 2.0
    files (InceptionV3, Xception, InceptionResNetV2) weighted layers are unnamed (`conv2d_1`, `batch_normalization_1`,
    ...; Xception's four shortcut convolutions); elsewhere only weightless ones (`zero_padding2d_1`, `reshape_1`);
  * Keras 2.1 (DenseNet121/169/201): layer names with "/" (`conv1/conv`, `conv1/bn`), which HDF5 stores as nested
    groups, and the classifier is `fc1000`;
  * keras-applications 1.0.7/1.0.8 (ResNet50/101/152, their V2, ResNeXt50/101; 2019): the classifier is `probs`;
    ResNeXt's grouped convolutions are DepthwiseConv2D emulations (kernel (3, 3, width, width // 32)).
torchvision (`.pth`):
  * 2017 files (DenseNet, VGG-BN) are legacy (pre torch 1.6) pickles without `num_batches_tracked` (the buffer came
    with torch 0.4.1); DenseNet's dense layers are spelled `norm.1`, `conv.1`, ... (torchvision rewrites them on load);
  * 2017 files re-saved in 2021 in the zip format, unchanged otherwise (vision#3581, #3620, #3851): AlexNet, VGG11,
    VGG13, ResNet18-152, SqueezeNet, Inception-v3 (with `AuxLogits.*`);
  * 2019 files (GoogLeNet with `aux1.*`/`aux2.*`, ResNeXt50, WideResNet) are legacy pickles of a torch 1.x
    `state_dict()`, `num_batches_tracked` included.
timm (`model.safetensors` on the Hugging Face hub): timm's own `state_dict()`, safetensors metadata {"format": "pt"}.

Timm files go to `<directory>/<timm model name>/model.safetensors` (both timm entries have that name); the others to
`<directory>/<released basename>`. LeNet5 (`source == "keras_famous"`) ships in the package: not written here.

Import torch, torchvision and timm before TensorFlow in one process (this module does, at import).
"""

import contextlib
import gc
import math
import os
import re
import shutil
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlparse

import h5py
import numpy as np
import timm  # before TensorFlow (tf_keras is imported lazily): importing timm after it crashes here
import torch
import torchvision

SEED = 20240611


@dataclass
class ReleaseFixture:
    path: str  # the written file; its basename is the released file's (url's last part), timm: "model.safetensors"
    imitates: str  # the released file name, e.g. "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
    quirk: str  # one line: the writer/era quirk reproduced
    expected: Optional[np.ndarray]  # the reference library's outputs on `images` for this file, or None if not asked


# ---------------------------------------------------------------------------------------------------------- Keras


@dataclass(frozen=True)
class KerasRelease:
    builder: str  # "tf_keras" (tf_keras.applications) or a keras_applications 1.0.8 module
    keras_version: Optional[str]  # the root attribute; None: Keras 1 wrote none
    classifier: str  # the top file's classifier layer
    must_have: tuple  # layer names the file must hold (checked after writing)
    quirk: str


_KERAS1 = (
    "Keras 1.x, 2016 (deep-learning-models v0.1): weights '<layer>_W_1:0'/'_b_1:0', no keras_version/backend attrs"
)
_KERAS20 = "Keras 2.0 era ({}): unnamed layers count from 1 ({}), fixed-length byte-string attrs"
_KERAS_APPS = "keras-applications 1.0.7/1.0.8, 2019: classifier 'probs'{}, fixed-length byte-string attrs"
_DENSENET = (
    "Keras 2.1.x, 2018 (deep-learning-models v0.8): 'conv1/conv'-style names (nested HDF5 groups), "
    "classifier 'fc1000', fixed-length byte-string attrs"
)

# keras_version values are the release current when each file was published (era-approximate: the patch level of
# the real files' attribute was not checked). tf_keras 2.21 still names DenseNet's first layers "conv1/conv" but
# calls its classifier "predictions", and ResNet's "predictions" too; its InceptionResNetV2 scales the residuals in
# unnamed CustomScaleLayers where Keras 2.0.9 had Lambda layers "block35_1", ...: those come from keras_applications.
KERAS_RELEASES = {
    **{name: KerasRelease("tf_keras", None, "predictions", ("block1_conv1",), _KERAS1) for name in ("VGG16", "VGG19")},
    "InceptionV3": KerasRelease(
        "tf_keras",
        "2.0.2",
        "predictions",
        ("conv2d_1", "batch_normalization_94"),
        _KERAS20.format("deep-learning-models v0.5, 2017", "conv2d_1..94"),
    ),
    "Xception": KerasRelease(
        "tf_keras",
        "2.0.2",
        "predictions",
        ("conv2d_1", "batch_normalization_4"),
        _KERAS20.format("deep-learning-models v0.4, 2017", "shortcut conv2d_1..4"),
    ),
    "InceptionResNetV2": KerasRelease(
        "inception_resnet_v2",
        "2.0.8",
        "predictions",
        ("conv2d_1", "conv2d_203"),
        _KERAS20.format("deep-learning-models v0.7, 2017", "conv2d_1..203"),
    ),
    **{
        name: KerasRelease("densenet", "2.1.2", "fc1000", ("conv1/conv", "zero_padding2d_1"), _DENSENET)
        for name in ("DenseNet121", "DenseNet169", "DenseNet201")
    },
    **{
        name: KerasRelease("resnet", "2.2.4", "probs", ("conv1_conv",), _KERAS_APPS.format(""))
        for name in ("ResNet50", "ResNet101", "ResNet152")
    },
    **{
        name: KerasRelease("resnet_v2", "2.2.4", "probs", ("post_bn",), _KERAS_APPS.format(""))
        for name in ("ResNet50V2", "ResNet101V2", "ResNet152V2")
    },
    **{
        name: KerasRelease(
            "resnext",
            "2.2.4",
            "probs",
            ("conv2_block1_2_conv", "reshape_1"),
            _KERAS_APPS.format(", grouped convs as DepthwiseConv2D emulations"),
        )
        for name in ("ResNeXt50", "ResNeXt101")
    },
}

# Keras up to 2.x numbered unnamed layers from 1 ("conv2d_1", "reshape_1"; Keras 1 "flatten_1"), a fresh tf_keras
# session from 0 ("conv2d", then "conv2d_1"): one throwaway instance of each class the applications leave unnamed
# takes the un-numbered name first. `_unnumbered` checks that no other class's was left to the model.
_TAKE_FIRST_NAMES = (
    lambda L: L.Flatten(),
    lambda L: L.Conv2D(1, 1),
    lambda L: L.SeparableConv2D(1, 1),
    lambda L: L.BatchNormalization(),
    lambda L: L.Activation("relu"),
    lambda L: L.Dense(1),
    lambda L: L.MaxPooling2D(),
    lambda L: L.AveragePooling2D(),
    lambda L: L.GlobalAveragePooling2D(),
    lambda L: L.ZeroPadding2D(),
    lambda L: L.Concatenate(),
    lambda L: L.Add(),
    lambda L: L.Lambda(lambda x: x),
    lambda L: L.Reshape((1,)),
)


def _unnumbered(model, taken):
    snake = [
        re.sub("([a-z])([A-Z])", r"\1_\2", re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", type(layer).__name__)).lower()
        for layer in model.layers
    ]
    return [layer.name for layer, name in zip(model.layers, snake) if layer.name == name and name not in taken]


def _build_keras(release, name, include_top, images):
    import tf_keras

    kwargs = {"weights": None, "include_top": include_top}
    if not include_top:  # at the images' size (ResNeXt's reshapes need one; the weights do not depend on it)
        kwargs["input_shape"] = (224, 224, 3) if images is None else tuple(images.shape[1:])
    tf_keras.backend.clear_session()
    taken = {factory(tf_keras.layers).name for factory in _TAKE_FIRST_NAMES}
    if release.builder == "tf_keras":
        model = getattr(tf_keras.applications, name)(**kwargs)
    else:
        import importlib

        module = importlib.import_module(f"keras_applications.{release.builder}")
        modules = {
            "backend": tf_keras.backend,
            "layers": tf_keras.layers,
            "models": tf_keras.models,
            "utils": tf_keras.utils,
        }
        model = getattr(module, name)(**kwargs, **modules)
    if _unnumbered(model, taken):
        raise AssertionError(f"{name}: layers {_unnumbered(model, taken)} were not numbered from 1 as in the release")
    return model


def _random_array(kind, shape, rng, fan_in=1):
    """Seeded random weights: kernels variance-scaled, BN statistics non-trivial (a swapped mean/variance shows)."""
    if kind == "kernel":  # uniform with variance 1 / fan_in: a third of the time of normal draws for VGG's 500 MB
        kernel = rng.random(shape, dtype=np.float32)
        kernel -= np.float32(0.5)
        kernel *= np.float32(2.0 * math.sqrt(3.0 / max(fan_in, 1)))
        return kernel
    low_high = {"variance": (0.5, 1.5), "gamma": (0.8, 1.2)}.get(kind)
    if low_high:
        return rng.uniform(*low_high, size=shape).astype("float32")
    return rng.normal(0.0, 0.1 if kind == "mean" else 0.05, size=shape).astype("float32")  # mean, bias, beta


_KERAS_KINDS = {"moving_variance": "variance", "moving_mean": "mean", "gamma": "gamma", "beta": "bias", "bias": "bias"}


def _randomize_keras(model, rng, calibrate, kernels=True):
    """Seeded values for every weight; with kernels=False the kernels keep the library's own random
    initialisation (a loader test comparing tensors needs them random, not seeded: drawing VGG's takes seconds)."""
    for layer in model.layers:
        for weight in layer.weights:
            shape = tuple(weight.shape)
            kind = _KERAS_KINDS.get(weight.name.split("/")[-1].split(":")[0], "kernel")
            if kind == "kernel" and not kernels:
                continue  # untouched: copying VGG's 500 MB of kernels out and back took 5 s
            # a depthwise kernel (h, w, channels, multiplier) sums h * w * multiplier inputs per output channel
            fan_in = math.prod(shape[:2]) * shape[3] if "depthwise" in weight.name else math.prod(shape[:-1])
            weight.assign(_random_array(kind, shape, rng, fan_in))
    if calibrate:  # random features through a random classifier saturate the softmax: aim the logits at std 3
        import tf_keras

        classifier = model.layers[-1]
        probe = rng.uniform(-1, 1, size=(1, *model.input_shape[1:])).astype("float32")
        features = np.asarray(tf_keras.Model(model.inputs, classifier.input)(probe, training=False))
        kernel, bias = classifier.get_weights()
        classifier.set_weights([kernel * np.float32(3.0 / max(float(np.std(features @ kernel)), 1e-30)), bias])


def _byte_strings(values):
    """As h5py 2 stored a list of bytes: a fixed-length string array (an empty list became an empty float array)."""
    return np.array([v.encode("utf8") for v in values], dtype="S") if values else np.asarray([])


def _as_str(values):
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in np.atleast_1d(values)]


def _keras1_weight_name(weight_name):
    layer, variable = weight_name.rsplit("/", 1)
    return f"{layer}_{ {'kernel': 'W', 'bias': 'b'}[variable.split(':')[0]] }_1:0"


def _age_keras_h5(path, release):
    """Rewrites tf_keras' attributes as the era's Keras/h5py wrote them; Keras 1: renames (moves) the weights."""
    with h5py.File(path, "r+") as f:
        layer_names = _as_str(f.attrs["layer_names"])
        for attribute in ("layer_names", "backend", "keras_version"):
            del f.attrs[attribute]
        f.attrs["layer_names"] = _byte_strings(layer_names)
        if release.keras_version:
            f.attrs["backend"] = np.bytes_(b"tensorflow")
            f.attrs["keras_version"] = np.bytes_(release.keras_version.encode())
        for layer_name in layer_names:
            group = f[layer_name]
            weight_names = _as_str(group.attrs["weight_names"]) if len(group.attrs["weight_names"]) else []
            if release.keras_version is None:
                for old, new in zip(weight_names, [_keras1_weight_name(w) for w in weight_names]):
                    group.move(old, new)
                for child in [c for c in group if isinstance(group[c], h5py.Group)]:
                    del group[child]  # the emptied "<layer>/" subgroup of "<layer>/kernel:0"
                weight_names = [_keras1_weight_name(w) for w in weight_names]
            del group.attrs["weight_names"]
            group.attrs["weight_names"] = _byte_strings(weight_names)
    return layer_names


def _check_keras_h5(path, layer_names, release, include_top):
    missing = (set(release.must_have) | ({release.classifier} if include_top else set())) - set(layer_names)
    with h5py.File(path, "r") as f:
        era_attributes = f.attrs["layer_names"].dtype.kind == "S" and (
            ("keras_version" in f.attrs) == bool(release.keras_version)
        )
    if missing or not era_attributes:
        raise AssertionError(f"{path}: layers {sorted(missing)} missing, era attributes {era_attributes}")


def _free_keras():
    import tf_keras

    tf_keras.backend.clear_session()
    gc.collect()


def _write_keras(entry, include_top, path, images, rng):
    release = KERAS_RELEASES[entry.source_model]
    model = _build_keras(release, entry.source_model, include_top, images)
    _randomize_keras(model, rng, calibrate=include_top, kernels=images is not None)
    model.save_weights(path)  # legacy HDF5 (".h5")
    expected = None if images is None else np.asarray(model(images, training=False))  # eager: no predict tracing
    del model
    _free_keras()
    layer_names = _age_keras_h5(path, release)
    _check_keras_h5(path, layer_names, release, include_top)
    return release.quirk, expected


# ---------------------------------------------------------------------------------------------------- torchvision


@dataclass(frozen=True)
class TorchRelease:
    year: int
    zip_format: bool  # torch >= 1.6 serialization (the 2017 files re-saved in 2021 are)
    batches_tracked: bool  # BN buffers `num_batches_tracked` (torch >= 0.4.1) and state_dict `_metadata`

    def quirk(self, source_model):
        parts = [
            f"torchvision {self.year} state_dict",
            "zip format" if self.zip_format else "legacy pre-1.6 pickle",
            "with num_batches_tracked" if self.batches_tracked else "no num_batches_tracked",
        ]
        parts += {
            "densenet": ["dense layers' keys 'norm.1'/'conv.1'/'norm.2'/'conv.2'"],
            "googlenet": ["aux1.*/aux2.* heads"],
            "inception": ["AuxLogits.* head"],
        }.get(re.sub(r"[_\d].*", "", source_model), [])
        return ", ".join(parts)


_RESAVED_2017 = TorchRelease(2017, zip_format=True, batches_tracked=False)
_LEGACY_2017 = TorchRelease(2017, zip_format=False, batches_tracked=False)
_LEGACY_2019 = TorchRelease(2019, zip_format=False, batches_tracked=True)
TORCHVISION_RELEASES = {
    **dict.fromkeys(
        (
            "alexnet",
            "vgg11",
            "vgg13",
            "resnet18",
            "resnet34",
            "resnet50",
            "resnet101",
            "resnet152",
            "squeezenet1_0",
            "squeezenet1_1",
            "inception_v3",
        ),
        _RESAVED_2017,
    ),
    **dict.fromkeys(
        ("vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn", "densenet121", "densenet169", "densenet201"), _LEGACY_2017
    ),
    **dict.fromkeys(("googlenet", "resnext50_32x4d", "wide_resnet50_2", "wide_resnet101_2"), _LEGACY_2019),
}
# The released GoogLeNet and Inception-v3 files carry their auxiliary classifiers.
_WITH_AUX_HEADS = {name: {"aux_logits": True, "init_weights": True} for name in ("googlenet", "inception_v3")}


def _randomize_torch(module, rng, kernels=True):
    """As _randomize_keras: with kernels=False the kernels keep the library's own random initialisation."""
    state = module.state_dict()
    for key, value in state.items():
        if not value.is_floating_point():
            continue  # num_batches_tracked
        suffix, shape = key.rsplit(".", 1)[-1], tuple(value.shape)
        kind = {"running_var": "variance", "running_mean": "mean", "bias": "bias"}.get(suffix)
        kind = kind or ("gamma" if value.ndim == 1 else "kernel")  # a 1-D weight is a BN scale
        if kind == "kernel" and not kernels:
            continue
        value.copy_(torch.from_numpy(_random_array(kind, shape, rng, math.prod(shape[1:]))))
    return state


def _legacy_densenet_key(key):
    return re.sub(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.", r"\1.\2.", key)


def _write_torchvision(entry, path, images, rng):
    name, release = entry.source_model, TORCHVISION_RELEASES[entry.source_model]
    model = torchvision.models.get_model(name, weights=None, **_WITH_AUX_HEADS.get(name, {}))
    state = _randomize_torch(model, rng, kernels=images is not None)
    del model
    if not release.batches_tracked:  # a plain dict, as torch 0.2/0.3 saved it (no `_metadata` versions either)
        rename = _legacy_densenet_key if name.startswith("densenet") else (lambda key: key)
        state = OrderedDict((rename(k), v) for k, v in state.items() if not k.endswith("num_batches_tracked"))
    torch.save(state, path, _use_new_zipfile_serialization=release.zip_format)
    del state
    expected = None if images is None else _torchvision_logits(name, path, images)
    return release.quirk(name), expected


@contextlib.contextmanager
def _refusing_downloads(module, *names):
    """Makes `module.<name>` raise: the reference loads must find the fixture, never the network."""
    originals = {name: getattr(module, name) for name in names}

    def refuse(*args, **kwargs):
        raise RuntimeError(f"release fixture: the reference library tried to download {args[:1]}")

    try:
        for name in names:
            setattr(module, name, refuse)
        yield
    finally:
        for name, original in originals.items():
            setattr(module, name, original)


@contextlib.contextmanager
def _torch_home_holding(path, basename):
    """TORCH_HOME set to a temporary directory whose hub cache holds `path` as `basename` (then restored)."""
    import torch.hub

    previous = os.environ.get("TORCH_HOME")
    with tempfile.TemporaryDirectory() as home:
        os.environ["TORCH_HOME"] = home
        try:
            checkpoints = os.path.join(torch.hub.get_dir(), "checkpoints")
            if not checkpoints.startswith(home):
                raise RuntimeError("torch.hub.set_dir() was called: TORCH_HOME is not where torchvision looks")
            os.makedirs(checkpoints)
            try:
                os.link(path, os.path.join(checkpoints, basename))
            except OSError:
                shutil.copyfile(path, os.path.join(checkpoints, basename))
            with _refusing_downloads(torch.hub, "download_url_to_file"):
                yield
        finally:
            if previous is None:
                os.environ.pop("TORCH_HOME", None)
            else:
                os.environ["TORCH_HOME"] = previous


def _torch_logits(model, images):
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))).numpy()


def _torchvision_logits(name, path, images):
    """Logits of torchvision's IMAGENET1K_V1 model, its own loader reading the fixture from the hub cache."""
    weights = torchvision.models.get_model_weights(name).IMAGENET1K_V1
    basename = os.path.basename(urlparse(weights.url).path)
    if basename != os.path.basename(path):
        raise ValueError(f"torchvision's {name} IMAGENET1K_V1 is {basename}, the manifest's {os.path.basename(path)}")
    with _torch_home_holding(path, basename):
        model = torchvision.models.get_model(name, weights="IMAGENET1K_V1")
    if hasattr(model, "transform_input"):
        model.transform_input = False  # our Keras GoogLeNet / InceptionV3 take already-transformed inputs
    logits = _torch_logits(model, images)
    del model
    gc.collect()
    return logits


# ----------------------------------------------------------------------------------------------------------- timm


def _write_timm(entry, path, images, rng):
    from safetensors.torch import save_file
    from timm.models import _builder

    model = timm.create_model(entry.source_model, pretrained=False)
    save_file(_randomize_torch(model, rng, kernels=images is not None), path, metadata={"format": "pt"})
    del model
    expected = None
    if images is not None:
        downloaders = ("load_state_dict_from_url", "load_state_dict_from_hf", "download_cached_file")
        with _refusing_downloads(_builder, *downloaders):
            model = timm.create_model(entry.source_model, pretrained=True, pretrained_cfg_overlay={"file": path})
        expected = _torch_logits(model, images)
        del model
        gc.collect()
    return "timm state_dict() as published on the Hugging Face hub: safetensors, metadata format=pt", expected


# ------------------------------------------------------------------------------------------------------------ API


def fixture_path(entry, include_top, directory):
    """Where `write_release_fixture` puts the file: `<directory>/<released basename>`; timm files (all named
    model.safetensors) in `<directory>/<timm model name>/`."""
    basename = os.path.basename(urlparse(entry.file_for(include_top).url).path)
    if entry.source == "timm":
        return os.path.join(directory, entry.source_model, basename)
    return os.path.join(directory, basename)


def write_release_fixture(entry, include_top, directory, images=None) -> ReleaseFixture:
    """Writes the imitation of `entry`'s released file (its "notop" file when `include_top` is False and it has one)
    into `directory`; with `images` (float32 NHWC), `expected` is the reference library's output for it: Keras, the
    writer model's `predict` (softmax with top, the last feature map without); torchvision and timm, the logits of
    the reference model in eval mode on `images.transpose(0, 3, 1, 2)`. Seeded: the same call writes the same weights
    (and the same bytes, but for legacy `.pth` pickles, whose storage keys are memory addresses).

    LeNet5's digits weights (`source == "keras_famous"`) ship in the package and are not served: ValueError."""
    if entry.source == "keras_famous":
        raise ValueError(f"{entry.model} {entry.dataset} weights are shipped in the package, not downloaded")
    path = fixture_path(entry, include_top, directory)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    key = f"{entry.source}/{entry.source_model}/{'top' if include_top else 'notop'}"
    rng = np.random.default_rng([SEED, *key.encode()])
    if images is not None:
        images = np.asarray(images, dtype="float32")
    if entry.source in ("keras.applications", "keras-applications"):
        quirk, expected = _write_keras(entry, include_top, path, images, rng)
    elif entry.source == "torchvision":
        quirk, expected = _write_torchvision(entry, path, images, rng)
    elif entry.source == "timm":
        quirk, expected = _write_timm(entry, path, images, rng)
    else:
        raise ValueError(f"no release writer for source {entry.source!r}")
    imitates = os.path.relpath(path, directory)
    return ReleaseFixture(path=path, imitates=imitates, quirk=quirk, expected=expected)
