"""The pretrained-weights manifest (`manifest.json` beside this module): per model and variant, where the
original file lives, its format, the hash its publisher gives, the converter, and its published accuracy."""

import json
import os
from dataclasses import dataclass
from importlib import resources
from typing import Mapping, Optional


@dataclass(frozen=True)
class SourceFile:
    url: str
    hash: Mapping[str, str]  # {"sha256": ...}, {"md5": ...}, {"sha256_prefix": ...} or {} (publisher gives none)


@dataclass(frozen=True)
class WeightsEntry:
    model: str
    variant: str
    source: str  # "keras.applications", "keras-applications", "torchvision", "timm", "keras_famous"
    source_model: str
    format: str  # "keras_h5", "torch_pth", "safetensors", "keras_weights_h5"
    converter: str  # "keras_h5", "torchvision", "timm" or "keras" (no conversion)
    files: Mapping[str, SourceFile]  # "top" (and "notop" where the publisher has a lighter file)
    dataset: str = "imagenet"  # the `weights=` value that selects this entry ("imagenet", "digits")
    top1: Optional[float] = None
    top5: Optional[float] = None
    accuracy_source: Optional[str] = None

    def file_for(self, include_top):
        return self.files["top"] if include_top or "notop" not in self.files else self.files["notop"]


def _read(text):
    entries = {}
    for raw in json.loads(text)["entries"]:
        files = {key: SourceFile(url=f["url"], hash=dict(f["hash"])) for key, f in raw["files"].items()}
        entry = WeightsEntry(**{**raw, "files": files})
        entries[(entry.model, entry.variant, entry.dataset)] = entry
    return entries


MANIFEST_ENV = "KERAS_FAMOUS_MANIFEST"


def load_manifest(path=None):
    """{(model, variant, dataset): WeightsEntry}. `path`, or the `KERAS_FAMOUS_MANIFEST` environment variable, reads
    another manifest file in the same format (a mirror of the sources, or a test's local files)."""
    path = path or os.environ.get(MANIFEST_ENV)
    if path:
        with open(path) as handle:
            return _read(handle.read())
    return _read(resources.files(__package__).joinpath("manifest.json").read_text())


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
        hint = f" Pretrained weights exist for variant(s) {available}." if available else ""
        if not available:
            hint = f" This model has weights={others[0]!r} instead." if others else (
                " No public pretrained source is known for this model; train it or pass a weights file."
            )
        raise ValueError(f"No pretrained weights={dataset!r} for {model_name} variant {variant!r}.{hint}")
    return entry
