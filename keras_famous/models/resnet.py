"""ResNet v1 and v1.5 (He et al. 2015), ResNet v2 (He et al. 2016), ResNeXt (Xie et al. 2017) and
Wide ResNet (Zagoruyko & Komodakis 2016), from one stage table.

Table 1 of He et al. 2015 (224x224 input; every stage after conv2_x halves the grid):

    stage     output    18          34          50              101             152
    conv1     112x112   7x7, 64, stride 2; 3x3 max pool, stride 2
    conv2_x   56x56     [3x3, 64]x2 [3x3, 64]x3 [1x1,64; 3x3,64; 1x1,256]x3    x3              x3
    conv3_x   28x28     x2          x4          [1x1,128; 3x3,128; 1x1,512]x4  x4              x8
    conv4_x   14x14     x2          x6          [1x1,256; 3x3,256; 1x1,1024]x6 x23             x36
    conv5_x   7x7       x2          x3          [1x1,512; 3x3,512; 1x1,2048]x3 x3              x3
              1x1       average pool, 1000-d fc, softmax

ResNeXt-50 (32x4d) keeps the table and widens each bottleneck to `cardinality * bottleneck_width`
channels in 32 groups (Table 1 of Xie et al.: 128, 256, 512, 1024); Wide ResNet-50-2 doubles the
bottleneck width with a single group.

Layouts (`variant`): "keras" is keras.applications' Caffe-derived v1 (conv biases, BN epsilon
1.001e-5, the stride in the first 1x1), "torchvision" is v1.5 (no conv biases, epsilon 1e-5, the
stride in the 3x3). ResNeXt's "keras" layout is keras-applications' (no conv biases, stride in the
3x3, epsilon 1.001e-5) with real grouped convolutions.
"""

from dataclasses import dataclass

from keras import layers

from ..applications import InputContract, build_application, check_variant, make_builder
from ..blocks import average_pool_top, basic_unit, batch_norm, bottleneck_unit, preact_bottleneck_unit, relu
from ..spec import ModelSpec, Reference, Variant


@dataclass(frozen=True)
class Style:
    conv_bias: bool
    bn_epsilon: float
    stride_in_3x3: bool


STYLES = {
    "keras": Style(conv_bias=True, bn_epsilon=1.001e-5, stride_in_3x3=False),
    "torchvision": Style(conv_bias=False, bn_epsilon=1e-5, stride_in_3x3=True),
    "keras_resnext": Style(conv_bias=False, bn_epsilon=1.001e-5, stride_in_3x3=True),
}

STAGE_WIDTHS = (64, 128, 256, 512)  # conv2_x .. conv5_x, before the bottleneck expansion
EXPANSION = {"basic": 1, "bottleneck": 4, "preact_bottleneck": 4}
BLOCKS_PER_STAGE = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
UNITS = {"basic": basic_unit, "bottleneck": bottleneck_unit, "preact_bottleneck": preact_bottleneck_unit}

CONTRACT = InputContract(default_shape=(224, 224, 3), min_size=32)


@dataclass(frozen=True)
class Architecture:
    depth: int
    unit: str = "bottleneck"
    cardinality: int = 1
    bottleneck_width: int = 64  # channels per group at conv2_x; the paper's "d" is 4 for 32x4d
    preact: bool = False


def _stem(x, style, preact):
    x = layers.ZeroPadding2D(3, name="conv1_pad")(x)
    x = layers.Conv2D(64, 7, strides=2, use_bias=style.conv_bias, name="conv1_conv")(x)
    if not preact:  # in v2 the first BN-ReLU belongs to the first unit
        x = batch_norm(x, epsilon=style.bn_epsilon, name="conv1_bn")
        x = relu(x, name="conv1_relu")
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


