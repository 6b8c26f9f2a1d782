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

import numbers

from keras import layers

from ..applications import application_doc, build_application, check_bool, check_positive_int
from ..blocks import average_pool_top, batch_norm, relu
from ..spec import InputContract, Reference, Variant, declare

IMAGENET_BLOCKS = {"DenseNet121": (6, 12, 24, 16), "DenseNet169": (6, 12, 32, 32), "DenseNet201": (6, 12, 48, 32)}
IMAGENET_GROWTH_RATE = 32
# DenseNet-BC for CIFAR (Table 2): variant -> (depth L, growth rate k); (L - 4) / 6 bottleneck layers per block
CIFAR_BC = {"L100_k12": (100, 12), "L250_k24": (250, 24), "L190_k40": (190, 40)}
BC_COMPRESSION = 0.5  # theta of DenseNet-BC (Sec. 3, "Compression")
BOTTLENECK_FACTOR = 4  # the 1x1 bottleneck has 4k channels (Sec. 3, "Bottleneck layers")

BN_EPSILON = {"keras": 1.001e-5, "torchvision": 1e-5}
TORCH_BN_EPSILON = 1e-5  # PyTorch's BatchNorm2d default, for the networks keras.applications does not draw
STEMS = ("imagenet", "cifar")
HEAD_LAYERS = ("predictions",)

# torchvision's module names. The released DenseNet files (densenet121-a639ec97.pth, ...) spell a dense layer's
# modules "norm.1", "conv.1", "norm.2", "conv.2"; torchvision rewrites them to "norm1" ... on load
# (`_load_state_dict`, densenet.py).
TORCHVISION_NAMES = (
    (r"features\.conv0", "conv1_conv"),
    (r"features\.norm0", "conv1_bn"),
    (r"features\.denseblock(?P<block>\d+)\.denselayer(?P<layer>\d+)\.norm\.?1", "conv{block+1}_block{layer}_0_bn"),
    (r"features\.denseblock(?P<block>\d+)\.denselayer(?P<layer>\d+)\.conv\.?1", "conv{block+1}_block{layer}_1_conv"),
    (r"features\.denseblock(?P<block>\d+)\.denselayer(?P<layer>\d+)\.norm\.?2", "conv{block+1}_block{layer}_1_bn"),
    (r"features\.denseblock(?P<block>\d+)\.denselayer(?P<layer>\d+)\.conv\.?2", "conv{block+1}_block{layer}_2_conv"),
    (r"features\.transition(?P<index>\d+)\.norm", "pool{index+1}_bn"),
    (r"features\.transition(?P<index>\d+)\.conv", "pool{index+1}_conv"),
    (r"features\.norm5", "bn"),
    (r"classifier", "predictions"),
)


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


def input_contract(blocks, stem):
    """Each transition halves the grid (a 2x2/2 average pool); the ImageNet stem quarters it first. The ImageNet
    networks of Table 1 keep keras.applications' minimum of 32."""
    transitions = len(blocks) - 1
    if stem == "imagenet":
        return InputContract(default_shape=(224, 224, 3), min_size=max(32, 2 ** (transitions + 2)))
    return InputContract(default_shape=(32, 32, 3), min_size=2**transitions)


def _build(spec, variant, *, blocks, growth_rate, compression, bottleneck, stem, epsilon, **keras_args):
    return build_application(
        spec,
        variant,
        backbone=densenet_backbone(blocks, growth_rate, compression, bottleneck, stem, epsilon),
        top=average_pool_top,
        contract=input_contract(blocks, stem),
        **keras_args,
    )


def _densenet_imagenet(model_name, *, variant, **keras_args):
    spec = SPEC_OF[model_name]
    variant, _ = spec.variant(variant)
    return _build(
        spec,
        variant,
        blocks=IMAGENET_BLOCKS[model_name],
        growth_rate=IMAGENET_GROWTH_RATE,
        compression=BC_COMPRESSION,
        bottleneck=True,
        stem="imagenet",
        epsilon=BN_EPSILON[variant],
        **keras_args,
    )


