"""Xception: Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions" (2016), Fig. 5.

    entry flow   conv 32 3x3/2, conv 64 3x3;
                 3 modules [ReLU, sep-conv w, BN, ReLU, sep-conv w, BN, max pool 3x3/2] + 1x1/2 conv
                 shortcut, w = 128, 256, 728                                       19x19x728
    middle flow  8 x [3 x (ReLU, sep-conv 728, BN)] + identity                     19x19x728
    exit flow    module (728, 1024) with 1x1/2 shortcut; sep-conv 1536, sep-conv 2048 (+BN, ReLU)
                 global average pool, 1000-d fc                                     22,910,480 parameters

Layer names and creation order are keras.applications' (its unnamed shortcut convolutions, their BNs and
the additions named as Keras names them in a fresh session), so the graphs match layer for layer.
"""

from keras import layers

from ..applications import application_doc, build_application
from ..blocks import FreshSessionNames, average_pool_top
from ..spec import InputContract, Reference, Variant, declare

ENTRY_WIDTHS = ((128, 128), (256, 256), (728, 728))  # blocks 2-4
MIDDLE_BLOCKS, MIDDLE_WIDTH = 8, 728  # blocks 5-12
EXIT_WIDTHS = (728, 1024)  # block 13
TAIL_WIDTHS = (1536, 2048)  # block 14

CONTRACT = InputContract(default_shape=(299, 299, 3), min_size=71)
HEAD_LAYERS = ("predictions",)


def _sepconv_bn(x, width, prefix, index, relu_first=True):
    if relu_first:
        x = layers.Activation("relu", name=f"{prefix}_sepconv{index}_act")(x)
    x = layers.SeparableConv2D(width, 3, padding="same", use_bias=False, name=f"{prefix}_sepconv{index}")(x)
    return layers.BatchNormalization(axis=-1, name=f"{prefix}_sepconv{index}_bn")(x)


def _downsampling_module(x, widths, block, names, relu_first=True):
    prefix = f"block{block}"
    residual = layers.Conv2D(widths[-1], 1, strides=2, padding="same", use_bias=False, name=names("conv2d"))(x)
    residual = layers.BatchNormalization(axis=-1, name=names("batch_normalization"))(residual)
    for index, width in enumerate(widths, start=1):
        x = _sepconv_bn(x, width, prefix, index, relu_first=relu_first or index > 1)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"{prefix}_pool")(x)
    return layers.add([x, residual], name=names("add"))


def _backbone(x):
    names = FreshSessionNames()
    for index, (width, strides) in enumerate(((32, 2), (64, 1)), start=1):
        x = layers.Conv2D(width, 3, strides=strides, use_bias=False, name=f"block1_conv{index}")(x)
        x = layers.BatchNormalization(axis=-1, name=f"block1_conv{index}_bn")(x)
        x = layers.Activation("relu", name=f"block1_conv{index}_act")(x)
    for block, widths in enumerate(ENTRY_WIDTHS, start=2):
        x = _downsampling_module(x, widths, block, names, relu_first=block > 2)  # block1 already ends in a ReLU
    for block in range(5, 5 + MIDDLE_BLOCKS):
        residual = x
        for index in (1, 2, 3):
            x = _sepconv_bn(x, MIDDLE_WIDTH, f"block{block}", index)
        x = layers.add([x, residual], name=names("add"))
    x = _downsampling_module(x, EXIT_WIDTHS, 13, names)
    for index, width in enumerate(TAIL_WIDTHS, start=1):
        x = layers.SeparableConv2D(width, 3, padding="same", use_bias=False, name=f"block14_sepconv{index}")(x)
        x = layers.BatchNormalization(axis=-1, name=f"block14_sepconv{index}_bn")(x)
        x = layers.Activation("relu", name=f"block14_sepconv{index}_act")(x)
    return x


def _xception(model_name, *, variant, **keras_args):
    return build_application(SPEC_OF[model_name], variant, backbone=_backbone, top=average_pool_top, **keras_args)


OPTIONS_DOC = """        variant: "keras" (keras.applications' layout, the only one).
"""


@application_doc(__doc__, OPTIONS_DOC)
def Xception(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", name=None, *, variant="keras", include_preprocessing=False):  # fmt: skip
    return _xception("Xception", **locals())


SPECS = (
    declare(
        "Xception",
        Xception,
        family="xception",
        paper="Chollet, Xception: Deep Learning with Depthwise Separable Convolutions",
        year=2016,
        contract=CONTRACT,
        head_layers=HEAD_LAYERS,
        variants={
            "keras": Variant(
                references=(
                    Reference(
                        "keras.applications",
                        "Xception",
                        params=22_910_480,
                        top1=0.790,
                        top5=0.945,
                        accuracy_source="Keras pretrained table (keras.io/api/applications)",
                    ),
                ),
                preprocessing="tf",
            ),
        },
    ),
)
SPEC_OF = {spec.name: spec for spec in SPECS}

__all__ = ["Xception"]
