"""GoogLeNet (Inception-v1): Szegedy et al., "Going deeper with convolutions" (2014), Table 1.

    type            patch/stride  output      #1x1 #3x3red #3x3 #5x5red #5x5 pool proj
    convolution     7x7/2         112x112x64
    max pool, LRN   3x3/2         56x56x64
    convolution     1x1, 3x3/1    56x56x192   (64 reduce, 192)
    LRN, max pool   3x3/2         28x28x192
    inception (3a)                28x28x256   64   96      128  16      32   32
    inception (3b)                28x28x480   128  128     192  32      96   64
    max pool        3x3/2         14x14x480
    inception (4a)                14x14x512   192  96      208  16      48   64
    inception (4b)                14x14x512   160  112     224  24      64   64
    inception (4c)                14x14x512   128  128     256  24      64   64
    inception (4d)                14x14x528   112  144     288  32      64   64
    inception (4e)                14x14x832   256  160     320  32      128  128
    max pool        3x3/2         7x7x832
    inception (5a)                7x7x832     256  160     320  32      128  128
    inception (5b)                7x7x1024    384  192     384  48      128  128
    avg pool 7x7, dropout 40%, linear                                    6,998,552 parameters

Auxiliary classifiers (Sec. 5) on 4a and 4d: 5x5/3 average pool, 1x1 conv 128, FC 1024, dropout
70%, linear: 13,378,280 parameters with both. They are extra outputs for training; use
`keras_famous.without_auxiliary_heads(model)` for inference and export.

`variant="original"`: the paper's network (convolutions with biases and ReLU, LRN, real 5x5
branches). `variant="bvlc"`: BVLC's replication in the Caffe model zoo (bvlc_googlenet.caffemodel, 2014), the
weights `weights="imagenet"` loads: the paper's layers and auxiliary heads (loss1/..., loss2/... in the file), with
Caffe's LRN (1 + alpha / 5 * sum, alpha 1e-4) and Caffe's pooling, whose output side rounds up (the 3x3/2 max pools
and the heads' 5x5/3 average pools; at 224x224 the same sides as the paper's). `variant="torchvision"`: torchvision's googlenet (conv-BN(eps 1e-3)-ReLU, no LRN, a 3x3
convolution in the "5x5" branch as torchvision has it, 2x2 fourth pool, dropout 0.2; 6,624,904
trainable parameters without the auxiliary heads).
"""

from keras import layers

from ..applications import application_doc, build_application, check_aux_input, check_aux_logits
from ..blocks import average_pool_top, prediction_layer
from ..layers import CaffePooling2D, LocalResponseNormalization
from ..spec import InputContract, Reference, Variant, declare

# Table 1: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj)
INCEPTION_MODULES = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64), "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}  # fmt: skip
AUX_TAPS = ("4a", "4d")  # Sec. 5
CONTRACT = InputContract(default_shape=(224, 224, 3), min_size=32)
HEAD_LAYERS = (
    "predictions",
    *(f"aux{index}_{part}" for index in (1, 2) for part in ("conv", "conv_bn", "fc", "predictions")),
)


PAPER_LAYOUTS = ("original", "bvlc")  # conv+ReLU with biases, LRN, real 5x5 branches
# (bias, alpha) of the LRN: the paper gives none, so "original" keeps the AlexNet paper's alpha with k = 1; Caffe's
# LRN layer divides alpha by its local_size (5)
LRN_CONSTANTS = {"original": (1.0, 1e-4), "bvlc": (1.0, 1e-4 / 5)}


