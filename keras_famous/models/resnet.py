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
from typing import Mapping, NamedTuple, Optional, Tuple

from keras import layers

from ..applications import application_doc, build_application
from ..blocks import average_pool_top, basic_unit, batch_norm, bottleneck_unit, preact_bottleneck_unit, relu
from ..spec import InputContract, Reference, Variant, declare


@dataclass(frozen=True)
class ResNetLayout:
    """How a library draws the residual units: conv biases, BatchNormalization epsilon, and whether a strided
    bottleneck strides in its 3x3 (v1.5) or in its first 1x1 (the paper's v1)."""

    conv_bias: bool
    bn_epsilon: float
    stride_in_3x3: bool
    note: str


KERAS_V1 = ResNetLayout(
    conv_bias=True, bn_epsilon=1.001e-5, stride_in_3x3=False, note="Caffe v1: conv biases, stride in the first 1x1"
)
# v2's units draw their own biases and strides (blocks.preact_bottleneck_unit): conv_bias is the stem's only
KERAS_V2 = ResNetLayout(
    conv_bias=True, bn_epsilon=1.001e-5, stride_in_3x3=True, note="keras.applications' pre-activation units"
)
KERAS_RESNEXT = ResNetLayout(
    conv_bias=False,
    bn_epsilon=1.001e-5,
    stride_in_3x3=True,
    note="keras-applications: no conv biases, stride in the 3x3",
)
TORCHVISION = ResNetLayout(conv_bias=False, bn_epsilon=1e-5, stride_in_3x3=True, note="v1.5: stride in the 3x3")


@dataclass(frozen=True)
class Architecture:
    """A column of Table 1: the depth, the residual unit, and the bottleneck's groups and width."""

    depth: int
    unit: str = "bottleneck"
    cardinality: int = 1
    bottleneck_width: int = 64  # channels per group at conv2_x; the paper's "d" is 4 for 32x4d

    @property
    def preact(self):
        return self.unit == "preact_bottleneck"


STAGE_WIDTHS = (64, 128, 256, 512)  # conv2_x .. conv5_x, before the bottleneck expansion
EXPANSION = {"basic": 1, "bottleneck": 4, "preact_bottleneck": 4}
BLOCKS_PER_STAGE = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
UNITS = {"basic": basic_unit, "bottleneck": bottleneck_unit, "preact_bottleneck": preact_bottleneck_unit}

CONTRACT = InputContract(default_shape=(224, 224, 3), min_size=32)
HEAD_LAYERS = ("predictions",)

# torchvision's module names (timm's resnext101_32x4d keeps them): layer1..layer4 are conv2_x..conv5_x
TORCHVISION_NAMES = (
    (r"conv1", "conv1_conv"),
    (r"bn1", "conv1_bn"),
    (r"layer(?P<stage>\d+)\.(?P<block>\d+)\.conv(?P<k>\d)", "conv{stage+1}_block{block+1}_{k}_conv"),
    (r"layer(?P<stage>\d+)\.(?P<block>\d+)\.bn(?P<k>\d)", "conv{stage+1}_block{block+1}_{k}_bn"),
    (r"layer(?P<stage>\d+)\.(?P<block>\d+)\.downsample\.0", "conv{stage+1}_block{block+1}_0_conv"),
    (r"layer(?P<stage>\d+)\.(?P<block>\d+)\.downsample\.1", "conv{stage+1}_block{block+1}_0_bn"),
    (r"fc", "predictions"),
)

KERAS_ACC = "Keras pretrained table (keras.io/api/applications)"
TORCHVISION_ACC = "torchvision IMAGENET1K_V1"


def _keras(model, params, top1=None, top5=None, library="keras.applications"):
    source = KERAS_ACC if top1 else None
    return Reference(library, model, params=params, top1=top1, top5=top5, accuracy_source=source)


