"""The pretrained-weights manifest (`manifest.json` beside this module): per model and variant, where the
original file lives, its format, the hash its publisher gives and how it converts. Published accuracy is the
family's data (`spec.Reference`), not the manifest's."""

import json
import os
from dataclasses import MISSING, dataclass, fields
from importlib import resources
from typing import Mapping

from ..arguments import named, setting


@dataclass(frozen=True)
class SourceFile:
    url: str
    hash: Mapping[str, str]  # {"sha256": ...}, {"md5": ...}, {"sha1": ...}, {"sha256_prefix": ...} or {} (none given)


@dataclass(frozen=True)
class WeightsEntry:
    model: str
    variant: str
    source: str  # "keras.applications", "keras-applications", "torchvision", "timm", "caffe", "keras_famous"
    source_model: str
    format: str  # "keras_h5", "torch_pth", "safetensors", "keras_weights_h5", "caffemodel"
    # "keras_h5" (legacy Keras), "keras" (no conversion), "torch" or "caffe" (through the family's name map)
    converter: str
    files: Mapping[str, SourceFile]  # "top" (and "notop" where the publisher has a lighter file)
    dataset: str = "imagenet"  # the `weights=` value that selects this entry ("imagenet", "digits", "cifar10")

    def file_for(self, include_top):
        return self.files["top"] if include_top or "notop" not in self.files else self.files["notop"]


HASH_KINDS = {"sha256", "md5", "sha1", "sha256_prefix"}  # sha1: the Caffe model zoo's
_FIELDS = {f.name: f for f in fields(WeightsEntry)}
# Older manifests stored accuracy beside the file; it lives in the family's Reference now and is ignored here.
IGNORED_KEYS = {"top1", "top5", "accuracy_source"}


def _source_file(raw, where):
    if not (isinstance(raw, dict) and isinstance(raw.get("url"), str) and isinstance(raw.get("hash"), dict)):
        raise ValueError(f"{where} needs a 'url' string and a 'hash' object")
    for kind, value in raw["hash"].items():
        if kind not in HASH_KINDS or not isinstance(value, str):
            raise ValueError(f"{where} has hash {kind!r}: {value!r}; known are {sorted(HASH_KINDS)} with hex strings")
    return SourceFile(url=raw["url"], hash=dict(raw["hash"]))


def _entry(raw, index):
    if not isinstance(raw, dict):
        raise ValueError(f"entry {index} is not an object")
    for key, field in _FIELDS.items():
        if key not in raw and field.default is MISSING:
            raise ValueError(f"entry {index} lacks {key!r}")
    raw = {key: value for key, value in raw.items() if key not in IGNORED_KEYS}
    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        raise ValueError(f"entry {index} has unknown key {unknown[0]!r}")
    if not isinstance(raw["files"], dict) or "top" not in raw["files"]:
        raise ValueError(f"entry {index}'s 'files' lacks 'top'")
    files = {key: _source_file(f, f"entry {index}'s file {key!r}") for key, f in raw["files"].items()}
    return WeightsEntry(**{**raw, "files": files})


def _read(text):
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise ValueError("it has no 'entries' list")
    entries = {}
    for index, raw in enumerate(data["entries"]):
        entry = _entry(raw, index)
        entries[(entry.model, entry.variant, entry.dataset)] = entry
    return entries


MANIFEST_ENV = "KERAS_FAMOUS_MANIFEST"


def load_manifest(path=None):
    """{(model, variant, dataset): WeightsEntry}. `path`, or the `KERAS_FAMOUS_MANIFEST` environment variable, reads
    another manifest file in the same format (a mirror of the sources, or a test's local files).
    ValueError naming the file (and the variable) and what is wrong with it."""
    variable = os.environ.get(MANIFEST_ENV)
    if not path and not variable:
        return _read(resources.files(__package__).joinpath("manifest.json").read_text())
    origin = f"The file {path!r}" if path else f"{MANIFEST_ENV}={variable!r}"
    try:
        with open(path or variable) as handle:
            return _read(handle.read())
    except (OSError, ValueError) as error:  # json.JSONDecodeError is a ValueError
        why = error.strerror if isinstance(error, OSError) and error.strerror else error
        fix = "" if path else f" Fix the file, or unset {MANIFEST_ENV} to use the package's own."
        raise ValueError(f"{origin} is not a usable weights manifest: {why}.{fix}") from error


def datasets(manifest=None):
    """The `weights=` names the manifest knows ("imagenet", "digits", ...)."""
    manifest = load_manifest() if manifest is None else manifest
    return {dataset for (_, _, dataset) in manifest} | {"imagenet"}


def entry_for(model_name, variant, dataset="imagenet", manifest=None):
    manifest = load_manifest() if manifest is None else manifest
    entry = manifest.get((model_name, variant, dataset))
    if entry is None:
        available = sorted(v for (m, v, d) in manifest if m == model_name and d == dataset)
        others = sorted({d for (m, _, d) in manifest if m == model_name and d != dataset})
        hint = (
            f" Pretrained weights exist for {named('variant')} {', '.join(map(repr, available))}." if available else ""
        )
        if not available:
            hint = (
                f" This model has {setting('weights', others[0])} instead."
                if others
                else (" No public pretrained source is known for this model; train it or pass a weights file.")
            )
        raise ValueError(f"No pretrained {setting('weights', dataset)} for {model_name} variant {variant!r}.{hint}")
    return entry