def _stages(x, arch, style):
    unit = UNITS[arch.unit]
    in_channels = 64
    for index, (stage_width, blocks) in enumerate(zip(STAGE_WIDTHS, BLOCKS_PER_STAGE[arch.depth])):
        out_channels = stage_width * EXPANSION[arch.unit]
        width = stage_width * arch.bottleneck_width // 64 * arch.cardinality
        stage_stride = 1 if index == 0 else 2
        for block in range(blocks):
            if arch.preact:  # keras.applications' v2 downsamples in the last unit of conv2..conv4
                strides = (2 if index < 3 else 1) if block == blocks - 1 else 1
                projection = block == 0
            else:
                strides = stage_stride if block == 0 else 1
                projection = block == 0 and (strides != 1 or in_channels != out_channels)
            x = unit(
                x, width=width, out_channels=out_channels, strides=strides, projection=projection,
                style=style, groups=arch.cardinality, name=f"conv{index + 2}_block{block + 1}",
            )  # fmt: skip
            in_channels = out_channels
    if arch.preact:
        x = batch_norm(x, epsilon=style.bn_epsilon, name="post_bn")
        x = relu(x, name="post_relu")
    return x


def _make_builder(model_name, arch, variants, default_variant, style_of_variant=lambda v: v):
    def build(app_args, variant):
        check_variant(model_name, variant, variants)
        style = STYLES[style_of_variant(variant)]

        def backbone(x):
            return _stages(_stem(x, style, arch.preact), arch, style)

        return build_application(
            model_name, contract=CONTRACT, backbone=backbone, top=average_pool_top,
            weights_key=f"{model_name}/{variant}", **app_args,
        )  # fmt: skip

    options_doc = f"        variant: one of {tuple(variants)}; default {default_variant!r}.\n"
    return make_builder(model_name, build, options={"variant": default_variant}, doc=__doc__, options_doc=options_doc)


def _resnext_style(variant):
    return "keras_resnext" if variant == "keras" else "torchvision"


ResNet18 = _make_builder("ResNet18", Architecture(18, "basic"), ("torchvision", "keras"), "torchvision")
ResNet34 = _make_builder("ResNet34", Architecture(34, "basic"), ("torchvision", "keras"), "torchvision")
ResNet50 = _make_builder("ResNet50", Architecture(50), ("keras", "torchvision"), "keras")
ResNet101 = _make_builder("ResNet101", Architecture(101), ("keras", "torchvision"), "keras")
ResNet152 = _make_builder("ResNet152", Architecture(152), ("keras", "torchvision"), "keras")
ResNet50V2 = _make_builder("ResNet50V2", Architecture(50, "preact_bottleneck", preact=True), ("keras",), "keras")
ResNet101V2 = _make_builder("ResNet101V2", Architecture(101, "preact_bottleneck", preact=True), ("keras",), "keras")
ResNet152V2 = _make_builder("ResNet152V2", Architecture(152, "preact_bottleneck", preact=True), ("keras",), "keras")
ResNeXt50 = _make_builder(
    "ResNeXt50", Architecture(50, cardinality=32, bottleneck_width=4), ("keras", "torchvision"), "keras", _resnext_style
)
ResNeXt101 = _make_builder(
    "ResNeXt101", Architecture(101, cardinality=32, bottleneck_width=4), ("keras", "torchvision"), "keras", _resnext_style
)
WideResNet50_2 = _make_builder("WideResNet50_2", Architecture(50, bottleneck_width=128), ("torchvision",), "torchvision")
WideResNet101_2 = _make_builder("WideResNet101_2", Architecture(101, bottleneck_width=128), ("torchvision",), "torchvision")

KERAS_ACC = "Keras pretrained table (keras.io/api/applications)"
TV_ACC = "torchvision IMAGENET1K_V1"


def _keras(model, params, top1=None, top5=None, library="keras.applications"):
    return Reference(library, model, params=params, top1=top1, top5=top5, accuracy_source=KERAS_ACC if top1 else None)


