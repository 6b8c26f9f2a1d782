"""Inception-v3: Szegedy et al., "Rethinking the Inception Architecture for Computer Vision" (2015).

Table 1 of the paper, as keras.applications builds it (299x299x3 -> 8x8x2048):

    stem      conv 32 3x3/2, conv 32 3x3, conv 64 3x3, max pool 3x3/2,
              conv 80 1x1, conv 192 3x3, max pool 3x3/2               35x35x192
    3 x A     mixed0..mixed2 (Fig. 5: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | pool-1x1)  35x35x{256,288,288}
    reduce    mixed3 (Fig. 10)                                         17x17x768
    4 x B     mixed4..mixed7 (Fig. 6, n = 7 factorised into 1x7 and 7x1)  17x17x768
    reduce    mixed8                                                   8x8x1280
    2 x C     mixed9, mixed10 (Fig. 7: split 1x3 and 3x1 branches)     8x8x2048
    average pool, 1000-d fc                                             23,851,784 parameters

Each convolution is conv (no bias) -> BatchNormalization -> ReLU. `variant="keras"` is keras.applications'
graph (BN without gamma, its fresh-session layer names "conv2d", "conv2d_1", ...); `variant="torchvision"`
is torchvision's inception_v3 (BN with gamma, zero-padded average pools, dropout 0.5, layers named after
its modules: "mixed0_branch5x5_1").
"""

from dataclasses import replace

from keras import layers

from ..applications import (
    application_doc,
    build_application,
    check_aux_input,
    check_aux_logits,
    min_input_size,
)
from ..blocks import average_pool_top, prediction_layer
from ..spec import InputContract, Reference, Variant, declare
from .inception_ops import (
    AVERAGE_POOL,
    KERAS_LAYOUT,
    MAX_POOL_REDUCE,
    TORCHVISION_LAYOUT,
    VALID,
    Split,
    branch_side,
    checkpoint_layer_name,
    conv,
    conv_bn_torch_names,
    draw_branch,
    draw_conv_bn,
    inception_module,
    module_side,
)

# Conv names are torchvision's (Inception3 and its InceptionA..E); keras.applications' layout ignores them.

STEM = (
    conv(32, 3, strides=2, padding=VALID, name="Conv2d_1a_3x3"), conv(32, 3, padding=VALID, name="Conv2d_2a_3x3"),
    conv(64, 3, name="Conv2d_2b_3x3"), MAX_POOL_REDUCE,
    conv(80, 1, padding=VALID, name="Conv2d_3b_1x1"), conv(192, 3, padding=VALID, name="Conv2d_4a_3x3"),
    MAX_POOL_REDUCE,
)  # fmt: skip


def module_a(pool_features):  # Fig. 5
    return (
        [conv(64, 1, name="branch1x1")],
        [conv(48, 1, name="branch5x5_1"), conv(64, 5, name="branch5x5_2")],
        [conv(64, 1, name="branch3x3dbl_1"), conv(96, 3, name="branch3x3dbl_2"), conv(96, 3, name="branch3x3dbl_3")],
        [AVERAGE_POOL, conv(pool_features, 1, name="branch_pool")],
    )


def module_b(width):  # Fig. 6, n = 7
    return (
        [conv(192, 1, name="branch1x1")],
        [
            conv(width, 1, name="branch7x7_1"),
            conv(width, 1, 7, name="branch7x7_2"),
            conv(192, 7, 1, name="branch7x7_3"),
        ],
        [
            conv(width, 1, name="branch7x7dbl_1"),
            conv(width, 7, 1, name="branch7x7dbl_2"),
            conv(width, 1, 7, name="branch7x7dbl_3"),
            conv(width, 7, 1, name="branch7x7dbl_4"),
            conv(192, 1, 7, name="branch7x7dbl_5"),
        ],
        [AVERAGE_POOL, conv(192, 1, name="branch_pool")],
    )


