"""The catalog: every model's ModelSpec, the lookup, and the metadata users read.

Measured metadata (parameters, depth, multiply-adds) is computed from the built graph by
`compute_stats`. Building every network takes a while, so `tools/update_model_table.py` stores the
results in `model_table.json` (see `catalog`, which `keras-famous list` reads); a test rebuilds every
model and checks that the stored numbers are still what the graphs give.
"""

import difflib
from dataclasses import dataclass, field
from typing import Optional, Tuple

from . import analysis, weights
from .catalog import load_table
from .models import FAMILIES

SPECS = {spec.name: spec for family in FAMILIES for spec in family.SPECS}


def _normalize(name):
    return name.lower().replace("-", "").replace("_", "")


_BY_KEY = {_normalize(name): spec for name, spec in SPECS.items()}


def list_models():
    """The names of every model in the catalog, in catalog order."""
    return list(SPECS)


def get_spec(name):
    """The ModelSpec of `name`, ignoring case, '-' and '_' ("ResNeXt50", "resnext50", "wide_resnet50_2")."""
    if not isinstance(name, str):
        raise ValueError(f"`name` must be a model name string; received {name!r}.")
    if _normalize(name) in _BY_KEY:
        return _BY_KEY[_normalize(name)]
    close = difflib.get_close_matches(name, list(SPECS), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ValueError(f"Unknown model `name` {name!r}.{hint} Available models: {', '.join(SPECS)}.")


def get_model(model_name, /, **kwargs):
    """Builds a model by name (case-insensitive): `get_model("resnext50", include_top=False)`.
    Keyword arguments go to the builder, `name` (the Keras model's name) included."""
    return get_spec(model_name).builder(**kwargs)


def build_variant(model_name, variant=None, /, **kwargs):
    spec = get_spec(model_name)
    _, variant_spec = spec.variant(variant)
    options = dict(variant_spec.kwargs)
    if not kwargs.get("include_top", True):
        options.pop("aux_logits", None)  # auxiliary heads are classifiers: a headless variant has none
    return spec.builder(**{**options, **kwargs})


def weights_target(model_name, variant=None):
    """The `weights.Target` of a catalog model and variant: what a weights file needs to know about it."""
    return weights.Target.of(get_spec(model_name), variant)


def load_weights(model, path, model_name, variant=None):
    """Loads a weights file (any supported format) into `model`, built as the catalog's `model_name` and
    `variant`; all-or-nothing. The same loader `weights=path` uses at build time."""
    return weights.load_into(model, path, weights_target(model_name, variant))


def compute_stats(name, variant=None):
    """Builds the variant with its top and measures it (the caller's Keras session is left alone)."""
    return analysis.graph_stats(build_variant(name, variant))


@dataclass(frozen=True)
class ModelInfo:
    name: str
    variant: str
    variants: Tuple[str, ...]
    family: str
    paper: str
    year: int
    input_size: Tuple[int, ...]
    params: int
    trainable_params: int
    non_trainable_params: int
    depth: int
    weighted_depth: int
    macs: int
    top1: Optional[float]
    top5: Optional[float]
    accuracy_source: Optional[str]
    reference_params: Optional[int]
    params_source: Optional[str]
    references: tuple = field(default_factory=tuple)
    note: str = ""


def model_info(name, variant=None, compute=False, *, stats=None):
    """Metadata of one model variant (default variant if None).

    With `compute=True` the graph is built and measured now; otherwise the stored table is used (or `stats`, the
    numbers `compute_stats` gave).
    """
    spec = get_spec(name)
    variant, variant_spec = spec.variant(variant)
    if stats is None:
        stats = compute_stats(spec.name, variant) if compute else load_table()[spec.name][variant]
    refs = variant_spec.references
    accuracy = next((r for r in refs if r.top1 is not None), None)
    params_ref = refs[0] if refs else None
    reference_params = None
    if params_ref is not None:
        reference_params = params_ref.params if params_ref.params is not None else params_ref.trainable_params
    return ModelInfo(
        name=spec.name,
        variant=variant,
        variants=tuple(spec.variants),
        family=spec.family,
        paper=spec.paper,
        year=spec.year,
        input_size=tuple(stats["input_size"]),
        params=stats["params"],
        trainable_params=stats["trainable_params"],
        non_trainable_params=stats["non_trainable_params"],
        depth=stats["depth"],
        weighted_depth=stats["weighted_depth"],
        macs=stats["macs"],
        top1=accuracy.top1 if accuracy else None,
        top5=accuracy.top5 if accuracy else None,
        accuracy_source=accuracy.accuracy_source if accuracy else None,
        reference_params=reference_params,
        params_source=f"{params_ref.library} {params_ref.model}" if params_ref else None,
        references=refs,
        note=variant_spec.note,
    )
