"""Inference-time rewrites of a built model: the same function, a lighter graph.

`inference_model(model)` rebuilds a Functional model layer by layer with
- BatchNormalization folded into the convolution before it (Conv2D, DepthwiseConv2D, SeparableConv2D
  whose output feeds only that BN): W' = W * gamma / sqrt(var + eps), b' = (b - mean) * gamma / sqrt(var + eps)
  + beta, per output channel, computed in float64;
- Dropout removed (the identity at inference) and auxiliary classifiers dropped (the first output kept);
- optionally (`split_grouped=True`) each grouped Conv2D replaced by `groups` ordinary convolutions and a
  concatenation, for runtimes without grouped convolution (TFLite's GPU delegate, older interpreters;
  the LiteRT CPU interpreter runs grouped CONV_2D natively, so export does not split by default).
Nested Functional models (a `transfer.classifier` backbone) are rewritten recursively. The result
computes what the original computes in inference mode, to float rounding (tested per family).
"""

import keras
import numpy as np

from .. import graph
from ..layers import ChannelSlice

FOLDABLE = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)


def _nodes(model):
    """{id(layer): the node that calls it in `model`} (a nested model may also be called elsewhere)."""
    nodes = {}
    for node in graph.nodes(model):
        if id(node.operation) in nodes:
            raise ValueError(
                f"inference_model needs each layer called once; {node.operation.name!r} is "
                "called more than once in this model."
            )
        nodes[id(node.operation)] = node
    return nodes


def _arguments(node):
    return keras.tree.flatten(node.arguments.args) + keras.tree.flatten(node.arguments.kwargs)


def _consumers(nodes):
    counts = {}
    for node in nodes.values():
        for tensor in _arguments(node):
            if isinstance(tensor, keras.KerasTensor):
                counts[id(graph.producer(tensor))] = counts.get(id(graph.producer(tensor)), 0) + 1
    return counts


def _foldable_pairs(model, nodes):
    """{id(conv): bn} for each convolution whose only consumer is a BatchNormalization on the channels axis."""
    consumers = _consumers(nodes)
    pairs = {}
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization) or layer.axis not in (-1, 3):
            continue
        source = graph.producer(nodes[id(layer)].arguments.args[0])
        linear = getattr(source, "activation", None) in (None, keras.activations.linear)
        if isinstance(source, FOLDABLE) and linear and consumers.get(id(source)) == 1:
            pairs[id(source)] = layer
    return pairs


def _bn_scale_shift(bn):
    gamma = np.asarray(bn.gamma, "float64") if bn.scale else 1.0
    beta = np.asarray(bn.beta, "float64") if bn.center else 0.0
    mean, variance = np.asarray(bn.moving_mean, "float64"), np.asarray(bn.moving_variance, "float64")
    scale = gamma / np.sqrt(variance + bn.epsilon)
    return scale, beta - mean * scale


def _folded(conv, bn):
    """The config (now with a bias) and weights of a convolution computing bn(conv(x))."""
    config = dict(conv.get_config(), use_bias=True)
    scale, shift = _bn_scale_shift(bn)
    weights = [np.asarray(w, "float64") for w in conv.get_weights()]
    bias = weights.pop() if conv.use_bias else 0.0
    if isinstance(conv, keras.layers.SeparableConv2D):
        depthwise, pointwise = weights
        weights = [depthwise, pointwise * scale]
    elif isinstance(conv, keras.layers.DepthwiseConv2D):
        kernel = weights[0]
        weights = [kernel * scale.reshape(kernel.shape[2], kernel.shape[3])]
    else:
        weights = [weights[0] * scale]
    weights.append(bias * scale + shift)
    return config, [w.astype(conv.variable_dtype) for w in weights]


def _split_grouped(config, weights, x):
    """`groups` ordinary convolutions over channel slices of `x`, concatenated: a grouped Conv2D."""
    groups, name = config["groups"], config["name"]
    kernel, *bias = weights
    per_in, per_out = kernel.shape[2], config["filters"] // groups
    outputs = []
    for g in range(groups):
        piece = ChannelSlice(g * per_in, (g + 1) * per_in, name=f"{name}_slice{g}")(x)
        layer = keras.layers.Conv2D.from_config(dict(config, groups=1, filters=per_out, name=f"{name}_g{g}"))
        outputs.append(layer(piece))
        out_channels = slice(g * per_out, (g + 1) * per_out)
        layer.set_weights([kernel[..., out_channels]] + [b[out_channels] for b in bias])
    return keras.layers.Concatenate(axis=-1, name=f"{name}_concat")(outputs)


def inference_model(model, *, fold_batchnorm=True, drop_dropout=True, drop_auxiliary=True, split_grouped=False):
    """The inference form of `model` (see the module docstring); `model` itself is not changed."""
    if not isinstance(model, keras.Model) or not graph.is_functional(model) or not model.layers:
        raise ValueError("inference_model expects a built Keras Functional model.")
    nodes = _nodes(model)
    pairs = _foldable_pairs(model, nodes) if fold_batchnorm else {}
    folded_bn = {id(bn) for bn in pairs.values()}

    def call(layer, args, kwargs):
        kwargs.pop("training", None)
        if (drop_dropout and isinstance(layer, keras.layers.Dropout)) or id(layer) in folded_bn:
            return args[0]
        if isinstance(layer, keras.Model):
            return inference_model(
                layer,
                fold_batchnorm=fold_batchnorm,
                drop_dropout=drop_dropout,
                drop_auxiliary=drop_auxiliary,
                split_grouped=split_grouped,
            )(*args, **kwargs)
        config, weights = (
            _folded(layer, pairs[id(layer)]) if id(layer) in pairs else (layer.get_config(), layer.get_weights())
        )
        if split_grouped and type(layer) is keras.layers.Conv2D and layer.groups > 1:
            return _split_grouped(config, weights, args[0])
        clone = layer.__class__.from_config(config)
        output = clone(*args, **kwargs)
        clone.set_weights(weights)
        return output

    inputs = [keras.Input(batch_shape=t.shape, dtype=t.dtype, name=graph.producer(t).name) for t in model.inputs]
    outputs = keras.tree.flatten(graph.replay(model, inputs, call))
    if drop_auxiliary or len(outputs) == 1:
        outputs = outputs[0]
    return keras.Model(inputs[0] if len(inputs) == 1 else inputs, outputs, name=model.name)
