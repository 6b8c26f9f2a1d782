"""The engines a predictor runs, made ready: each engine's files from the engine cache, or converted (in this
process or a child: `conversion`) and then cached; engines sharing files (OpenVINO's float32 IR and its
bfloat16 compile) convert once."""

import os
import shutil
import tempfile
import warnings

from ..arguments import setting
from .. import artifacts, machine
from . import cache as engine_cache
from . import conversion
from .engines import ENGINE_CLASSES


def without_heavy_onnx(fast, to_convert, forced):
    """`to_convert` less ONNX Runtime in an "auto" race when tf2onnx would need more memory than there is."""
    heavy = [name for name in to_convert if name.startswith("onnxruntime")]
    if forced or not heavy:
        return to_convert
    needed, available = artifacts.onnx_conversion_memory(fast), machine.available_memory()
    if available is None or needed <= 0.8 * available:
        return to_convert
    warnings.warn(
        f"predictor: ONNX Runtime is not tried for {fast.name}: converting it with tf2onnx needs about "
        f"{needed / 1e9:.0f} GB, and {available / 1e9:.0f} GB are available ({setting('engine', 'onnxruntime')} forces it).",
        stacklevel=4,
    )
    return [name for name in to_convert if name not in heavy]


def artifact_of(name):
    """The engine whose files `name` runs (its own, or those it shares)."""
    return ENGINE_CLASSES[name].artifact or name


def load(names, fast, threads, store, key_parts, isolate, forced, calibration, log):
    """({engine: loaded engine}, [files converted]) for `names`: files from the cache folder `store` (None: no
    cache), or converted (then cached). `key_parts` (the graph's fingerprint, the input shape, the calibration's
    hash) key the cache entries."""
    folders, keys, runners = {}, {}, {}
    needed = sorted({artifact_of(name) for name in names if ENGINE_CLASSES[name].files}, key=list(ENGINE_CLASSES).index)
    for source in needed:
        engine = ENGINE_CLASSES[source]
        if store:
            parts = key_parts if engine.calibrated else key_parts[:2]
            keys[source] = engine_cache.key(*parts, source, engine.version())
            folders[source], damage = engine_cache.lookup(store, keys[source], engine.files)
            if damage:
                warnings.warn(
                    f"predictor: the engine cache's {source} entry is damaged ({damage}); converting again.",
                    stacklevel=3,
                )
    to_convert = without_heavy_onnx(fast, [source for source in needed if not folders.get(source)], forced)
    with tempfile.TemporaryDirectory(prefix="keras_famous-engines-") as scratch:
        if to_convert:
            child = conversion.use_child(fast, to_convert, isolate)
            where = " (in a child process)" if child else ""
            log(f"predictor for {fast.name}: converting for {', '.join(to_convert)}{where}")
            errors = conversion.convert_in_child(fast, to_convert, scratch, threads, calibration) if child else None
            if errors is None:
                errors = conversion.convert_here(fast, to_convert, scratch, threads, calibration)
            for source, text in errors.items():
                if forced:
                    raise RuntimeError(f"{setting('engine', source)} cannot convert {fast.name}: {text}")
                warnings.warn(
                    f"predictor: engine {source!r} cannot convert {fast.name}: {text}; it is not used.", stacklevel=3
                )
            folders.update({source: os.path.join(scratch, source) for source in to_convert if source not in errors})
        for name in names:
            folder = folders.get(artifact_of(name))
            if ENGINE_CLASSES[name].files and not folder:
                continue
            runner = ENGINE_CLASSES[name](threads)
            try:
                runner.load(fast, folder)
            except Exception as exc:  # noqa: BLE001
                if forced:
                    raise
                warnings.warn(
                    f"predictor: engine {name!r} cannot load {fast.name}: {exc}; it is not used.", stacklevel=3
                )
                continue
            runners[name] = runner
        for source in to_convert:
            if store and folders.get(source):
                description = {"engine": source, "version": ENGINE_CLASSES[source].version(), "model": fast.name}
                with engine_cache.new_entry(store, keys[source], description) as staging:
                    for file in ENGINE_CLASSES[source].files:
                        shutil.move(os.path.join(folders[source], file), staging)
    return runners, to_convert
