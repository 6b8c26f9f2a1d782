"""All-or-nothing assignment of named weight arrays to a model: the one place every format ends.

Every converter produces `{keras layer name: [arrays in layer.weights order]}`; `assign` checks the
whole mapping against the model before it sets anything, so on error the model is unchanged.
"""

import warnings

from .adapt import Adapter


def _summary(items):
    items = list(items)
    return f"{items[:5]}{' ...' if len(items) > 5 else ''}"


def assign(model, named_arrays, source, problems=(), head_layers=frozenset(), adapt=False):
    """Sets `named_arrays` into `model` by layer name; raises ValueError naming what does not fit.

    `source` names the file for messages; `problems` are earlier conversion problems to report too.
    The file's `head_layers` (the family's classifier and auxiliary layers) are skipped when the model
    was built without them. With `adapt`, a classifier for another number of classes stays new and the input
    convolution is adapted to the model's channels (`adapt.Adapter`), with a warning saying so.
    """
    problems = list(problems)
    adapter = Adapter(model, head_layers) if adapt else None
    layers_by_name = {layer.name: layer for layer in model.layers}
    assignments, skipped_top = [], []
    for name, arrays in named_arrays.items():
        layer = layers_by_name.get(name)
        if layer is None:
            if name in head_layers:
                skipped_top.append(name)
            else:
                problems.append(f"the file has weights for layer {name!r}, which this model does not have")
            continue
        if adapter is not None:
            arrays = adapter.fit(layer, arrays)
            if arrays is None:  # a new classifier: the layer keeps its initialisation
                skipped_top.append(name)
                continue
        expected = [tuple(w.shape) for w in layer.weights]
        found = [tuple(a.shape) for a in arrays]
        if expected != found:
            problems.append(f"layer {name!r} expects shapes {expected}, the file gives {found}")
            continue
        assignments.append((layer, arrays))
    loaded = {layer.name for layer, _ in assignments} | set(skipped_top)
    loaded |= {name for name in named_arrays if name not in layers_by_name}
    missing = [layer.name for layer in model.layers if layer.weights and layer.name not in loaded]
    if missing:
        problems.append(f"the file has no weights for layers {_summary(missing)}")
    if problems:
        raise ValueError(
            f"{source} does not match this model {model.name!r} (wrong model, variant, `classes` or "
            f"`include_top`?): " + "; ".join(problems[:5]) + (" ..." if len(problems) > 5 else "")
        )
    for layer, arrays in assignments:
        layer.set_weights(arrays)
    message = adapter.message(model, source) if adapter is not None else None
    if message:
        warnings.warn(message, stacklevel=3)
    return model
