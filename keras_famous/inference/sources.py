"""What `predict_files` runs and on what: the model (a catalog name, a `.keras` file or a Keras model) made to
take raw pixels, its class names and how image files become its input; and the image files named by the
user's inputs (files, folders searched recursively, glob patterns).
"""

import dataclasses
import glob
import os

import keras

from ..arguments import named
from .. import graph, model_files, registry
from ..image_files import IMAGE_SUFFIXES, IMAGENET_CROP_FRACTION, check_channels
from ..imagenet_utils import imagenet_classes

DEFAULT_SIDE = 224


@dataclasses.dataclass
class Source:
    """`model` takes raw pixels in [0, 255] at `size` with `channels`; `crop_fraction` is the central square
    an image is cropped to first (None: the whole image, stretched)."""

    model: keras.Model
    class_names: tuple
    size: tuple
    channels: int
    crop_fraction: object
    description: str


def _index_names(count):
    return tuple(str(index) for index in range(count))


def _class_count(model):
    shape = model.outputs[0].shape
    return int(shape[-1]) if len(shape) == 2 and shape[-1] else None


def _from_catalog(name, weights, variant, features):
    spec = registry.get_spec(name)
    variant, layout = spec.variant(variant)
    mode = layout.preprocessing
    if weights is not None and mode is None:
        raise ValueError(f"{spec.name} variant {variant!r} has no pretrained weights; pass --weights none or a file.")
    top = dict(include_top=False, pooling="avg") if features else {}
    model = registry.build_variant(spec.name, variant, weights=weights, include_preprocessing=mode or False, **top)
    classes = _class_count(model)
    if weights == "imagenet" and classes == 1000:
        names = tuple(name for _, name in imagenet_classes())
    else:
        names = _index_names(classes or 0)
    crop = IMAGENET_CROP_FRACTION if weights == "imagenet" else None
    return model, names, crop, f"{spec.name} ({variant}, weights={weights})"


def resolve(model, *, weights="imagenet", variant=None, class_names=None, image_size=None, features=False):
    """The Source for `model`: a catalog name (built with `weights` and `variant`, its preprocessing as its first
    layer), a `.keras` file (its keras_famous record gives the class names and sizing), or a Keras model that
    takes raw pixels. `class_names` overrides; `image_size` sizes a model whose height and width are free;
    `features`: the model up to its classifier (`feature_model`; a catalog model built without its top)."""
    from_catalog = isinstance(model, str) and not model.endswith(".keras")
    if isinstance(model, keras.Model):
        built, names, crop, description = model, None, None, model.name
    elif isinstance(model, (str, os.PathLike)) and os.fspath(model).endswith(".keras"):
        path = os.fspath(model)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"MODEL {path} does not exist (a catalog name or a .keras file).")
        built = keras.saving.load_model(path, safe_mode=True, compile=False)
        record = model_files.read_record(path)
        names = tuple(record["class_names"]) if record.get("class_names") else None
        resize = record.get("resize", "stretch")
        crop = None if resize == "stretch" else float(resize)
        description = path
    elif from_catalog:
        built, names, crop, description = _from_catalog(model, weights, variant, features)
    else:
        raise ValueError(f"`model` must be a catalog name, a .keras file or a Keras model; received {model!r}.")
    if features and not from_catalog:  # a catalog model is built without its top instead
        built = feature_model(built)
    height, width, channels = built.input_shape[1:]
    if image_size is not None:
        height, width = image_size
    check_channels(channels)
    classes = None if features else _class_count(built)
    names = tuple(class_names) if class_names is not None else names or _index_names(classes or 0)
    if classes and len(names) != classes:
        raise ValueError(f"`class_names` has {len(names)} names; {description} has {classes} classes.")
    return Source(built, names, (height or DEFAULT_SIDE, width or DEFAULT_SIDE), channels, crop, description)


def _visible(name):
    return not name.startswith(".")


def list_inputs(inputs, argument="inputs"):
    """The files `inputs` name, sorted and each once: a file as given, a folder's image files (IMAGE_SUFFIXES,
    any case; hidden files and folders skipped) at any depth, a glob pattern's matches (`**` recurses)."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    paths = set()
    for entry in map(os.fspath, inputs):
        if os.path.isdir(entry):
            for folder, subfolders, names in os.walk(entry):
                subfolders[:] = sorted(filter(_visible, subfolders))
                paths.update(
                    os.path.join(folder, name)
                    for name in names
                    if _visible(name) and name.lower().endswith(IMAGE_SUFFIXES)
                )
        elif os.path.isfile(entry):
            paths.add(entry)
        elif glob.has_magic(entry):
            matches = [path for path in glob.glob(entry, recursive=True) if os.path.isfile(path)]
            if not matches:
                raise FileNotFoundError(f"{named(argument)}: the pattern {entry!r} matches no file.")
            paths.update(matches)
        else:
            raise FileNotFoundError(
                f"{named(argument)}: {entry} is not a file, a folder or a glob pattern that matches."
            )
    if not paths:
        raise ValueError(f"{named(argument)} names no image file ({', '.join(IMAGE_SUFFIXES)}).")
    return sorted(os.path.abspath(path) for path in paths)


def feature_model(model):
    """`model` up to its classifier: the input of the last layer with weights (after the weightless layers
    that follow it: softmax, dropout, ...), averaged over height and width where it is a feature map."""
    layer = graph.producer(model.outputs[0])
    while not layer.weights:
        inputs = graph.call_inputs(layer, model)
        if not inputs:
            raise ValueError(f"{model.name} has no classifier layer to take the features before.")
        layer = graph.producer(inputs[0])
    features = graph.call_inputs(layer, model)[0]
    if len(features.shape) == 4:
        features = keras.layers.GlobalAveragePooling2D(name="features_pool")(features)
    return keras.Model(model.inputs, features, name=f"{model.name}_features")
