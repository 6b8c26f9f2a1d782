"""The weights hook every builder calls after building.

`weights=None` keeps the random initialisation. `weights="path"` loads a Keras 3 `.weights.h5`
file or a keras.applications legacy `.h5` file. `weights="imagenet"` needs the pre-trained
weights manifest, which is not in the package yet: it raises, it never builds random weights silently.
"""

import os

KERAS_WEIGHT_SUFFIXES = (".weights.h5", ".h5")


def check_weights_argument(model_name, weights):
    """Validates `weights` before anything is built."""
    if weights is None:
        return
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(
            f"`weights` must be None, 'imagenet' or a path to a weights file for {model_name}; "
            f"received weights={weights!r}."
        )
    weights = os.fspath(weights)
    if weights == "imagenet":
        raise ValueError(
            f"weights='imagenet' is not yet supported for {model_name}: keras_famous does not ship a "
            "pre-trained weights manifest yet. Build with weights=None, or pass the path of a "
            "Keras .weights.h5 / .h5 file you already have."
        )
    if not weights.endswith(KERAS_WEIGHT_SUFFIXES):
        raise ValueError(
            f"`weights` file format not supported yet for {model_name}: received weights={weights!r}. "
            f"Supported now: {', '.join(KERAS_WEIGHT_SUFFIXES)} (Keras 3 and keras.applications legacy files)."
        )
    if not os.path.isfile(weights):
        raise FileNotFoundError(
            f"`weights` file not found for {model_name}: {weights!r}. Pass an existing file, or weights=None."
        )


def load_into(model, weights, weights_key):
    """Loads `weights` into the built `model` and returns it."""
    if weights is None:
        return model
    path = os.fspath(weights)
    try:
        model.load_weights(path)
    except (ValueError, KeyError) as error:
        raise ValueError(
            f"Could not load {path!r} into {weights_key}: {error}. Check that the file was saved from the "
            "same model, variant, `classes` and `include_top`."
        ) from error
    return model
