"""Inception-v3 (Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", 2015),
Inception-v4 and Inception-ResNet-v2 (Szegedy et al., "Inception-v4, Inception-ResNet and the Impact
of Residual Connections on Learning", 2016), as module tables.

Table 1 of the paper, as keras.applications builds it (299x299x3 -> 8x8x2048):

    stem      conv 32 3x3/2, conv 32 3x3, conv 64 3x3, max pool 3x3/2,
              conv 80 1x1, conv 192 3x3, max pool 3x3/2               35x35x192
    3 x A     mixed0..mixed2 (Fig. 5: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | pool-1x1)  35x35x{256,288,288}
    reduce    mixed3 (Fig. 10)                                         17x17x768
    4 x B     mixed4..mixed7 (Fig. 6, n = 7 factorised into 1x7 and 7x1)  17x17x768
    reduce    mixed8                                                   8x8x1280
    2 x C     mixed9, mixed10 (Fig. 7: split 1x3 and 3x1 branches)     8x8x2048
    average pool, 1000-d fc                                             23,851,784 parameters

Inception-v4 (Fig. 9 of the 2016 paper, timm's / TF-slim's layout, 299x299 -> 8x8x1536):

    stem      conv 32 3x3/2, conv 32 3x3, conv 64 3x3; mixed_3a (max pool | conv 96 3x3/2)    73x73x160
              mixed_4a (64-96 3x3 | 64-64 1x7-64 7x1-96 3x3); mixed_5a (conv 192 /2 | max pool)  35x35x384
    4 x A     mixed_5b..e (Fig. 4: 96 | 64-96 | 64-96-96 | avg pool-96)                  35x35x384
    reduce    mixed_6a (Fig. 7, k=192, l=224, m=256, n=384)                              17x17x1024
    7 x B     mixed_6b..h (Fig. 5: 384 | 192-224-256 | 192-192-224-224-256 | pool-128)   17x17x1024
    reduce    mixed_7a (Fig. 8)                                                          8x8x1536
    3 x C     mixed_7b..d (Fig. 6: 256 | 384-(256,256) | 384-448-512-(256,256) | pool-256) 8x8x1536
    average pool, dropout 0.2, 1000-d fc              42,679,816 trainable parameters (as timm's)

Inception-ResNet-v2 (Fig. 15 of the 2016 paper, keras.applications' layout, 299x299 -> 8x8x1536):

    stem      as Inception-v3's, then mixed_5b (96 | 48-64 5x5 | 64-96-96 | avg pool-64)  35x35x320
    10 x A    block35: 32 | 32-32 | 32-48-64, 1x1 up-projection, residual scale 0.17      35x35x320
    reduce    mixed_6a (Fig. 7, k=256, l=256, m=384, n=384)                              17x17x1088
    20 x B    block17: 192 | 128-160 1x7-192 7x1, scale 0.1                             17x17x1088
    reduce    mixed_7a (Fig. 18)                                                        8x8x2080
    10 x C    block8: 192 | 192-224 1x3-256 3x1, scale 0.2 (the last: scale 1, no ReLU)  8x8x2080
    conv_7b   1x1, 1536; average pool, 1000-d fc                                          55,873,736 parameters

Each convolution is conv (no bias) -> BatchNormalization -> ReLU. keras.applications' layouts
(InceptionV3 "keras", InceptionResNetV2) use BN without gamma and create layers in keras.applications'
order, named as Keras names keras.applications' unnamed layers in a fresh session ("conv2d",
"conv2d_1", ...; `blocks.FreshSessionNames`), so the two graphs have the same layer names whatever
was built before and weights transfer one-to-one. The torchvision and timm layouts (BN with gamma, eps 1e-3) name
each convolution `{module}_{checkpoint module}` ("mixed0_branch5x5_1", "mixed_5b_branch1_0"), so
`keras_famous.convert` maps checkpoints by name.
"""

from dataclasses import dataclass, replace
from typing import Tuple

from keras import layers

from ..applications import (
    InputContract, build_application, check_aux_input, check_aux_logits, check_variant, fixed_layout_builder,
    make_builder,
)  # fmt: skip
from ..blocks import FreshSessionNames, average_pool_top, classifier
from ..layers import ScaledResidual
from ..spec import ModelSpec, Reference, Variant


