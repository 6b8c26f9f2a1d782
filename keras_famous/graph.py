"""Walks over a functional Keras model's graph, in one place.

Keras 3 has no public API for a layer's inbound nodes, a tensor's producing layer or a Functional model's
nodes; these helpers are the only code in the package that reads the private attributes (`_inbound_nodes`,
`_keras_history`, `parent_nodes`, `_nodes_by_depth`). A node's public attributes (`operation`, `arguments`,
`outputs`) are read where they are used.
"""


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


def call_inputs(layer):
    """The symbolic tensors `layer`'s first call read."""
    return list(layer._inbound_nodes[0].input_tensors) if layer._inbound_nodes else []
