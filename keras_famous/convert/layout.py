"""PyTorch -> Keras tensor layout transforms, each written once.

A PyTorch module's parameters (a dict of numpy arrays keyed "weight", "bias", "running_mean",
"running_var") become the list `layer.set_weights` expects, chosen by the Keras layer's type.
"""

import numpy as np
from keras import layers

from ..graph import parents as _parents


def conv_kernel(weight):
    """OIHW -> HWIO. Grouped kernels are (out, in/groups, kh, kw) in PyTorch and (kh, kw, in/groups, out)
    in Keras, so the same transpose serves them."""
    return np.transpose(weight, (2, 3, 1, 0))


_TRANSPOSE_BLOCK = 32


def dense_kernel(weight, flattened_from=None):
    """(out, in) -> (in, out). If the input was flattened from an (H, W, C) map, PyTorch flattened it
    as C, H, W: reorder the input axis to Keras' H, W, C."""
    if flattened_from is None:
        return np.ascontiguousarray(weight.T)
    height, width, channels = flattened_from
    outputs = weight.shape[0]
    # (out, C, H, W) -> (H, W, C, out) -> (H * W * C, out), one copy (VGG's fc6 kernel is 400 MB) made in blocks of
    # output rows: each block's reads stay in cache (0.36 s for VGG's fc6 here, 2.3 s in one transpose)
    source = weight.reshape(outputs, channels, height * width)
    kernel = np.empty((height * width, channels, outputs), dtype=weight.dtype)
    for start in range(0, outputs, _TRANSPOSE_BLOCK):
        kernel[:, :, start : start + _TRANSPOSE_BLOCK] = source[start : start + _TRANSPOSE_BLOCK].transpose(2, 1, 0)
    return kernel.reshape(-1, outputs)


def _flattened_from(layer):
    """(H, W, C) if `layer` (a Dense) reads, through any Dropout, the output of a Flatten of a spatial map."""
    source = layer
    while True:
        parents = _parents(source)
        if len(parents) != 1:
            return None
        source = parents[0]
        if isinstance(source, layers.Flatten):
            shape = source.input.shape
            return tuple(shape[1:]) if len(shape) == 4 else None
        if not isinstance(source, layers.Dropout):
            return None


def keras_weights(layer, params):
    """The `set_weights` list of `layer` from one PyTorch module's parameters."""
    if isinstance(layer, layers.BatchNormalization):
        return [params["weight"], params["bias"], params["running_mean"], params["running_var"]]
    if isinstance(layer, layers.Conv2D):
        arrays = [conv_kernel(params["weight"])]
    elif isinstance(layer, layers.Dense):
        arrays = [dense_kernel(params["weight"], _flattened_from(layer))]
    else:
        raise ValueError(f"No PyTorch layout transform for layer {layer.name!r} of type {type(layer).__name__}.")
    if "bias" in params:
        arrays.append(params["bias"])
    return arrays


def depthwise_emulation_to_grouped(kernel):
    """keras-applications' ResNeXt draws a grouped convolution as a DepthwiseConv2D with channel
    multiplier c (its kernel is (kh, kw, width, c)) whose outputs are reshaped to (groups, c, c) and
    summed over the first c axis. The same map as a Conv2D(groups=width/c) kernel (kh, kw, c, width):
    W[:, :, j, o] = D[:, :, (o // c) * c + j, o % c]."""
    _, _, width, multiplier = kernel.shape
    outputs, inputs = np.arange(width), np.arange(multiplier)
    return kernel[
        :, :, (outputs // multiplier)[None, :] * multiplier + inputs[:, None], (outputs % multiplier)[None, :]
    ]
