"""PyTorch state dicts (torchvision, timm, the user's own) -> Keras layers, through a family's name map.

A name map is data the family declares (`Variant.torch_names`): (regular expression on the PyTorch module
path, Keras layer name template). A template field `{name+1}` adds 1 to the captured integer (PyTorch
counts from 0, Keras' names from 1 and the ResNet stages from conv2).
"""

import os
import re

import numpy as np

from . import layout
from .assign import assign


class TorchNotInstalledError(ImportError, ValueError):
    """A `.pth` checkpoint was given but torch is not installed (a ValueError too, like every bad `weights`)."""


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
        import torch  # optional: only .pth files need it
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
        return {key[len("module.") :]: value for key, value in state.items()}
    return state


def _render(template, match):
    def field(m):
        value = match.group(m.group(1))
        return str(int(value) + int(m.group(2))) if m.group(2) else value

    return re.sub(r"\{(\w+)([+-]\d+)?\}", field, template)


def keras_name(module_path, rules):
    for pattern, template in rules:
        match = re.fullmatch(pattern, module_path)
        if match:
            return _render(template, match)
    return None


def group_by_module(state_dict):
    """{"layer1.0.conv1": {"weight": array}, ...}; drops BN's num_batches_tracked counters."""
    modules = {}
    for key, value in state_dict.items():
        module_path, _, param = key.rpartition(".")
        if param == "num_batches_tracked":
            continue
        modules.setdefault(module_path, {})[param] = np.asarray(value, dtype="float32")
    return modules


def named_arrays(model, state_dict, rules):
    """({keras layer name: arrays}, problems) of a PyTorch state dict, through the name map `rules`.

    Modules mapping to a layer this model lacks are passed on by name, so `assign` can skip a
    classifier the model was built without and report anything else.
    """
    layers_by_name = {layer.name: layer for layer in model.layers}
    named, problems = {}, []
    for module_path, params in group_by_module(state_dict).items():
        name = keras_name(module_path, rules)
        if name is None:
            problems.append(f"no Keras layer for PyTorch module {module_path!r}")
        elif name not in layers_by_name:
            named[name] = list(params.values())
        else:
            try:
                named[name] = layout.keras_weights(layers_by_name[name], params)
            except (KeyError, ValueError) as error:
                problems.append(f"PyTorch module {module_path!r} does not fit layer {name!r}: {error}")
    return named, problems


def load_state_dict(model, state_dict, rules, source="The checkpoint", head_layers=frozenset()):
    """Copies a PyTorch state dict (numpy arrays) into `model`; on any mismatch raises and leaves it unchanged.
    Tensors of `head_layers` are skipped when the model was built with `include_top=False`."""
    named, problems = named_arrays(model, state_dict, rules)
    return assign(model, named, source, problems, head_layers)
