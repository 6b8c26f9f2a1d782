"""keras.applications' two helpers for every catalog model: `preprocess_input` and `decode_predictions`.

x = keras_famous.preprocess_input(images, "ResNet50")            # caffe mode, as its weights were trained
keras_famous.decode_predictions(keras_famous.ResNet50(weights="imagenet").predict(x), top=5)
"""

import json
from functools import lru_cache
from importlib import resources

import numpy as np

from .arguments import named, setting
from . import preprocessing, registry


def preprocessing_mode(model, variant=None):
    """The input scaling ("caffe", "torch", "tf" or "digits") of `model`'s (a catalog name) pretrained weights
    for `variant` (the default variant when None), as its family declares it."""
    spec = registry.get_spec(model)
    variant, layout = spec.variant(variant)
    if layout.preprocessing is None:
        with_mode = [name for name, other in spec.variants.items() if other.preprocessing]
        hint = f" Variants with pretrained weights: {with_mode}." if with_mode else ""
        raise ValueError(
            f"{spec.name} variant {variant!r} has no pretrained weights, so no preprocessing mode is declared for "
            f"it.{hint} Scale your inputs as you train, or call keras_famous.preprocessing.scale(images, mode)."
        )
    return layout.preprocessing


def preprocess_input(images, model, variant=None):
    """`images` in [0, 255] (RGB, channels last) scaled as the pretrained weights of `model` (a catalog name
    such as "ResNet50") and `variant` expect: caffe, torch, tf or digits mode, declared by its family."""
    return preprocessing.scale(images, preprocessing_mode(model, variant))


@lru_cache(maxsize=1)
def imagenet_classes():
    """[(wordnet_id, name)] of the 1,000 ImageNet-1k classes in the order of every ImageNet classifier."""
    text = resources.files("keras_famous.weights").joinpath("imagenet_class_index.json").read_text()
    index = json.loads(text)
    return [tuple(index[str(i)]) for i in range(len(index))]


def decode_predictions(predictions, top=5):
    """ImageNet predictions (batch, 1000) -> for each image the `top` [(wordnet_id, name, score)], best first."""
    predictions = np.asarray(predictions)
    classes = imagenet_classes()
    if predictions.ndim != 2 or predictions.shape[1] != len(classes):
        raise ValueError(
            f"`predictions` must be ImageNet scores of shape (batch, {len(classes)}) for decode_predictions; "
            f"received shape {predictions.shape}."
        )
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or not 1 <= top <= len(classes):
        raise ValueError(f"{named('top')} must be an integer in [1, {len(classes)}]; received {setting('top', top)}.")
    best = np.argsort(-predictions, axis=1, kind="stable")[:, :top]
    return [[(*classes[j], float(row[j])) for j in order] for row, order in zip(predictions, best)]
