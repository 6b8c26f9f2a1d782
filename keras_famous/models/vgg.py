"""VGG: Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition" (2014).

Table 1 of the paper, as 3x3 convolutions per block (each block ends in a 2x2/2 max pool):

    block      widths   A (VGG11)  B (VGG13)  D (VGG16)  E (VGG19)
    block1       64         1          2          2          2
    block2      128         1          2          2          2
    block3      256         2          2          3          4
    block4      512         2          2          3          4
    block5      512         2          2          3          4
    fc1 4096, fc2 4096, predictions 1000

VGG16 at 224x224: 13 convolutions + 3 FC = 138,357,544 parameters; the FC layers hold 123,642,856
of them (fc1 7*7*512*4096 + 4096 = 102,764,544). `variant="plain"` is exactly keras.applications'
VGG16/VGG19 graph (layer names, no dropout); `variant="bn"` is torchvision's vgg*_bn
(conv -> BN -> ReLU, dropout 0.5 after fc1 and fc2).
"""

from keras import layers

from ..arguments import setting
from ..applications import application_doc, build_application, check_bool, check_rate
from ..blocks import batch_norm, fully_connected_top, relu
from ..spec import InputContract, Reference, Variant, declare

STAGE_WIDTHS = (64, 128, 256, 512, 512)
CONVS_PER_STAGE = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}

CONTRACT = InputContract(default_shape=(224, 224, 3), min_size=32, flatten_top=True)
BN_EPSILON = 1e-5  # torchvision's BatchNorm2d default
HEAD_LAYERS = ("fc1", "fc2", "predictions")


def _backbone(depth, with_batch_norm):
    def backbone(x):
        for stage, (width, convs) in enumerate(zip(STAGE_WIDTHS, CONVS_PER_STAGE[depth]), start=1):
            for index in range(1, convs + 1):
                name = f"block{stage}_conv{index}"
                activation = None if with_batch_norm else "relu"
                x = layers.Conv2D(width, 3, padding="same", activation=activation, name=name)(x)
                if with_batch_norm:
                    x = batch_norm(x, epsilon=BN_EPSILON, name=f"{name}_bn")
                    x = relu(x, name=f"{name}_relu")
            x = layers.MaxPooling2D(2, strides=2, name=f"block{stage}_pool")(x)
        return x

    return backbone


def _vgg(model_name, *, variant, batch_norm, dropout, **keras_args):
    if batch_norm is not None:  # the older spelling of the variant
        check_bool(model_name, "batch_norm", batch_norm)
        implied = "bn" if batch_norm else "plain"
        if variant not in (None, "plain", implied):
            raise ValueError(
                f"`batch_norm={batch_norm}` and `variant={variant!r}` disagree for {model_name}; pass only "
                f"{setting('variant', 'plain')} or {setting('variant', 'bn')}."
            )
        variant = implied
    variant, _ = SPEC_OF[model_name].variant(variant)
    with_batch_norm = variant == "bn"
    dropout = (0.5 if with_batch_norm else 0.0) if dropout is None else check_rate(model_name, "dropout", dropout)

    def top(x, classes, classifier_activation):
        return fully_connected_top(
            x,
            classes,
            classifier_activation,
            hidden_units=(4096, 4096),
            hidden_names=("fc1", "fc2"),
            dropout=dropout,
        )

    return build_application(
        SPEC_OF[model_name], variant, backbone=_backbone(int(model_name[3:]), with_batch_norm), top=top, **keras_args
    )


OPTIONS_DOC = """        variant: "plain" (the paper's / keras.applications' network) or "bn" (torchvision's vgg*_bn:
            BatchNormalization after every convolution).
        batch_norm: the older spelling of `variant`: True means "bn"; leave it None.
        dropout: rate after fc1 and fc2; default 0 for "plain" (Keras' graph) and 0.5 for "bn"
            (torchvision). The paper trains with 0.5 (Sec. 3.1).
"""


