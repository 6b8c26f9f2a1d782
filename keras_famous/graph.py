"""Walks over a functional Keras model's graph, in one place.

Keras 3 has no public API for a layer's inbound nodes, a tensor's producing layer or a Functional model's
nodes; these helpers are the only code in the package that reads the private attributes (`_inbound_nodes`,
`_keras_history`, `parent_nodes`, `_nodes_by_depth`). A node's public attributes (`operation`, `arguments`,
`outputs`) are read where they are used.
"""

import keras


def producer(tensor):
    """The layer (operation) that produced a symbolic Keras tensor."""
    return tensor._keras_history.operation


def parents(layer, members=None):
    """The layers whose outputs `layer` reads, over all its calls (only those in `members`, a set of
    layers, when given)."""
    found = []
    for node in layer._inbound_nodes:
        for parent in node.parent_nodes:
            if members is None or parent.operation in members:
                found.append(parent.operation)
    return found


def is_functional(model):
    """Whether `model` has a graph of nodes: a Functional model (Sequential and subclassed models have none)."""
    return hasattr(model, "_nodes_by_depth")


def nodes(model):
    """The nodes (layer calls) of a Functional model's graph."""
    return [node for depth_nodes in model._nodes_by_depth.values() for node in depth_nodes]


def call_inputs(layer, model=None):
    """The symbolic tensors `layer`'s call in `model` read (without `model`: its first call)."""
    calls = [node for node in nodes(model) if node.operation is layer] if model is not None else layer._inbound_nodes
    return list(calls[0].input_tensors) if calls else []


def replay(model, inputs, call):
    """`model`'s graph drawn again on `inputs` (a symbolic tensor per model input): each layer's call in `model`,
    in order, is made as `call(layer, args, kwargs)`, its arguments mapped onto the new graph, and what
    that returns stands for the layer's outputs (the one walk that redraws a graph: a user's tensor under an
    application, the inference rewrite). Returns the outputs, structured as `model.output`."""
    new = {id(old): fresh for old, fresh in zip(model.inputs, keras.tree.flatten(inputs))}
    calls = {id(node.operation): node for node in nodes(model)}

    def mapped(structure):
        return keras.tree.map_structure(lambda t: new[id(t)] if isinstance(t, keras.KerasTensor) else t, structure)

    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        node = calls[id(layer)]
        output = call(layer, mapped(node.arguments.args), mapped(node.arguments.kwargs))
        for old, fresh in zip(keras.tree.flatten(node.outputs), keras.tree.flatten(output)):
            new[id(old)] = fresh
    return mapped(model.output)
