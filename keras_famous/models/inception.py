"""Inception-v3 (Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", 2015)
and Inception-ResNet-v2 (Szegedy et al., "Inception-v4, Inception-ResNet and the Impact of Residual
Connections on Learning", 2016), as module tables.

Table 1 of the paper, as keras.applications builds it (299x299x3 -> 8x8x2048):

    stem      conv 32 3x3/2, conv 32 3x3, conv 64 3x3, max pool 3x3/2,
              conv 80 1x1, conv 192 3x3, max pool 3x3/2               35x35x192
    3 x A     mixed0..mixed2 (Fig. 5: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | pool-1x1)  35x35x{256,288,288}
    reduce    mixed3 (Fig. 10)                                         17x17x768
    4 x B     mixed4..mixed7 (Fig. 6, n = 7 factorised into 1x7 and 7x1)  17x17x768
    reduce    mixed8                                                   8x8x1280
    2 x C     mixed9, mixed10 (Fig. 7: split 1x3 and 3x1 branches)     8x8x2048
    average pool, 1000-d fc                                             23,851,784 parameters

Inception-ResNet-v2 (Fig. 15 of the 2016 paper, keras.applications' layout, 299x299 -> 8x8x1536):

    stem      as Inception-v3's, then mixed_5b (96 | 48-64 5x5 | 64-96-96 | avg pool-64)  35x35x320
    10 x A    block35: 32 | 32-32 | 32-48-64, 1x1 up-projection, residual scale 0.17      35x35x320
    reduce    mixed_6a (Fig. 7, k=256, l=256, m=384, n=384)                              17x17x1088
    20 x B    block17: 192 | 128-160 1x7-192 7x1, scale 0.1                             17x17x1088
    reduce    mixed_7a (Fig. 18)                                                        8x8x2080
    10 x C    block8: 192 | 192-224 1x3-256 3x1, scale 0.2 (the last: scale 1, no ReLU)  8x8x2080
    conv_7b   1x1, 1536; average pool, 1000-d fc                                          55,873,736 parameters

Each convolution is conv (no bias) -> BatchNormalization(scale=False) -> ReLU. Layers are created
in keras.applications' order with Keras' automatic names, so the two graphs have the same layer
names in the same session and weights transfer one-to-one.
"""

from dataclasses import dataclass
from typing import Tuple

from keras import layers

from ..applications import InputContract, build_application, check_aux_logits, check_variant, make_builder
from ..blocks import average_pool_top, classifier
from ..layers import ScaledResidual
from ..spec import ModelSpec, Reference, Variant


@dataclass(frozen=True)
class Conv:
    filters: int
    kernel: Tuple[int, int]
    strides: int = 1
    padding: str = "same"


@dataclass(frozen=True)
class Pool:
    kind: str  # "avg" or "max"
    strides: int = 1
    padding: str = "same"
    size: int = 3


@dataclass(frozen=True)
class Split:
    """Parallel sub-branches concatenated inside a branch (Fig. 7's 1x3 / 3x1 split)."""

    branches: Tuple[Tuple, ...]
    name: str = None


def conv_bn(x, op):
    x = layers.Conv2D(op.filters, op.kernel, strides=op.strides, padding=op.padding, use_bias=False)(x)
    x = layers.BatchNormalization(axis=-1, scale=False)(x)
    return layers.Activation("relu")(x)


def apply(x, op):
    if isinstance(op, Conv):
        return conv_bn(x, op)
    if isinstance(op, Pool):
        pool = layers.AveragePooling2D if op.kind == "avg" else layers.MaxPooling2D
        return pool((op.size, op.size), strides=(op.strides, op.strides), padding=op.padding)(x)
    if isinstance(op, Split):
        return layers.concatenate([branch_output(x, branch) for branch in op.branches], axis=-1, name=op.name)
    raise TypeError(f"unknown op {op!r}")


def branch_output(x, ops):
    for op in ops:
        x = apply(x, op)
    return x


def module(x, branches, name):
    return layers.concatenate([branch_output(x, branch) for branch in branches], axis=-1, name=name)


def C(filters, kh, kw=None, strides=1, padding="same"):
    return Conv(filters, (kh, kh if kw is None else kw), strides, padding)


AVG = Pool("avg")
MAX_REDUCE = Pool("max", strides=2, padding="valid")

V3_STEM = (
    C(32, 3, strides=2, padding="valid"), C(32, 3, padding="valid"), C(64, 3), MAX_REDUCE,
    C(80, 1, padding="valid"), C(192, 3, padding="valid"), MAX_REDUCE,
)  # fmt: skip