@application_doc(__doc__, OPTIONS_DOC)
def VGG11(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax", name=None, *, variant="plain", include_preprocessing=False, batch_norm=None, dropout=None):  # fmt: skip
    return _vgg("VGG11", **locals())


@application_doc(__doc__, OPTIONS_DOC)
def VGG13(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax", name=None, *, variant="plain", include_preprocessing=False, batch_norm=None, dropout=None):  # fmt: skip
    return _vgg("VGG13", **locals())


@application_doc(__doc__, OPTIONS_DOC)
def VGG16(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax", name=None, *, variant="plain", include_preprocessing=False, batch_norm=None, dropout=None):  # fmt: skip
    return _vgg("VGG16", **locals())


@application_doc(__doc__, OPTIONS_DOC)
def VGG19(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax", name=None, *, variant="plain", include_preprocessing=False, batch_norm=None, dropout=None):  # fmt: skip
    return _vgg("VGG19", **locals())


def torch_names(depth, with_batch_norm):
    """torchvision numbers `features` by position: conv, [bn], relu per convolution, a pool per block."""
    names, index = [], 0
    for stage, convs in enumerate(CONVS_PER_STAGE[depth], start=1):
        for conv in range(1, convs + 1):
            names.append((rf"features\.{index}", f"block{stage}_conv{conv}"))
            if with_batch_norm:
                names.append((rf"features\.{index + 1}", f"block{stage}_conv{conv}_bn"))
            index += 3 if with_batch_norm else 2
        index += 1
    return (*names, (r"classifier\.0", "fc1"), (r"classifier\.3", "fc2"), (r"classifier\.6", "predictions"))


TORCHVISION_ACC = "torchvision IMAGENET1K_V1"
KERAS_ACC = "Keras pretrained table (keras.io/api/applications)"


def _torchvision(model, trainable_params, top1, top5):
    return Reference(
        "torchvision", model, trainable_params=trainable_params, top1=top1, top5=top5, accuracy_source=TORCHVISION_ACC
    )


def _keras(model, params, top1, top5):
    return Reference("keras.applications", model, params=params, top1=top1, top5=top5, accuracy_source=KERAS_ACC)


# depth: (references of "plain", references of "bn"); the first reference's count is the one to match
REFERENCES = {
    11: ((_torchvision("vgg11", 132_863_336, 0.6902, 0.88628),),
         (_torchvision("vgg11_bn", 132_868_840, 0.7037, 0.8981),)),
    13: ((_torchvision("vgg13", 133_047_848, 0.69928, 0.89246),),
         (_torchvision("vgg13_bn", 133_053_736, 0.71586, 0.90374),)),
    16: ((_keras("VGG16", 138_357_544, 0.713, 0.901), _torchvision("vgg16", 138_357_544, 0.71592, 0.90382)),
         (_torchvision("vgg16_bn", 138_365_992, 0.7336, 0.91516),)),
    19: ((_keras("VGG19", 143_667_240, 0.713, 0.900), _torchvision("vgg19", 143_667_240, 0.72376, 0.90876)),
         (_torchvision("vgg19_bn", 143_678_248, 0.74218, 0.91842),)),
}  # fmt: skip

# keras.applications' VGG16/19 weights are Caffe's (caffe mode); VGG11/13 "plain" come from torchvision only
PLAIN_PREPROCESSING = {11: "torch", 13: "torch", 16: "caffe", 19: "caffe"}

SPECS = tuple(
    declare(
        f"VGG{depth}",
        builder,
        family="vgg",
        paper="Simonyan & Zisserman, Very Deep Convolutional Networks for Large-Scale Image Recognition",
        year=2014,
        contract=CONTRACT,
        head_layers=HEAD_LAYERS,
        variants={
            "plain": Variant(
                references=REFERENCES[depth][0],
                note="the paper's network, keras.applications graph",
                preprocessing=PLAIN_PREPROCESSING[depth],
                torch_names=torch_names(depth, False),
            ),
            "bn": Variant(
                kwargs={"variant": "bn"},
                references=REFERENCES[depth][1],
                note="torchvision vgg_bn",
                preprocessing="torch",
                torch_names=torch_names(depth, True),
            ),
        },
    )
    for depth, builder in zip((11, 13, 16, 19), (VGG11, VGG13, VGG16, VGG19))
)
SPEC_OF = {spec.name: spec for spec in SPECS}

__all__ = ["VGG11", "VGG13", "VGG16", "VGG19"]
