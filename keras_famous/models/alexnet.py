"""AlexNet (Krizhevsky, Sutskever, Hinton 2012) and ZFNet (Zeiler & Fergus 2013), as layer tables.

AlexNet, `variant="original"` (Sec. 3.5, Fig. 2), 227x227x3 (the paper's "224" does not divide:
(224 - 11) / 4 + 1 is not an integer; 227 gives the 55x55 of the figure):

    conv1  96 @ 11x11 / 4          55x55x96     34,944
    norm1, pool1 3x3 / 2           27x27x96
    conv2  256 @ 5x5, 2 groups     27x27x256    307,456    (each GPU sees its own 48 maps)
    norm2, pool2 3x3 / 2           13x13x256
    conv3  384 @ 3x3               13x13x384    885,120    (the layer that crosses GPUs)
    conv4  384 @ 3x3, 2 groups     13x13x384    663,936
    conv5  256 @ 3x3, 2 groups     13x13x256    442,624
    pool5  3x3 / 2                 6x6x256
    fc6 4096, fc7 4096 (dropout 0.5 each), fc8 1000          58,631,144
                                                   total   60,965,224

`variant="single"`: the one-tower table (groups=1, 62,378,344). `variant="torchvision"`: the
64-192-384-256-256 layout of torchvision's `alexnet` (no LRN, 224x224, 61,100,840).

ZFNet (Zeiler & Fergus 2013, Fig. 3): 7x7 / 2 first layer and 5x5 / 2 second layer, dense
convolutions, pooling then contrast normalisation; 224 -> 110 -> 55 -> 26 -> 13 -> 13 -> 13 -> 6:
62,357,608 parameters.
"""

from dataclasses import dataclass
from typing import Tuple, Union

from keras import layers

from ..applications import InputContract, build_application, check_variant, make_builder
from ..blocks import fully_connected_top
from ..layers import LocalResponseNormalization
from ..spec import ModelSpec, Reference, Variant


@dataclass(frozen=True)
class Conv:
    name: str
    filters: int
    kernel_size: int
    strides: int = 1
    groups: int = 1
    padding: Union[int, str] = "same"  # "same" or a symmetric zero padding in pixels


@dataclass(frozen=True)
class Pool:
    name: str
    padding: str = "valid"  # "same" reproduces Caffe's ceil-mode pooling where ZFNet needs it


@dataclass(frozen=True)
class Norm:
    name: str


@dataclass(frozen=True)
class Table:
    input_size: int
    layers: Tuple
    dropout_first: bool = False  # torchvision puts dropout before fc6 and fc7


def _alexnet_layers(widths, groups):
    c1, c2, c3, c4, c5 = widths
    return (
        Conv("conv1", c1, 11, strides=4, padding=0), Norm("norm1"), Pool("pool1"),
        Conv("conv2", c2, 5, groups=groups), Norm("norm2"), Pool("pool2"),
        Conv("conv3", c3, 3), Conv("conv4", c4, 3, groups=groups), Conv("conv5", c5, 3, groups=groups),
        Pool("pool5"),
    )  # fmt: skip


TABLES = {
    "original": Table(227, _alexnet_layers((96, 256, 384, 384, 256), groups=2)),
    "single": Table(227, _alexnet_layers((96, 256, 384, 384, 256), groups=1)),
    "torchvision": Table(
        224,
        (
            Conv("conv1", 64, 11, strides=4, padding=2), Pool("pool1"),
            Conv("conv2", 192, 5), Pool("pool2"),
            Conv("conv3", 384, 3), Conv("conv4", 256, 3), Conv("conv5", 256, 3), Pool("pool5"),
        ),
        dropout_first=True,
    ),
    "zfnet": Table(
        224,
        (
            Conv("conv1", 96, 7, strides=2, padding=1), Pool("pool1", padding="same"), Norm("norm1"),
            Conv("conv2", 256, 5, strides=2, padding=0), Pool("pool2", padding="same"), Norm("norm2"),
            Conv("conv3", 384, 3), Conv("conv4", 384, 3), Conv("conv5", 256, 3), Pool("pool5"),
        ),
    ),
}  # fmt: skip

POOL_SIZE, POOL_STRIDE = 3, 2  # overlapping pooling, Sec. 3.4