def _densenet_bc(model_name, *, variant, **keras_args):
    spec = SPEC_OF[model_name]
    variant, _ = spec.variant(variant)
    depth, growth_rate = CIFAR_BC[variant]
    return _build(
        spec,
        variant,
        blocks=((depth - 4) // 6,) * 3,
        growth_rate=growth_rate,
        compression=BC_COMPRESSION,
        bottleneck=True,
        stem="cifar",
        epsilon=TORCH_BN_EPSILON,
        **keras_args,
    )


def _check_blocks(model_name, blocks):
    counts = () if isinstance(blocks, (str, bytes)) or not hasattr(blocks, "__iter__") else tuple(blocks)
    if not counts or any(isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1 for n in counts):
        raise ValueError(
            f"`blocks` must be a non-empty sequence of positive integers (the layers of each dense block) for "
            f"{model_name}, such as (16, 16, 16); received blocks={blocks!r}."
        )
    return tuple(int(n) for n in counts)


def _check_compression(model_name, compression):
    if isinstance(compression, bool) or not isinstance(compression, numbers.Real) or not 0 < compression <= 1:
        raise ValueError(
            f"`compression` must be a number in (0, 1] for {model_name}; received compression={compression!r}."
        )
    return float(compression)


def _densenet_generic(model_name, *, blocks, growth_rate, compression, bottleneck, stem, **keras_args):
    if stem not in STEMS:
        raise ValueError(f"`stem` must be 'imagenet' or 'cifar' for {model_name}; received stem={stem!r}.")
    return _build(
        GENERIC_SPEC,
        "custom",
        blocks=_check_blocks(model_name, blocks),
        growth_rate=check_positive_int(model_name, "growth_rate", growth_rate),
        compression=_check_compression(model_name, compression),
        bottleneck=check_bool(model_name, "bottleneck", bottleneck),
        stem=stem,
        epsilon=TORCH_BN_EPSILON,
        **keras_args,
    )


IMAGENET_OPTIONS_DOC = """        variant: "keras" (BN epsilon 1.001e-5) or "torchvision" (1e-5); same weights.
"""
BC_OPTIONS_DOC = f"""        variant: one of {tuple(CIFAR_BC)} (the paper's CIFAR DenseNet-BC rows).
"""
GENERIC_OPTIONS_DOC = """        blocks: layers per dense block, e.g. (16, 16, 16) for DenseNet-BC L=100.
        growth_rate: k, the channels each layer adds.
        compression: theta, the fraction of channels a transition keeps (1 = no compression).
        bottleneck: the 1x1 conv of 4k channels before each 3x3 (the B of DenseNet-BC).
        stem: "cifar" (one 3x3 conv) or "imagenet" (7x7/2 conv and 3x3/2 max pool).
"""


@application_doc(__doc__, IMAGENET_OPTIONS_DOC)
def DenseNet121(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
                classifier_activation="softmax", name=None, *, variant="keras", include_preprocessing=False):  # fmt: skip
    return _densenet_imagenet("DenseNet121", **locals())


@application_doc(__doc__, IMAGENET_OPTIONS_DOC)
def DenseNet169(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
                classifier_activation="softmax", name=None, *, variant="keras", include_preprocessing=False):  # fmt: skip
    return _densenet_imagenet("DenseNet169", **locals())


@application_doc(__doc__, IMAGENET_OPTIONS_DOC)
def DenseNet201(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
                classifier_activation="softmax", name=None, *, variant="keras", include_preprocessing=False):  # fmt: skip
    return _densenet_imagenet("DenseNet201", **locals())


@application_doc(__doc__, BC_OPTIONS_DOC)
def DenseNetBC(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
               classifier_activation="softmax", name=None, *, variant="L100_k12", include_preprocessing=False):  # fmt: skip
    return _densenet_bc("DenseNetBC", **locals())


@application_doc(__doc__, GENERIC_OPTIONS_DOC)
def DenseNet(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
             classifier_activation="softmax", name=None, *, blocks=(16, 16, 16), growth_rate=12, compression=0.5,
             bottleneck=True, stem="cifar", include_preprocessing=False):  # fmt: skip
    return _densenet_generic("DenseNet", **locals())


PAPER = "Huang et al., Densely Connected Convolutional Networks"
YEAR = 2016
KERAS_ACC = "Keras pretrained table (keras.io/api/applications)"
TORCHVISION_ACC = "torchvision IMAGENET1K_V1"

# model: {variant: its reference}
IMAGENET_REFERENCES = {
    "DenseNet121": {
        "keras": Reference("keras.applications", "DenseNet121", params=8_062_504, top1=0.750, top5=0.923,
                           accuracy_source=KERAS_ACC),
        "torchvision": Reference("torchvision", "densenet121", trainable_params=7_978_856, top1=0.74434,
                                 top5=0.91972, accuracy_source=TORCHVISION_ACC),
    },
    "DenseNet169": {
        "keras": Reference("keras.applications", "DenseNet169", params=14_307_880, top1=0.762, top5=0.932,
                           accuracy_source=KERAS_ACC),
        "torchvision": Reference("torchvision", "densenet169", trainable_params=14_149_480, top1=0.756,
                                 top5=0.92806, accuracy_source=TORCHVISION_ACC),
    },
    "DenseNet201": {
        "keras": Reference("keras.applications", "DenseNet201", params=20_242_984, top1=0.773, top5=0.936,
                           accuracy_source=KERAS_ACC),
        "torchvision": Reference("torchvision", "densenet201", trainable_params=20_013_928, top1=0.76896,
                                 top5=0.93370, accuracy_source=TORCHVISION_ACC),
    },
}  # fmt: skip
BC_REFERENCES = {
    "L100_k12": Reference("paper", "DenseNet-BC L=100 k=12 (CIFAR-10)", trainable_params=769_162),
    "L250_k24": Reference("paper", "DenseNet-BC L=250 k=24 (15.3M)"),
    "L190_k40": Reference("paper", "DenseNet-BC L=190 k=40 (25.6M)"),
}


def _declare(builder, contract, variants):
    return declare(
        builder.__name__,
        builder,
        family="densenet",
        paper=PAPER,
        year=YEAR,
        contract=contract,
        variants=variants,
        head_layers=HEAD_LAYERS,
    )


def _imagenet_spec(builder):
    model_name = builder.__name__
    references = IMAGENET_REFERENCES[model_name]
    variants = {
        # both layouts have the same weights (only BN's epsilon differs), so torchvision's files load into either
        "keras": Variant(references=(references["keras"],), preprocessing="torch", torch_names=TORCHVISION_NAMES),
        "torchvision": Variant(
            kwargs={"variant": "torchvision"},
            references=(references["torchvision"],),
            preprocessing="torch",
            torch_names=TORCHVISION_NAMES,
        ),
    }
    return _declare(builder, input_contract(IMAGENET_BLOCKS[model_name], "imagenet"), variants)


CIFAR_CONTRACT = input_contract((16, 16, 16), "cifar")  # three dense blocks: DenseNetBC's, and DenseNet's default

SPECS = (
    *(_imagenet_spec(builder) for builder in (DenseNet121, DenseNet169, DenseNet201)),
    _declare(
        DenseNetBC,
        CIFAR_CONTRACT,
        {
            variant: Variant(kwargs={"variant": variant}, references=(reference,), torch_names=TORCHVISION_NAMES)
            for variant, reference in BC_REFERENCES.items()
        },
    ),
)
SPEC_OF = {spec.name: spec for spec in SPECS}
# The generic builder's spec, not in the registry (SPECS lists the paper's networks): what `build_application` reads,
# and the name map for a checkpoint of torchvision's DenseNet class with other `block_config`s.
GENERIC_SPEC = _declare(DenseNet, CIFAR_CONTRACT, {"custom": Variant(torch_names=TORCHVISION_NAMES)})

__all__ = ["DenseNet121", "DenseNet169", "DenseNet201", "DenseNetBC", "DenseNet"]
