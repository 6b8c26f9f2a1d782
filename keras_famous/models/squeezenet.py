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

from ..applications import application_doc, build_application, min_input_size, output_side
from ..spec import InputContract, Reference, Variant, declare


@dataclass(frozen=True)
class StemConv:
    filters: int
    kernel_size: int  # stride 2, "valid"


@dataclass(frozen=True)
class Fire:
    squeeze: int
    expand: int


POOL = "pool"  # 3x3 / 2 max pool, ceil mode

TABLES = {
    "1_0": (StemConv(96, 7), POOL, Fire(16, 64), Fire(16, 64), Fire(32, 128), POOL,
            Fire(32, 128), Fire(48, 192), Fire(48, 192), Fire(64, 256), POOL, Fire(64, 256)),
    "1_1": (StemConv(64, 3), POOL, Fire(16, 64), Fire(16, 64), POOL, Fire(32, 128), Fire(32, 128), POOL,
            Fire(48, 192), Fire(48, 192), Fire(64, 256), Fire(64, 256)),
}  # fmt: skip
HEAD_LAYERS = ("conv10",)


def layer_names(table):
    """The paper's names: conv1, then fire2.. and maxpool{n} named after the layer they follow."""
    names, index = [], 1
    for row in table:
        if row == POOL:
            names.append(f"maxpool{index - 1}")
        else:
            names.append("conv1" if isinstance(row, StemConv) else f"fire{index}")
            index += 1
    return names


def last_side(table, side):
    """The side of the table's last feature map for an input `side` (0 once a layer has nothing left to see)."""
    for row in table:
        if row == POOL:
            side = output_side(side, 3, strides=2, padding="ceil")
        elif isinstance(row, StemConv):
            side = output_side(side, row.kernel_size, strides=2)
        if side < 1:
            return 0
    return side


def input_contract(table):
    return InputContract(default_shape=(224, 224, 3), min_size=min_input_size(lambda side: last_side(table, side), 224))


def fire(x, squeeze, expand, name):
    x = layers.Conv2D(squeeze, 1, activation="relu", name=f"{name}_squeeze1x1")(x)
    left = layers.Conv2D(expand, 1, activation="relu", name=f"{name}_expand1x1")(x)
    right = layers.Conv2D(expand, 3, padding="same", activation="relu", name=f"{name}_expand3x3")(x)
    return layers.Concatenate(axis=-1, name=f"{name}_concat")([left, right])


def _backbone(table):
    def backbone(x):
        for row, name in zip(table, layer_names(table)):
            if row == POOL:
                x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"{name}_pad")(x)  # ceil mode
                x = layers.MaxPooling2D(3, strides=2, name=name)(x)
            elif isinstance(row, StemConv):
                x = layers.Conv2D(row.filters, row.kernel_size, strides=2, activation="relu", name=name)(x)
            else:
                x = fire(x, row.squeeze, row.expand, name)
        return x

    return backbone


def _top(x, classes, classifier_activation):
    """Sec. 3.3: dropout 0.5 after fire9, conv10 to the classes, ReLU, global average pooling."""
    x = layers.Dropout(0.5, name="drop9")(x)
    x = layers.Conv2D(classes, 1, activation="relu", name="conv10")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return layers.Activation(classifier_activation, dtype="float32", name="predictions")(x)


def _squeezenet(model_name, *, variant, **keras_args):
    spec = SPEC_OF[model_name]
    variant, _ = spec.variant(variant)
    table = TABLES[model_name[len("SqueezeNet") :]]
    return build_application(spec, variant, backbone=_backbone(table), top=_top, **keras_args)


OPTIONS_DOC = """        variant: "torchvision" (the paper's network, torchvision's parameter layout).
"""


@application_doc(__doc__, OPTIONS_DOC)
def SqueezeNet1_0(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
                  classifier_activation="softmax", name=None, *, variant="torchvision", include_preprocessing=False):  # fmt: skip
    return _squeezenet("SqueezeNet1_0", **locals())


@application_doc(__doc__, OPTIONS_DOC)
def SqueezeNet1_1(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
                  classifier_activation="softmax", name=None, *, variant="torchvision", include_preprocessing=False):  # fmt: skip
    return _squeezenet("SqueezeNet1_1", **locals())


def torch_names(version):
    """torchvision's `features` index: a conv and its ReLU take two places, a pool or a fire module one."""
    names, index = [], 0
    table = TABLES[version]
    for row, name in zip(table, layer_names(table)):
        if isinstance(row, StemConv):
            names.append((rf"features\.{index}", name))
        elif isinstance(row, Fire):
            for part in ("squeeze", "expand1x1", "expand3x3"):
                suffix = "squeeze1x1" if part == "squeeze" else part
                names.append((rf"features\.{index}\.{part}", f"{name}_{suffix}"))
        index += 2 if isinstance(row, StemConv) else 1
    return (*names, (r"classifier\.1", "conv10"))


TORCHVISION_ACC = "torchvision IMAGENET1K_V1"
REFERENCES = {
    "1_0": Reference("torchvision", "squeezenet1_0", trainable_params=1_248_424, top1=0.58092, top5=0.80420,
                     accuracy_source=TORCHVISION_ACC),
    "1_1": Reference("torchvision", "squeezenet1_1", trainable_params=1_235_496, top1=0.58178, top5=0.80624,
                     accuracy_source=TORCHVISION_ACC),
}  # fmt: skip

SPECS = tuple(
    declare(
        f"SqueezeNet{version}",
        builder,
        family="squeezenet",
        paper="Iandola et al., SqueezeNet: AlexNet-level accuracy with 50x fewer parameters",
        year=2016,
        contract=input_contract(TABLES[version]),
        head_layers=HEAD_LAYERS,
        variants={
            "torchvision": Variant(
                references=(REFERENCES[version],), preprocessing="torch", torch_names=torch_names(version)
            ),
        },
    )
    for version, builder in (("1_0", SqueezeNet1_0), ("1_1", SqueezeNet1_1))
)
SPEC_OF = {spec.name: spec for spec in SPECS}

__all__ = ["SqueezeNet1_0", "SqueezeNet1_1"]