def _torchvision(model, trainable_params, top1=None, top5=None, library="torchvision"):
    source = TORCHVISION_ACC if top1 else None
    return Reference(library, model, trainable_params=trainable_params, top1=top1, top5=top5, accuracy_source=source)


class Drawing(NamedTuple):
    """One `variant` of a model: its layout, the input scaling its weights were trained with (None: no weights),
    and the implementations it must match (the first one's count is the one to match)."""

    layout: ResNetLayout
    preprocessing: Optional[str]
    references: Tuple[Reference, ...] = ()


def _drawing(layout, preprocessing, *references):
    return Drawing(layout, preprocessing, references)


class Paper(NamedTuple):
    title: str
    year: int


class CatalogEntry(NamedTuple):
    architecture: Architecture
    paper: Paper
    variants: Mapping[str, Drawing]  # the first is the default


RESNET = Paper("He et al., Deep Residual Learning for Image Recognition", 2015)
RESNET_V2 = Paper("He et al., Identity Mappings in Deep Residual Networks", 2016)
RESNEXT = Paper("Xie et al., Aggregated Residual Transformations for Deep Neural Networks", 2017)
WIDE_RESNET = Paper("Zagoruyko & Komodakis, Wide Residual Networks", 2016)

RESNEXT_32X4D = {"cardinality": 32, "bottleneck_width": 4}

# model: stage table, paper, {variant: drawing}; the first variant is the default
CATALOG = {
    "ResNet18": CatalogEntry(Architecture(18, "basic"), RESNET, {
        "torchvision": _drawing(TORCHVISION, "torch", _torchvision("resnet18", 11_689_512, 0.69758, 0.89078)),
        "keras": _drawing(KERAS_V1, None),
    }),
    "ResNet34": CatalogEntry(Architecture(34, "basic"), RESNET, {
        "torchvision": _drawing(TORCHVISION, "torch", _torchvision("resnet34", 21_797_672, 0.73314, 0.9142)),
        "keras": _drawing(KERAS_V1, None),
    }),
    "ResNet50": CatalogEntry(Architecture(50), RESNET, {
        "keras": _drawing(KERAS_V1, "caffe", _keras("ResNet50", 25_636_712, 0.749, 0.921)),
        "torchvision": _drawing(TORCHVISION, "torch", _torchvision("resnet50", 25_557_032, 0.7613, 0.92862)),
    }),
    "ResNet101": CatalogEntry(Architecture(101), RESNET, {
        "keras": _drawing(KERAS_V1, "caffe", _keras("ResNet101", 44_707_176, 0.764, 0.928)),
        "torchvision": _drawing(TORCHVISION, "torch", _torchvision("resnet101", 44_549_160, 0.77374, 0.93546)),
    }),
    "ResNet152": CatalogEntry(Architecture(152), RESNET, {
        "keras": _drawing(KERAS_V1, "caffe", _keras("ResNet152", 60_419_944, 0.766, 0.931)),
        "torchvision": _drawing(TORCHVISION, "torch", _torchvision("resnet152", 60_192_808, 0.78312, 0.94046)),
    }),
    "ResNet50V2": CatalogEntry(Architecture(50, "preact_bottleneck"), RESNET_V2, {
        "keras": _drawing(KERAS_V2, "tf", _keras("ResNet50V2", 25_613_800, 0.760, 0.930)),
    }),
    "ResNet101V2": CatalogEntry(Architecture(101, "preact_bottleneck"), RESNET_V2, {
        "keras": _drawing(KERAS_V2, "tf", _keras("ResNet101V2", 44_675_560, 0.772, 0.938)),
    }),
    "ResNet152V2": CatalogEntry(Architecture(152, "preact_bottleneck"), RESNET_V2, {
        "keras": _drawing(KERAS_V2, "tf", _keras("ResNet152V2", 60_380_648, 0.780, 0.942)),
    }),
    "ResNeXt50": CatalogEntry(Architecture(50, **RESNEXT_32X4D), RESNEXT, {
        "keras": _drawing(KERAS_RESNEXT, "caffe", _keras("ResNeXt50", 25_097_128, 0.777, 0.938, "keras-applications")),
        "torchvision": _drawing(TORCHVISION, "torch", _torchvision("resnext50_32x4d", 25_028_904, 0.77618, 0.93698)),
    }),
    "ResNeXt101": CatalogEntry(Architecture(101, **RESNEXT_32X4D), RESNEXT, {
        "keras": _drawing(KERAS_RESNEXT, "caffe", _keras("ResNeXt101", 44_315_560, library="keras-applications")),
        # timm's resnext101_32x4d: torchvision has no 32x4d ResNeXt-101
        "torchvision": _drawing(TORCHVISION, "torch", _torchvision("resnext101_32x4d", 44_177_704, library="timm")),
    }),
    "WideResNet50_2": CatalogEntry(Architecture(50, bottleneck_width=128), WIDE_RESNET, {
        "torchvision": _drawing(TORCHVISION, "torch", _torchvision("wide_resnet50_2", 68_883_240, 0.78468, 0.94086)),
    }),
    "WideResNet101_2": CatalogEntry(Architecture(101, bottleneck_width=128), WIDE_RESNET, {
        "torchvision": _drawing(TORCHVISION, "torch", _torchvision("wide_resnet101_2", 126_886_696, 0.78848, 0.94284)),
    }),
}  # fmt: skip


