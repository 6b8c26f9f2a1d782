"""DenseNet: Huang, Liu, van der Maaten, Weinberger, "Densely Connected Convolutional Networks" (2016).

Table 1 of the paper (ImageNet, growth rate k = 32, DenseNet-BC: 1x1 bottleneck of 4k channels,
compression 0.5 in the transitions):

    layer               output     121        169        201
    conv, max pool      56x56      7x7 conv 64 /2, 3x3 max pool /2
    dense block (1)     56x56      x6         x6         x6        [BN-ReLU-1x1 conv 4k, BN-ReLU-3x3 conv k]
    transition (1)      28x28      BN-ReLU-1x1 conv (compression 0.5), 2x2 average pool /2
    dense block (2)     28x28      x12        x12        x12
    transition (2)      14x14
    dense block (3)     14x14      x24        x32        x48
    transition (3)      7x7
    dense block (4)     7x7        x16        x32        x32
    classification      BN-ReLU, global average pool, 1000-d fc
                                   8,062,504  14,307,880 20,242,984 parameters (keras.applications)

CIFAR DenseNet-BC (Sec. 3, Table 2): a 3x3 convolution of 2k channels, three dense blocks of
(L - 4) / 6 bottleneck layers with transitions between them, global average pooling, fc:

    L=100, k=12: 3 x 16 layers            769,162 parameters (CIFAR-10; paper: 0.8M)
    L=250, k=24: 3 x 41 layers            15.3M
    L=190, k=40: 3 x 31 layers            25.6M

Layer names are keras.applications' (`conv2_block1_0_bn` ...), so Keras weight files load by name.
"""

from keras import layers

from ..applications import InputContract, build_application, check_variant, make_builder
from ..blocks import average_pool_top, batch_norm, relu
from ..spec import ModelSpec, Reference, Variant

IMAGENET_BLOCKS = {121: (6, 12, 24, 16), 169: (6, 12, 32, 32), 201: (6, 12, 48, 32)}
BN_EPSILON = {"keras": 1.001e-5, "torchvision": 1e-5}
BOTTLENECK_FACTOR = 4  # the 1x1 bottleneck has 4k channels (Sec. 3, "Bottleneck layers")


def dense_layer(x, growth_rate, bottleneck, epsilon, name):
    y = relu(batch_norm(x, epsilon=epsilon, name=f"{name}_0_bn"), name=f"{name}_0_relu")
    if bottleneck:
        y = layers.Conv2D(BOTTLENECK_FACTOR * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(y)
        y = relu(batch_norm(y, epsilon=epsilon, name=f"{name}_1_bn"), name=f"{name}_1_relu")
    y = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    return layers.Concatenate(axis=-1, name=f"{name}_concat")([x, y])


def transition(x, compression, epsilon, name):
    x = relu(batch_norm(x, epsilon=epsilon, name=f"{name}_bn"), name=f"{name}_relu")
    x = layers.Conv2D(int(x.shape[-1] * compression), 1, use_bias=False, name=f"{name}_conv")(x)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def densenet_backbone(blocks, growth_rate, compression, bottleneck, stem, epsilon):
    def backbone(x):
        if stem == "imagenet":
            x = layers.ZeroPadding2D(3, name="conv1_pad")(x)
            x = layers.Conv2D(2 * growth_rate, 7, strides=2, use_bias=False, name="conv1_conv")(x)
            x = relu(batch_norm(x, epsilon=epsilon, name="conv1_bn"), name="conv1_relu")
            x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
            x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
        else:  # CIFAR: one 3x3 convolution, 2k channels for DenseNet-BC, 16 otherwise
            width = 2 * growth_rate if (bottleneck and compression < 1) else 16
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, name="conv1_conv")(x)
        for stage, repeats in enumerate(blocks):
            for index in range(repeats):
                x = dense_layer(x, growth_rate, bottleneck, epsilon, name=f"conv{stage + 2}_block{index + 1}")
            if stage < len(blocks) - 1:
                x = transition(x, compression, epsilon, name=f"pool{stage + 2}")
        return relu(batch_norm(x, epsilon=epsilon, name="bn"), name="relu")

    return backbone


def _build(model_name, app_args, *, blocks, growth_rate, compression, bottleneck, stem, epsilon, weights_key):
    if stem not in ("imagenet", "cifar"):
        raise ValueError(f"`stem` must be 'imagenet' or 'cifar' for {model_name}; received stem={stem!r}.")
    if not blocks or any(int(b) < 1 for b in blocks):
        raise ValueError(f"`blocks` must list positive layer counts per dense block; received blocks={blocks!r}.")
    if not 0 < compression <= 1:
        raise ValueError(f"`compression` must be in (0, 1]; received compression={compression!r}.")
    downsamplings = len(blocks) - 1 + (2 if stem == "imagenet" else 0)
    default = (224, 224, 3) if stem == "imagenet" else (32, 32, 3)
    contract = InputContract(default_shape=default, min_size=max(2**downsamplings, 1) if stem == "cifar" else 32)
    return build_application(
        model_name, contract=contract,
        backbone=densenet_backbone(tuple(blocks), growth_rate, compression, bottleneck, stem, epsilon),
        top=average_pool_top, weights_key=weights_key, **app_args,
    )  # fmt: skip