def module_c(index):  # Fig. 7; keras.applications names the first split `mixed9_{index}`
    return (
        [conv(320, 1, name="branch1x1")],
        [
            conv(384, 1, name="branch3x3_1"),
            Split(
                ([conv(384, 1, 3, name="branch3x3_2a")], [conv(384, 3, 1, name="branch3x3_2b")]), name=f"mixed9_{index}"
            ),
        ],
        [
            conv(448, 1, name="branch3x3dbl_1"),
            conv(384, 3, name="branch3x3dbl_2"),
            Split(([conv(384, 1, 3, name="branch3x3dbl_3a")], [conv(384, 3, 1, name="branch3x3dbl_3b")])),
        ],
        [AVERAGE_POOL, conv(192, 1, name="branch_pool")],
    )


REDUCTION_A = (  # Fig. 10
    [conv(384, 3, strides=2, padding=VALID, name="branch3x3")],
    [conv(64, 1, name="branch3x3dbl_1"), conv(96, 3, name="branch3x3dbl_2"),
     conv(96, 3, strides=2, padding=VALID, name="branch3x3dbl_3")],
    [MAX_POOL_REDUCE],
)  # fmt: skip
REDUCTION_B = (
    [conv(192, 1, name="branch3x3_1"), conv(320, 3, strides=2, padding=VALID, name="branch3x3_2")],
    [conv(192, 1, name="branch7x7x3_1"), conv(192, 1, 7, name="branch7x7x3_2"), conv(192, 7, 1, name="branch7x7x3_3"),
     conv(192, 3, strides=2, padding=VALID, name="branch7x7x3_4")],
    [MAX_POOL_REDUCE],
)  # fmt: skip

# (our module name = keras.applications', torchvision's module, branches), in the order of Table 1
MODULES = (
    ("mixed0", "Mixed_5b", module_a(32)), ("mixed1", "Mixed_5c", module_a(64)),
    ("mixed2", "Mixed_5d", module_a(64)),
    ("mixed3", "Mixed_6a", REDUCTION_A),
    ("mixed4", "Mixed_6b", module_b(128)), ("mixed5", "Mixed_6c", module_b(160)),
    ("mixed6", "Mixed_6d", module_b(160)), ("mixed7", "Mixed_6e", module_b(192)),
    ("mixed8", "Mixed_7a", REDUCTION_B),
    ("mixed9", "Mixed_7b", module_c(0)), ("mixed10", "Mixed_7c", module_c(1)),
)  # fmt: skip

AUX_TAP = "mixed7"  # the last 17x17 module (Sec. 4, Fig. 8)
AUX_PREFIX = "aux_"
AUX_CONVS = (conv(128, 1, padding=VALID, name="conv0"), conv(768, 5, padding=VALID, name="conv1"))  # torchvision's
HEAD_LAYERS = (
    "predictions", f"{AUX_PREFIX}predictions",
    *(name for op in AUX_CONVS for name in (checkpoint_layer_name(AUX_PREFIX, op),
                                            f"{checkpoint_layer_name(AUX_PREFIX, op)}_bn")),
)  # fmt: skip
LAYOUTS = {"keras": KERAS_LAYOUT, "torchvision": TORCHVISION_LAYOUT}


def feature_side(side):
    """The side of the last feature map for an input side."""
    side = branch_side(side, STEM)
    for _, _, branches in MODULES:
        side = module_side(side, branches)
    return side


CONTRACT = InputContract(default_shape=(299, 299, 3), min_size=min_input_size(feature_side, 299))


def _backbone(layout, taps):
    def backbone(x):
        x = draw_branch(x, STEM, layout)
        for name, _, branches in MODULES:
            x = inception_module(x, branches, name, layout)
            taps[name] = x
        return x

    return backbone


