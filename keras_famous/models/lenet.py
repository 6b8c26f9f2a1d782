"""LeNet-5: LeCun, Bottou, Bengio, Haffner, "Gradient-based learning applied to document recognition" (1998).

Per-layer table of the paper (Sec. II-B), `variant="original"`:

    layer  kind                         output      trainable parameters
    C1     conv 6 @ 5x5                 28x28x6     6 * (25 + 1)                       =    156
    S2     trainable 2x2 subsampling    14x14x6     6 * 2 (coefficient, bias)          =     12
    C3     conv 16 @ 5x5, Table I       10x10x16    60 connections * 25 + 16 biases    =  1,516
    S4     trainable 2x2 subsampling    5x5x16      16 * 2                             =     32
    C5     conv 120 @ 5x5 (full)        1x1x120     120 * (16 * 25 + 1)                = 48,120
    F6     fully connected 84           84          84 * (120 + 1)                     = 10,164
    output Euclidean RBF, 10 units      10          fixed +-1 prototypes: 840 not trained
                                                    total trainable                    = 60,000

Widely copied write-ups get C3 and C5 wrong: C3 is not a full 6->16 convolution (that would be
2,416 parameters) but follows Table I's partial connection scheme, and C5 has biases
(48,120, not 5 * 5 * 120 = 3,000, which forgets the 16 input maps as well). All squashing
functions are f(a) = 1.7159 tanh(2a/3) (App. A); the paper calls it a "sigmoid function".

`variant="modern"`: the same shapes with ReLU, max pooling, a full C3 (2,416), a dense softmax
output (850): 61,706 parameters.
"""

import numpy as np
from keras import layers

from ..applications import application_doc, build_application
from ..blocks import prediction_layer
from ..layers import EuclideanRBF, PartialConv2D, TrainableSubsampling, lecun_tanh
from ..spec import InputContract, Reference, Variant, declare

# Table I: the S2 maps (columns of the paper's table read per C3 map) each C3 map is connected to.
C3_CONNECTIONS = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),              # 3 contiguous maps
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),  # 4 contiguous
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),                                      # 4 discontinuous
    (0, 1, 2, 3, 4, 5),                                                            # all six
)  # fmt: skip

# The RBF prototypes: stylised 7x12 bitmaps of the digits, +1 for ink, -1 elsewhere (Sec. II-B, Fig. 3).
DIGIT_BITMAPS = (
    ("..###..", ".#...#.", "#.....#", "#.....#", "#.....#", "#.....#",
     "#.....#", "#.....#", "#.....#", "#.....#", ".#...#.", "..###.."),
    ("...#...", "..##...", ".#.#...", "...#...", "...#...", "...#...",
     "...#...", "...#...", "...#...", "...#...", "...#...", ".#####."),
    ("..###..", ".#...#.", "#.....#", "......#", ".....#.", "....#..",
     "...#...", "..#....", ".#.....", "#......", "#......", "#######"),
    (".#####.", "#.....#", "......#", "......#", ".....#.", "..###..",
     ".....#.", "......#", "......#", "......#", "#.....#", ".#####."),
    ("....#..", "...##..", "..#.#..", ".#..#..", "#...#..", "#...#..",
     "#######", "....#..", "....#..", "....#..", "....#..", "....#.."),
    ("#######", "#......", "#......", "#......", "#####..", ".....#.",
     "......#", "......#", "......#", "......#", "#....#.", ".####.."),
    ("..####.", ".#.....", "#......", "#......", "#.###..", "##...#.",
     "#.....#", "#.....#", "#.....#", "#.....#", ".#...#.", "..###.."),
    ("#######", "......#", ".....#.", ".....#.", "....#..", "....#..",
     "...#...", "...#...", "..#....", "..#....", "..#....", "..#...."),
    ("..###..", ".#...#.", "#.....#", "#.....#", ".#...#.", "..###..",
     ".#...#.", "#.....#", "#.....#", "#.....#", ".#...#.", "..###.."),
    ("..###..", ".#...#.", "#.....#", "#.....#", "#.....#", ".#...##",
     "..###.#", "......#", "......#", ".....#.", "....#..", ".###..."),
)  # fmt: skip