def _imagenet_builder(depth):
    name = f"DenseNet{depth}"

    def build(app_args, variant):
        check_variant(name, variant, tuple(BN_EPSILON))
        return _build(
            name, app_args, blocks=IMAGENET_BLOCKS[depth], growth_rate=32, compression=0.5, bottleneck=True,
            stem="imagenet", epsilon=BN_EPSILON[variant], weights_key=f"{name}/{variant}",
        )  # fmt: skip

    return make_builder(
        name, build, options={"variant": "keras"}, doc=__doc__,
        options_doc='        variant: "keras" (BN epsilon 1.001e-5) or "torchvision" (1e-5); same weights.\n',
    )  # fmt: skip


DenseNet121, DenseNet169, DenseNet201 = (_imagenet_builder(depth) for depth in (121, 169, 201))


def _build_generic(app_args, blocks, growth_rate, compression, bottleneck, stem):
    return _build(
        "DenseNet", app_args, blocks=blocks, growth_rate=growth_rate, compression=compression,
        bottleneck=bottleneck, stem=stem, epsilon=1e-5, weights_key="DenseNet/custom",
    )  # fmt: skip


DenseNet = make_builder(
    "DenseNet",
    _build_generic,
    options={"blocks": (16, 16, 16), "growth_rate": 12, "compression": 0.5, "bottleneck": True, "stem": "cifar"},
    default_classes=10,
    doc=__doc__,
    options_doc="        blocks: layers per dense block, e.g. (16, 16, 16) for DenseNet-BC L=100.\n"
    "        growth_rate: k, the channels each layer adds.\n"
    "        compression: theta, the fraction of channels a transition keeps (1 = no compression).\n"
    "        bottleneck: the 1x1 conv of 4k channels before each 3x3 (the B of DenseNet-BC).\n"
    '        stem: "cifar" (one 3x3 conv) or "imagenet" (7x7/2 conv and 3x3/2 max pool).\n',
)

# DenseNet-BC for CIFAR (Table 2): depth L -> (L - 4) / 6 bottleneck layers in each of 3 blocks
CIFAR_BC = {"L100_k12": (100, 12), "L250_k24": (250, 24), "L190_k40": (190, 40)}


def _build_bc(app_args, variant):
    check_variant("DenseNetBC", variant, tuple(CIFAR_BC))
    depth, growth_rate = CIFAR_BC[variant]
    layers_per_block = (depth - 4) // 6
    return _build(
        "DenseNetBC", app_args, blocks=(layers_per_block,) * 3, growth_rate=growth_rate, compression=0.5,
        bottleneck=True, stem="cifar", epsilon=1e-5, weights_key=f"DenseNetBC/{variant}",
    )  # fmt: skip


DenseNetBC = make_builder(
    "DenseNetBC", _build_bc, options={"variant": "L100_k12"}, default_classes=10, doc=__doc__,
    options_doc=f"        variant: one of {tuple(CIFAR_BC)} (the paper's CIFAR DenseNet-BC rows).\n",
)  # fmt: skip

KERAS_ACC = "Keras pretrained table (keras.io/api/applications)"
PAPER = "Huang et al., Densely Connected Convolutional Networks"
IMAGENET_REFS = {
    121: (8_062_504, 0.750, 0.923, "densenet121", 7_978_856, 0.74434, 0.91972),
    169: (14_307_880, 0.762, 0.932, "densenet169", 14_149_480, 0.756, 0.92806),
    201: (20_242_984, 0.773, 0.936, "densenet201", 20_013_928, 0.76896, 0.93370),
}

SPECS = tuple(
    ModelSpec(
        name=f"DenseNet{depth}",
        builder=builder,
        family="densenet",
        paper=PAPER,
        year=2016,
        input_shape=(224, 224, 3),
        default_variant="keras",
        variants={
            "keras": Variant(references=(Reference("keras.applications", f"DenseNet{depth}", params=refs[0],
                                                   top1=refs[1], top5=refs[2], accuracy_source=KERAS_ACC),)),
            "torchvision": Variant(kwargs={"variant": "torchvision"},
                                   references=(Reference("torchvision", refs[3], trainable_params=refs[4], top1=refs[5],
                                                         top5=refs[6], accuracy_source="torchvision IMAGENET1K_V1"),)),
        },
    )  # fmt: skip
    for depth, builder, refs in (
        (121, DenseNet121, IMAGENET_REFS[121]), (169, DenseNet169, IMAGENET_REFS[169]), (201, DenseNet201, IMAGENET_REFS[201]),
    )  # fmt: skip
) + (
    ModelSpec(
        name="DenseNetBC",
        builder=DenseNetBC,
        family="densenet",
        paper=PAPER,
        year=2016,
        input_shape=(32, 32, 3),
        default_variant="L100_k12",
        variants={
            "L100_k12": Variant(kwargs={"variant": "L100_k12"}, references=(Reference("paper", "DenseNet-BC L=100 k=12 (CIFAR-10)", trainable_params=769_162),)),
            "L250_k24": Variant(kwargs={"variant": "L250_k24"}, references=(Reference("paper", "DenseNet-BC L=250 k=24 (15.3M)"),)),
            "L190_k40": Variant(kwargs={"variant": "L190_k40"}, references=(Reference("paper", "DenseNet-BC L=190 k=40 (25.6M)"),)),
        },  # fmt: skip
    ),
)
