"""The weights hook every builder calls after building.

`weights=None` keeps the random initialisation. `weights="imagenet"` resolves through the manifest
(`manifest.json`): the publisher's file is downloaded once into the cache (`KERAS_FAMOUS_HOME`, default
`~/.keras/keras_famous`) and verified before every use, PyTorch checkpoints are converted once (per source
file) into a Keras file kept beside it, and the weights load by layer name. Weights we train ship in the package under their dataset's name
(`LeNet5(weights="digits")`). `weights="path"` loads a keras.applications legacy
`.h5`, a Keras 3 `.weights.h5` or `.keras`, a PyTorch `.safetensors` or a `.pth` (torch.load with
weights_only=True), or a Caffe model zoo `.caffemodel` (read without Caffe, `convert.caffe`). Loading is
all-or-nothing: on a mismatch the model keeps its weights and the error names the layer, the expected and found
shapes.
"""

import hashlib
import os
import warnings
from importlib import resources
from urllib.parse import urlparse
from typing import FrozenSet, NamedTuple, Optional, Tuple

from ..arguments import named, setting
from .. import convert
from . import cache
from .manifest import datasets, entry_for, load_manifest

__all__ = [
    "Target",
    "check_weights_argument",
    "load_into",
    "resolve",
    "entry_for",
    "load_manifest",
    "datasets",
    "cache",
]

WEIGHTS_SUFFIXES = (".h5", ".hdf5", ".keras", ".safetensors", ".pth", ".pt", ".bin", ".caffemodel")


class Target(NamedTuple):
    """What the weights hook needs about the model it loads into, from the family's declaration."""

    model_name: str
    variant: Optional[str] = None
    torch_names: Tuple[Tuple[str, str], ...] = ()
    head_layers: FrozenSet[str] = frozenset()
    caffe_names: Tuple[Tuple[str, str], ...] = ()

    @classmethod
    def of(cls, spec, variant=None):
        """The target of `spec` (a family's ModelSpec) drawn as `variant` (validated; the default when None)."""
        variant, layout = spec.variant(variant)
        return cls(spec.name, variant, layout.torch_names, spec.head_layers, layout.caffe_names)


class WeightsFileNotFoundError(FileNotFoundError, ValueError):
    """`weights` names a file that does not exist (a ValueError too, like every bad `weights`)."""


def _is_dataset(weights):
    """True for a manifest dataset name ("imagenet", ...), False for a weights file. A file is told without
    reading the manifest, so a broken KERAS_FAMOUS_MANIFEST leaves local files loadable."""
    if os.path.isfile(weights) or weights.lower().endswith(WEIGHTS_SUFFIXES):
        return False
    return weights in datasets()


def check_weights_argument(model_name, weights, variant=None):
    """Validates `weights` before anything is built."""
    if weights is None:
        return
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(
            f"{named('weights')} must be None, 'imagenet' or a path to a weights file for {model_name}; "
            f"received {setting('weights', weights)}."
        )
    weights = os.fspath(weights)
    if _is_dataset(weights):
        entry_for(model_name, variant, dataset=weights)  # raises naming what exists
        return
    convert.file_format(weights)
    if not os.path.isfile(weights):
        raise WeightsFileNotFoundError(
            f"{named('weights')} file not found for {model_name}: {weights!r}. Pass an existing file, or {setting('weights', None)}."
        )


def _resolve(model_name, variant, dataset, include_top, progress):
    """(local path, manifest entry, the file's sha256)."""
    entry = entry_for(model_name, variant, dataset)
    source = entry.file_for(include_top)
    if source.url.startswith("package:"):
        path = str(resources.files(__package__).joinpath(source.url[len("package:") :]))
        return path, entry, cache.verify(path, source.hash)
    file_name = os.path.basename(urlparse(source.url).path.rstrip("/"))  # without a query ("?dl=1")
    if entry.source == "timm":  # timm's hub files are all "model.safetensors"
        file_name = f"{entry.source_model}.safetensors"
    target = cache.cache_path("downloads", entry.source, file_name)
    path, sha256 = cache.fetch_verified(source.url, target, source.hash, progress=progress)
    return path, entry, sha256


def resolve(model_name, variant, dataset="imagenet", include_top=True, progress=True):
    """(local path, manifest entry) of the pretrained file, downloading it if needed, verified against the
    manifest's hash. Files the package ships ("package:NAME" in the manifest) are verified in place."""
    return _resolve(model_name, variant, dataset, include_top, progress)[:2]


def _load_pretrained(model, target, dataset, adapt):
    model_name, variant = target.model_name, target.variant
    include_top = any(layer.name == "predictions" for layer in model.layers)
    path, entry, sha256 = _resolve(model_name, variant, dataset, include_top, progress=True)
    if entry.converter in ("keras_h5", "keras"):
        return _load_file(model, path, target, adapt)
    # PyTorch and Caffe sources: convert once into our names, then load that file by name from now on. Its name holds the
    # layer names (top, aux heads, ... differ) and the source file's hash (another file, another conversion); it
    # holds the source's arrays as converted, before any adaptation to this model's classes or channels.
    layer_names = sorted(layer.name for layer in model.layers if layer.weights)
    signature = hashlib.sha1("\n".join(layer_names).encode()).hexdigest()[:10]
    converted = cache.cache_path("converted", f"{model_name}_{variant}_{signature}_{sha256[:16]}.h5")
    if os.path.isfile(converted):
        if cache.converted_intact(converted):
            return _load_file(model, converted, target, adapt)
        warnings.warn(
            f"{converted} is not the file keras_famous converted (changed since, or without its record): "
            f"converting {path} again.",
            stacklevel=3,
        )
    named, problems = convert.named_arrays(
        model, path, torch_names=target.torch_names, caffe_names=target.caffe_names, head_layers=target.head_layers
    )
    convert.assign(model, named, repr(path), problems, target.head_layers, adapt=adapt)
    _keep_converted({name: arrays for name, arrays in named.items() if name in set(layer_names)}, converted)
    return model


_warned_directories = set()


def _keep_converted(named, path):
    """Writes the converted weights for the next build; a cache that cannot take them gets one warning."""
    try:
        convert.keras_h5.write_legacy_h5(path, named)
        cache.record_converted(path)
    except OSError as error:
        directory = os.path.dirname(path)
        if directory not in _warned_directories:
            _warned_directories.add(directory)
            warnings.warn(
                f"Cannot keep converted weights in {directory} ({error}), so every build converts them again. "
                "Set KERAS_FAMOUS_HOME to a writable directory to convert once.",
                stacklevel=2,
            )


def _load_file(model, path, target, adapt):
    return convert.load_file(
        model,
        path,
        torch_names=target.torch_names,
        head_layers=target.head_layers,
        adapt=adapt,
        caffe_names=target.caffe_names,
    )


def load_into(model, weights, target, adapt=False):
    """Loads `weights` into the built `model` (a `Target`: the model, variant and name maps) and returns it.
    `adapt`: the build hook's rule for another task (a new classifier for other classes, the input convolution
    adapted to other channels; `convert.adapt`); else the file must fit the model exactly."""
    if weights is None:
        return model
    if _is_dataset(os.fspath(weights)):
        return _load_pretrained(model, target, os.fspath(weights), adapt)
    return _load_file(model, weights, target, adapt)