def _stem(x, layout, preact):
    x = layers.ZeroPadding2D(3, name="conv1_pad")(x)
    x = layers.Conv2D(64, 7, strides=2, use_bias=layout.conv_bias, name="conv1_conv")(x)
    if not preact:  # in v2 the first BN-ReLU belongs to the first unit
        x = batch_norm(x, epsilon=layout.bn_epsilon, name="conv1_bn")
        x = relu(x, name="conv1_relu")
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


def _stages(x, architecture, layout):
    unit = UNITS[architecture.unit]
    in_channels = 64
    for index, (stage_width, blocks) in enumerate(zip(STAGE_WIDTHS, BLOCKS_PER_STAGE[architecture.depth])):
        out_channels = stage_width * EXPANSION[architecture.unit]
        width = stage_width * architecture.bottleneck_width // 64 * architecture.cardinality
        stage_stride = 1 if index == 0 else 2
        for block in range(blocks):
            if architecture.preact:  # keras.applications' v2 downsamples in the last unit of conv2..conv4
                strides = (2 if index < 3 else 1) if block == blocks - 1 else 1
                projection = block == 0
            else:
                strides = stage_stride if block == 0 else 1
                projection = block == 0 and (strides != 1 or in_channels != out_channels)
            x = unit(
                x,
                width=width,
                out_channels=out_channels,
                strides=strides,
                projection=projection,
                layout=layout,
                groups=architecture.cardinality,
                name=f"conv{index + 2}_block{block + 1}",
            )
            in_channels = out_channels
    if architecture.preact:
        x = batch_norm(x, epsilon=layout.bn_epsilon, name="post_bn")
        x = relu(x, name="post_relu")
    return x


def _resnet(model_name, *, variant, **keras_args):
    spec = SPEC_OF[model_name]
    variant, _ = spec.variant(variant)
    entry = CATALOG[model_name]
    layout = entry.variants[variant].layout

    def backbone(x):
        return _stages(_stem(x, layout, entry.architecture.preact), entry.architecture, layout)

    return build_application(spec, variant, backbone=backbone, top=average_pool_top, **keras_args)


def _options_doc(model_name):
    variants = CATALOG[model_name].variants
    choices = "".join(f'            "{variant}" ({drawing.layout.note})\n' for variant, drawing in variants.items())
    return f"        variant: the layout, one of (the first is the default):\n{choices}"