def auxiliary_head(x, classes, classifier_activation, layout):
    """Fig. 8 with BN (Sec. 7, "BN-auxiliary"): 5x5/3 average pool, 1x1 conv 128, 5x5 conv 768, fc."""
    x = layers.AveragePooling2D(5, strides=3, name=f"{AUX_PREFIX}pool")(x)
    named = replace(layout, checkpoint_names=True, pytorch_average_pools=False)  # our names in every layout
    for op in AUX_CONVS:
        x = draw_conv_bn(x, op, named, prefix=AUX_PREFIX)
    x = layers.GlobalAveragePooling2D(name=f"{AUX_PREFIX}avg_pool")(x)
    return prediction_layer(x, classes, classifier_activation, name=f"{AUX_PREFIX}predictions")


def _inception_v3(model_name, *, variant, aux_logits, **keras_args):
    spec = SPEC_OF[model_name]
    variant, _ = spec.variant(variant)
    check_aux_logits(model_name, aux_logits, keras_args["include_top"])
    layout, taps = LAYOUTS[variant].for_one_build(), {}

    def top(x, classes, classifier_activation):
        main = average_pool_top(x, classes, classifier_activation, dropout=0.5 if variant == "torchvision" else 0.0)
        if not aux_logits:
            return main
        check_aux_input(model_name, taps[AUX_TAP], min_grid=17, min_input=299)  # 5x5/3 pool, then 5x5 conv
        return [main, auxiliary_head(taps[AUX_TAP], classes, classifier_activation, layout)]

    return build_application(spec, variant, backbone=_backbone(layout, taps), top=top, **keras_args)


OPTIONS_DOC = """        variant: "keras" (keras.applications' layout) or "torchvision" (BN with gamma, zero-padded
            average pools, dropout 0.5, layers named after torchvision's modules; its checkpoint expects
            inputs scaled to [-1, 1], as torchvision's `transform_input` does).
        aux_logits: add the auxiliary classifier on mixed7 as a second output (training only;
            `keras_famous.without_auxiliary_heads(model)` removes it).
"""


@application_doc(__doc__, OPTIONS_DOC)
def InceptionV3(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
                classifier_activation="softmax", name=None, *, variant="keras", include_preprocessing=False, aux_logits=False):  # fmt: skip
    return _inception_v3("InceptionV3", **locals())


def torchvision_names():
    """torchvision's Inception3: the stem BasicConv2ds, Mixed_5b..Mixed_7c, AuxLogits, fc."""
    names = conv_bn_torch_names("", "", STEM)
    for name, torchvision_name, branches in MODULES:
        names += conv_bn_torch_names(f"{torchvision_name}.", f"{name}_", branches)
    names += conv_bn_torch_names("AuxLogits.", AUX_PREFIX, AUX_CONVS)
    return (*names, (r"AuxLogits\.fc", f"{AUX_PREFIX}predictions"), (r"fc", "predictions"))


KERAS_REFERENCE = Reference(
    "keras.applications", "InceptionV3", params=23_851_784, top1=0.779, top5=0.937,
    accuracy_source="Keras pretrained table (keras.io/api/applications)",
)  # fmt: skip
TORCHVISION_REFERENCE = Reference(
    "torchvision", "inception_v3", trainable_params=27_161_264, top1=0.77294, top5=0.93450,
    accuracy_source="torchvision IMAGENET1K_V1",
)  # fmt: skip

SPECS = (
    declare(
        "InceptionV3",
        InceptionV3,
        family="inception",
        paper="Szegedy et al., Rethinking the Inception Architecture for Computer Vision",
        year=2015,
        contract=CONTRACT,
        head_layers=HEAD_LAYERS,
        variants={
            "keras": Variant(
                references=(KERAS_REFERENCE,),
                preprocessing="tf",
            ),
            # torchvision's checkpoint and its num_params keep the auxiliary head, so the variant does too
            "torchvision": Variant(
                kwargs={"variant": "torchvision", "aux_logits": True},
                references=(TORCHVISION_REFERENCE,),
                note="BN with gamma, auxiliary head included (as torchvision counts)",
                preprocessing="tf",  # ported from TensorFlow: [-1, 1] inputs (torchvision's transform_input)
                torch_names=torchvision_names(),
            ),
        },
    ),
)
SPEC_OF = {spec.name: spec for spec in SPECS}

__all__ = ["InceptionV3"]
