"""Keras HDF5 weight files read and written by layer name.

The legacy `.h5` layout (keras.applications' files, tf_keras `save_weights`): root attribute
`layer_names`, one group per layer with attribute `weight_names` and a dataset per weight. Converted
checkpoints are cached in the same layout, so one file loads with or without the model's top.
"""

import os
import tempfile

import h5py
import numpy as np


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
                # Keras 2 names such as DenseNet's "conv1/conv" are "conv1_conv" in Keras 3, which forbids "/".
                named[layer_name.replace("/", "_")] = [np.asarray(layer_group[w]) for w in weight_names]
        return named


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
