"""Keras HDF5 weight files: read, matched to a model's layers, and written.

The legacy `.h5` layout (keras.applications' files, tf_keras `save_weights`): root attribute
`layer_names`, one group per layer with attribute `weight_names` and a dataset per weight. Converted
checkpoints are cached in the same layout, so one file loads with or without the model's top.

Legacy files match the model's layers the way Keras matches them, by the order of the layers with
weights: the released InceptionV3, Xception and Inception-ResNet-v2 files were written by Keras 2.0,
whose automatic names count from 1 ("conv2d_1" is the first convolution, ours "conv2d"). Where every
name of ours is in the file, names decide instead, which lets a file with a top load into a headless model.
"""

import io
import os

import h5py
import numpy as np
from keras import layers

from ..files import atomic_path
from . import layout


# Layer names older Keras releases used for what Keras 3's applications (and keras_famous) call otherwise.
# keras-applications 1.0.7/1.0.8's ResNet/ResNeXt classifier; Keras 2.1's DenseNet classifier
RENAMED_LAYERS = {"probs": "predictions", "fc1000": "predictions"}


def keras3_name(name):
    """DenseNet's "conv1/conv" is "conv1_conv" in Keras 3, which forbids "/"; see also RENAMED_LAYERS."""
    name = name.replace("/", "_")
    return RENAMED_LAYERS.get(name, name)


def _decode(values):
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def read_legacy_h5(path):
    """{layer name: [arrays in the layer's weight order]} of a legacy Keras `.h5` file (weights or full model)."""
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{path!r} is not a readable HDF5 file (truncated or not a Keras .h5?): {error}") from error
    with handle as f:
        group = f["model_weights"] if "model_weights" in f else f
        if "layer_names" not in group.attrs:
            raise ValueError(f"{path!r} is an HDF5 file without Keras' `layer_names`: not a legacy Keras weights file.")
        named = {}
        for layer_name in _decode(group.attrs["layer_names"]):
            layer_group = group[layer_name]
            weight_names = _decode(layer_group.attrs.get("weight_names", []))
            if weight_names:
                named[keras3_name(layer_name)] = [np.asarray(layer_group[w]) for w in weight_names]
        return named


def _read_keras3_group(group, source):
    named = {}
    for key in group["layers"]:
        layer_group = group["layers"][key]
        if "vars" not in layer_group or set(layer_group) - {"vars"}:
            raise ValueError(f"{source}: layer group {key!r} has nested layers; not a flat Functional model's weights.")
        variables = layer_group["vars"]
        if len(variables):
            named[variables.attrs["name"]] = [np.asarray(variables[str(index)]) for index in range(len(variables))]
    return named


def read_keras3_weights(path):
    """{layer name: arrays} of a Keras 3 `.weights.h5` or `.keras` file of a flat Functional model: groups
    `layers/<key>/vars/0..n` whose `vars` carry the layer's name."""
    import zipfile

    source = repr(os.fspath(path))
    try:
        if os.fspath(path).endswith(".keras"):
            with zipfile.ZipFile(path) as archive:  # read whole: h5py's seeks in a zip stream re-read it (25x)
                entry = io.BytesIO(archive.read("model.weights.h5"))
            with h5py.File(entry, "r") as f:
                return _read_keras3_group(f, source)
        with h5py.File(path, "r") as f:
            return _read_keras3_group(f, source)
    except (OSError, KeyError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{source} is not a readable Keras 3 weights file (truncated or another format?): {error}"
        ) from error


def write_legacy_h5(path, named_arrays):
    """Writes {layer name: arrays} in the legacy layout, atomically (see keras_famous.files)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["layer_names"] = [name.encode("utf8") for name in named_arrays]
        for name, arrays in named_arrays.items():
            group = f.create_group(name)
            weight_names = [f"{name}/{index}" for index in range(len(arrays))]
            group.attrs["weight_names"] = [w.encode("utf8") for w in weight_names]
            for weight_name, array in zip(weight_names, arrays):
                group.create_dataset(weight_name, data=array)


def _shapes(arrays):
    return [tuple(a.shape) for a in arrays]


def adapt_kernels(layer, arrays):
    """`arrays` for `layer`, with kernels an older Keras drew in another layout rewritten: keras-applications'
    depthwise-emulated grouped convolutions (ResNeXt) become Conv2D(groups) kernels."""
    if isinstance(layer, layers.Conv2D) and layer.groups > 1 and arrays and arrays[0].ndim == 4:
        kh, kw, width, multiplier = arrays[0].shape
        if multiplier * layer.groups == width == layer.filters and tuple(layer.kernel.shape) == (
            kh,
            kw,
            multiplier,
            width,
        ):
            return [layout.depthwise_emulation_to_grouped(arrays[0]), *arrays[1:]]
    return arrays


def match_legacy_layers(model, named, source, head_layers=frozenset(), adapter=None):
    """{our layer name: arrays} of a legacy file's {file layer name: arrays}: by name when every layer of
    ours with weights is in the file, else by order as Keras loads legacy files (`load_weights_from_hdf5_group`),
    skipping the file's classifier layers (`head_layers`, the family's) when the model has none. ValueError names the position, our
    layer and the file's, with their shapes. An `adapt.Adapter` lets a new classifier or an adapted input
    convolution pass the shape check (`assign` then applies it)."""
    ours = [layer for layer in model.layers if layer.weights]
    our_names = {layer.name for layer in ours}
    if our_names <= set(named):
        by_name = {layer.name: layer for layer in ours}
        return {
            name: adapt_kernels(by_name[name], arrays) if name in by_name else arrays for name, arrays in named.items()
        }
    theirs = [(name, arrays) for name, arrays in named.items() if name in our_names or name not in head_layers]
    matched, problems = {}, []
    if len(theirs) != len(ours):
        problems.append(f"the file has {len(theirs)} layers with weights, this model {len(ours)}")
    for position, (layer, (their_name, arrays)) in enumerate(zip(ours, theirs)):
        arrays = adapt_kernels(layer, arrays)
        expected, found = _shapes(layer.weights), _shapes(arrays)
        fits = adapter is not None and adapter.fits(layer, arrays)
        if expected != found and not fits:
            problems.append(
                f"by order (Keras' rule for legacy files), layer {position} with weights is our {layer.name!r} "
                f"expecting {expected}, the file's {their_name!r} gives {found}"
            )
            break
        matched[layer.name] = arrays
    if problems:
        raise ValueError(
            f"{source} does not match this model {model.name!r} (wrong model, variant, `classes` or "
            f"`include_top`?): " + "; ".join(problems)
        )
    return matched