def v3_module_a(pool_features):  # Fig. 5
    return ([C(64, 1)], [C(48, 1), C(64, 5)], [C(64, 1), C(96, 3), C(96, 3)], [AVG, C(pool_features, 1)])


def v3_module_b(width):  # Fig. 6, n = 7
    return (
        [C(192, 1)],
        [C(width, 1), C(width, 1, 7), C(192, 7, 1)],
        [C(width, 1), C(width, 7, 1), C(width, 1, 7), C(width, 7, 1), C(192, 1, 7)],
        [AVG, C(192, 1)],
    )


def v3_module_c(index):  # Fig. 7
    return (
        [C(320, 1)],
        [C(384, 1), Split(([C(384, 1, 3)], [C(384, 3, 1)]), name=f"mixed9_{index}")],
        [C(448, 1), C(384, 3), Split(([C(384, 1, 3)], [C(384, 3, 1)]))],
        [AVG, C(192, 1)],
    )


V3_REDUCTION_A = ([C(384, 3, strides=2, padding="valid")], [C(64, 1), C(96, 3), C(96, 3, strides=2, padding="valid")], [MAX_REDUCE])  # fmt: skip
V3_REDUCTION_B = (
    [C(192, 1), C(320, 3, strides=2, padding="valid")],
    [C(192, 1), C(192, 1, 7), C(192, 7, 1), C(192, 3, strides=2, padding="valid")],
    [MAX_REDUCE],
)

# (module name, branches), in the order of Table 1
V3_MODULES = (
    ("mixed0", v3_module_a(32)), ("mixed1", v3_module_a(64)), ("mixed2", v3_module_a(64)),
    ("mixed3", V3_REDUCTION_A),
    ("mixed4", v3_module_b(128)), ("mixed5", v3_module_b(160)), ("mixed6", v3_module_b(160)),
    ("mixed7", v3_module_b(192)),
    ("mixed8", V3_REDUCTION_B),
    ("mixed9", v3_module_c(0)), ("mixed10", v3_module_c(1)),
)  # fmt: skip

V3_CONTRACT = InputContract(default_shape=(299, 299, 3), min_size=75)


def _v3_backbone(taps):
    def backbone(x):
        x = branch_output(x, V3_STEM)
        for name, branches in V3_MODULES:
            x = module(x, branches, name)
            taps[name] = x
        return x

    return backbone


V3_AUX_TAP = "mixed7"  # the last 17x17 module (Sec. 4, Fig. 8)


def v3_auxiliary_head(x, classes, classifier_activation):
    """Fig. 8 with BN (Sec. 7, "BN-auxiliary"): 5x5/3 average pool, 1x1 conv 128, 5x5 conv 768, fc."""
    x = layers.AveragePooling2D(5, strides=3, name="aux_pool")(x)
    for filters, size, name in ((128, 1, "aux_conv0"), (768, 5, "aux_conv1")):
        x = layers.Conv2D(filters, size, use_bias=False, name=name)(x)
        x = layers.BatchNormalization(axis=-1, scale=False, name=f"{name}_bn")(x)
        x = layers.Activation("relu", name=f"{name}_relu")(x)
    x = layers.GlobalAveragePooling2D(name="aux_avg_pool")(x)
    return classifier(x, classes, classifier_activation, name="aux_predictions")


def _build_v3(app_args, variant, aux_logits):
    check_variant("InceptionV3", variant, ("keras",))
    check_aux_logits("InceptionV3", aux_logits, app_args["include_top"])
    taps = {}

    def top(x, classes, classifier_activation):
        main = average_pool_top(x, classes, classifier_activation)
        return [main, v3_auxiliary_head(taps[V3_AUX_TAP], classes, classifier_activation)] if aux_logits else main

    return build_application(
        "InceptionV3", contract=V3_CONTRACT, backbone=_v3_backbone(taps), top=top,
        weights_key=f"InceptionV3/{variant}", **app_args,
    )  # fmt: skip


InceptionV3 = make_builder(
    "InceptionV3",
    _build_v3,
    options={"variant": "keras", "aux_logits": False},
    doc=__doc__,
    options_doc="        variant: \"keras\" (keras.applications' layout).\n"
    "        aux_logits: add the auxiliary classifier on mixed7 as a second output (training only;\n"
    "            `keras_famous.without_auxiliary_heads(model)` removes it).\n",
)

# --- Inception-ResNet-v2 ------------------------------------------------------------------------