@dataclass(frozen=True)
class Conv:
    filters: int
    kernel: Tuple[int, int]
    strides: int = 1
    padding: str = "same"
    name: str = None  # the reference checkpoint's module name (torchvision / timm), for named layouts


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


@dataclass(frozen=True)
class Style:
    """How one layout draws the shared ops. `drawing()` gives the copy one build uses: it names the
    layers the layout leaves unnamed as Keras would in a fresh session."""

    bn_scale: bool  # BatchNormalization with gamma (torchvision, timm) or without (keras.applications)
    named: bool  # convolutions named `{module}_{op.name}` after the checkpoint, or keras.applications' way
    avg_pool_counts_padding: bool  # PyTorch's AvgPool2d(count_include_pad=True), torchvision's default
    names: FreshSessionNames = None

    def drawing(self):
        return replace(self, names=FreshSessionNames())


KERAS = Style(bn_scale=False, named=False, avg_pool_counts_padding=False)
TORCHVISION = Style(bn_scale=True, named=True, avg_pool_counts_padding=True)
TIMM = Style(bn_scale=True, named=True, avg_pool_counts_padding=False)


def layer_name(prefix, op):
    """The Keras name of a named layout's convolution: "mixed0_branch5x5_1", "mixed_5b_branch1_0"."""
    return f"{prefix}{op.name.replace('.', '_')}"


def conv_bn(x, op, style, prefix=""):
    if style.named:
        name = layer_name(prefix, op)
        names = (name, f"{name}_bn", f"{name}_relu")
    else:  # keras.applications' conv2d_bn, called without a name
        names = (style.names("conv2d"), style.names("batch_normalization"), style.names("activation"))
    x = layers.Conv2D(op.filters, op.kernel, strides=op.strides, padding=op.padding, use_bias=False, name=names[0])(x)
    x = layers.BatchNormalization(axis=-1, scale=style.bn_scale, name=names[1])(x)
    return layers.Activation("relu", name=names[2])(x)


