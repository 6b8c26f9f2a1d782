"""The keras.applications contract, written once for every family.

Every public builder takes `include_top, weights, input_tensor, input_shape, pooling, classes,
classifier_activation, name` (plus family options such as `variant`) and hands them to
`build_application`, which validates them, makes the input, calls the family's backbone and top,
and finally calls the one weights hook.
"""

import numbers
from typing import Callable, Optional

import keras

from .arguments import named, setting
from . import graph
from . import weights as weights_lib
from .blocks import global_pool
from .layers import ImagePreprocessing
from .spec import PREPROCESSING_MODES, InputContract, ModelSpec

POOLING_CHOICES = (None, "avg", "max")

BUILDER_ARGS_DOC = """
    Args:
        include_top: whether to include the classifier at the top of the network.
        weights: `None` (random initialisation), `"imagenet"` (pre-trained weights from the
            manifest's source, downloaded once into `KERAS_FAMOUS_HOME` and hash-checked; LeNet5 has
            `"digits"`, weights keras_famous trained), or the path of a weights file: a
            keras.applications `.h5`, a Keras `.weights.h5` or `.keras`, a torchvision/timm
            `.safetensors` or `.pth`, or a Caffe model zoo `.caffemodel` (for the variant with that layout).
        input_tensor: optional Keras tensor (output of `keras.Input()`) to use as the image input.
        input_shape: optional `(height, width, channels)` tuple. With `include_top=True` and
            pre-trained weights of a fully connected top it must be the default input shape;
            otherwise each side must be at least the model's minimum input size. With pretrained
            weights, another number of channels adapts the input convolution (1: the kernel summed over
            R, G, B; N: repeated and scaled by 3/N), with a warning.
        pooling: feature pooling when `include_top=False`: `None` (the 4D feature map), `"avg"` or
            `"max"` (global average / max pooling to a 2D tensor).
        classes: number of classes, only with `include_top=True`. With pretrained weights of another
            number of classes the classifier is new (randomly initialised, a warning says so), the rest loads.
        classifier_activation: activation of the top layer (a string or callable, `None` for logits).
            It is always computed in float32, whatever the dtype policy.
        name: the name of the model.
        include_preprocessing: `False` (the model takes inputs scaled as its weights expect, e.g. by
            `keras_famous.preprocess_input`), `True` (the model starts with a layer applying the preprocessing
            mode the variant's weights were trained with, so it takes RGB, or LeNet5's grayscale, pixels in
            [0, 255]) or a mode, one of "caffe", "torch", "tf" and "digits" (needed for a variant without
            pretrained weights, which declares no mode).
"""


