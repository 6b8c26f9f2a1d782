"""What can be measured on a built graph: parameters, depth, multiply-adds, the per-layer table."""

from dataclasses import dataclass

import numpy as np
from keras import layers

from . import graph
from .layers import EuclideanRBF, PartialConv2D, TrainableSubsampling


def _count(weights):
    return int(sum(np.prod(w.shape) for w in weights))


def parameter_counts(model):
    """(total, trainable, non_trainable) as Keras counts them (BN statistics are non-trainable)."""
    trainable = _count(model.trainable_weights)
    non_trainable = _count(model.non_trainable_weights)
    return trainable + non_trainable, trainable, non_trainable


def topological_depth(model):
    """The number of layers on the longest input-to-output path, the input layer included: the
    "depth" of Keras' pretrained table (VGG16 23, InceptionV3 159)."""
    members = set(model.layers)
    depth = {}
    for layer in model.layers:  # Functional models list their layers in topological order
        depth[layer] = 1 + max((depth[parent] for parent in graph.parents(layer, members)), default=0)
    return max(depth.values())


def weighted_depth(model):
    """The number of layers that hold weights (current keras.io: VGG16 16, ResNet50 107)."""
    return sum(1 for layer in model.layers if layer.weights)


def _spatial(shape):
    return int(np.prod([d for d in shape[1:-1] if d is not None])) if len(shape) > 2 else 1


def layer_macs(layer):
    """Multiply-accumulates of one layer for one image (convolutions and fully connected layers)."""
    if isinstance(layer, layers.SeparableConv2D):
        kh, kw = layer.kernel_size
        depthwise_channels = layer.input.shape[-1] * layer.depth_multiplier
        return _spatial(layer.output.shape) * depthwise_channels * (kh * kw + layer.filters)
    if isinstance(layer, layers.DepthwiseConv2D):
        kh, kw = layer.kernel_size
        return _spatial(layer.output.shape) * layer.output.shape[-1] * kh * kw
    if isinstance(layer, layers.Conv2D):
        kh, kw = layer.kernel_size
        in_channels = layer.input.shape[-1]
        return _spatial(layer.output.shape) * layer.filters * kh * kw * in_channels // layer.groups
    if isinstance(layer, layers.Dense):
        return int(np.prod(layer.input.shape[1:-1])) * layer.input.shape[-1] * layer.units
    if isinstance(layer, PartialConv2D):
        return _spatial(layer.output.shape) * layer.connections * layer.kernel_size**2
    if isinstance(layer, TrainableSubsampling):
        return _spatial(layer.output.shape) * layer.output.shape[-1]
    if isinstance(layer, EuclideanRBF):
        return layer.units * layer.input.shape[-1]
    return 0


def macs(model):
    return sum(layer_macs(layer) for layer in model.layers)


@dataclass(frozen=True)
class LayerRow:
    name: str
    kind: str
    output_shape: tuple
    params: int
    activations: int  # output elements for one image (the VGG paper-style memory column)
    macs: int


def layer_table(model):
    rows = []
    for layer in model.layers:
        shape = tuple(layer.output.shape)
        elements = int(np.prod([d for d in shape[1:] if d is not None])) if len(shape) > 1 else 0
        rows.append(
            LayerRow(layer.name, type(layer).__name__, shape[1:], _count(layer.weights), elements, layer_macs(layer))
        )
    return rows


def graph_stats(model):
    total, trainable, non_trainable = parameter_counts(model)
    return {
        "params": total,
        "trainable_params": trainable,
        "non_trainable_params": non_trainable,
        "depth": topological_depth(model),
        "weighted_depth": weighted_depth(model),
        "macs": macs(model),
        "input_size": list(model.input_shape[1:]),
    }
