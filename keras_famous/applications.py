"""The keras.applications contract, written once for every family.

Every public builder takes `include_top, weights, input_tensor, input_shape, pooling, classes,
classifier_activation, name` (plus family options such as `variant`) and hands them to
`build_application`, which validates them, makes the input, calls the family's backbone and top,
and finally calls the one weights hook.
"""

import inspect
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

import keras

from . import weights as weights_lib
from .blocks import global_pool

POOLING_CHOICES = (None, "avg", "max")

BUILDER_ARGS_DOC = """
    Args:
        include_top: whether to include the classifier at the top of the network.
        weights: `None` (random initialisation), `"imagenet"` (pre-trained weights from the
            manifest's source, downloaded once into `KERAS_FAMOUS_HOME` and hash-checked; LeNet5 has
            `"digits"`, weights keras_famous trained), or the path of a weights file: a
            keras.applications `.h5`, a Keras `.weights.h5` or `.keras`, a torchvision/timm
            `.safetensors` or `.pth` (for the variant with that layout).
        input_tensor: optional Keras tensor (output of `keras.Input()`) to use as the image input.
        input_shape: optional `(height, width, channels)` tuple. With `include_top=True` and
            pre-trained weights of a fully connected top it must be the default input shape;
            otherwise each side must be at least the model's minimum input size.
        pooling: feature pooling when `include_top=False`: `None` (the 4D feature map), `"avg"` or
            `"max"` (global average / max pooling to a 2D tensor).
        classes: number of classes, only with `include_top=True`; must be 1000 with
            `weights="imagenet"`.
        classifier_activation: activation of the top layer (a string or callable, `None` for logits).
            It is always computed in float32, whatever the dtype policy. With pre-trained weights
            only `None` and `"softmax"` are allowed.
        name: the name of the model.
"""


@dataclass(frozen=True)
class InputContract:
    """What a network accepts: its default input shape, the smallest side it can process, and
    whether its top flattens a fixed-size feature map (so pre-trained tops need the default size)."""

    default_shape: Tuple[int, int, int]
    min_size: int
    flatten_top: bool = False


def _is_pretrained(weights):
    return weights is not None


def check_arguments(model_name, *, include_top, weights, pooling, classes, classifier_activation, weights_key=None):
    if not isinstance(include_top, bool):
        raise ValueError(f"`include_top` must be True or False for {model_name}; received include_top={include_top!r}.")
    if pooling not in POOLING_CHOICES:
        raise ValueError(
            f"`pooling` must be None, 'avg' or 'max' for {model_name}; received pooling={pooling!r}."
        )
    if not isinstance(classes, int) or isinstance(classes, bool) or classes < 1:
        raise ValueError(f"`classes` must be a positive integer for {model_name}; received classes={classes!r}.")
    weights_lib.check_weights_argument(model_name, weights, weights_key)  # first: does such a file exist at all
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(
            f"With `weights='imagenet'` and `include_top=True`, `classes` must be 1000 for {model_name}; "
            f"received classes={classes}. Use include_top=False and add your own classifier, or weights=None."
        )
    if _is_pretrained(weights) and include_top:
        activation = keras.activations.get(classifier_activation)
        if activation not in (keras.activations.get("softmax"), keras.activations.get(None)):
            raise ValueError(
                f"With pre-trained weights, `classifier_activation` must be None or 'softmax' for {model_name}; "
                f"received classifier_activation={classifier_activation!r}."
            )


def _check_spatial(model_name, shape, contract, what):
    height, width = shape[0], shape[1]
    for side in (height, width):
        if side is not None and side < contract.min_size:
            raise ValueError(
                f"`{what}` is too small for {model_name}: received {what}={tuple(shape)}, but each side must "
                f"be at least {contract.min_size} pixels (the network's minimum input size). "
                f"The default input shape is {contract.default_shape}."
            )


def resolve_input_shape(model_name, input_shape, contract, *, include_top, weights):
    if keras.config.image_data_format() != "channels_last":
        raise ValueError(
            f"{model_name} is built channels_last; keras.config.image_data_format() is "
            f"{keras.config.image_data_format()!r}. Call keras.config.set_image_data_format('channels_last')."
        )
    if input_shape is None:
        if include_top:
            return contract.default_shape
        return (None, None, contract.default_shape[-1])
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(
            f"`input_shape` must be (height, width, channels) for {model_name}; received input_shape={input_shape}."
        )
    _check_spatial(model_name, input_shape, contract, "input_shape")
    channels = contract.default_shape[-1]
    if _is_pretrained(weights) and input_shape[-1] != channels:
        raise ValueError(
            f"Pre-trained {model_name} weights expect {channels} input channels; received input_shape={input_shape}. "
            "Use weights=None to train on other inputs."
        )
    if include_top and contract.flatten_top:
        if None in input_shape[:2]:
            raise ValueError(
                f"With `include_top=True`, {model_name} flattens its last feature map, so `input_shape` must be static; "
                f"received input_shape={input_shape}. Use include_top=False for variable sizes."
            )
        if _is_pretrained(weights) and input_shape != contract.default_shape:
            raise ValueError(
                f"With pre-trained weights and `include_top=True`, `input_shape` must be {contract.default_shape} for "
                f"{model_name}; received input_shape={input_shape}. Use include_top=False for other sizes."
            )
    return input_shape


