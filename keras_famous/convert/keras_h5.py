"""Keras HDF5 weight files read and written by layer name.

The legacy `.h5` layout (keras.applications' files, tf_keras `save_weights`): root attribute
`layer_names`, one group per layer with attribute `weight_names` and a dataset per weight. Converted
checkpoints are cached in the same layout, so one file loads with or without the model's top.
"""

import os
import tempfile

import h5py
import numpy as np
from keras import layers

from . import layout


# Layer names older Keras releases used for what Keras 3's applications (and keras_famous) call otherwise.
RENAMED_LAYERS = {"probs": "predictions"}  # keras-applications 1.0.8's ResNet/ResNeXt classifier


def keras3_name(name):
    """DenseNet's "conv1/conv" is "conv1_conv" in Keras 3, which forbids "/"; see also RENAMED_LAYERS."""
    name = name.replace("/", "_")
    return RENAMED_LAYERS.get(name, name)


def _decode(values):
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def is_legacy_h5(path):
    try:
        with h5py.File(path, "r") as f:
            group = f["model_weights"] if "model_weights" in f else f
            return "layer_names" in group.attrs
    except OSError:
        return False


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
            with zipfile.ZipFile(path) as archive, archive.open("model.weights.h5") as member:
                with h5py.File(member, "r") as f:
                    return _read_keras3_group(f, source)
        with h5py.File(path, "r") as f:
            return _read_keras3_group(f, source)
    except (OSError, KeyError, zipfile.BadZipFile) as error:
        raise ValueError(f"{source} is not a readable Keras 3 weights file (truncated or another format?): {error}") from error


def write_legacy_h5(path, named_arrays):
    """Writes {layer name: arrays} in the legacy layout, atomically (temporary file, then rename)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["layer_names"] = [name.encode("utf8") for name in named_arrays]
            for name, arrays in named_arrays.items():
                group = f.create_group(name)
                weight_names = [f"{name}/{index}" for index in range(len(arrays))]
                group.attrs["weight_names"] = [w.encode("utf8") for w in weight_names]
                for weight_name, array in zip(weight_names, arrays):
                    group.create_dataset(weight_name, data=array)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def adapt_kernels(model, named):
    """Kernels an older Keras drew in another layout, rewritten for `model`'s layers (in place):
    keras-applications' depthwise-emulated grouped convolutions (ResNeXt) become Conv2D(groups) kernels."""
    for name, arrays in named.items():
        try:
            layer = model.get_layer(name)
        except ValueError:
            continue
        if isinstance(layer, layers.Conv2D) and layer.groups > 1 and arrays and arrays[0].ndim == 4:
            kh, kw, width, multiplier = arrays[0].shape
            if multiplier * layer.groups == width == layer.filters and tuple(layer.kernel.shape) == (kh, kw, multiplier, width):
                arrays[0] = layout.depthwise_emulation_to_grouped(arrays[0])
    return named