IRV2_MIXED_5B = ([C(96, 1)], [C(48, 1), C(64, 5)], [C(64, 1), C(96, 3), C(96, 3)], [AVG, C(64, 1)])
IRV2_MIXED_6A = ([C(384, 3, strides=2, padding="valid")], [C(256, 1), C(256, 3), C(384, 3, strides=2, padding="valid")], [MAX_REDUCE])  # fmt: skip
IRV2_MIXED_7A = (
    [C(256, 1), C(384, 3, strides=2, padding="valid")],
    [C(256, 1), C(288, 3, strides=2, padding="valid")],
    [C(256, 1), C(288, 3), C(320, 3, strides=2, padding="valid")],
    [MAX_REDUCE],
)
IRV2_BLOCKS = {  # residual branches of Fig. 16, 17, 19
    "block35": ([C(32, 1)], [C(32, 1), C(32, 3)], [C(32, 1), C(48, 3), C(64, 3)]),
    "block17": ([C(192, 1)], [C(128, 1), C(160, 1, 7), C(192, 7, 1)]),
    "block8": ([C(192, 1)], [C(192, 1), C(224, 1, 3), C(256, 3, 1)]),
}
# (block type, repeats, residual scale), between the reductions
IRV2_STAGES = (("block35", 10, 0.17), ("block17", 20, 0.1), ("block8", 10, 0.2))


def inception_resnet_block(x, block_type, index, scale, activation="relu"):
    name = f"{block_type}_{index}"
    mixed = module(x, IRV2_BLOCKS[block_type], f"{name}_mixed")
    up = layers.Conv2D(x.shape[-1], 1, use_bias=True, name=f"{name}_conv")(mixed)  # linear 1x1 up-projection
    x = ScaledResidual(scale, name=f"{name}_scaled_add")([x, up])
    return layers.Activation(activation, name=f"{name}_ac")(x) if activation else x


def _irv2_backbone(x):
    x = branch_output(x, V3_STEM)
    x = module(x, IRV2_MIXED_5B, "mixed_5b")
    for (block_type, repeats, scale), reduction in zip(IRV2_STAGES, (("mixed_6a", IRV2_MIXED_6A), ("mixed_7a", IRV2_MIXED_7A), None)):
        for index in range(1, repeats + 1):
            last = reduction is None and index == repeats  # the final block8: scale 1, no ReLU
            x = inception_resnet_block(x, block_type, index, 1.0 if last else scale, None if last else "relu")
        if reduction is not None:
            x = module(x, reduction[1], reduction[0])
    x = layers.Conv2D(1536, 1, use_bias=False, name="conv_7b")(x)
    x = layers.BatchNormalization(axis=-1, scale=False, name="conv_7b_bn")(x)
    return layers.Activation("relu", name="conv_7b_ac")(x)


def _build_irv2(app_args, variant):
    check_variant("InceptionResNetV2", variant, ("keras",))
    return build_application(
        "InceptionResNetV2", contract=V3_CONTRACT, backbone=_irv2_backbone, top=average_pool_top,
        weights_key=f"InceptionResNetV2/{variant}", **app_args,
    )  # fmt: skip


InceptionResNetV2 = make_builder(
    "InceptionResNetV2", _build_irv2, options={"variant": "keras"}, doc=__doc__,
    options_doc="        variant: \"keras\" (keras.applications' layout).\n",
)  # fmt: skip

KERAS_ACC = "Keras pretrained table (keras.io/api/applications)"

SPECS = (
    ModelSpec(
        name="InceptionV3",
        builder=InceptionV3,
        family="inception",
        paper="Szegedy et al., Rethinking the Inception Architecture for Computer Vision",
        year=2015,
        input_shape=(299, 299, 3),
        default_variant="keras",
        variants={
            "keras": Variant(
                references=(Reference("keras.applications", "InceptionV3", params=23_851_784, top1=0.779,
                                      top5=0.937, accuracy_source=KERAS_ACC),),
            )
        },  # fmt: skip
    ),
    ModelSpec(
        name="InceptionResNetV2",
        builder=InceptionResNetV2,
        family="inception",
        paper="Szegedy et al., Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning",
        year=2016,
        input_shape=(299, 299, 3),
        default_variant="keras",
        variants={
            "keras": Variant(
                references=(Reference("keras.applications", "InceptionResNetV2", params=55_873_736, top1=0.803,
                                      top5=0.953, accuracy_source=KERAS_ACC),),
            )
        },  # fmt: skip
    ),
)