def _tv(model, trainable, top1=None, top5=None, library="torchvision"):
    source = TV_ACC if top1 else None
    return Reference(library, model, trainable_params=trainable, top1=top1, top5=top5, accuracy_source=source)


V1_NOTE = {"keras": "Caffe v1: conv biases, stride in the first 1x1", "torchvision": "v1.5: stride in the 3x3"}

# name: (builder, {variant: references}); the first variant is the default
CATALOG = {
    "ResNet18": (ResNet18, {"torchvision": (_tv("resnet18", 11_689_512, 0.69758, 0.89078),), "keras": ()}),
    "ResNet34": (ResNet34, {"torchvision": (_tv("resnet34", 21_797_672, 0.73314, 0.9142),), "keras": ()}),
    "ResNet50": (ResNet50, {"keras": (_keras("ResNet50", 25_636_712, 0.749, 0.921),),
                            "torchvision": (_tv("resnet50", 25_557_032, 0.7613, 0.92862),)}),
    "ResNet101": (ResNet101, {"keras": (_keras("ResNet101", 44_707_176, 0.764, 0.928),),
                              "torchvision": (_tv("resnet101", 44_549_160, 0.77374, 0.93546),)}),
    "ResNet152": (ResNet152, {"keras": (_keras("ResNet152", 60_419_944, 0.766, 0.931),),
                              "torchvision": (_tv("resnet152", 60_192_808, 0.78312, 0.94046),)}),
    "ResNet50V2": (ResNet50V2, {"keras": (_keras("ResNet50V2", 25_613_800, 0.760, 0.930),)}),
    "ResNet101V2": (ResNet101V2, {"keras": (_keras("ResNet101V2", 44_675_560, 0.772, 0.938),)}),
    "ResNet152V2": (ResNet152V2, {"keras": (_keras("ResNet152V2", 60_380_648, 0.780, 0.942),)}),
    "ResNeXt50": (ResNeXt50, {"keras": (_keras("ResNeXt50", 25_097_128, 0.777, 0.938, "keras-applications"),),
                              "torchvision": (_tv("resnext50_32x4d", 25_028_904, 0.77618, 0.93698),)}),
    "ResNeXt101": (ResNeXt101, {"keras": (_keras("ResNeXt101", 44_315_560, library="keras-applications"),),
                                "torchvision": (_tv("resnext101_32x4d", 44_177_704, library="timm"),)}),
    "WideResNet50_2": (WideResNet50_2, {"torchvision": (_tv("wide_resnet50_2", 68_883_240, 0.78468, 0.94086),)}),
    "WideResNet101_2": (WideResNet101_2, {"torchvision": (_tv("wide_resnet101_2", 126_886_696, 0.78848, 0.94284),)}),
}  # fmt: skip

PAPERS = {
    "ResNet": ("He et al., Deep Residual Learning for Image Recognition", 2015),
    "ResNetV2": ("He et al., Identity Mappings in Deep Residual Networks", 2016),
    "ResNeXt": ("Xie et al., Aggregated Residual Transformations for Deep Neural Networks", 2017),
    "WideResNet": ("Zagoruyko & Komodakis, Wide Residual Networks", 2016),
}


def _paper(name):
    if name.startswith("ResNeXt"):
        return PAPERS["ResNeXt"]
    if name.startswith("Wide"):
        return PAPERS["WideResNet"]
    return PAPERS["ResNetV2"] if name.endswith("V2") else PAPERS["ResNet"]


SPECS = tuple(
    ModelSpec(
        name=name,
        builder=builder,
        family="resnet",
        paper=_paper(name)[0],
        year=_paper(name)[1],
        input_shape=(224, 224, 3),
        default_variant=next(iter(references)),
        variants={
            variant: Variant(
                kwargs={"variant": variant}, references=refs, note=V1_NOTE.get(variant, "") if "V2" not in name else ""
            )
            for variant, refs in references.items()
        },
    )
    for name, (builder, references) in CATALOG.items()
)