def output_side(side, kernel_size, strides=1, padding="valid"):
    """The spatial side after a convolution or pool: padding "valid", "same", "ceil" (Caffe's and PyTorch's
    ceil-mode pools) or a symmetric zero padding in pixels."""
    if padding == "same":
        return -(-side // strides)
    if padding == "ceil":
        return -(-(side - kernel_size) // strides) + 1
    pad = 0 if padding == "valid" else padding
    return (side + 2 * pad - kernel_size) // strides + 1


def min_input_size(output_side_of, largest):
    """The smallest input side for which `output_side_of(side)`, the side of the backbone's last feature map,
    is at least 1 (searched up to `largest`, the default side)."""
    return next(side for side in range(1, largest + 1) if output_side_of(side) >= 1)


def check_bool(model_name, argument, value):
    """`value` must be True or False (not "yes", not 1)."""
    if not isinstance(value, bool):
        raise ValueError(
            f"{named(argument)} must be True or False for {model_name}; received {setting(argument, value)}."
        )
    return value


def check_rate(model_name, argument, value):
    """A dropout-like rate in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(
            f"{named(argument)} must be a number in [0, 1) for {model_name}; received {setting(argument, value)}."
        )
    return float(value)


def check_positive_int(model_name, argument, value):
    """A positive integer (numpy integers included)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(
            f"{named(argument)} must be a positive integer for {model_name}; received {setting(argument, value)}."
        )
    return int(value)


def check_preprocessing(model_name, variant, include_preprocessing, declared_mode):
    """The preprocessing mode `include_preprocessing` asks for (None: no preprocessing layer): True means the
    variant's `declared_mode` (the mode of its weights), a string names a mode of PREPROCESSING_MODES."""
    if include_preprocessing is False:
        return None
    if include_preprocessing is True:
        if declared_mode is None:
            raise ValueError(
                f"`include_preprocessing=True` applies the preprocessing mode of the variant's pretrained weights, "
                f"but {model_name} variant {variant!r} has no weights, so it declares no mode. Pass the mode to apply "
                f"instead, one of {PREPROCESSING_MODES}: e.g. include_preprocessing='tf'."
            )
        return declared_mode
    if isinstance(include_preprocessing, str) and include_preprocessing in PREPROCESSING_MODES:
        return include_preprocessing
    raise ValueError(
        f"`include_preprocessing` must be True, False or a preprocessing mode, one of {PREPROCESSING_MODES}, for "
        f"{model_name}; received include_preprocessing={include_preprocessing!r}."
    )


def _check_activation(model_name, classifier_activation):
    try:
        keras.activations.get(classifier_activation)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"Unknown `classifier_activation` {classifier_activation!r} for {model_name}: use None (logits), "
            "'softmax', another Keras activation name or a callable."
        ) from error


def check_arguments(model_name, *, include_top, weights, pooling, classes, classifier_activation, variant=None):
    """Validates the keras.applications arguments (before anything is built); returns `classes` as an int."""
    check_bool(model_name, "include_top", include_top)
    if pooling not in POOLING_CHOICES:
        raise ValueError(f"`pooling` must be None, 'avg' or 'max' for {model_name}; received pooling={pooling!r}.")
    classes = check_positive_int(model_name, "classes", classes)
    weights_lib.check_weights_argument(model_name, weights, variant)  # first: does such a file exist at all
    # pretrained weights for other `classes` give a new classifier (convert.adapt), which any activation suits
    _check_activation(model_name, classifier_activation)
    return classes


def _check_spatial(model_name, shape, contract, what):
    height, width = shape[0], shape[1]
    for side in (height, width):
        if side is not None and side < contract.min_size:
            raise ValueError(
                f"{named(what)} is too small for {model_name}: received shape {tuple(shape)}, but each side must "
                f"be at least {contract.min_size} pixels (the network's minimum input size). "
                f"The default input shape is {contract.default_shape}."
            )


def _shape_tuple(model_name, input_shape, what):
    """`input_shape` as a (height, width, channels) tuple of ints (None for a free side); ValueError otherwise."""
    hint = f"a (height, width, channels) tuple such as (224, 224, 3) for {model_name}"
    if isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__iter__"):
        raise ValueError(f"{named(what)} must be {hint}; received {setting(what, input_shape)}.")
    shape = tuple(input_shape)
    if len(shape) != 3:
        raise ValueError(
            f"{named(what)} must be {hint}; received {setting(what, input_shape)} ({len(shape)} dimensions)."
        )
    for index, side in enumerate(shape):
        free = side is None and index < 2
        if not free and (isinstance(side, bool) or not isinstance(side, numbers.Integral) or side < 1):
            part = "channels" if index == 2 else "height and width"
            raise ValueError(
                f"{named(what)} must be {hint}, with positive integer {part}; received {setting(what, input_shape)}."
            )
    return tuple(None if side is None else int(side) for side in shape)


def resolve_input_shape(model_name, input_shape, contract, *, include_top, weights, what="input_shape"):
    if keras.config.image_data_format() != "channels_last":
        raise ValueError(
            f"{model_name} is built channels_last; keras.config.image_data_format() is "
            f"{keras.config.image_data_format()!r}. Call keras.config.set_image_data_format('channels_last')."
        )
    if input_shape is None:
        if include_top:
            return contract.default_shape
        return (None, None, contract.default_shape[-1])
    input_shape = _shape_tuple(model_name, input_shape, what)
    _check_spatial(model_name, input_shape, contract, what)
    if include_top and contract.flatten_top:
        if None in input_shape[:2]:
            raise ValueError(
                f"With `include_top=True`, {model_name} flattens its last feature map, so {named(what)} must have a "
                f"static height and width; received shape {input_shape}. Use include_top=False for "
                "variable sizes."
            )
        if weights is not None and input_shape[:2] != contract.default_shape[:2]:
            raise ValueError(
                f"With pre-trained weights and `include_top=True`, {named(what)} must be "
                f"{contract.default_shape[0]}x{contract.default_shape[1]} for {model_name} (its top flattens a "
                f"fixed-size map); received {input_shape}. Use include_top=False for other sizes."
            )
    return input_shape


def make_input(model_name, input_tensor, input_shape, contract, *, include_top, weights):
    """Returns (image_input, model_inputs): model_inputs include any predecessors of `input_tensor`."""
    if input_tensor is None:
        shape = resolve_input_shape(model_name, input_shape, contract, include_top=include_top, weights=weights)
        image_input = keras.Input(shape=shape, name="input_layer")
        return image_input, image_input
    if not hasattr(input_tensor, "shape") or len(input_tensor.shape) != 4:
        raise ValueError(
            f"`input_tensor` must be a 4D image tensor (batch, height, width, channels) for {model_name}, such as "
            f"keras.Input((224, 224, 3)); received input_tensor={input_tensor!r}."
        )
    if not keras.backend.is_keras_tensor(input_tensor):
        shape = input_shape if input_shape is not None else tuple(input_tensor.shape[1:])
        shape = resolve_input_shape(
            model_name,
            shape,
            contract,
            include_top=include_top,
            weights=weights,
            what="input_tensor" if input_shape is None else "input_shape",
        )
        image_input = keras.Input(tensor=input_tensor, shape=shape, name="input_layer")
        return image_input, image_input
    resolve_input_shape(
        model_name,
        tuple(input_tensor.shape[1:]),
        contract,
        include_top=include_top,
        weights=weights,
        what="input_tensor",
    )
    return input_tensor, keras.utils.get_source_inputs(input_tensor)


def build_application(
    spec: ModelSpec,
    variant: str,
    *,
    backbone: Callable,
    top: Callable,
    contract: Optional[InputContract] = None,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name: Optional[str] = None,
    include_preprocessing=False,
):
    """Validates the keras.applications arguments and assembles `spec`'s model drawn as `variant`.

    `backbone(x)` returns the last feature map; `top(x, classes, classifier_activation)` returns the
    classifier output. `contract` defaults to the spec's. With `include_preprocessing` the image input goes
    through an `ImagePreprocessing` layer named "preprocessing" (no weights) before `backbone`. The weights hook
    gets the variant's name map.
    """
    model_name = spec.name
    variant, layout = spec.variant(variant)
    contract = contract or spec.contract
    classes = check_arguments(
        model_name,
        include_top=include_top,
        weights=weights,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        variant=variant,
    )
    if name is not None and not isinstance(name, str):
        raise ValueError(f"`name` must be a string for {model_name}; received name={name!r}.")
    mode = check_preprocessing(model_name, variant, include_preprocessing, layout.preprocessing)
    image_input, inputs = make_input(
        model_name, input_tensor, input_shape, contract, include_top=include_top, weights=weights
    )
    user_tensor = None
    if inputs is not image_input:  # the user's Keras tensor: ours is built and loaded apart, then drawn on it
        user_tensor, image_input = image_input, keras.Input(batch_shape=image_input.shape, dtype=image_input.dtype)
    x = image_input
    if mode is not None:
        x = ImagePreprocessing(mode, name="preprocessing")(x)
    x = backbone(x)
    x = top(x, classes, classifier_activation) if include_top else global_pool(x, pooling)
    model = keras.Model(image_input, x, name=name or model_name.lower())
    model = weights_lib.load_into(model, weights, weights_lib.Target.of(spec, variant), adapt=True)
    if user_tensor is None:
        return model
    # drawn again on the user's tensor, renaming the layers whose names the user's graph holds
    theirs = {layer.name for layer in keras.Model(inputs, user_tensor).layers}
    names = _names_apart([layer.name for layer in model.layers], theirs)
    output = graph.replay(
        model, user_tensor, lambda layer, args, kwargs: _renamed(layer, names[layer.name], args, kwargs)
    )
    return keras.Model(inputs, output, name=model.name)


def _names_apart(ours, theirs):
    """{our name: the name it takes beside `theirs`}: "name" becomes "name_k", the smallest k free in both,
    where `theirs` holds it. The names depend only on the user's graph, never on what the session built
    before, so a `.weights.h5` saved from one build loads into the next (keras.applications counts names per
    session instead, and fails on a user's layer named as one of its fixed names)."""
    taken = set(ours) | set(theirs)
    names = {}
    for name in ours:
        new = name
        suffix = 1
        while name in theirs and new in taken:
            new = f"{name}_{suffix}"
            suffix += 1
        taken.add(new)
        names[name] = new
    return names


def _renamed(layer, name, args, kwargs):
    """`layer` called on `args`, or where it must be named otherwise a copy named `name` with its weights: the
    copy's variables take their paths from the new name (one path per variable, as torch needs)."""
    if name == layer.name:
        return layer(*args, **kwargs)
    copy = layer.__class__.from_config({**layer.get_config(), "name": name})
    output = copy(*args, **kwargs)
    copy.set_weights(layer.get_weights())
    return output


def application_doc(summary, options_doc=""):
    """Sets a builder's docstring: `summary` (the family's paper table), the keras.applications arguments
    and the family's own options (`options_doc`, Args lines)."""

    def document(builder):
        builder.__doc__ = f"Instantiates {builder.__name__}.\n{summary}{BUILDER_ARGS_DOC}{options_doc}"
        return builder

    return document


def check_aux_logits(model_name, aux_logits, include_top):
    check_bool(model_name, "aux_logits", aux_logits)
    if aux_logits and not include_top:
        raise ValueError(
            f"`aux_logits=True` needs `include_top=True` for {model_name} (the auxiliary heads are classifiers)."
        )


def check_aux_input(model_name, tapped, min_grid, min_input):
    """An auxiliary head pools its tap with a fixed window: the tapped grid must be large enough."""
    grid = tuple(tapped.shape[1:3])
    if any(size is not None and size < min_grid for size in grid):
        raise ValueError(
            f"{model_name}(aux_logits=True) needs an {named('input_shape')} of at least {min_input}x{min_input}: its "
            f"auxiliary head reads a grid of at least {min_grid}x{min_grid}, this input gives {grid[0]}x{grid[1]}. "
            "Use a larger input or `aux_logits=False`."
        )


def without_auxiliary_heads(model):
    """The inference model of a network built with `aux_logits=True`: the same layers and weights,
    only the main output (the first). A model without auxiliary heads is returned unchanged."""
    if len(model.outputs) == 1:
        return model
    return keras.Model(model.inputs, model.outputs[0], name=model.name)