def _output_size(size, table):
    """Spatial size after the table's layers (0 if some layer has nothing left to see)."""
    for op in table.layers:
        if isinstance(op, Conv):
            if op.padding == "same":
                size = -(-size // op.strides)
            else:
                size = (size + 2 * op.padding - op.kernel_size) // op.strides + 1
        elif isinstance(op, Pool):
            size = -(-size // POOL_STRIDE) if op.padding == "same" else (size - POOL_SIZE) // POOL_STRIDE + 1
        if size < 1:
            return 0
    return size


def min_input_size(table):
    return next(size for size in range(1, table.input_size + 1) if _output_size(size, table) >= 1)


def _backbone(table):
    def backbone(x):
        for op in table.layers:
            if isinstance(op, Conv):
                padding = op.padding
                if padding not in ("same", 0):
                    x = layers.ZeroPadding2D(padding, name=f"{op.name}_pad")(x)
                padding = "same" if padding == "same" else "valid"
                x = layers.Conv2D(
                    op.filters, op.kernel_size, strides=op.strides, padding=padding, groups=op.groups,
                    activation="relu", name=op.name,
                )(x)  # fmt: skip
            elif isinstance(op, Pool):
                x = layers.MaxPooling2D(POOL_SIZE, strides=POOL_STRIDE, padding=op.padding, name=op.name)(x)
            else:  # k=2, n=5, alpha=1e-4, beta=0.75 (Sec. 3.3)
                x = LocalResponseNormalization(depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75, name=op.name)(x)
        return x

    return backbone


def _top(table):
    def top(x, classes, classifier_activation):
        return fully_connected_top(
            x, classes, classifier_activation, hidden_units=(4096, 4096), hidden_names=("fc6", "fc7"),
            dropout=0.5, dropout_first=table.dropout_first,
        )  # fmt: skip

    return top


def _build(model_name, table_key, app_args):
    table = TABLES[table_key]
    contract = InputContract((table.input_size, table.input_size, 3), min_input_size(table), flatten_top=True)
    return build_application(
        model_name, contract=contract, backbone=_backbone(table), top=_top(table),
        weights_key=f"{model_name}/{table_key}", **app_args,
    )  # fmt: skip


def _build_alexnet(app_args, variant):
    check_variant("AlexNet", variant, ("original", "single", "torchvision"))
    return _build("AlexNet", variant, app_args)


def _build_zfnet(app_args, variant):
    check_variant("ZFNet", variant, ("original",))
    return _build("ZFNet", "zfnet", app_args)


AlexNet = make_builder(
    "AlexNet",
    _build_alexnet,
    options={"variant": "original"},
    doc=__doc__,
    options_doc='        variant: "original" (two towers as groups=2, LRN, 227x227), "single" (one tower) or\n'
    + '            "torchvision" (torchvision\'s alexnet layout, so its checkpoints convert).\n',
)
ZFNet = make_builder("ZFNet", _build_zfnet, options={"variant": "original"}, doc=__doc__)

TORCHVISION_ACC = "torchvision IMAGENET1K_V1"

SPECS = (
    ModelSpec(
        name="AlexNet",
        builder=AlexNet,
        family="alexnet",
        paper="Krizhevsky et al., ImageNet Classification with Deep Convolutional Neural Networks",
        year=2012,
        input_shape=(227, 227, 3),
        default_variant="original",
        variants={
            "original": Variant(
                references=(Reference("paper", "AlexNet (two GPUs)", params=60_965_224),),
                note="two towers as grouped convolutions, LRN",
            ),
            "single": Variant(
                kwargs={"variant": "single"},
                references=(Reference("paper", "AlexNet (one tower)", params=62_378_344),),
                note="one tower (96-256-384-384-256), LRN",
            ),
            "torchvision": Variant(
                kwargs={"variant": "torchvision"},
                references=(
                    Reference("torchvision", "alexnet", trainable_params=61_100_840,
                              top1=0.56522, top5=0.79066, accuracy_source=TORCHVISION_ACC),
                ),  # fmt: skip
                note="64-192-384-256-256, no LRN, 224x224",
            ),
        },
    ),
    ModelSpec(
        name="ZFNet",
        builder=ZFNet,
        family="alexnet",
        paper="Zeiler & Fergus, Visualizing and Understanding Convolutional Networks",
        year=2013,
        input_shape=(224, 224, 3),
        default_variant="original",
        variants={"original": Variant(references=(Reference("paper", "ZFNet", params=62_357_608),))},
    ),
)
