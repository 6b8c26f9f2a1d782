"""SqueezeNet: Iandola et al., "SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and
<0.5MB model size" (2016), Table 1, and SqueezeNet 1.1 (the authors' v1.1: 3x3/64 first conv, earlier pools).

    1.0 (at 224x224)           output       1.1                        output
    conv1 96 @ 7x7 / 2         109x109x96   conv1 64 @ 3x3 / 2         111x111x64  (the paper lists 111 for 1.0)
    maxpool1 3x3 / 2           54x54        maxpool1                    55x55
    fire2-4 (16/64, 16/64, 32/128)          fire2-3 (16/64, 16/64); maxpool3; fire4-5 (32/128)
    maxpool4, fire5-8 (32/128, 48/192, 48/192, 64/256)   maxpool5, fire6-9 (48/192 x2, 64/256 x2)
    maxpool8, fire9 (64/256)   13x13x512
    dropout 0.5, conv10 1x1 classes, ReLU, global average pool          1,248,424 / 1,235,496 parameters

A fire module (Sec. 3.2) squeezes with s 1x1 filters, then expands with e 1x1 and e 3x3 filters,
concatenated (s/e above). Max pools round up (Caffe's and torchvision's ceil mode): a one-pixel
zero pad on the bottom/right before a "valid" pool gives the same result after a ReLU.
"""

from dataclasses import dataclass

from keras import layers

from ..applications import InputContract, build_application, check_variant, make_builder
from ..spec import ModelSpec, Reference, Variant


@dataclass(frozen=True)
class Conv:
    filters: int
    kernel_size: int


@dataclass(frozen=True)
class Fire:
    squeeze: int
    expand: int


POOL = "pool"

TABLES = {
    "1_0": (Conv(96, 7), POOL, Fire(16, 64), Fire(16, 64), Fire(32, 128), POOL,
            Fire(32, 128), Fire(48, 192), Fire(48, 192), Fire(64, 256), POOL, Fire(64, 256)),
    "1_1": (Conv(64, 3), POOL, Fire(16, 64), Fire(16, 64), POOL, Fire(32, 128), Fire(32, 128), POOL,
            Fire(48, 192), Fire(48, 192), Fire(64, 256), Fire(64, 256)),
}  # fmt: skip


def layer_names(table):
    """The paper's names: conv1, then fire2.. and maxpool{n} named after the layer they follow."""
    names, index = [], 1
    for op in table:
        if op == POOL:
            names.append(f"maxpool{index - 1}")
        else:
            names.append("conv1" if isinstance(op, Conv) else f"fire{index}")
            index += 1
    return names


def fire(x, squeeze, expand, name):
    x = layers.Conv2D(squeeze, 1, activation="relu", name=f"{name}_squeeze1x1")(x)
    left = layers.Conv2D(expand, 1, activation="relu", name=f"{name}_expand1x1")(x)
    right = layers.Conv2D(expand, 3, padding="same", activation="relu", name=f"{name}_expand3x3")(x)
    return layers.Concatenate(axis=-1, name=f"{name}_concat")([left, right])


def _backbone(table):
    def backbone(x):
        for op, name in zip(table, layer_names(table)):
            if op == POOL:
                x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"{name}_pad")(x)  # ceil mode
                x = layers.MaxPooling2D(3, strides=2, name=name)(x)
            elif isinstance(op, Conv):
                x = layers.Conv2D(op.filters, op.kernel_size, strides=2, activation="relu", name=name)(x)
            else:
                x = fire(x, op.squeeze, op.expand, name)
        return x

    return backbone


def top(x, classes, classifier_activation):
    """Sec. 3.3: dropout 0.5 after fire9, conv10 to the classes, ReLU, global average pooling."""
    x = layers.Dropout(0.5, name="drop9")(x)
    x = layers.Conv2D(classes, 1, activation="relu", name="conv10")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return layers.Activation(classifier_activation, dtype="float32", name="predictions")(x)


def _output_size(size, table):
    for op in table:
        if op == POOL:
            size = (size + 1 - 3) // 2 + 1
        elif isinstance(op, Conv):
            size = (size - op.kernel_size) // 2 + 1
        if size < 1:
            return 0
    return size


def _make_builder(version):
    name = f"SqueezeNet{version}"
    table = TABLES[version]
    min_size = next(size for size in range(1, 224) if _output_size(size, table) >= 1)
    contract = InputContract(default_shape=(224, 224, 3), min_size=min_size)

    def build(app_args, variant):
        check_variant(name, variant, ("torchvision",))
        return build_application(
            name, contract=contract, backbone=_backbone(table), top=top, weights_key=f"{name}/{variant}", **app_args
        )

    return make_builder(
        name, build, options={"variant": "torchvision"}, doc=__doc__,
        options_doc='        variant: "torchvision" (the paper\'s network, torchvision\'s parameter layout).\n',
    )  # fmt: skip


SqueezeNet1_0, SqueezeNet1_1 = _make_builder("1_0"), _make_builder("1_1")

TV_ACC = "torchvision IMAGENET1K_V1"
SPECS = tuple(
    ModelSpec(
        name=f"SqueezeNet{version}",
        builder=builder,
        family="squeezenet",
        paper="Iandola et al., SqueezeNet: AlexNet-level accuracy with 50x fewer parameters",
        year=2016,
        input_shape=(224, 224, 3),
        default_variant="torchvision",
        variants={"torchvision": Variant(references=(ref,))},
    )
    for version, builder, ref in (
        ("1_0", SqueezeNet1_0, Reference("torchvision", "squeezenet1_0", trainable_params=1_248_424,
                                         top1=0.58092, top5=0.80420, accuracy_source=TV_ACC)),
        ("1_1", SqueezeNet1_1, Reference("torchvision", "squeezenet1_1", trainable_params=1_235_496,
                                         top1=0.58178, top5=0.80624, accuracy_source=TV_ACC)),
    )  # fmt: skip
)
