"""Inception-v4: Szegedy et al., "Inception-v4, Inception-ResNet and the Impact of Residual Connections on
Learning" (2016).

Fig. 9 of the paper, in timm's / TF-slim's layout (299x299 -> 8x8x1536):

    stem      conv 32 3x3/2, conv 32 3x3, conv 64 3x3; mixed_3a (max pool | conv 96 3x3/2)    73x73x160
              mixed_4a (64-96 3x3 | 64-64 1x7-64 7x1-96 3x3); mixed_5a (conv 192 /2 | max pool)  35x35x384
    4 x A     mixed_5b..e (Fig. 4: 96 | 64-96 | 64-96-96 | avg pool-96)                  35x35x384
    reduce    mixed_6a (Fig. 7, k=192, l=224, m=256, n=384)                              17x17x1024
    7 x B     mixed_6b..h (Fig. 5: 384 | 192-224-256 | 192-192-224-224-256 | pool-128)   17x17x1024
    reduce    mixed_7a (Fig. 8)                                                          8x8x1536
    3 x C     mixed_7b..d (Fig. 6: 256 | 384-(256,256) | 384-448-512-(256,256) | pool-256) 8x8x1536
    average pool, dropout 0.2, 1000-d fc              42,679,816 trainable parameters (as timm's)

Each convolution is conv (no bias) -> BatchNormalization (with gamma, eps 1e-3) -> ReLU, named
`{module}_{timm's path}` ("mixed_5b_branch1_0"), so timm's checkpoint maps by name.
"""

from ..applications import application_doc, build_application, min_input_size
from ..blocks import average_pool_top
from ..spec import InputContract, Reference, Variant, declare
from .inception_ops import (
    AVERAGE_POOL,
    MAX_POOL_REDUCE,
    TIMM_LAYOUT,
    VALID,
    Split,
    branch_side,
    conv,
    conv_bn_torch_names,
    draw_branch,
    inception_module,
    module_side,
)

# Conv names are timm's paths inside each `features` module; our layer is `{module}_{path with _}`.
# timm follows TF-slim's released network where it differs from the paper's figures (Inception-C's
# 3x1 before 1x3; Mixed_4a's 1x7 before 7x1).

STEM = (  # Fig. 3 up to the first filter concat: timm's features.0..2
    conv(32, 3, strides=2, padding=VALID, name="stem_conv1"), conv(32, 3, padding=VALID, name="stem_conv2"),
    conv(64, 3, name="stem_conv3"),
)  # fmt: skip
MIXED_3A = ([MAX_POOL_REDUCE], [conv(96, 3, strides=2, padding=VALID, name="conv")])  # 73x73x160
MIXED_4A = (  # 71x71x192
    [conv(64, 1, name="branch0.0"), conv(96, 3, padding=VALID, name="branch0.1")],
    [conv(64, 1, name="branch1.0"), conv(64, 1, 7, name="branch1.1"), conv(64, 7, 1, name="branch1.2"),
     conv(96, 3, padding=VALID, name="branch1.3")],
)  # fmt: skip
MIXED_5A = ([conv(192, 3, strides=2, padding=VALID, name="conv")], [MAX_POOL_REDUCE])  # 35x35x384
INCEPTION_A = (  # Fig. 4, 35x35x384
    [conv(96, 1, name="branch0")],
    [conv(64, 1, name="branch1.0"), conv(96, 3, name="branch1.1")],
    [conv(64, 1, name="branch2.0"), conv(96, 3, name="branch2.1"), conv(96, 3, name="branch2.2")],
    [AVERAGE_POOL, conv(96, 1, name="branch3.1")],
)
REDUCTION_A = (  # Fig. 7 with Table 1's k=192, l=224, m=256, n=384: 17x17x1024
    [conv(384, 3, strides=2, padding=VALID, name="branch0")],
    [conv(192, 1, name="branch1.0"), conv(224, 3, name="branch1.1"),
     conv(256, 3, strides=2, padding=VALID, name="branch1.2")],
    [MAX_POOL_REDUCE],
)  # fmt: skip
INCEPTION_B = (  # Fig. 5, 17x17x1024
    [conv(384, 1, name="branch0")],
    [conv(192, 1, name="branch1.0"), conv(224, 1, 7, name="branch1.1"), conv(256, 7, 1, name="branch1.2")],
    [conv(192, 1, name="branch2.0"), conv(192, 7, 1, name="branch2.1"), conv(224, 1, 7, name="branch2.2"),
     conv(224, 7, 1, name="branch2.3"), conv(256, 1, 7, name="branch2.4")],
    [AVERAGE_POOL, conv(128, 1, name="branch3.1")],
)  # fmt: skip
REDUCTION_B = (  # Fig. 8, 8x8x1536
    [conv(192, 1, name="branch0.0"), conv(192, 3, strides=2, padding=VALID, name="branch0.1")],
    [conv(256, 1, name="branch1.0"), conv(256, 1, 7, name="branch1.1"), conv(320, 7, 1, name="branch1.2"),
     conv(320, 3, strides=2, padding=VALID, name="branch1.3")],
    [MAX_POOL_REDUCE],
)  # fmt: skip
INCEPTION_C = (  # Fig. 6, 8x8x1536
    [conv(256, 1, name="branch0")],
    [conv(384, 1, name="branch1_0"),
     Split(([conv(256, 1, 3, name="branch1_1a")], [conv(256, 3, 1, name="branch1_1b")]))],
    [conv(384, 1, name="branch2_0"), conv(448, 3, 1, name="branch2_1"), conv(512, 1, 3, name="branch2_2"),
     Split(([conv(256, 1, 3, name="branch2_3a")], [conv(256, 3, 1, name="branch2_3b")]))],
    [AVERAGE_POOL, conv(256, 1, name="branch3.1")],
)  # fmt: skip

