"""The table language of the Inception networks (Inception-v3, Inception-v4, Inception-ResNet-v2).

A network is written as tables of ops: a branch is a sequence of `ConvBN`, `Pool` and `Split` ops, a module
a tuple of branches whose outputs are concatenated. Each convolution is conv (no bias) ->
BatchNormalization -> ReLU. An `InceptionLayout` says how one layout draws the ops:

- keras.applications' layouts (InceptionV3 "keras", InceptionResNetV2) use BN without gamma and create
  layers in keras.applications' order, named as Keras names keras.applications' unnamed layers in a fresh
  session ("conv2d", "conv2d_1", ...; `blocks.FreshSessionNames`), so the two graphs have the same layer
  names whatever was built before and weights transfer one-to-one;
- the torchvision and timm layouts (BN with gamma, eps 1e-3) name each convolution
  `{module}_{checkpoint module}` ("mixed0_branch5x5_1", "mixed_5b_branch1_0"), so a checkpoint maps by name
  (`conv_bn_torch_names`). torchvision's average pools count the zero padding (PyTorch's
  `AvgPool2d(count_include_pad=True)`).
"""

import re
from dataclasses import dataclass, replace
from typing import Tuple

from keras import layers

from ..applications import output_side
from ..blocks import FreshSessionNames

VALID = "valid"


@dataclass(frozen=True)
class ConvBN:
    """A convolution with its BatchNormalization and ReLU."""

    filters: int
    kernel: Tuple[int, int]
    strides: int = 1
    padding: str = "same"
    name: str = None  # the reference checkpoint's module name (torchvision / timm), for checkpoint-named layouts


@dataclass(frozen=True)
class Pool:
    kind: str  # "avg" or "max"
    strides: int = 1
    padding: str = "same"
    size: int = 3


@dataclass(frozen=True)
class Split:
    """Parallel sub-branches concatenated inside a branch (the 1x3 / 3x1 split of Fig. 7 of the 2015 paper)."""

    branches: Tuple[Tuple, ...]
    name: str = None


def conv(filters, kernel_height, kernel_width=None, strides=1, padding="same", name=None):
    """A `ConvBN` with a square kernel unless `kernel_width` is given: conv(192, 1, 7) is a 1x7 convolution."""
    kernel = (kernel_height, kernel_height if kernel_width is None else kernel_width)
    return ConvBN(filters, kernel, strides, padding, name)


AVERAGE_POOL = Pool("avg")  # 3x3, stride 1, the pool branch of every module
MAX_POOL_REDUCE = Pool("max", strides=2, padding=VALID)  # 3x3/2, the grid reductions


@dataclass(frozen=True)
class InceptionLayout:
    """How one layout draws the ops. `for_one_build()` gives the copy one build uses: it names the layers
    the layout leaves unnamed as Keras would in a fresh session."""

    bn_scale: bool  # BatchNormalization with gamma (torchvision, timm) or without (keras.applications)
    checkpoint_names: bool  # convolutions named `{module}_{op.name}` after the checkpoint, or keras.applications' way
    pytorch_average_pools: bool  # PyTorch's AvgPool2d(count_include_pad=True), torchvision's default
    fresh_names: FreshSessionNames = None

    def for_one_build(self):
        return replace(self, fresh_names=FreshSessionNames())


KERAS_LAYOUT = InceptionLayout(bn_scale=False, checkpoint_names=False, pytorch_average_pools=False)
TORCHVISION_LAYOUT = InceptionLayout(bn_scale=True, checkpoint_names=True, pytorch_average_pools=True)
TIMM_LAYOUT = InceptionLayout(bn_scale=True, checkpoint_names=True, pytorch_average_pools=False)


def checkpoint_layer_name(prefix, op):
    """The Keras name of a checkpoint-named convolution: "mixed0_branch5x5_1", "mixed_5b_branch1_0"."""
    return f"{prefix}{op.name.replace('.', '_')}"