def conv_unit(x, filters, kernel_size, variant, name, strides=1):
    """The paper's conv+ReLU, or torchvision's conv-BN-ReLU ("BasicConv2d")."""
    if strides > 1:
        x = layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
    padding = "valid" if strides > 1 else "same"
    if variant in PAPER_LAYOUTS:
        return layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, activation="relu", name=name)(x)
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=False, name=name)(x)
    x = layers.BatchNormalization(axis=-1, epsilon=1e-3, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def inception_module(x, widths, variant, name):
    n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj = widths
    five = 5 if variant in PAPER_LAYOUTS else 3
    branch1 = conv_unit(x, n1x1, 1, variant, f"{name}_1x1")
    branch2 = conv_unit(x, n3x3_reduce, 1, variant, f"{name}_3x3_reduce")
    branch2 = conv_unit(branch2, n3x3, 3, variant, f"{name}_3x3")
    branch3 = conv_unit(x, n5x5_reduce, 1, variant, f"{name}_5x5_reduce")
    branch3 = conv_unit(branch3, n5x5, five, variant, f"{name}_5x5")
    pooled = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    branch4 = conv_unit(pooled, pool_proj, 1, variant, f"{name}_pool_proj")
    return layers.Concatenate(axis=-1, name=f"{name}_output")([branch1, branch2, branch3, branch4])


def _backbone(variant, taps):
    def norm(x, name):
        if variant not in LRN_CONSTANTS:
            return x
        bias, alpha = LRN_CONSTANTS[variant]
        return LocalResponseNormalization(depth_radius=2, bias=bias, alpha=alpha, beta=0.75, name=name)(x)

    def pool(x, size, name):
        if variant == "bvlc":
            return CaffePooling2D(size, strides=2, method="max", name=name)(x)
        return layers.MaxPooling2D(size, strides=2, padding="same", name=name)(x)

    def backbone(x):
        x = conv_unit(x, 64, 7, variant, "conv1", strides=2)
        x = norm(pool(x, 3, "pool1"), "norm1")
        x = conv_unit(x, 64, 1, variant, "conv2_reduce")
        x = norm(conv_unit(x, 192, 3, variant, "conv2"), "norm2")
        x = pool(x, 3, "pool2")
        for module in INCEPTION_MODULES:
            if module in ("4a", "5a"):
                size = 3 if (variant in PAPER_LAYOUTS or module == "4a") else 2
                x = pool(x, size, f"pool{module[0]}")
            x = inception_module(x, INCEPTION_MODULES[module], variant, f"inception_{module}")
            if module in AUX_TAPS:
                taps[module] = x
        return x

    return backbone


def auxiliary_head(x, classes, classifier_activation, variant, name):
    """Sec. 5: 5x5/3 average pool (4x4 at 14x14), 1x1 conv 128, FC 1024 ReLU, dropout 0.7, linear."""
    if variant == "bvlc":
        x = CaffePooling2D(5, strides=3, method="ave", name=f"{name}_pool")(x)
    else:
        x = layers.AveragePooling2D(5, strides=3, name=f"{name}_pool")(x)
    x = conv_unit(x, 128, 1, variant, f"{name}_conv")
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(1024, activation="relu", name=f"{name}_fc")(x)
    x = layers.Dropout(0.7, name=f"{name}_dropout")(x)
    return prediction_layer(x, classes, classifier_activation, name=f"{name}_predictions")


def _googlenet(model_name, *, variant, aux_logits, **keras_args):
    spec = SPEC_OF[model_name]
    variant, _ = spec.variant(variant)
    check_aux_logits(model_name, aux_logits, keras_args["include_top"])
    taps = {}

    def top(x, classes, classifier_activation):
        main = average_pool_top(x, classes, classifier_activation, dropout=0.4 if variant in PAPER_LAYOUTS else 0.2)
        if not aux_logits:
            return main
        for tap in AUX_TAPS:
            check_aux_input(model_name, taps[tap], min_grid=5, min_input=65)  # the 5x5/3 average pool
        heads = [
            auxiliary_head(taps[tap], classes, classifier_activation, variant, f"aux{index}")
            for index, tap in enumerate(AUX_TAPS, start=1)
        ]
        return [main, *heads]

    return build_application(spec, variant, backbone=_backbone(variant, taps), top=top, **keras_args)


OPTIONS_DOC = """        variant: "original" (the paper), "torchvision" (BN layout, torchvision checkpoints) or "bvlc" (the
            paper's layers with Caffe's LRN and pooling: BVLC's bvlc_googlenet.caffemodel, BGR "caffe" input).
        aux_logits: add the two auxiliary classifiers as outputs 2 and 3 (training only).
"""


@application_doc(__doc__, OPTIONS_DOC)
def GoogLeNet(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation="softmax", name=None, *, variant="original", include_preprocessing=False, aux_logits=False):  # fmt: skip
    return _googlenet("GoogLeNet", **locals())


TORCHVISION_NAMES = (
    (r"conv1\.conv", "conv1"), (r"conv1\.bn", "conv1_bn"),
    (r"conv2\.conv", "conv2_reduce"), (r"conv2\.bn", "conv2_reduce_bn"),
    (r"conv3\.conv", "conv2"), (r"conv3\.bn", "conv2_bn"),
    (r"inception(?P<m>\w+)\.branch1\.conv", "inception_{m}_1x1"),
    (r"inception(?P<m>\w+)\.branch1\.bn", "inception_{m}_1x1_bn"),
    (r"inception(?P<m>\w+)\.branch2\.0\.conv", "inception_{m}_3x3_reduce"),
    (r"inception(?P<m>\w+)\.branch2\.0\.bn", "inception_{m}_3x3_reduce_bn"),
    (r"inception(?P<m>\w+)\.branch2\.1\.conv", "inception_{m}_3x3"),
    (r"inception(?P<m>\w+)\.branch2\.1\.bn", "inception_{m}_3x3_bn"),
    (r"inception(?P<m>\w+)\.branch3\.0\.conv", "inception_{m}_5x5_reduce"),
    (r"inception(?P<m>\w+)\.branch3\.0\.bn", "inception_{m}_5x5_reduce_bn"),
    (r"inception(?P<m>\w+)\.branch3\.1\.conv", "inception_{m}_5x5"),
    (r"inception(?P<m>\w+)\.branch3\.1\.bn", "inception_{m}_5x5_bn"),
    (r"inception(?P<m>\w+)\.branch4\.1\.conv", "inception_{m}_pool_proj"),
    (r"inception(?P<m>\w+)\.branch4\.1\.bn", "inception_{m}_pool_proj_bn"),
    (r"aux(?P<i>\d)\.conv\.conv", "aux{i}_conv"), (r"aux(?P<i>\d)\.conv\.bn", "aux{i}_conv_bn"),
    (r"aux(?P<i>\d)\.fc1", "aux{i}_fc"), (r"aux(?P<i>\d)\.fc2", "aux{i}_predictions"),
    (r"fc", "predictions"),
)  # fmt: skip

# bvlc_googlenet.caffemodel's layer names (models/bvlc_googlenet in BVLC/caffe); loss1/loss2 are the auxiliary heads
CAFFE_NAMES = (
    (r"conv1/7x7_s2", "conv1"), (r"conv2/3x3_reduce", "conv2_reduce"), (r"conv2/3x3", "conv2"),
    (r"inception_(?P<m>\w+)/(?P<b>1x1|3x3_reduce|3x3|5x5_reduce|5x5|pool_proj)", "inception_{m}_{b}"),
    (r"loss(?P<i>[12])/conv", "aux{i}_conv"), (r"loss(?P<i>[12])/fc", "aux{i}_fc"),
    (r"loss(?P<i>[12])/classifier", "aux{i}_predictions"), (r"loss3/classifier", "predictions"),
)  # fmt: skip

SPECS = (
    declare(
        "GoogLeNet",
        GoogLeNet,
        family="googlenet",
        paper="Szegedy et al., Going deeper with convolutions",
        year=2014,
        contract=CONTRACT,
        head_layers=HEAD_LAYERS,
        variants={
            "original": Variant(
                references=(Reference("paper", "GoogLeNet (Table 1)", params=6_998_552),),
                note="LRN, conv biases, 5x5 branches",
                preprocessing="torch",
            ),
            "torchvision": Variant(
                kwargs={"variant": "torchvision"},
                references=(
                    Reference(
                        "torchvision",
                        "googlenet",
                        trainable_params=6_624_904,
                        top1=0.69778,
                        top5=0.89530,
                        accuracy_source="torchvision IMAGENET1K_V1",
                    ),
                ),
                note="conv-BN-ReLU, 3x3 in the 5x5 branch",
                # its checkpoint was ported from TensorFlow: torchvision's transform_input maps to "tf" scaling
                preprocessing="tf",
                torch_names=TORCHVISION_NAMES,
            ),
            "bvlc": Variant(
                kwargs={"variant": "bvlc"},
                references=(
                    Reference(
                        "caffe",
                        "bvlc_googlenet",
                        params=6_998_552,
                        top1=0.687,
                        top5=0.889,
                        accuracy_source="BVLC model zoo, models/bvlc_googlenet/readme.md (centre crop)",
                    ),
                ),
                note="the paper's layers, Caffe's LRN (alpha / 5) and ceil-mode pooling",
                preprocessing="caffe",
                caffe_names=CAFFE_NAMES,
            ),
        },
    ),
)
SPEC_OF = {spec.name: spec for spec in SPECS}

__all__ = ["GoogLeNet"]