def make_input(model_name, input_tensor, input_shape, contract, *, include_top, weights):
    """Returns (image_input, model_inputs): model_inputs include any predecessors of `input_tensor`."""
    if input_tensor is None:
        shape = resolve_input_shape(model_name, input_shape, contract, include_top=include_top, weights=weights)
        image_input = keras.Input(shape=shape, name="input_layer")
        return image_input, image_input
    if not keras.backend.is_keras_tensor(input_tensor):
        shape = input_shape if input_shape is not None else tuple(input_tensor.shape[1:])
        image_input = keras.Input(tensor=input_tensor, shape=shape, name="input_layer")
        return image_input, image_input
    resolve_input_shape(model_name, tuple(input_tensor.shape[1:]), contract, include_top=include_top, weights=weights)
    return input_tensor, keras.utils.get_source_inputs(input_tensor)


def build_application(
    model_name: str,
    *,
    contract: InputContract,
    backbone: Callable,
    top: Callable,
    include_top=True,
    weights=None,
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name: Optional[str] = None,
    weights_key: Optional[str] = None,
):
    """Validates the keras.applications arguments and assembles the model.

    `backbone(x)` returns the last feature map; `top(x, classes, classifier_activation)` returns the
    classifier output. `weights_key` names the model and variant for the weights hook.
    """
    check_arguments(
        model_name,
        include_top=include_top,
        weights=weights,
        pooling=pooling,
        classes=classes,
        classifier_activation=classifier_activation,
        weights_key=weights_key,
    )
    image_input, inputs = make_input(
        model_name, input_tensor, input_shape, contract, include_top=include_top, weights=weights
    )
    x = backbone(image_input)
    x = top(x, classes, classifier_activation) if include_top else global_pool(x, pooling)
    model = keras.Model(inputs, x, name=name or model_name.lower())
    return weights_lib.load_into(model, weights, weights_key or model_name)


def make_builder(model_name, build, *, options, doc, options_doc="", default_classes=1000):
    """The public builder of one model: the keras.applications arguments plus keyword family `options`
    ({option: default}, documented by `options_doc`, Args lines). `build(app_args, **options)` returns the model; `app_args` holds the
    keras.applications arguments (the model's `name` defaulting to the lower-case model name)."""

    def builder(
        include_top=True,
        weights=None,
        input_tensor=None,
        input_shape=None,
        pooling=None,
        classes=default_classes,
        classifier_activation="softmax",
        name=None,
        **family_options,
    ):
        unknown = sorted(set(family_options) - set(options))
        if unknown:
            raise TypeError(f"{model_name}() got unexpected keyword arguments {unknown}; options: {sorted(options)}.")
        app_args = dict(
            include_top=include_top, weights=weights, input_tensor=input_tensor, input_shape=input_shape,
            pooling=pooling, classes=classes, classifier_activation=classifier_activation,
            name=name or model_name.lower(),
        )  # fmt: skip
        return build(app_args, **{**options, **family_options})

    base = [p for p in inspect.signature(builder).parameters.values() if p.kind is not p.VAR_KEYWORD]
    extra = [inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=value) for key, value in options.items()]
    builder.__signature__ = inspect.Signature(base + extra)
    builder.__name__ = builder.__qualname__ = model_name
    builder.__doc__ = f"Instantiates {model_name}.\n{doc}{BUILDER_ARGS_DOC}{options_doc}"
    return builder


def fixed_layout_builder(model_name, *, layout, contract, backbone, top, doc, layout_doc):
    """The builder of a model with one layout (`variant=layout` the only choice) and a backbone that
    takes no options: Xception, Inception-ResNet-v2."""

    def build(app_args, variant):
        check_variant(model_name, variant, (layout,))
        return build_application(model_name, contract=contract, backbone=backbone, top=top,
                                 weights_key=f"{model_name}/{variant}", **app_args)  # fmt: skip

    options_doc = f'        variant: "{layout}" ({layout_doc}).\n'
    return make_builder(model_name, build, options={"variant": layout}, doc=doc, options_doc=options_doc)


def check_aux_logits(model_name, aux_logits, include_top):
    if aux_logits and not include_top:
        raise ValueError(
            f"`aux_logits=True` needs `include_top=True` for {model_name} (the auxiliary heads are classifiers)."
        )


def check_aux_input(model_name, tapped, min_grid, min_input):
    """An auxiliary head pools its tap with a fixed window: the tapped grid must be large enough."""
    grid = tuple(tapped.shape[1:3])
    if any(size is not None and size < min_grid for size in grid):
        raise ValueError(
            f"{model_name}(aux_logits=True) needs an `input_shape` of at least {min_input}x{min_input}: its "
            f"auxiliary head reads a grid of at least {min_grid}x{min_grid}, this input gives {grid[0]}x{grid[1]}. "
            "Use a larger input or `aux_logits=False`."
        )


def check_variant(model_name, variant, variants):
    if variant not in variants:
        raise ValueError(f"Unknown `variant` {variant!r} for {model_name}; choose one of {tuple(variants)}.")


def without_auxiliary_heads(model):
    """The inference model of a network built with `aux_logits=True`: the same layers and weights,
    only the main output (the first). A model without auxiliary heads is returned unchanged."""
    if len(model.outputs) == 1:
        return model
    return keras.Model(model.inputs, model.outputs[0], name=model.name)
