"""Network in Network: Lin, Chen, Yan, "Network In Network" (2013).

Each mlpconv layer (Sec. 3.1) is a convolution followed by two 1x1 convolutions (a two-layer
perceptron slid over the map), all with ReLU; the last mlpconv outputs one map per class and global
average pooling replaces the fully connected classifier (Sec. 3.2). The authors' released models:

    variant "cifar" (32x32x3)                     parameters
    mlpconv1  5x5 192, 1x1 160, 1x1 96            60,928    max pool 3x3/2, dropout 0.5
    mlpconv2  5x5 192, 1x1 192, 1x1 192           535,104   avg pool 3x3/2, dropout 0.5
    mlpconv3  3x3 192, 1x1 192, 1x1 classes       370,954   global average pool (CIFAR-10: 966,986)

    variant "imagenet" (224x224x3)
    mlpconv1  11x11/4 96, 1x1 96, 1x1 96          max pool 3x3/2
    mlpconv2  5x5 256, 1x1 256, 1x1 256           max pool 3x3/2
    mlpconv3  3x3 384, 1x1 384, 1x1 384           max pool 3x3/2, dropout 0.5
    mlpconv4  3x3 1024, 1x1 1024, 1x1 classes     global average pool (1000 classes: 7,595,176)

The pools are Caffe's, as the authors trained with (`layers.CaffePooling2D`: the output side rounds up and an
average counts only real pixels): 224 -> 54 -> 27 -> 13 -> 6 on ImageNet, where "same" padding would give 14 and 7.
Both variants take their authors' released files (the Caffe model zoo, 2014; layer names conv1, cccp1, cccp2, ...):
`NiN(variant="imagenet", classes=1000, weights="imagenet")` (nin_imagenet.caffemodel, BGR "caffe" input) and
`NiN(weights="cifar10")` (cifar10_nin.caffemodel, trained on CIFAR-10 after global contrast normalisation and ZCA
whitening, which the input must have too: no preprocessing mode of keras_famous computes it).
"""

from dataclasses import dataclass
from typing import Optional, Tuple

from keras import layers

from ..applications import application_doc, build_application, min_input_size, output_side
from ..layers import CaffePooling2D
from ..spec import InputContract, Reference, Variant, declare


@dataclass(frozen=True)
class MlpConv:
    kernel_size: int
    widths: Tuple[int, int, int]  # the spatial conv, then the two 1x1 convs (None: the classes)
    strides: int = 1
    padding: str = "same"
    pool: Optional[str] = None  # "max" or "avg" 3x3/2 after the block
    dropout: float = 0.0


TABLES = {
    "cifar": ((32, 32, 3), (
        MlpConv(5, (192, 160, 96), pool="max", dropout=0.5),
        MlpConv(5, (192, 192, 192), pool="avg", dropout=0.5),
        MlpConv(3, (192, 192, None)),
    )),
    "imagenet": ((224, 224, 3), (
        MlpConv(11, (96, 96, 96), strides=4, padding="valid", pool="max"),
        MlpConv(5, (256, 256, 256), pool="max"),
        MlpConv(3, (384, 384, 384), pool="max", dropout=0.5),
        MlpConv(3, (1024, 1024, None)),
    )),
}  # fmt: skip


def _mlpconv(x, block, index, widths):
    name = f"mlpconv{index}"
    x = layers.Conv2D(
        widths[0],
        block.kernel_size,
        strides=block.strides,
        padding=block.padding,
        activation="relu",
        name=f"{name}_conv",
    )(x)
    for position, width in enumerate(widths[1:], start=1):
        x = layers.Conv2D(width, 1, activation="relu", name=f"{name}_cccp{position}")(x)
    if block.pool:
        x = CaffePooling2D(3, strides=2, method="max" if block.pool == "max" else "ave", name=f"{name}_pool")(x)
    if block.dropout:
        x = layers.Dropout(block.dropout, name=f"{name}_dropout")(x)
    return x


