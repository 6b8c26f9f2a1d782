"""Transfer learning: multi-scale features, freezing, a frozen-backbone classifier and its fine-tuning.

    features = feature_extractor("ResNet50", weights="imagenet")      # {"stride_4": ..., "stride_32": ...}
    model = classifier("ResNet50", classes=5, weights="imagenet", input_shape=(160, 160, 3))
    head_history, tune_history = fine_tune(model, train_ds, validation_data=val_ds)

The recipe `fine_tune` runs (the Keras transfer-learning guide's): train the new head with the backbone
frozen, then unfreeze the top of the backbone and train on with a learning rate 100x lower. Frozen
BatchNormalization layers run in inference mode (Keras 3 does this for a layer with `trainable=False`),
and `unfreeze` keeps them frozen by default, so their moving statistics - learned on ImageNet - are not
overwritten by small-batch statistics of the new data.
"""

import dataclasses
import math

import keras

from .arguments import setting
from . import registry
from .graph import producer as _producer
from .layers import ImagePreprocessing

BACKBONE = "backbone"


# ---------------------------------------------------------------------------------------- features
def _spatial(tensor):
    shape = tuple(tensor.shape)
    return shape[1:3] if len(shape) == 4 else None


def _feature_taps(model):
    """{stride: layer index} for a model with a static input size: the feature map at each stride is the
    one the network downsamples from (the input of the last layer that lowers the resolution from it,
    looking through zero padding), and the last feature map (before any global pooling) at the final stride."""
    height = _spatial(model.inputs[0])[0]
    index = {id(layer): i for i, layer in enumerate(model.layers)}

    def stride_of(size):
        return 2 ** round(math.log2(height / size))

    taps = {}
    for i, layer in enumerate(model.layers):
        if isinstance(layer, keras.layers.InputLayer) or _spatial(layer.output) is None:
            continue
        inputs = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
        source = inputs[0]
        while isinstance(_producer(source), keras.layers.ZeroPadding2D):
            source = _producer(source).input
        if _spatial(source) is None or _spatial(layer.output)[0] >= _spatial(source)[0]:
            continue
        producer = _producer(source)
        if isinstance(producer, (keras.layers.InputLayer, ImagePreprocessing)):  # the image itself, not a feature
            continue
        taps[stride_of(_spatial(source)[0])] = index[id(producer)]
    last = max(i for i, layer in enumerate(model.layers) if _spatial(layer.output) is not None)  # before any pooling
    taps[stride_of(_spatial(model.layers[last].output)[0])] = last
    return taps


def feature_taps(model):
    """{stride: layer name} of the feature maps `feature_extractor` returns, for a model with a fixed input
    size: where each stage ends (`unfreeze(model, from_layer=...)` after the stride-16 map trains the last stage)."""
    return {stride: model.layers[index].name for stride, index in sorted(_feature_taps(model).items())}


def _levels(levels, taps):
    if levels is None:  # the four coarsest: 4-32 on ImageNet-size inputs, fewer or finer on CIFAR-size nets
        return sorted(taps)[-4:]
    parsed = []
    for level in levels:
        stride = int(str(level).removeprefix("stride_")) if str(level).removeprefix("stride_").isdigit() else None
        if stride is None:
            raise ValueError(f"`levels` holds strides such as 8 or 'stride_8'; received {level!r}.")
        parsed.append(stride)
    return parsed