# Fig. 9, with TF-slim's module names; timm's `features` index = position + len(STEM)
MODULES = (
    ("mixed_3a", MIXED_3A), ("mixed_4a", MIXED_4A), ("mixed_5a", MIXED_5A),
    *((f"mixed_5{c}", INCEPTION_A) for c in "bcde"),
    ("mixed_6a", REDUCTION_A),
    *((f"mixed_6{c}", INCEPTION_B) for c in "bcdefgh"),
    ("mixed_7a", REDUCTION_B),
    *((f"mixed_7{c}", INCEPTION_C) for c in "bcd"),
)  # fmt: skip


def feature_side(side):
    """The side of the last feature map for an input side."""
    side = branch_side(side, STEM)
    for _, branches in MODULES:
        side = module_side(side, branches)
    return side


CONTRACT = InputContract(default_shape=(299, 299, 3), min_size=min_input_size(feature_side, 299))
HEAD_LAYERS = ("predictions",)


def _backbone(x):
    layout = TIMM_LAYOUT.for_one_build()
    x = draw_branch(x, STEM, layout)
    for name, branches in MODULES:
        x = inception_module(x, branches, name, layout)
    return x


def _top(x, classes, classifier_activation):  # Fig. 9: average pooling, dropout (keep 0.8), softmax
    return average_pool_top(x, classes, classifier_activation, dropout=0.2)


def _inception_v4(model_name, *, variant, **keras_args):
    spec = SPEC_OF[model_name]
    variant, _ = spec.variant(variant)
    return build_application(spec, variant, backbone=_backbone, top=_top, **keras_args)


OPTIONS_DOC = """        variant: "timm" (timm's inception_v4, TF-slim's network: BN with gamma, eps 1e-3).
"""


@application_doc(__doc__, OPTIONS_DOC)
def InceptionV4(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
                classifier_activation="softmax", name=None, *, variant="timm", include_preprocessing=False):  # fmt: skip
    return _inception_v4("InceptionV4", **locals())


def timm_names():
    """timm's inception_v4: `features.0..2` the stem convolutions, then one index per module."""
    names = ()
    for index, op in enumerate(STEM):
        names += ((rf"features\.{index}\.conv", op.name), (rf"features\.{index}\.bn", f"{op.name}_bn"))
    for index, (name, branches) in enumerate(MODULES, start=len(STEM)):
        names += conv_bn_torch_names(f"features.{index}.", f"{name}_", branches)
    return (*names, (r"last_linear", "predictions"))


TIMM_REFERENCE = Reference(
    "timm", "inception_v4", trainable_params=42_679_816, top1=0.800, top5=0.950,
    accuracy_source="paper, Table 2 (single crop, single model)",
)  # fmt: skip

SPECS = (
    declare(
        "InceptionV4",
        InceptionV4,
        family="inception",
        paper="Szegedy et al., Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning",
        year=2016,
        contract=CONTRACT,
        head_layers=HEAD_LAYERS,
        variants={
            "timm": Variant(
                references=(TIMM_REFERENCE,),
                note="TF-slim's network as timm ports it",
                preprocessing="tf",
                torch_names=timm_names(),
            )
        },
    ),
)
SPEC_OF = {spec.name: spec for spec in SPECS}

__all__ = ["InceptionV4"]
