"""The catalog table `keras-famous list` prints, read from `model_table.json` without Keras or TensorFlow.

`tools/update_model_table.py` stores, per model and variant, the numbers measured on the built graph (`registry.
compute_stats`) and the row's `listing`: what the family's spec says (year, reference count, published accuracy),
as `listing(info)` formats it from `registry.model_info`. tests/test_registry.py checks both against the families.
"""

import json
from importlib import resources

TABLE_FILE = "model_table.json"

HEADER = [
    "Model", "Variant", "Year", "Input", "Params", "Trainable", "Reference params (source)",
    "Depth", "Weighted depth", "MMACs", "Top-1 %", "Top-5 %",
]  # fmt: skip

NOTE = (
    "Depth: layers on the longest input-output path (Keras' table); weighted depth: layers with weights; "
    "MMACs: millions of multiply-adds per image at the input size, counted on the graph; Top-1/5: the source's "
    "published ImageNet accuracy (weights='imagenet' downloads that source's file through the manifest)."
)


def load_table():
    """{model: {variant: {measured numbers..., "listing": {...}}}}, in catalog order."""
    return json.loads(resources.files("keras_famous").joinpath(TABLE_FILE).read_text())


def listing(info):
    """What a catalog row takes from the family's spec, for a `registry.ModelInfo`."""
    reference = None if info.reference_params is None else f"{info.reference_params:,} ({info.params_source})"
    return {"year": info.year, "reference": reference, "top1": info.top1, "top5": info.top5}


def _count(value):
    return "-" if value is None else f"{value:,}"


def _accuracy(value):
    return "-" if value is None else f"{value * 100:.1f}"


def rows(table=None):
    """The catalog's rows (strings, in HEADER's order), one per model variant."""
    table = load_table() if table is None else table
    return [
        [
            name,
            variant,
            str(row["listing"]["year"]),
            "x".join(str(side) for side in row["input_size"]),
            _count(row["params"]),
            _count(row["trainable_params"]),
            row["listing"]["reference"] or "-",
            str(row["depth"]),
            str(row["weighted_depth"]),
            f"{row['macs'] / 1e6:,.1f}",
            _accuracy(row["listing"]["top1"]),
            _accuracy(row["listing"]["top5"]),
        ]
        for name, variants in table.items()
        for variant, row in variants.items()
    ]
