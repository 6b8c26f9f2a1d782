"""Start-up costs (`keras-famous bench --build`): building each graph against keras.applications' build of the
same network, loading a `.weights.h5`, converting a torchvision/timm checkpoint."""

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .bench import peers, torch_command, unavailable
from .report import fmt


@dataclass
class BuildRecord:
    model: str
    variant: str
    build_s: float
    keras_applications_build_s: Optional[float]
    load_weights_s: float
    convert_s: Optional[float]
    note: str = ""


def build_times(models=None, progress=print, repeats=3):
    """BuildRecords of `models` (default: the whole catalog, default variants).

    Build times are the fastest of `repeats` builds, ours and keras.applications' alternating, so that
    neither side gets the quieter moments of the machine (the time is mostly weight initialisation).
    """
    import keras

    from .. import registry

    names = [registry.get_spec(name).name for name in (models or registry.list_models())]
    registry.build_variant("LeNet5")  # one-off start-up costs of the first Keras model are no model's
    records = []
    with tempfile.TemporaryDirectory() as directory:
        for name in names:
            progress(f"  building {name} ...")
            keras_name, torch_ref = peers(name)
            builders = {"ours": lambda: registry.build_variant(name)}
            if keras_name:
                builders["keras"] = lambda: getattr(keras.applications, keras_name)(weights=None)
            fastest, built = {}, {}
            for _ in range(repeats):
                for side, build in builders.items():
                    keras.backend.clear_session()
                    start = time.perf_counter()
                    built[side] = build()
                    fastest[side] = min(fastest.get(side, np.inf), time.perf_counter() - start)
            model, build_s, keras_s = built["ours"], fastest["ours"], fastest.get("keras")
            weights_path = os.path.join(directory, "model.weights.h5")
            model.save_weights(weights_path, overwrite=True)
            start = time.perf_counter()
            model.load_weights(weights_path)
            load_s = time.perf_counter() - start
            convert_s, note = None, ""
            torch_variant = _torch_variant(name)
            if torch_ref and torch_variant and not unavailable(name, "torch"):
                checkpoint = os.path.join(directory, "reference.safetensors")
                subprocess.run(
                    torch_command(*torch_ref, 1, 32, 0, 0, "--checkpoint", checkpoint), check=True, capture_output=True
                )
                # the reference runs without auxiliary heads (torch_timing), so the target too
                no_aux = (
                    {"aux_logits": False}
                    if "aux_logits" in registry.get_spec(name).variants[torch_variant].kwargs
                    else {}
                )
                target = registry.build_variant(name, torch_variant, **no_aux)
                start = time.perf_counter()
                registry.load_weights(target, checkpoint, name, torch_variant)
                convert_s = time.perf_counter() - start
                note = f"convert: {torch_ref[0]} {torch_ref[1]} -> variant {torch_variant}"
            records.append(
                BuildRecord(name, registry.get_spec(name).variant(None)[0], build_s, keras_s, load_s, convert_s, note)
            )
    return records


def _torch_variant(name):
    from .. import registry

    spec = registry.get_spec(name)
    return next(
        (key for key, v in spec.variants.items() if any(r.library in ("torchvision", "timm") for r in v.references)),
        None,
    )


def build_markdown(records):
    lines = [
        "| model | build s | keras.applications build s | ratio | load .weights.h5 s | convert torch s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        ratio = r.build_s / r.keras_applications_build_s if r.keras_applications_build_s else None
        lines.append(
            f"| {r.model} | {r.build_s:.2f} | {fmt(r.keras_applications_build_s, 2)} | {fmt(ratio, 2)} | {r.load_weights_s:.2f} "
            f"| {fmt(r.convert_s, 2)} |"
        )
    return "\n".join(lines) + "\n"
