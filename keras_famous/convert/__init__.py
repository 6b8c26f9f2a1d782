"""Weights from files into keras_famous models, by format.

One module per format: `keras_h5` (Keras 3 files and keras.applications' legacy files), `state_dict`
(PyTorch checkpoints, through the name map the model's family declares) and `caffe` (Caffe model zoo
`.caffemodel` files, through the family's Caffe name map). Tensor layout transforms live
once in `layout`, and every format ends in `assign.assign`, which changes the model only when the whole
file fits. Nothing here imports a model family: what a file needs about one comes from the caller.
"""

import os
import warnings

from ..arguments import named, setting
from . import caffe, keras_h5, state_dict
from .adapt import Adapter
from .assign import assign
from .state_dict import TorchNotInstalledError, read_state_dict, without_wrapper_prefix

TORCH_SUFFIXES = (".pth", ".pt", ".bin")
FORMATS = {
    ".weights.h5": "Keras 3 weights", ".keras": "Keras 3 model", ".h5": "Keras legacy HDF5 (keras.applications)",
    ".safetensors": "PyTorch state dict (safetensors)", ".pth": "PyTorch state dict (torch.save)",
    ".caffemodel": "Caffe model (model zoo)",
}  # fmt: skip


def file_format(path):
    """ "keras", "keras_h5", "safetensors", "torch" or "caffe" from the file name; ValueError naming the supported
    ones."""
    name = os.fspath(path).lower()
    if name.endswith((".weights.h5", ".keras")):
        return "keras"
    if name.endswith((".h5", ".hdf5")):
        return "keras_h5"
    if name.endswith(".safetensors"):
        return "safetensors"
    if name.endswith(TORCH_SUFFIXES):
        return "torch"
    if name.endswith(".caffemodel"):
        return "caffe"
    supported = ", ".join(f"{suffix} ({what})" for suffix, what in FORMATS.items())
    raise ValueError(f"Unsupported {named('weights')} file format {os.fspath(path)!r}; supported: {supported}.")


def _load_keras(model, path):
    """Keras' own loader (by the model's structure, whatever the names), made all-or-nothing: the previous
    weights come back on any error, which then is ours, not Keras' list of skipped containers."""
    before = model.get_weights()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.load_weights(os.fspath(path))
    except Exception as error:
        model.set_weights(before)
        why = " ".join(str(error).split("List of objects")[0].split())  # Keras appends every layer it skipped
        raise ValueError(
            f"{os.fspath(path)!r} does not match this model {model.name!r} (wrong model, variant, `classes` or "
            f"`include_top`?): its layer names are not this model's, and matched by the model's structure: {why}"
        ) from error
    return model


def named_arrays(model, path, *, torch_names=(), head_layers=frozenset(), adapt=False, caffe_names=()):
    """({our layer name: arrays as the file holds them}, problems) of any supported file, or None for a Keras 3
    file whose names are not the model's (only Keras' own loader, by structure, reads it). Legacy Keras files
    match by the order of the layers with weights (`keras_h5.match_legacy_layers`), PyTorch checkpoints go
    through the name map `torch_names`, Caffe models through `caffe_names`. `adapt`: see `adapt.Adapter`."""
    fmt, source = file_format(path), repr(os.fspath(path))
    if fmt == "keras":
        try:
            named = keras_h5.read_keras3_weights(path)
        except ValueError:  # nested layers
            return None
        if not {layer.name for layer in model.layers if layer.weights} <= set(named):  # named in another session
            return None
        return named, []
    if fmt == "keras_h5":
        adapter = Adapter(model, head_layers) if adapt else None
        return keras_h5.match_legacy_layers(model, keras_h5.read_legacy_h5(path), source, head_layers, adapter), []
    if fmt == "caffe":
        if not caffe_names:
            raise ValueError(
                f"{model.name!r} has no Caffe layer-name map for this variant, so {source} cannot be converted; build "
                f"the variant of the Caffe release (e.g. {setting('variant', 'bvlc')} for BVLC's AlexNet and GoogLeNet)."
            )
        return caffe.named_arrays(model, path, caffe_names, head_layers)
    if not torch_names:
        raise ValueError(
            f"{model.name!r} has no PyTorch name map for this variant, so {source} cannot be converted; build the "
            f"variant whose layout the checkpoint has (e.g. {setting('variant', 'torchvision')})."
        )
    state = without_wrapper_prefix(read_state_dict(path, fmt))
    return state_dict.named_arrays(model, state, torch_names)


def load_file(model, path, *, torch_names=(), head_layers=frozenset(), adapt=False, caffe_names=()):
    """Loads any supported weights file into `model`, all-or-nothing (`named_arrays`); a Keras 3 file named in
    another session by the model's structure. `head_layers` (the family's classifier and auxiliary layers) are
    skipped when the model lacks them; with `adapt` a classifier for other classes is new and the input
    convolution adapted to the model's channels, with a warning (`adapt.Adapter`)."""
    found = named_arrays(
        model, path, torch_names=torch_names, head_layers=head_layers, adapt=adapt, caffe_names=caffe_names
    )
    if found is None:
        return _load_keras(model, path)
    named, problems = found
    return assign(model, named, repr(os.fspath(path)), problems, head_layers, adapt=adapt)


__all__ = [
    "TorchNotInstalledError", "assign", "file_format", "load_file", "named_arrays", "read_state_dict",
    "without_wrapper_prefix",
]  # fmt: skip