def last_side(blocks, side):
    """The side of the last mlpconv's map for an input `side` (0 once a layer has nothing left to see)."""
    for block in blocks:
        side = output_side(side, block.kernel_size, block.strides, block.padding)
        side = output_side(side, 3, 2, "ceil") if block.pool and side > 0 else side
        if side < 1:
            return 0
    return side


# CIFAR: two 2x pools leave at least 2x2; ImageNet: the 11x11/4 "valid" conv, then three pools that need 2 pixels each
CONTRACTS = {
    "cifar": InputContract(default_shape=TABLES["cifar"][0], min_size=8),
    "imagenet": InputContract(
        default_shape=TABLES["imagenet"][0],
        min_size=min_input_size(lambda side: last_side(TABLES["imagenet"][1], side), 224),
    ),
}
# the last mlpconv's class maps, which a headless model stops before (mlpconv3 for CIFAR, mlpconv4 for ImageNet)
HEAD_LAYERS = tuple(f"mlpconv{len(blocks)}_cccp2" for _, blocks in TABLES.values())


def _nin(model_name, *, variant, **keras_args):
    spec = SPEC_OF[model_name]
    variant, _ = spec.variant(variant)
    _, blocks = TABLES[variant]
    last = len(blocks)

    def backbone(x):
        for index, block in enumerate(blocks[:-1], start=1):
            x = _mlpconv(x, block, index, block.widths)
        return x

    def tail(x, classes):
        block = blocks[-1]
        return _mlpconv(x, block, last, block.widths[:2] + ((classes,) if classes else ()))

    def top(x, classes, classifier_activation):
        x = layers.GlobalAveragePooling2D(name="avg_pool")(tail(x, classes))
        return layers.Activation(classifier_activation, dtype="float32", name="predictions")(x)

    def features(x):  # without the top, the last mlpconv stops before its class maps
        x = backbone(x)
        return x if keras_args["include_top"] else tail(x, None)

    return build_application(spec, variant, backbone=features, top=top, contract=CONTRACTS[variant], **keras_args)


OPTIONS_DOC = """        variant: "cifar" (32x32, the paper's CIFAR-10 model) or "imagenet" (224x224).
"""


@application_doc(__doc__, OPTIONS_DOC)
def NiN(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
        classifier_activation="softmax", name=None, *, variant="cifar", include_preprocessing=False):  # fmt: skip
    return _nin("NiN", **locals())


# The authors' Caffe layer names: mlpconv i is conv{i}, cccp{2i-1}, cccp{2i} (ImageNet's fourth: conv4-1024,
# cccp7-1024, cccp8-1024)
CAFFE_NAMES = tuple(
    (rf"{caffe}(-1024)?", f"mlpconv{block}_{ours}")
    for block in range(1, 5)
    for caffe, ours in ((f"conv{block}", "conv"), (f"cccp{2 * block - 1}", "cccp1"), (f"cccp{2 * block}", "cccp2"))
)
ZOO = "mavenlin's Caffe model zoo gist"

SPECS = (
    declare(
        "NiN",
        NiN,
        family="nin",
        paper="Lin, Chen, Yan, Network In Network",
        year=2013,
        contract=CONTRACTS["cifar"],
        head_layers=HEAD_LAYERS,
        variants={
            "cifar": Variant(
                references=(Reference("paper", "NiN CIFAR-10 (authors' model)", params=966_986),),
                note="the authors' cifar10_nin.caffemodel (input: GCN + ZCA-whitened CIFAR-10)",
                caffe_names=CAFFE_NAMES,
            ),
            "imagenet": Variant(
                kwargs={"variant": "imagenet", "classes": 1000},
                references=(
                    Reference(
                        "paper",
                        "NiN ImageNet (authors' model)",
                        params=7_595_176,
                        top1=0.5936,
                        accuracy_source=f"{ZOO} d802a5849de39225bcc6 (top-1 only)",
                    ),
                ),
                note="the authors' nin_imagenet.caffemodel",
                preprocessing="caffe",
                caffe_names=CAFFE_NAMES,
            ),
        },
    ),
)
SPEC_OF = {spec.name: spec for spec in SPECS}

__all__ = ["NiN"]