def draw_conv_bn(x, op, layout, prefix=""):
    if layout.checkpoint_names:
        name = checkpoint_layer_name(prefix, op)
        names = (name, f"{name}_bn", f"{name}_relu")
    else:  # keras.applications' conv2d_bn, called without a name
        fresh = layout.fresh_names
        names = (fresh("conv2d"), fresh("batch_normalization"), fresh("activation"))
    x = layers.Conv2D(op.filters, op.kernel, strides=op.strides, padding=op.padding, use_bias=False, name=names[0])(x)
    x = layers.BatchNormalization(axis=-1, scale=layout.bn_scale, name=names[1])(x)
    return layers.Activation("relu", name=names[2])(x)


def draw_pool(x, op, layout):
    fresh = layout.fresh_names
    if op.kind == "avg" and op.padding == "same" and layout.pytorch_average_pools:
        x = layers.ZeroPadding2D(op.size // 2, name=fresh("zero_padding2d"))(x)  # the zeros count, as in PyTorch
        return layers.AveragePooling2D(op.size, strides=op.strides, padding=VALID, name=fresh("average_pooling2d"))(x)
    pool_layer = layers.AveragePooling2D if op.kind == "avg" else layers.MaxPooling2D
    name = fresh("average_pooling2d" if op.kind == "avg" else "max_pooling2d")
    return pool_layer((op.size, op.size), strides=(op.strides, op.strides), padding=op.padding, name=name)(x)


def draw_op(x, op, layout, prefix=""):
    if isinstance(op, ConvBN):
        return draw_conv_bn(x, op, layout, prefix)
    if isinstance(op, Pool):
        return draw_pool(x, op, layout)
    if isinstance(op, Split):
        outputs = [draw_branch(x, branch, layout, prefix) for branch in op.branches]
        return layers.concatenate(outputs, axis=-1, name=op.name or layout.fresh_names("concatenate"))
    raise TypeError(f"unknown op {op!r}")


def draw_branch(x, ops, layout, prefix=""):
    for op in ops:
        x = draw_op(x, op, layout, prefix)
    return x


def inception_module(x, branches, name, layout):
    """The branches side by side, concatenated as `name`; checkpoint names are prefixed `{name}_`."""
    outputs = [draw_branch(x, branch, layout, f"{name}_") for branch in branches]
    return layers.concatenate(outputs, axis=-1, name=name)


def branch_side(side, ops):
    """The spatial side after a branch (a stem is one); 0 once the grid is gone."""
    for op in ops:
        if side < 1:
            return 0
        if isinstance(op, ConvBN):
            side = output_side(side, op.kernel[0], op.strides, op.padding)
        elif isinstance(op, Pool):
            side = output_side(side, op.size, op.strides, op.padding)
        else:  # a Split: its sub-branches keep the same grid
            side = branch_side(side, op.branches[0])
    return max(side, 0)


def module_side(side, branches):
    """The spatial side after a module: every branch gives the same grid."""
    return branch_side(side, branches[0])


def convolutions(ops):
    """The convolutions of a branch, module or stem, in the order the builder creates them."""
    for op in ops:
        if isinstance(op, ConvBN):
            yield op
        elif isinstance(op, (Split, tuple, list)):
            yield from convolutions(op.branches if isinstance(op, Split) else op)


def conv_bn_torch_names(module_path, prefix, ops):
    """The name map of the checkpoint-named convolutions in `ops`: the PyTorch modules
    "{module_path}{op.name}.conv" and ".bn" -> our layers `{prefix}{op.name}` and its `_bn`."""
    names = []
    for op in convolutions(ops):
        keras_layer = checkpoint_layer_name(prefix, op)
        path = re.escape(f"{module_path}{op.name}")
        names += [(rf"{path}\.conv", keras_layer), (rf"{path}\.bn", f"{keras_layer}_bn")]
    return tuple(names)
