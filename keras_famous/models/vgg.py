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
of them (fc1 7*7*512*4096 + 4096 = 102,764,544). `batch_norm=False` is exactly keras.applications'
VGG16/VGG19 graph (layer names, no dropout); `batch_norm=True` is torchvision's vgg*_bn
(conv -> BN -> ReLU, dropout 0.5 after fc1 and fc2).
"""

from keras import layers

from ..applications import InputContract, build_application, make_builder
from ..blocks import batch_norm, fully_connected_top, relu
from ..spec import ModelSpec, Reference, Variant

STAGE_WIDTHS = (64, 128, 256, 512, 512)
CONVS_PER_STAGE = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}

CONTRACT = InputContract(default_shape=(224, 224, 3), min_size=32, flatten_top=True)
BN_EPSILON = 1e-5  # torchvision's BatchNorm2d default


def _backbone(depth, batch_norm_):
    def backbone(x):
        for stage, (width, convs) in enumerate(zip(STAGE_WIDTHS, CONVS_PER_STAGE[depth]), start=1):
            for index in range(1, convs + 1):
                name = f"block{stage}_conv{index}"
                activation = None if batch_norm_ else "relu"
                x = layers.Conv2D(width, 3, padding="same", activation=activation, name=name)(x)
                if batch_norm_:
                    x = batch_norm(x, epsilon=BN_EPSILON, name=f"{name}_bn")
                    x = relu(x, name=f"{name}_relu")
            x = layers.MaxPooling2D(2, strides=2, name=f"block{stage}_pool")(x)
        return x

    return backbone


def _make_builder(depth):
    model_name = f"VGG{depth}"

    def build(app_args, batch_norm, dropout):
        if dropout is None:
            dropout = 0.5 if batch_norm else 0.0

        def top(x, classes, classifier_activation):
            return fully_connected_top(
                x, classes, classifier_activation, hidden_units=(4096, 4096), hidden_names=("fc1", "fc2"),
                dropout=dropout,
            )  # fmt: skip

        return build_application(
            model_name, contract=CONTRACT, backbone=_backbone(depth, bool(batch_norm)), top=top,
            weights_key=f"{model_name}/{'bn' if batch_norm else 'plain'}", **app_args,
        )  # fmt: skip

    return make_builder(
        model_name,
        build,
        options={"batch_norm": False, "dropout": None},
        doc=__doc__,
        options_doc="        batch_norm: False for the paper's / keras.applications' network, True for torchvision's\n"
        + f"            vgg{depth}_bn layout.\n"
        + "        dropout: rate after fc1 and fc2; default 0 without batch_norm (Keras' graph) and 0.5 with\n"
        + "            it (torchvision). The paper trains with 0.5 (Sec. 3.1).\n",
    )


VGG11, VGG13, VGG16, VGG19 = (_make_builder(depth) for depth in (11, 13, 16, 19))

TORCHVISION_ACC = "torchvision IMAGENET1K_V1"
KERAS_ACC = "Keras pretrained table (keras.io/api/applications)"

# Reference counts: keras.applications (VGG16, VGG19) and torchvision's vgg*/vgg*_bn.
REFERENCES = {
    11: (
        (Reference("torchvision", "vgg11", trainable_params=132_863_336, top1=0.6902, top5=0.88628,
                   accuracy_source=TORCHVISION_ACC),),
        (Reference("torchvision", "vgg11_bn", trainable_params=132_868_840, top1=0.7037, top5=0.8981,
                   accuracy_source=TORCHVISION_ACC),),
    ),
    13: (
        (Reference("torchvision", "vgg13", trainable_params=133_047_848, top1=0.69928, top5=0.89246,
                   accuracy_source=TORCHVISION_ACC),),
        (Reference("torchvision", "vgg13_bn", trainable_params=133_053_736, top1=0.71586, top5=0.90374,
                   accuracy_source=TORCHVISION_ACC),),
    ),
    16: (
        (Reference("keras.applications", "VGG16", params=138_357_544, top1=0.713, top5=0.901,
                   accuracy_source=KERAS_ACC),
         Reference("torchvision", "vgg16", trainable_params=138_357_544, top1=0.71592, top5=0.90382,
                   accuracy_source=TORCHVISION_ACC)),
        (Reference("torchvision", "vgg16_bn", trainable_params=138_365_992, top1=0.7336, top5=0.91516,
                   accuracy_source=TORCHVISION_ACC),),
    ),
    19: (
        (Reference("keras.applications", "VGG19", params=143_667_240, top1=0.713, top5=0.900,
                   accuracy_source=KERAS_ACC),
         Reference("torchvision", "vgg19", trainable_params=143_667_240, top1=0.72376, top5=0.90876,
                   accuracy_source=TORCHVISION_ACC)),
        (Reference("torchvision", "vgg19_bn", trainable_params=143_678_248, top1=0.74218, top5=0.91842,
                   accuracy_source=TORCHVISION_ACC),),
    ),
}  # fmt: skip

SPECS = tuple(
    ModelSpec(
        name=f"VGG{depth}",
        builder=builder,
        family="vgg",
        paper="Simonyan & Zisserman, Very Deep Convolutional Networks for Large-Scale Image Recognition",
        year=2014,
        input_shape=(224, 224, 3),
        default_variant="plain",
        variants={
            "plain": Variant(references=REFERENCES[depth][0], note="the paper's network, keras.applications graph"),
            "bn": Variant(kwargs={"batch_norm": True}, references=REFERENCES[depth][1], note="torchvision vgg_bn"),
        },
    )
    for depth, builder in zip((11, 13, 16, 19), (VGG11, VGG13, VGG16, VGG19))
)