def feature_extractor(name_or_model, levels=None, *, variant=None, weights=None, input_shape=None):
    """A model mapping images to a dict of feature maps {"stride_4": ..., "stride_32": ...}.

    `name_or_model` is a catalog name (built with `include_top=False`, `variant`, `weights` and
    `input_shape`, which may be `(None, None, 3)`) or a built Keras model of the catalog. `levels` are the
    output strides to return (default: the four coarsest the network has, 4, 8, 16 and 32 for the ImageNet
    networks at their input size; SqueezeNet ends at 16, the CIFAR networks at 4); the key of stride s is always `f"stride_{s}"`, and
    the map at stride s is the last one at that resolution: the one the network downsamples from, or its
    output. Strides are rounded to powers of two for the valid-padding networks (a 299 Inception input
    gives 147, 73, 35, 17 and 8 pixel grids: strides 2, 4, 8, 16 and 32).
    """
    if isinstance(name_or_model, keras.Model):
        model, reference = name_or_model, name_or_model
        if _spatial(model.inputs[0]) is None or None in _spatial(model.inputs[0]):
            raise ValueError("feature_extractor needs a model with a fixed input size, or a catalog name.")
    else:
        spec = registry.get_spec(name_or_model)
        options = dict(include_top=False, weights=weights, input_shape=input_shape)
        model = registry.build_variant(spec.name, variant, **options)
        reference = model
        if None in _spatial(model.inputs[0]):  # find the taps on the same graph at the variant's default size
            default = tuple(registry.model_info(spec.name, variant).input_size)  # NiN ImageNet's 224, not NiN's 32
            reference = registry.build_variant(spec.name, variant, include_top=False, input_shape=default)
    taps = _feature_taps(reference)
    strides = _levels(levels, taps)
    missing = [s for s in strides if s not in taps]
    if missing:
        raise ValueError(
            f"{model.name} has no feature map at stride(s) {missing}; `levels` can be any of {sorted(taps)}."
        )
    outputs = {f"stride_{s}": model.layers[taps[s]].output for s in strides}
    return keras.Model(model.inputs, outputs, name=f"{model.name}_features")


# ---------------------------------------------------------------------------------------- freezing
def _layer_position(model, layer, argument):
    if layer is None:
        return None
    if isinstance(layer, int):
        if not -len(model.layers) <= layer < len(model.layers):
            raise ValueError(
                f"{setting(argument, layer)} is out of range: {model.name} has {len(model.layers)} layers."
            )
        return layer % len(model.layers)
    names = [item.name for item in model.layers]
    if layer not in names:
        raise ValueError(f"{setting(argument, layer)} is not a layer of {model.name}; pass a layer name or index.")
    return names.index(layer)


def _backbone_of(model):
    try:
        return model.get_layer(BACKBONE)
    except ValueError:
        return model


def freeze(model, until=None):
    """Freezes `model`'s layers up to and including `until` (a layer name or index; None: all of them).
    A frozen BatchNormalization layer runs in inference mode. Recompile the model afterwards."""
    stop = _layer_position(model, until, "until")
    for i, layer in enumerate(model.layers):
        if stop is None or i <= stop:
            layer.trainable = False
    if stop is None:
        model.trainable = False
    return model


def unfreeze(model, from_layer=None, keep_batchnorm_frozen=True):
    """Makes `model`'s layers from `from_layer` on (name or index; None: all) trainable again, except
    BatchNormalization layers while `keep_batchnorm_frozen` (their ImageNet statistics are kept: the
    Keras guide's advice for fine-tuning). Recompile the model afterwards."""
    start = _layer_position(model, from_layer, "from_layer") or 0
    model.trainable = True
    for i, layer in enumerate(model.layers):
        frozen_bn = keep_batchnorm_frozen and isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = i >= start and not frozen_bn
    return model


def classifier(
    name_or_backbone,
    classes,
    *,
    variant=None,
    weights=None,
    input_shape=None,
    dropout=0.2,
    name=None,
    classifier_activation="softmax",
):
    """A new classifier on a frozen backbone: backbone (no top) -> global average pool -> dropout ->
    Dense(classes, `classifier_activation` in float32). The backbone is the nested model named "backbone"."""
    if isinstance(name_or_backbone, keras.Model):
        backbone = name_or_backbone
    else:
        options = dict(include_top=False, pooling="avg", weights=weights, input_shape=input_shape)
        backbone = registry.build_variant(name_or_backbone, variant, **options)
    backbone.name = BACKBONE
    freeze(backbone)
    inputs = keras.Input(backbone.input_shape[1:], name="images")
    x = backbone(inputs, training=False)
    if len(x.shape) == 4:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    outputs = keras.layers.Dense(classes, activation=classifier_activation, dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name or f"{backbone.name}_classifier")


