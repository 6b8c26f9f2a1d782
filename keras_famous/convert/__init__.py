"""Weights from files into keras_famous models, by format.

One module per source: `keras_h5` (keras.applications' legacy files), `torchvision`, `timm`; their
name maps are data. Tensor layout transforms live once in `layout`, and every format ends in
`assign.assign`, which changes the model only when the whole file fits.
"""

import os
import warnings

from . import compare, keras_h5, timm, torchvision
from .assign import assign

TORCH_SUFFIXES = (".pth", ".pt", ".bin")
FORMATS = {
    ".weights.h5": "Keras 3 weights", ".keras": "Keras 3 model", ".h5": "Keras legacy HDF5 (keras.applications)",
    ".safetensors": "PyTorch state dict (safetensors)", ".pth": "PyTorch state dict (torch.save)",
}  # fmt: skip


class TorchNotInstalledError(ImportError, ValueError):
    """A `.pth` checkpoint was given but torch is not installed (a ValueError too, like every bad `weights`)."""


def file_format(path):
    """"keras", "keras_h5", "safetensors" or "torch" from the file name; ValueError naming the supported ones."""
    name = os.fspath(path).lower()
    if name.endswith((".weights.h5", ".keras")):
        return "keras"
    if name.endswith((".h5", ".hdf5")):
        return "keras_h5"
    if name.endswith(".safetensors"):
        return "safetensors"
    if name.endswith(TORCH_SUFFIXES):
        return "torch"
    supported = ", ".join(f"{suffix} ({what})" for suffix, what in FORMATS.items())
    raise ValueError(f"Unsupported `weights` file format {os.fspath(path)!r}; supported: {supported}.")


def read_state_dict(path, fmt):
    """A PyTorch checkpoint as {key: numpy array}. `.pth` is read with `torch.load(weights_only=True)` only."""
    if fmt == "safetensors":
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        try:
            return load_file(os.fspath(path))
        except (SafetensorError, OSError, ValueError) as error:
            raise ValueError(f"{os.fspath(path)!r} is not a readable safetensors file (truncated?): {error}") from error
    try:
        import torch
    except ImportError as error:
        raise TorchNotInstalledError(
            f"Reading the PyTorch checkpoint {os.fspath(path)!r} needs torch (`pip install keras-famous[torch]`); "
            "or convert it to .safetensors, which needs no torch."
        ) from error
    try:
        state = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, EOFError ... for bad files
        raise ValueError(
            f"{os.fspath(path)!r} is not a PyTorch state dict torch can load with weights_only=True "
            f"(truncated, or a pickled model object?): {error}"
        ) from error
    for key in ("state_dict", "model"):  # training checkpoints often nest the weights
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ValueError(f"{os.fspath(path)!r} holds a {type(state).__name__}, not a state dict.")
    return {key: value.detach().cpu().numpy() for key, value in state.items() if hasattr(value, "detach")}


def without_wrapper_prefix(state):
    """The state dict of a model saved from inside DataParallel / DistributedDataParallel ("module.conv1.weight")."""
    if state and all(key.startswith("module.") for key in state):
        return {key[len("module."):]: value for key, value in state.items()}
    return state


def torch_rules(model_name, variant):
    """The PyTorch name map of a registry model and variant (torchvision's, else timm's)."""
    for source in (torchvision, timm):
        try:
            return source.rules_for(model_name, variant)
        except ValueError:
            continue
    raise ValueError(
        f"{model_name} variant {variant!r} has no PyTorch counterpart to convert from; build the variant whose "
        "layout the checkpoint has (e.g. variant='torchvision')."
    )


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


def load_file(model, path, model_name, variant):
    """Loads any supported weights file into `model` (built as `model_name`/`variant`): Keras 3 files by
    layer name (by the model's structure when the names differ), legacy Keras files by the order of the
    layers with weights (`keras_h5.match_legacy_layers`), PyTorch checkpoints through the variant's name map."""
    fmt, source = file_format(path), repr(os.fspath(path))
    if fmt == "keras":
        try:
            named = keras_h5.read_keras3_weights(path)
        except ValueError:  # nested layers
            return _load_keras(model, path)
        if not {layer.name for layer in model.layers if layer.weights} <= set(named):  # named in another session
            return _load_keras(model, path)
        return assign(model, named, source)
    if fmt == "keras_h5":
        return assign(model, keras_h5.match_legacy_layers(model, keras_h5.read_legacy_h5(path), source), source)
    state = without_wrapper_prefix(read_state_dict(path, fmt))
    named, problems = torchvision.named_arrays(model, state, torch_rules(model_name, variant))
    return assign(model, named, source, problems)


__all__ = ["assign", "file_format", "load_file", "read_state_dict", "torch_rules"]