F6_UNITS = 84  # 7 x 12, the size of a prototype bitmap


def rbf_prototypes(classes):
    """The 10 digit bitmaps as +-1 vectors; for other class counts, fixed pseudo-random +-1 codes
    (the paper's "distributed codes", Sec. II-B), seeded so that a model is reproducible."""
    if classes == len(DIGIT_BITMAPS):
        return np.array([[1.0 if c == "#" else -1.0 for row in bitmap for c in row] for bitmap in DIGIT_BITMAPS])
    rng = np.random.default_rng(1998)
    return rng.choice([-1.0, 1.0], size=(classes, F6_UNITS))


CONTRACT = InputContract(default_shape=(32, 32, 1), min_size=32, flatten_top=True)
HEAD_LAYERS = ("f6", "predictions")


def _backbone(variant):
    def backbone(x):
        if variant == "original":
            x = layers.Conv2D(6, 5, activation=lecun_tanh, name="c1")(x)
            x = TrainableSubsampling(name="s2")(x)
            x = PartialConv2D(C3_CONNECTIONS, kernel_size=5, activation=lecun_tanh, name="c3")(x)
            x = TrainableSubsampling(name="s4")(x)
            return layers.Conv2D(120, 5, activation=lecun_tanh, name="c5")(x)
        x = layers.Conv2D(6, 5, activation="relu", name="c1")(x)
        x = layers.MaxPooling2D(2, name="s2")(x)
        x = layers.Conv2D(16, 5, activation="relu", name="c3")(x)
        x = layers.MaxPooling2D(2, name="s4")(x)
        return layers.Conv2D(120, 5, activation="relu", name="c5")(x)

    return backbone


def _top(variant):
    def top(x, classes, classifier_activation):
        x = layers.Flatten(name="flatten")(x)
        if variant == "original":
            x = layers.Dense(F6_UNITS, activation=lecun_tanh, name="f6")(x)
            return EuclideanRBF(
                rbf_prototypes(classes), activation=classifier_activation, dtype="float32", name="predictions"
            )(x)
        x = layers.Dense(F6_UNITS, activation="relu", name="f6")(x)
        return prediction_layer(x, classes, classifier_activation)

    return top


def _lenet(model_name, *, variant, **keras_args):
    spec = SPEC_OF[model_name]
    variant, _ = spec.variant(variant)
    return build_application(spec, variant, backbone=_backbone(variant), top=_top(variant), **keras_args)


OPTIONS_DOC = """        variant: "original" (the paper's network) or "modern" (ReLU, max pooling, full C3).
"""


@application_doc(__doc__, OPTIONS_DOC)
def LeNet5(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None, classes=10,
           classifier_activation="softmax", name=None, *, variant="original", include_preprocessing=False):  # fmt: skip
    return _lenet("LeNet5", **locals())


# the weights keras_famous trained on scikit-learn's digits (weights="digits", tools/train_lenet_digits.py)
DIGITS = Reference(
    "keras_famous",
    "LeNet5 trained by tools/train_lenet_digits.py",
    top1=0.975556,
    top5=1.0,
    accuracy_source="scikit-learn digits, fixed test split of 450 images (keras_famous.datasets)",
)

SPECS = (
    declare(
        "LeNet5",
        LeNet5,
        family="lenet",
        paper="LeCun et al., Gradient-based learning applied to document recognition",
        year=1998,
        contract=CONTRACT,
        head_layers=HEAD_LAYERS,
        variants={
            "original": Variant(
                references=(Reference("paper", "LeNet-5", params=60_840, trainable_params=60_000), DIGITS),
                note="trainable subsampling, Table I C3, Euclidean RBF output (840 fixed weights)",
                preprocessing="digits",
            ),
            "modern": Variant(
                kwargs={"variant": "modern"},
                references=(
                    Reference("arithmetic", "C1 156 + C3 2,416 + C5 48,120 + F6 10,164 + out 850", params=61_706),
                ),
                note="ReLU, max pooling, full C3, softmax",
            ),
        },
    ),
)
SPEC_OF = {spec.name: spec for spec in SPECS}

__all__ = ["LeNet5"]