def last_stage_start(model):
    """The first layer of `model`'s last stage (the layer after the map it downsamples from last): where
    `fine_tune` unfreezes by default. For a classifier, the backbone's layer. None when the graph shows no stage."""
    backbone = _backbone_of(model)
    if _spatial(backbone.inputs[0]) is None or None in _spatial(backbone.inputs[0]):
        return None
    taps = sorted(_feature_taps(backbone).items())
    if len(taps) < 2:
        return None
    return backbone.layers[taps[-2][1] + 1].name


@dataclasses.dataclass(frozen=True)
class Phase:
    """One phase of `fine_tune`: epochs [start, end) at `learning_rate`, "head" (backbone frozen) or
    "fine_tune" (unfrozen from `unfreeze_from`)."""

    name: str
    start: int
    end: int
    learning_rate: float


def fine_tune(
    model,
    train_data,
    validation_data=None,
    *,
    head_epochs=5,
    fine_tune_epochs=5,
    unfreeze_from="last_stage",
    head_learning_rate=1e-3,
    fine_tune_learning_rate=1e-5,
    keep_batchnorm_frozen=True,
    loss="sparse_categorical_crossentropy",
    metrics=("accuracy",),
    weighted_metrics=None,
    optimizer=None,
    initial_epoch=0,
    on_phase_start=None,
    verbose="auto",
    jit_compile="auto",
    **fit_kwargs,
):
    """Two-phase transfer learning on a `classifier(...)` model (or any model whose frozen part is the
    layer "backbone", or the whole model otherwise): `head_epochs` with the backbone frozen, then
    `fine_tune_epochs` with the backbone unfrozen from `unfreeze_from` (a layer name or index; "last_stage":
    `last_stage_start`; None: all of it), BatchNormalization kept frozen unless `keep_batchnorm_frozen=False`.
    `optimizer(learning_rate)` makes each phase's optimizer (default Adam). `initial_epoch` resumes a run:
    finished phases are skipped; `on_phase_start(model, phase)` is called once a phase is compiled (where a
    resumed run restores its optimizer state). Returns the two Keras History objects (None for a phase not run).
    `jit_compile` is Keras' (XLA; "auto" leaves it off on CPUs): measure before turning it on there. With
    TensorFlow 2.21's oneDNN kernels on a 2-core Xeon, a ResNet-18 step at 32x32 took 290-1030 ms with XLA,
    130-260 ms without."""
    backbone = _backbone_of(model)
    if unfreeze_from == "last_stage":
        unfreeze_from = last_stage_start(model)
    _layer_position(backbone, unfreeze_from, "unfreeze_from")  # a wrong name fails now, not after the head phase
    optimizer = optimizer or keras.optimizers.Adam
    compile_options = dict(loss=loss, metrics=list(metrics), weighted_metrics=weighted_metrics, jit_compile=jit_compile)
    fit = dict(validation_data=validation_data, verbose=verbose, **fit_kwargs)
    phases = (
        Phase("head", 0, head_epochs, head_learning_rate),
        Phase("fine_tune", head_epochs, head_epochs + fine_tune_epochs, fine_tune_learning_rate),
    )
    histories = []
    for phase in phases:
        if phase.end <= max(initial_epoch, phase.start):
            histories.append(None)
            continue
        if phase.name == "head":
            if backbone is not model:
                freeze(backbone)
        else:
            unfreeze(backbone, unfreeze_from, keep_batchnorm_frozen=keep_batchnorm_frozen)
        model.compile(optimizer(phase.learning_rate), **compile_options)
        if on_phase_start is not None:
            on_phase_start(model, phase)
        histories.append(model.fit(train_data, epochs=phase.end, initial_epoch=max(initial_epoch, phase.start), **fit))
    return tuple(histories)