def pool(x, op, style):
    if op.kind == "avg" and op.padding == "same" and style.avg_pool_counts_padding:
        x = layers.ZeroPadding2D(op.size // 2, name=style.names("zero_padding2d"))(x)  # zeros count, as in PyTorch
        return layers.AveragePooling2D(op.size, strides=op.strides, padding=VALID, name=style.names("average_pooling2d"))(x)
    pool_layer = layers.AveragePooling2D if op.kind == "avg" else layers.MaxPooling2D
    name = style.names("average_pooling2d" if op.kind == "avg" else "max_pooling2d")
    return pool_layer((op.size, op.size), strides=(op.strides, op.strides), padding=op.padding, name=name)(x)


def apply(x, op, style, prefix=""):
    if isinstance(op, Conv):
        return conv_bn(x, op, style, prefix)
    if isinstance(op, Pool):
        return pool(x, op, style)
    if isinstance(op, Split):
        outputs = [branch_output(x, branch, style, prefix) for branch in op.branches]
        return layers.concatenate(outputs, axis=-1, name=op.name or style.names("concatenate"))
    raise TypeError(f"unknown op {op!r}")


def branch_output(x, ops, style, prefix=""):
    for op in ops:
        x = apply(x, op, style, prefix)
    return x


def module(x, branches, name, style):
    outputs = [branch_output(x, branch, style, f"{name}_") for branch in branches]
    return layers.concatenate(outputs, axis=-1, name=name)


def convs(ops):
    """The convolutions of a branch, module or stem, in the order the builder creates them."""
    for op in ops:
        if isinstance(op, Conv):
            yield op
        elif isinstance(op, (Split, tuple, list)):
            yield from convs(op.branches if isinstance(op, Split) else op)


def C(filters, kh, kw=None, strides=1, padding="same", name=None):
    return Conv(filters, (kh, kh if kw is None else kw), strides, padding, name)


VALID = "valid"
AVG = Pool("avg")
MAX_REDUCE = Pool("max", strides=2, padding=VALID)

# --- Inception-v3 -------------------------------------------------------------------------------
# Conv names are torchvision's (Inception3 and its InceptionA..E); keras.applications' layout ignores them.

V3_STEM = (
    C(32, 3, strides=2, padding=VALID, name="Conv2d_1a_3x3"), C(32, 3, padding=VALID, name="Conv2d_2a_3x3"),
    C(64, 3, name="Conv2d_2b_3x3"), MAX_REDUCE,
    C(80, 1, padding=VALID, name="Conv2d_3b_1x1"), C(192, 3, padding=VALID, name="Conv2d_4a_3x3"), MAX_REDUCE,
)  # fmt: skip


def v3_module_a(pool_features):  # Fig. 5
    return (
        [C(64, 1, name="branch1x1")],
        [C(48, 1, name="branch5x5_1"), C(64, 5, name="branch5x5_2")],
        [C(64, 1, name="branch3x3dbl_1"), C(96, 3, name="branch3x3dbl_2"), C(96, 3, name="branch3x3dbl_3")],
        [AVG, C(pool_features, 1, name="branch_pool")],
    )


def v3_module_b(width):  # Fig. 6, n = 7
    return (
        [C(192, 1, name="branch1x1")],
        [C(width, 1, name="branch7x7_1"), C(width, 1, 7, name="branch7x7_2"), C(192, 7, 1, name="branch7x7_3")],
        [C(width, 1, name="branch7x7dbl_1"), C(width, 7, 1, name="branch7x7dbl_2"), C(width, 1, 7, name="branch7x7dbl_3"),
         C(width, 7, 1, name="branch7x7dbl_4"), C(192, 1, 7, name="branch7x7dbl_5")],
        [AVG, C(192, 1, name="branch_pool")],
    )  # fmt: skip


def v3_module_c(index):  # Fig. 7
    return (
        [C(320, 1, name="branch1x1")],
        [C(384, 1, name="branch3x3_1"),
         Split(([C(384, 1, 3, name="branch3x3_2a")], [C(384, 3, 1, name="branch3x3_2b")]), name=f"mixed9_{index}")],
        [C(448, 1, name="branch3x3dbl_1"), C(384, 3, name="branch3x3dbl_2"),
         Split(([C(384, 1, 3, name="branch3x3dbl_3a")], [C(384, 3, 1, name="branch3x3dbl_3b")]))],
        [AVG, C(192, 1, name="branch_pool")],
    )  # fmt: skip


V3_REDUCTION_A = (  # Fig. 10
    [C(384, 3, strides=2, padding=VALID, name="branch3x3")],
    [C(64, 1, name="branch3x3dbl_1"), C(96, 3, name="branch3x3dbl_2"),
     C(96, 3, strides=2, padding=VALID, name="branch3x3dbl_3")],
    [MAX_REDUCE],
)  # fmt: skip
V3_REDUCTION_B = (
    [C(192, 1, name="branch3x3_1"), C(320, 3, strides=2, padding=VALID, name="branch3x3_2")],
    [C(192, 1, name="branch7x7x3_1"), C(192, 1, 7, name="branch7x7x3_2"), C(192, 7, 1, name="branch7x7x3_3"),
     C(192, 3, strides=2, padding=VALID, name="branch7x7x3_4")],
    [MAX_REDUCE],
)  # fmt: skip

# (our module name = keras.applications', torchvision's module, branches), in the order of Table 1
V3_MODULES = (
    ("mixed0", "Mixed_5b", v3_module_a(32)), ("mixed1", "Mixed_5c", v3_module_a(64)),
    ("mixed2", "Mixed_5d", v3_module_a(64)),
    ("mixed3", "Mixed_6a", V3_REDUCTION_A),
    ("mixed4", "Mixed_6b", v3_module_b(128)), ("mixed5", "Mixed_6c", v3_module_b(160)),
    ("mixed6", "Mixed_6d", v3_module_b(160)), ("mixed7", "Mixed_6e", v3_module_b(192)),
    ("mixed8", "Mixed_7a", V3_REDUCTION_B),
    ("mixed9", "Mixed_7b", v3_module_c(0)), ("mixed10", "Mixed_7c", v3_module_c(1)),
)  # fmt: skip

V3_CONTRACT = InputContract(default_shape=(299, 299, 3), min_size=75)
V3_STYLES = {"keras": KERAS, "torchvision": TORCHVISION}


def _v3_backbone(style, taps):
    def backbone(x):
        x = branch_output(x, V3_STEM, style)
        for name, _, branches in V3_MODULES:
            x = module(x, branches, name, style)
            taps[name] = x
        return x

    return backbone


V3_AUX_TAP = "mixed7"  # the last 17x17 module (Sec. 4, Fig. 8)
V3_AUX_CONVS = (C(128, 1, padding=VALID, name="conv0"), C(768, 5, padding=VALID, name="conv1"))  # torchvision's names


def v3_auxiliary_head(x, classes, classifier_activation, style):
    """Fig. 8 with BN (Sec. 7, "BN-auxiliary"): 5x5/3 average pool, 1x1 conv 128, 5x5 conv 768, fc."""
    x = layers.AveragePooling2D(5, strides=3, name="aux_pool")(x)
    named = replace(style, named=True, avg_pool_counts_padding=False)  # our names in every layout
    for op in V3_AUX_CONVS:
        x = conv_bn(x, op, named, prefix="aux_")
    x = layers.GlobalAveragePooling2D(name="aux_avg_pool")(x)
    return classifier(x, classes, classifier_activation, name="aux_predictions")


def _build_v3(app_args, variant, aux_logits):
    check_variant("InceptionV3", variant, tuple(V3_STYLES))
    check_aux_logits("InceptionV3", aux_logits, app_args["include_top"])
    style, taps = V3_STYLES[variant].drawing(), {}

    def top(x, classes, classifier_activation):
        main = average_pool_top(x, classes, classifier_activation, dropout=0.5 if variant == "torchvision" else 0.0)
        if not aux_logits:
            return main
        check_aux_input("InceptionV3", taps[V3_AUX_TAP], min_grid=17, min_input=299)  # 5x5/3 pool, then 5x5 conv
        return [main, v3_auxiliary_head(taps[V3_AUX_TAP], classes, classifier_activation, style)]

    return build_application(
        "InceptionV3", contract=V3_CONTRACT, backbone=_v3_backbone(style, taps), top=top,
        weights_key=f"InceptionV3/{variant}", **app_args,
    )  # fmt: skip


InceptionV3 = make_builder(
    "InceptionV3",
    _build_v3,
    options={"variant": "keras", "aux_logits": False},
    doc=__doc__,
    options_doc="        variant: \"keras\" (keras.applications' layout) or \"torchvision\" (BN with gamma, zero-padded\n"
    "            average pools, dropout 0.5, layers named after torchvision's modules; its checkpoint expects\n"
    "            inputs scaled to [-1, 1], as torchvision's `transform_input` does).\n"
    "        aux_logits: add the auxiliary classifier on mixed7 as a second output (training only;\n"
    "            `keras_famous.without_auxiliary_heads(model)` removes it).\n",
)

# --- Inception-v4 -------------------------------------------------------------------------------
# Conv names are timm's paths inside each `features` module; our layer is `{module}_{path with _}`.
# timm follows TF-slim's released network where it differs from the paper's figures (Inception-C's
# 3x1 before 1x3; Mixed_4a's 1x7 before 7x1).

V4_STEM = (  # Fig. 3 up to the first filter concat: timm's features.0..2
    C(32, 3, strides=2, padding=VALID, name="stem_conv1"), C(32, 3, padding=VALID, name="stem_conv2"),
    C(64, 3, name="stem_conv3"),
)  # fmt: skip
V4_MIXED_3A = ([MAX_REDUCE], [C(96, 3, strides=2, padding=VALID, name="conv")])  # 73x73x160
V4_MIXED_4A = (  # 71x71x192
    [C(64, 1, name="branch0.0"), C(96, 3, padding=VALID, name="branch0.1")],
    [C(64, 1, name="branch1.0"), C(64, 1, 7, name="branch1.1"), C(64, 7, 1, name="branch1.2"),
     C(96, 3, padding=VALID, name="branch1.3")],
)  # fmt: skip
V4_MIXED_5A = ([C(192, 3, strides=2, padding=VALID, name="conv")], [MAX_REDUCE])  # 35x35x384
V4_INCEPTION_A = (  # Fig. 4, 35x35x384
    [C(96, 1, name="branch0")],
    [C(64, 1, name="branch1.0"), C(96, 3, name="branch1.1")],
    [C(64, 1, name="branch2.0"), C(96, 3, name="branch2.1"), C(96, 3, name="branch2.2")],
    [AVG, C(96, 1, name="branch3.1")],
)
V4_REDUCTION_A = (  # Fig. 7 with Table 1's k=192, l=224, m=256, n=384: 17x17x1024
    [C(384, 3, strides=2, padding=VALID, name="branch0")],
    [C(192, 1, name="branch1.0"), C(224, 3, name="branch1.1"), C(256, 3, strides=2, padding=VALID, name="branch1.2")],
    [MAX_REDUCE],
)
V4_INCEPTION_B = (  # Fig. 5, 17x17x1024
    [C(384, 1, name="branch0")],
    [C(192, 1, name="branch1.0"), C(224, 1, 7, name="branch1.1"), C(256, 7, 1, name="branch1.2")],
    [C(192, 1, name="branch2.0"), C(192, 7, 1, name="branch2.1"), C(224, 1, 7, name="branch2.2"),
     C(224, 7, 1, name="branch2.3"), C(256, 1, 7, name="branch2.4")],
    [AVG, C(128, 1, name="branch3.1")],
)  # fmt: skip
V4_REDUCTION_B = (  # Fig. 8, 8x8x1536
    [C(192, 1, name="branch0.0"), C(192, 3, strides=2, padding=VALID, name="branch0.1")],
    [C(256, 1, name="branch1.0"), C(256, 1, 7, name="branch1.1"), C(320, 7, 1, name="branch1.2"),
     C(320, 3, strides=2, padding=VALID, name="branch1.3")],
    [MAX_REDUCE],
)  # fmt: skip
V4_INCEPTION_C = (  # Fig. 6, 8x8x1536
    [C(256, 1, name="branch0")],
    [C(384, 1, name="branch1_0"), Split(([C(256, 1, 3, name="branch1_1a")], [C(256, 3, 1, name="branch1_1b")]))],
    [C(384, 1, name="branch2_0"), C(448, 3, 1, name="branch2_1"), C(512, 1, 3, name="branch2_2"),
     Split(([C(256, 1, 3, name="branch2_3a")], [C(256, 3, 1, name="branch2_3b")]))],
    [AVG, C(256, 1, name="branch3.1")],
)  # fmt: skip

# Fig. 9, with TF-slim's module names; timm's `features` index = position + len(V4_STEM)
V4_MODULES = (
    ("mixed_3a", V4_MIXED_3A), ("mixed_4a", V4_MIXED_4A), ("mixed_5a", V4_MIXED_5A),
    *((f"mixed_5{c}", V4_INCEPTION_A) for c in "bcde"),
    ("mixed_6a", V4_REDUCTION_A),
    *((f"mixed_6{c}", V4_INCEPTION_B) for c in "bcdefgh"),
    ("mixed_7a", V4_REDUCTION_B),
    *((f"mixed_7{c}", V4_INCEPTION_C) for c in "bcd"),
)  # fmt: skip


def _v4_backbone(x):
    style = TIMM.drawing()
    x = branch_output(x, V4_STEM, style)
    for name, branches in V4_MODULES:
        x = module(x, branches, name, style)
    return x


def _build_v4(app_args, variant):
    check_variant("InceptionV4", variant, ("timm",))

    def top(x, classes, classifier_activation):  # Fig. 9: average pooling, dropout (keep 0.8), softmax
        return average_pool_top(x, classes, classifier_activation, dropout=0.2)

    return build_application(
        "InceptionV4", contract=V3_CONTRACT, backbone=_v4_backbone, top=top,
        weights_key=f"InceptionV4/{variant}", **app_args,
    )  # fmt: skip


InceptionV4 = make_builder(
    "InceptionV4", _build_v4, options={"variant": "timm"}, doc=__doc__,
    options_doc="        variant: \"timm\" (timm's inception_v4, TF-slim's network: BN with gamma, eps 1e-3).\n",
)  # fmt: skip

# --- Inception-ResNet-v2 ------------------------------------------------------------------------

IRV2_MIXED_5B = ([C(96, 1)], [C(48, 1), C(64, 5)], [C(64, 1), C(96, 3), C(96, 3)], [AVG, C(64, 1)])
IRV2_MIXED_6A = ([C(384, 3, strides=2, padding=VALID)], [C(256, 1), C(256, 3), C(384, 3, strides=2, padding=VALID)], [MAX_REDUCE])  # fmt: skip
IRV2_MIXED_7A = (
    [C(256, 1), C(384, 3, strides=2, padding=VALID)],
    [C(256, 1), C(288, 3, strides=2, padding=VALID)],
    [C(256, 1), C(288, 3), C(320, 3, strides=2, padding=VALID)],
    [MAX_REDUCE],
)
IRV2_BLOCKS = {  # residual branches of Fig. 16, 17, 19
    "block35": ([C(32, 1)], [C(32, 1), C(32, 3)], [C(32, 1), C(48, 3), C(64, 3)]),
    "block17": ([C(192, 1)], [C(128, 1), C(160, 1, 7), C(192, 7, 1)]),
    "block8": ([C(192, 1)], [C(192, 1), C(224, 1, 3), C(256, 3, 1)]),
}
# (block type, repeats, residual scale), between the reductions
IRV2_STAGES = (("block35", 10, 0.17), ("block17", 20, 0.1), ("block8", 10, 0.2))


def inception_resnet_block(x, block_type, index, scale, style, activation="relu"):
    name = f"{block_type}_{index}"
    mixed = module(x, IRV2_BLOCKS[block_type], f"{name}_mixed", style)
    up = layers.Conv2D(x.shape[-1], 1, use_bias=True, name=f"{name}_conv")(mixed)  # linear 1x1 up-projection
    x = ScaledResidual(scale, name=f"{name}_scaled_add")([x, up])
    return layers.Activation(activation, name=f"{name}_ac")(x) if activation else x


def _irv2_backbone(x):
    style = KERAS.drawing()
    x = branch_output(x, V3_STEM, style)
    x = module(x, IRV2_MIXED_5B, "mixed_5b", style)
    for (block_type, repeats, scale), reduction in zip(IRV2_STAGES, (("mixed_6a", IRV2_MIXED_6A), ("mixed_7a", IRV2_MIXED_7A), None)):
        for index in range(1, repeats + 1):
            last = reduction is None and index == repeats  # the final block8: scale 1, no ReLU
            x = inception_resnet_block(x, block_type, index, 1.0 if last else scale, style, None if last else "relu")
        if reduction is not None:
            x = module(x, reduction[1], reduction[0], style)
    x = layers.Conv2D(1536, 1, use_bias=False, name="conv_7b")(x)
    x = layers.BatchNormalization(axis=-1, scale=False, name="conv_7b_bn")(x)
    return layers.Activation("relu", name="conv_7b_ac")(x)


InceptionResNetV2 = fixed_layout_builder(
    "InceptionResNetV2", layout="keras", contract=V3_CONTRACT, backbone=_irv2_backbone, top=average_pool_top,
    doc=__doc__, layout_doc="keras.applications' layout",
)

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
            ),
            # torchvision's checkpoint and its num_params keep the auxiliary head, so the variant does too
            "torchvision": Variant(
                kwargs={"variant": "torchvision", "aux_logits": True},
                references=(Reference("torchvision", "inception_v3", trainable_params=27_161_264, top1=0.77294,
                                      top5=0.93450, accuracy_source="torchvision IMAGENET1K_V1"),),
                note="BN with gamma, auxiliary head included (as torchvision counts)",
            ),
        },  # fmt: skip
    ),
    ModelSpec(
        name="InceptionV4",
        builder=InceptionV4,
        family="inception",
        paper="Szegedy et al., Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning",
        year=2016,
        input_shape=(299, 299, 3),
        default_variant="timm",
        variants={
            "timm": Variant(
                references=(Reference("timm", "inception_v4", trainable_params=42_679_816, top1=0.800, top5=0.950,
                                      accuracy_source="paper, Table 2 (single crop, single model)"),),
                note="TF-slim's network as timm ports it",
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
