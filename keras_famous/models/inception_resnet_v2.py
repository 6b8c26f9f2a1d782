"""Inception-ResNet-v2: Szegedy et al., "Inception-v4, Inception-ResNet and the Impact of Residual Connections
on Learning" (2016).

Fig. 15 of the paper, in keras.applications' layout (299x299 -> 8x8x1536):

    stem      as Inception-v3's, then mixed_5b (96 | 48-64 5x5 | 64-96-96 | avg pool-64)  35x35x320
    10 x A    block35: 32 | 32-32 | 32-48-64, 1x1 up-projection, residual scale 0.17      35x35x320
    reduce    mixed_6a (Fig. 7, k=256, l=256, m=384, n=384)                              17x17x1088
    20 x B    block17: 192 | 128-160 1x7-192 7x1, scale 0.1                             17x17x1088
    reduce    mixed_7a (Fig. 18)                                                        8x8x2080
    10 x C    block8: 192 | 192-224 1x3-256 3x1, scale 0.2 (the last: scale 1, no ReLU)  8x8x2080
    conv_7b   1x1, 1536; average pool, 1000-d fc                                          55,873,736 parameters

Each convolution is conv (no bias) -> BatchNormalization (without gamma) -> ReLU; the layers keras.applications
leaves unnamed are named as Keras names them in a fresh session ("conv2d", "conv2d_1", ...), so
keras.applications' weights transfer one-to-one.
"""

from keras import layers

from ..applications import application_doc, build_application, min_input_size, output_side
from ..blocks import average_pool_top
from ..layers import ScaledResidual
from ..spec import InputContract, Reference, Variant, declare
from .inception_ops import (
    AVERAGE_POOL,
    KERAS_LAYOUT,
    MAX_POOL_REDUCE,
    VALID,
    branch_side,
    conv,
    draw_branch,
    inception_module,
    module_side,
)

STEM = (  # Inception-v3's, as in TF-slim's released network (not the paper's Fig. 3 stem)
    conv(32, 3, strides=2, padding=VALID), conv(32, 3, padding=VALID), conv(64, 3), MAX_POOL_REDUCE,
    conv(80, 1, padding=VALID), conv(192, 3, padding=VALID), MAX_POOL_REDUCE,
)  # fmt: skip
MIXED_5B = (
    [conv(96, 1)], [conv(48, 1), conv(64, 5)], [conv(64, 1), conv(96, 3), conv(96, 3)], [AVERAGE_POOL, conv(64, 1)],
)  # fmt: skip
MIXED_6A = (
    [conv(384, 3, strides=2, padding=VALID)],
    [conv(256, 1), conv(256, 3), conv(384, 3, strides=2, padding=VALID)],
    [MAX_POOL_REDUCE],
)
MIXED_7A = (
    [conv(256, 1), conv(384, 3, strides=2, padding=VALID)],
    [conv(256, 1), conv(288, 3, strides=2, padding=VALID)],
    [conv(256, 1), conv(288, 3), conv(320, 3, strides=2, padding=VALID)],
    [MAX_POOL_REDUCE],
)
RESIDUAL_BRANCHES = {  # Fig. 16, 17, 19
    "block35": ([conv(32, 1)], [conv(32, 1), conv(32, 3)], [conv(32, 1), conv(48, 3), conv(64, 3)]),
    "block17": ([conv(192, 1)], [conv(128, 1), conv(160, 1, 7), conv(192, 7, 1)]),
    "block8": ([conv(192, 1)], [conv(192, 1), conv(224, 1, 3), conv(256, 3, 1)]),
}
# (block type, repeats, residual scale, the reduction after the stage)
STAGES = (
    ("block35", 10, 0.17, ("mixed_6a", MIXED_6A)),
    ("block17", 20, 0.1, ("mixed_7a", MIXED_7A)),
    ("block8", 10, 0.2, None),
)
FINAL_CONV_WIDTH = 1536  # conv_7b


def feature_side(side):
    """The side of the last feature map for an input side (the residual blocks keep the grid; conv_7b is 1x1)."""
    side = module_side(branch_side(side, STEM), MIXED_5B)
    for *_, reduction in STAGES:
        side = module_side(side, reduction[1]) if reduction else side
    return output_side(side, 1)


CONTRACT = InputContract(default_shape=(299, 299, 3), min_size=min_input_size(feature_side, 299))
HEAD_LAYERS = ("predictions",)


def inception_resnet_block(x, block_type, index, scale, layout, activation="relu"):
    """The branches of Fig. 16/17/19 concatenated, a linear 1x1 up-projection, `x + scale * residual` (Sec. 3.3)."""
    name = f"{block_type}_{index}"
    mixed = inception_module(x, RESIDUAL_BRANCHES[block_type], f"{name}_mixed", layout)
    up = layers.Conv2D(x.shape[-1], 1, use_bias=True, name=f"{name}_conv")(mixed)
    x = ScaledResidual(scale, name=f"{name}_scaled_add")([x, up])
    return layers.Activation(activation, name=f"{name}_ac")(x) if activation else x


def _backbone(x):
    layout = KERAS_LAYOUT.for_one_build()
    x = draw_branch(x, STEM, layout)
    x = inception_module(x, MIXED_5B, "mixed_5b", layout)
    for block_type, repeats, scale, reduction in STAGES:
        for index in range(1, repeats + 1):
            last = reduction is None and index == repeats  # the final block8: scale 1, no ReLU
            x = inception_resnet_block(x, block_type, index, 1.0 if last else scale, layout, None if last else "relu")
        if reduction is not None:
            x = inception_module(x, reduction[1], reduction[0], layout)
    x = layers.Conv2D(FINAL_CONV_WIDTH, 1, use_bias=False, name="conv_7b")(x)
    x = layers.BatchNormalization(axis=-1, scale=False, name="conv_7b_bn")(x)
    return layers.Activation("relu", name="conv_7b_ac")(x)


def _inception_resnet_v2(model_name, *, variant, **keras_args):
    spec = SPEC_OF[model_name]
    variant, _ = spec.variant(variant)
    return build_application(spec, variant, backbone=_backbone, top=average_pool_top, **keras_args)


OPTIONS_DOC = """        variant: "keras" (keras.applications' layout).
"""


@application_doc(__doc__, OPTIONS_DOC)
def InceptionResNetV2(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
                      classifier_activation="softmax", name=None, *, variant="keras", include_preprocessing=False):  # fmt: skip
    return _inception_resnet_v2("InceptionResNetV2", **locals())


KERAS_REFERENCE = Reference(
    "keras.applications", "InceptionResNetV2", params=55_873_736, top1=0.803, top5=0.953,
    accuracy_source="Keras pretrained table (keras.io/api/applications)",
)  # fmt: skip

SPECS = (
    declare(
        "InceptionResNetV2",
        InceptionResNetV2,
        family="inception",
        paper="Szegedy et al., Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning",
        year=2016,
        contract=CONTRACT,
        head_layers=HEAD_LAYERS,
        variants={
            "keras": Variant(
                references=(KERAS_REFERENCE,),
                preprocessing="tf",
            )
        },
    ),
)
SPEC_OF = {spec.name: spec for spec in SPECS}

__all__ = ["InceptionResNetV2"]
