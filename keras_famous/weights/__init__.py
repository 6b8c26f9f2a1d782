"""The weights hook every builder calls after building.

`weights=None` keeps the random initialisation. `weights="imagenet"` resolves through the manifest
(`manifest.json`): the publisher's file is downloaded once into the cache (`KERAS_FAMOUS_HOME`, default
`~/.keras/keras_famous`) and verified, PyTorch checkpoints are converted once into a Keras file kept
beside it, and the weights load by layer name. Weights we train ship in the package under their dataset's name
(`LeNet5(weights="digits")`). `weights="path"` loads a keras.applications legacy
`.h5`, a Keras 3 `.weights.h5` or `.keras`, a PyTorch `.safetensors` or a `.pth` (torch.load with
weights_only=True). Loading is all-or-nothing: on a mismatch the model keeps its weights and the
error names the layer, the expected and found shapes.
"""

import hashlib
import os
from importlib import resources

from . import cache
from .manifest import datasets, entry_for, load_manifest

__all__ = ["check_weights_argument", "load_into", "resolve", "entry_for", "load_manifest", "datasets", "cache"]


def _split_key(weights_key):
    model_name, _, variant = weights_key.partition("/")
    return model_name, variant or None


def check_weights_argument(model_name, weights, weights_key=None):
    """Validates `weights` before anything is built."""
    if weights is None:
        return
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(
            f"`weights` must be None, 'imagenet' or a path to a weights file for {model_name}; "
            f"received weights={weights!r}."
        )
    weights = os.fspath(weights)
    if weights in datasets():
        entry_for(*_split_key(weights_key or model_name), dataset=weights)  # raises naming what exists
        return
    from .. import convert

    convert.file_format(weights)
    if not os.path.isfile(weights):
        raise FileNotFoundError(
            f"`weights` file not found for {model_name}: {weights!r}. Pass an existing file, or weights=None."
        )


def resolve(model_name, variant, dataset="imagenet", include_top=True, progress=True):
    """(local path, manifest entry) of the pretrained file, downloading and verifying it if needed.
    Files the package ships ("package:NAME" in the manifest) are verified in place."""
    entry = entry_for(model_name, variant, dataset)
    source = entry.file_for(include_top)
    if source.url.startswith("package:"):
        path = str(resources.files(__package__).joinpath(source.url[len("package:"):]))
        cache.verify(path, source.hash)
        return path, entry
    file_name = source.url.rstrip("/").split("/")[-1]
    if entry.source == "timm":  # timm's hub files are all "model.safetensors"
        file_name = f"{entry.source_model}.safetensors"
    target = cache.cache_path("downloads", entry.source, file_name)
    return cache.fetch(source.url, target, source.hash, progress=progress), entry


def _load_pretrained(model, model_name, variant, dataset):
    from .. import convert

    include_top = any(layer.name == "predictions" for layer in model.layers)
    path, entry = resolve(model_name, variant, dataset, include_top)
    if entry.converter in ("keras_h5", "keras"):
        return convert.load_file(model, path, model_name, variant)
    # PyTorch sources: convert once into our names, then load that file by name from now on.
    layer_names = sorted(layer.name for layer in model.layers if layer.weights)  # top, aux heads, ... differ
    signature = hashlib.sha1("\n".join(layer_names).encode()).hexdigest()[:10]
    converted = cache.cache_path("converted", f"{model_name}_{variant}_{signature}.h5")
    if not os.path.isfile(converted):
        convert.load_file(model, path, model_name, variant)
        convert.keras_h5.write_legacy_h5(
            converted, {layer.name: layer.get_weights() for layer in model.layers if layer.weights}
        )
        return model
    return convert.load_file(model, converted, model_name, variant)


def load_into(model, weights, weights_key):
    """Loads `weights` into the built `model` (built as `weights_key` = "Model/variant") and returns it."""
    if weights is None:
        return model
    from .. import convert

    model_name, variant = _split_key(weights_key)
    if os.fspath(weights) in datasets():
        return _load_pretrained(model, model_name, variant, os.fspath(weights))
    return convert.load_file(model, weights, model_name, variant)