@application_doc(__doc__, _options_doc("ResNet18"))
def ResNet18(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", name=None, *, variant="torchvision", include_preprocessing=False):  # fmt: skip
    return _resnet("ResNet18", **locals())


@application_doc(__doc__, _options_doc("ResNet34"))
def ResNet34(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", name=None, *, variant="torchvision", include_preprocessing=False):  # fmt: skip
    return _resnet("ResNet34", **locals())


@application_doc(__doc__, _options_doc("ResNet50"))
def ResNet50(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", name=None, *, variant="keras", include_preprocessing=False):  # fmt: skip
    return _resnet("ResNet50", **locals())


@application_doc(__doc__, _options_doc("ResNet101"))
def ResNet101(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation="softmax", name=None, *, variant="keras", include_preprocessing=False):  # fmt: skip
    return _resnet("ResNet101", **locals())


@application_doc(__doc__, _options_doc("ResNet152"))
def ResNet152(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation="softmax", name=None, *, variant="keras", include_preprocessing=False):  # fmt: skip
    return _resnet("ResNet152", **locals())


@application_doc(__doc__, _options_doc("ResNet50V2"))
def ResNet50V2(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
               classifier_activation="softmax", name=None, *, variant="keras", include_preprocessing=False):  # fmt: skip
    return _resnet("ResNet50V2", **locals())


@application_doc(__doc__, _options_doc("ResNet101V2"))
def ResNet101V2(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
                classifier_activation="softmax", name=None, *, variant="keras", include_preprocessing=False):  # fmt: skip
    return _resnet("ResNet101V2", **locals())


@application_doc(__doc__, _options_doc("ResNet152V2"))
def ResNet152V2(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
                classifier_activation="softmax", name=None, *, variant="keras", include_preprocessing=False):  # fmt: skip
    return _resnet("ResNet152V2", **locals())


@application_doc(__doc__, _options_doc("ResNeXt50"))
def ResNeXt50(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation="softmax", name=None, *, variant="keras", include_preprocessing=False):  # fmt: skip
    return _resnet("ResNeXt50", **locals())


@application_doc(__doc__, _options_doc("ResNeXt101"))
def ResNeXt101(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
               classifier_activation="softmax", name=None, *, variant="keras", include_preprocessing=False):  # fmt: skip
    return _resnet("ResNeXt101", **locals())


@application_doc(__doc__, _options_doc("WideResNet50_2"))
def WideResNet50_2(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
                   classifier_activation="softmax", name=None, *, variant="torchvision", include_preprocessing=False):  # fmt: skip
    return _resnet("WideResNet50_2", **locals())


@application_doc(__doc__, _options_doc("WideResNet101_2"))
def WideResNet101_2(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
                    classifier_activation="softmax", name=None, *, variant="torchvision", include_preprocessing=False):  # fmt: skip
    return _resnet("WideResNet101_2", **locals())


def _declare(builder):
    entry = CATALOG[builder.__name__]
    variants = {
        variant: Variant(
            kwargs={"variant": variant},
            references=drawing.references,
            note=drawing.layout.note,
            preprocessing=drawing.preprocessing,
            torch_names=TORCHVISION_NAMES,  # every layout has torchvision's layer names; shapes tell them apart
        )
        for variant, drawing in entry.variants.items()
    }
    return declare(
        builder.__name__,
        builder,
        family="resnet",
        paper=entry.paper.title,
        year=entry.paper.year,
        contract=CONTRACT,
        variants=variants,
        head_layers=HEAD_LAYERS,
    )


SPECS = tuple(
    _declare(builder)
    for builder in (
        ResNet18, ResNet34, ResNet50, ResNet101, ResNet152, ResNet50V2, ResNet101V2, ResNet152V2,
        ResNeXt50, ResNeXt101, WideResNet50_2, WideResNet101_2,
    )
)  # fmt: skip
SPEC_OF = {spec.name: spec for spec in SPECS}

__all__ = list(SPEC_OF)  # the builders, in catalog order
