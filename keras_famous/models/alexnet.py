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

`variant="bvlc"`: BVLC's replication in the Caffe model zoo (bvlc_alexnet.caffemodel, 2014), the weights
`weights="imagenet"` loads. Its layers are the paper's table above, two-group conv2, conv4 and conv5 included
(60,965,224 parameters: the released file's fc6 reads 256 * 6 * 6 inputs and its conv2 kernel 48 input maps, which
only the grouped table gives), but it computes two things otherwise: Caffe's LRN, b = a / (1 + alpha / n * sum
a^2) ** beta with n = 5 (the paper: k = 2 and alpha not divided by n), and Caffe's pooling, whose output side rounds
up (the same as the paper's at 227x227, not at every size). One public copy of BVLC's deploy.prototxt lacks
`group: 2`; the layout here follows what the released file must contain (its parameter count and blob shapes), not
that copy.

ZFNet (Zeiler & Fergus 2013, Fig. 3): 7x7 / 2 first layer and 5x5 / 2 second layer, dense
convolutions, pooling then contrast normalisation; 224 -> 110 -> 55 -> 26 -> 13 -> 13 -> 13 -> 6:
62,357,608 parameters.
"""

from dataclasses import dataclass
from typing import Tuple, Union

from keras import layers

from ..applications import application_doc, build_application, min_input_size, output_side
from ..blocks import fully_connected_top
from ..layers import CaffePooling2D, LocalResponseNormalization
from ..spec import InputContract, Reference, Variant, declare


@dataclass(frozen=True)
class ConvRow:
    name: str
    filters: int
    kernel_size: int
    strides: int = 1
    groups: int = 1
    padding: Union[int, str] = "same"  # "same" or a symmetric zero padding in pixels


@dataclass(frozen=True)
class PoolRow:
    name: str
    padding: str = "valid"  # "same" where ZFNet needs it; "ceil": Caffe's pooling (layers.CaffePooling2D)


@dataclass(frozen=True)
class NormRow:
    name: str


@dataclass(frozen=True)
class Lrn:
    bias: float = 2.0  # k = 2, n = 5, alpha = 1e-4, beta = 0.75 (Sec. 3.3)
    alpha: float = 1e-4  # as the paper writes it: not divided by n


CAFFE_LRN = Lrn(bias=1.0, alpha=1e-4 / 5)  # Caffe's LRN layer: 1 + alpha / n * sum, n = local_size = 5


@dataclass(frozen=True)
class LayerTable:
    input_size: int
    rows: Tuple
    dropout_first: bool = False  # torchvision puts dropout before fc6 and fc7
    lrn: Lrn = Lrn()


def _alexnet_rows(widths, groups, pool="valid"):
    c1, c2, c3, c4, c5 = widths
    return (
        ConvRow("conv1", c1, 11, strides=4, padding=0),
        NormRow("norm1"),
        PoolRow("pool1", pool),
        ConvRow("conv2", c2, 5, groups=groups),
        NormRow("norm2"),
        PoolRow("pool2", pool),
        ConvRow("conv3", c3, 3),
        ConvRow("conv4", c4, 3, groups=groups),
        ConvRow("conv5", c5, 3, groups=groups),
        PoolRow("pool5", pool),
    )


# AlexNet's variants, and ZFNet's one table under "zfnet"
TABLES = {
    "original": LayerTable(227, _alexnet_rows((96, 256, 384, 384, 256), groups=2)),
    "single": LayerTable(227, _alexnet_rows((96, 256, 384, 384, 256), groups=1)),
    "bvlc": LayerTable(227, _alexnet_rows((96, 256, 384, 384, 256), groups=2, pool="ceil"), lrn=CAFFE_LRN),
    "torchvision": LayerTable(
        224,
        (
            ConvRow("conv1", 64, 11, strides=4, padding=2), PoolRow("pool1"),
            ConvRow("conv2", 192, 5), PoolRow("pool2"),
            ConvRow("conv3", 384, 3), ConvRow("conv4", 256, 3), ConvRow("conv5", 256, 3), PoolRow("pool5"),
        ),
        dropout_first=True,
    ),
    "zfnet": LayerTable(
        224,
        (
            ConvRow("conv1", 96, 7, strides=2, padding=1), PoolRow("pool1", padding="same"), NormRow("norm1"),
            ConvRow("conv2", 256, 5, strides=2, padding=0), PoolRow("pool2", padding="same"), NormRow("norm2"),
            ConvRow("conv3", 384, 3), ConvRow("conv4", 384, 3), ConvRow("conv5", 256, 3), PoolRow("pool5"),
        ),
    ),
}  # fmt: skip

POOL_SIZE, POOL_STRIDE = 3, 2  # overlapping pooling, Sec. 3.4
HEAD_LAYERS = ("fc6", "fc7", "predictions")


def last_side(table, side):
    """The side of the table's last feature map for an input `side` (0 once a layer has nothing left to see)."""
    for row in table.rows:
        if isinstance(row, ConvRow):
            side = output_side(side, row.kernel_size, row.strides, row.padding)
        elif isinstance(row, PoolRow):
            side = output_side(side, POOL_SIZE, POOL_STRIDE, row.padding)
        if side < 1:
            return 0
    return side


def input_contract(table):
    size = table.input_size
    min_size = min_input_size(lambda side: last_side(table, side), size)
    return InputContract(default_shape=(size, size, 3), min_size=min_size, flatten_top=True)


CONTRACTS = {key: input_contract(table) for key, table in TABLES.items()}


def _backbone(table):
    def backbone(x):
        for row in table.rows:
            if isinstance(row, ConvRow):
                padding = row.padding
                if padding not in ("same", 0):
                    x = layers.ZeroPadding2D(padding, name=f"{row.name}_pad")(x)
                padding = "same" if padding == "same" else "valid"
                x = layers.Conv2D(
                    row.filters,
                    row.kernel_size,
                    strides=row.strides,
                    padding=padding,
                    groups=row.groups,
                    activation="relu",
                    name=row.name,
                )(x)
            elif isinstance(row, PoolRow) and row.padding == "ceil":
                x = CaffePooling2D(POOL_SIZE, strides=POOL_STRIDE, method="max", name=row.name)(x)
            elif isinstance(row, PoolRow):
                x = layers.MaxPooling2D(POOL_SIZE, strides=POOL_STRIDE, padding=row.padding, name=row.name)(x)
            else:
                lrn = table.lrn
                x = LocalResponseNormalization(
                    depth_radius=2, bias=lrn.bias, alpha=lrn.alpha, beta=0.75, name=row.name
                )(x)
        return x

    return backbone


def _top(table):
    def top(x, classes, classifier_activation):
        return fully_connected_top(
            x,
            classes,
            classifier_activation,
            hidden_units=(4096, 4096),
            hidden_names=("fc6", "fc7"),
            dropout=0.5,
            dropout_first=table.dropout_first,
        )

    return top


def _alexnet(model_name, *, variant, **keras_args):
    spec = SPEC_OF[model_name]
    variant, _ = spec.variant(variant)
    table_key = "zfnet" if model_name == "ZFNet" else variant
    table = TABLES[table_key]
    return build_application(
        spec, variant, backbone=_backbone(table), top=_top(table), contract=CONTRACTS[table_key], **keras_args
    )


ALEXNET_OPTIONS_DOC = """        variant: "original" (two towers as groups=2, LRN, 227x227), "single" (one tower),
            "torchvision" (torchvision's alexnet layout, so its checkpoints convert; 224x224) or "bvlc" (the
            original table with Caffe's LRN and pooling: BVLC's bvlc_alexnet.caffemodel, BGR "caffe" input).
"""
ZFNET_OPTIONS_DOC = """        variant: "original" (the network of Fig. 3 of Zeiler & Fergus).
"""


@application_doc(__doc__, ALEXNET_OPTIONS_DOC)
def AlexNet(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
            classifier_activation="softmax", name=None, *, variant="original", include_preprocessing=False):  # fmt: skip
    return _alexnet("AlexNet", **locals())


@application_doc(__doc__, ZFNET_OPTIONS_DOC)
def ZFNet(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax", name=None, *, variant="original", include_preprocessing=False):  # fmt: skip
    return _alexnet("ZFNet", **locals())


# torchvision's `features` and `classifier` indices (ReLUs, pools and dropouts take places too)
TORCHVISION_NAMES = (
    (r"features\.0", "conv1"),
    (r"features\.3", "conv2"),
    (r"features\.6", "conv3"),
    (r"features\.8", "conv4"),
    (r"features\.10", "conv5"),
    (r"classifier\.1", "fc6"),
    (r"classifier\.4", "fc7"),
    (r"classifier\.6", "predictions"),
)

TORCHVISION_ACC = "torchvision IMAGENET1K_V1"

# bvlc_alexnet.caffemodel's layer names (models/bvlc_alexnet in BVLC/caffe): ours but the classifier
CAFFE_NAMES = ((r"(?P<n>conv[1-5]|fc6|fc7)", "{n}"), (r"fc8", "predictions"))

SPECS = (
    declare(
        "AlexNet",
        AlexNet,
        family="alexnet",
        paper="Krizhevsky et al., ImageNet Classification with Deep Convolutional Neural Networks",
        year=2012,
        contract=CONTRACTS["original"],
        head_layers=HEAD_LAYERS,
        variants={
            "original": Variant(
                references=(Reference("paper", "AlexNet (two GPUs)", params=60_965_224),),
                note="two towers as grouped convolutions, LRN",
                preprocessing="torch",
            ),
            "single": Variant(
                kwargs={"variant": "single"},
                references=(Reference("paper", "AlexNet (one tower)", params=62_378_344),),
                note="one tower (96-256-384-384-256), LRN",
                preprocessing="torch",
            ),
            "torchvision": Variant(
                kwargs={"variant": "torchvision"},
                references=(
                    Reference(
                        "torchvision",
                        "alexnet",
                        trainable_params=61_100_840,
                        top1=0.56522,
                        top5=0.79066,
                        accuracy_source=TORCHVISION_ACC,
                    ),
                ),
                note="64-192-384-256-256, no LRN, 224x224",
                preprocessing="torch",
                torch_names=TORCHVISION_NAMES,
            ),
            "bvlc": Variant(
                kwargs={"variant": "bvlc"},
                references=(
                    Reference(
                        "caffe",
                        "bvlc_alexnet",
                        params=60_965_224,
                        top1=0.571,
                        top5=0.802,
                        accuracy_source="BVLC model zoo, models/bvlc_alexnet/readme.md (centre crop)",
                    ),
                ),
                note="the original table, Caffe's LRN (alpha / 5, k = 1) and ceil-mode pooling",
                preprocessing="caffe",
                caffe_names=CAFFE_NAMES,
            ),
        },
    ),
    declare(
        "ZFNet",
        ZFNet,
        family="alexnet",
        paper="Zeiler & Fergus, Visualizing and Understanding Convolutional Networks",
        year=2013,
        contract=CONTRACTS["zfnet"],
        head_layers=HEAD_LAYERS,
        variants={"original": Variant(references=(Reference("paper", "ZFNet", params=62_357_608),))},
    ),
)
SPEC_OF = {spec.name: spec for spec in SPECS}

__all__ = ["AlexNet", "ZFNet"]
