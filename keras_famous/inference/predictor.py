"""`predictor(model)`: the model's inference graph on the fastest engine of this machine, ready at once when
the engine cache already holds it.

Creating one: the inference graph (`rewrite.inference_model`); the engines that run on this backend and are
installed; each engine's files (TFLite, ONNX, OpenVINO IR) from the engine cache or converted (in a child
process when heavy: `conversion`); each engine loaded and checked against the Keras model on random inputs
(an engine that fails or differs is dropped with a warning); then the engines take turns at batch 1 and at
`batch_size`, and each call runs on the engine measured fastest at the batch size nearest its own. The choice is
cached too: a second predictor for the same weights on this machine loads the chosen engines only, checks
them, and is ready in seconds.
"""

import math
import os
import shutil
import statistics
import tempfile
import time
import warnings

import keras
import numpy as np

from .. import artifacts, machine
from ..applications import check_positive_int
from ..metrics import relative_difference
from . import cache as engine_cache
from . import conversion
from .engines import ENGINE_CLASSES, available_on, require
from .rewrite import inference_model

VERIFY_TOLERANCE = 1e-4  # max |engine - keras| / max |keras|, as export's float32 check
DEFAULT_SIDE = 224  # the side the engines are measured at when the model's height or width is free
OTHER_SIDE = 160  # a free-size model is also checked at this side, so that no engine fails on a later call


def _buckets(batch_size):
    """The batch sizes an engine that compiles per shape runs at: powers of two up to `batch_size`, and it."""
    return sorted({2**k for k in range(int(math.log2(batch_size)) + 1)} | {batch_size})


class Predictor:
    """A callable `images -> numpy outputs` (see `predictor`). `engine` is the engine that runs single images,
    `engines` the engine per measured batch size, `timings_ms` the median call time of every engine measured
    (from the cache when `cache == "hit"`), `threads` the engines' threads, `seconds` what creating it took.
    Any batch works: larger than `batch_size` runs in chunks of `batch_size`, and an engine that compiles for
    each shape (XLA, JAX, torch) runs a chunk padded to the next power of two, so it compiles a few shapes only.
    Calls from several threads are safe and give the serial results."""

    def __init__(self, model, runners, engines, timings_ms, batch_size, *, threads, cache, seconds):
        self.model = model
        self._runners = runners
        self.engines = engines
        self.engine = engines[min(engines)]
        self.timings_ms = timings_ms
        self.batch_size = batch_size
        self.threads = threads
        self.cache = cache
        self.seconds = seconds
        self._buckets = _buckets(batch_size)

    def engine_for(self, count):
        """The engine measured at the batch size nearest `count` (in ratio)."""
        sizes = sorted(self.engines)
        return self.engines[min(sizes, key=lambda size: abs(math.log(count / size)))]

    def _check(self, images):
        """A batch of the model's input shape, or a ValueError saying which shape (one image: `images[None]`)."""
        expected = tuple(self.model.input_shape)
        fits = images.ndim == len(expected) and all(
            want is None or want == got for want, got in zip(expected[1:], images.shape[1:])
        )
        if not fits:
            wanted = "(N, " + ", ".join("any" if side is None else str(side) for side in expected[1:]) + ")"
            hint = " (one image: pass images[None])" if images.ndim == len(expected) - 1 else ""
            raise ValueError(
                f"The predictor of {self.model.name} takes a batch of images of shape {wanted}; received an array of "
                f"shape {images.shape}{hint}."
            )
        if len(images) == 0:
            raise ValueError("The predictor needs at least one image; received an empty batch.")

    def _run(self, chunk):
        runner = self._runners[self.engine_for(len(chunk))]
        count = len(chunk)
        if runner.compiles_per_shape and count not in self._buckets:
            size = next(bucket for bucket in self._buckets if bucket > count)
            padded = np.concatenate([chunk, np.zeros((size - count, *chunk.shape[1:]), chunk.dtype)])
            return keras.tree.map_structure(lambda output: output[:count], runner(padded))
        return runner(chunk)

    def __call__(self, images):
        images = np.asarray(images, dtype="float32")
        self._check(images)
        parts = [self._run(images[start : start + self.batch_size]) for start in range(0, len(images), self.batch_size)]
        if len(parts) == 1:
            return parts[0]
        return keras.tree.map_structure(lambda *chunks: np.concatenate(chunks), *parts)

    def describe(self):
        """Which engine runs which batch sizes, with how many threads, and whether the cache served it."""
        used = ", ".join(f"batch {size}: {name}" for size, name in self.engines.items())
        return f"{self.model.name} on {used} ({self.threads} threads; engine cache: {self.cache}; ready in {self.seconds:.1f} s)"

    def __repr__(self):
        return f"Predictor({self.model.name!r}, engines={self.engines}, cache={self.cache!r})"


def _main(outputs):
    outputs = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
    return np.asarray(keras.ops.convert_to_numpy(outputs), dtype="float32")


def _candidates(engine, outputs):
    backend = keras.backend.backend()
    available = available_on(backend)
    if outputs > 1:  # optimize=False on a model with auxiliary heads: the converted runtimes keep one output
        available = tuple(name for name in available if not ENGINE_CLASSES[name].files)
    if engine == "auto":
        return [name for name in available if ENGINE_CLASSES[name].installed()]
    if engine not in available:
        raise ValueError(
            f"`engine` must be 'auto' or one of {available} on the {backend} backend; received engine={engine!r}."
        )
    require(engine)
    return [engine]


def _problem(runner, images, expected):
    """Why `runner` cannot be used on `images` (None when its outputs are within VERIFY_TOLERANCE)."""
    try:
        error = relative_difference(_main(runner(images)), expected)
    except Exception as exc:  # noqa: BLE001 (any engine failure means: do not use this engine)
        return f"failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None if error <= VERIFY_TOLERANCE else f"differs from the Keras model by {error:.3g}"


def _verified(runners, model, shapes, sizes, rng, forced):
    """`runners` less those failing or differing from `model` at any of `shapes` x `sizes` (warned, or raised
    when `forced`)."""
    for shape in shapes:
        for size in sizes:
            images = rng.uniform(-1, 1, (size, *shape)).astype("float32")
            expected = _main(model(images, training=False))
            for name in list(runners):
                problem = _problem(runners[name], images, expected)
                if problem:
                    side = f" at input shape {(size, *shape)}" if len(shapes) > 1 else ""
                    if forced:
                        raise ValueError(f"engine={name!r} cannot run {model.name}: it {problem}{side}.")
                    warnings.warn(f"predictor: engine {name!r} {problem}{side}; it is not used.", stacklevel=4)
                    del runners[name]
    if not runners:
        raise RuntimeError(f"No inference engine could run {model.name} (see the warnings above).")
    return runners


def _race(runners, shape, sizes, repeats, rng, log):
    """({size: fastest engine}, {size: {engine: median ms}}), the engines taking turns at each size."""
    engines, timings = {}, {}
    for size in sizes:
        images = rng.uniform(-1, 1, (size, *shape)).astype("float32")
        times = {name: [] for name in runners}  # no warm-up: `_verified` ran each engine at this shape
        for _ in range(repeats if len(runners) > 1 else 1):
            for name, runner in runners.items():
                start = time.perf_counter()
                runner(images)
                times[name].append(1000 * (time.perf_counter() - start))
        timings[size] = {name: statistics.median(values) for name, values in times.items()}
        engines[size] = min(timings[size], key=timings[size].get)
        log(f"  batch {size}: " + ", ".join(f"{name} {ms:.1f} ms" for name, ms in timings[size].items()))
    return engines, timings


def _without_heavy_onnx(fast, to_convert, forced):
    """`to_convert` less ONNX Runtime in an "auto" race when tf2onnx would need more memory than there is."""
    if forced or "onnxruntime" not in to_convert:
        return to_convert
    needed, available = artifacts.onnx_conversion_memory(fast), machine.available_memory()
    if available is None or needed <= 0.8 * available:
        return to_convert
    warnings.warn(
        f"predictor: ONNX Runtime is not tried for {fast.name}: converting it with tf2onnx needs about "
        f"{needed / 1e9:.0f} GB, and {available / 1e9:.0f} GB are available (engine='onnxruntime' forces it).",
        stacklevel=4,
    )
    return [name for name in to_convert if name != "onnxruntime"]


def _load(names, fast, threads, cache, fingerprint, shape, isolate, forced, log):
    """({engine: loaded engine}, [engines converted]) for `names`: files from the cache, or converted (then cached)."""
    folders, keys, runners = {}, {}, {}
    for name in names:
        engine = ENGINE_CLASSES[name]
        if engine.files and cache:
            keys[name] = engine_cache.key(fingerprint, name, engine.version(), shape)
            folders[name], damage = engine_cache.lookup(keys[name], engine.files)
            if damage:
                warnings.warn(
                    f"predictor: the engine cache's {name} entry is damaged ({damage}); converting again.", stacklevel=3
                )
    missing = [name for name in names if ENGINE_CLASSES[name].files and not folders.get(name)]
    to_convert = _without_heavy_onnx(fast, missing, forced)
    with tempfile.TemporaryDirectory(prefix="keras_famous-engines-") as scratch:
        if to_convert:
            child = conversion.use_child(fast, to_convert, isolate)
            where = " (in a child process)" if child else ""
            log(f"predictor for {fast.name}: converting for {', '.join(to_convert)}{where}")
            errors = conversion.convert_in_child(fast, to_convert, scratch, threads) if child else None
            if errors is None:
                errors = conversion.convert_here(fast, to_convert, scratch, threads)
            for name, text in errors.items():
                if forced:
                    raise RuntimeError(f"engine={name!r} cannot convert {fast.name}: {text}")
                warnings.warn(
                    f"predictor: engine {name!r} cannot convert {fast.name}: {text}; it is not used.", stacklevel=3
                )
            folders.update({name: os.path.join(scratch, name) for name in to_convert if name not in errors})
        for name in names:
            if ENGINE_CLASSES[name].files and not folders.get(name):
                continue
            runner = ENGINE_CLASSES[name](threads)
            try:
                runner.load(fast, folders.get(name))
            except Exception as exc:  # noqa: BLE001
                if forced:
                    raise
                warnings.warn(
                    f"predictor: engine {name!r} cannot load {fast.name}: {exc}; it is not used.", stacklevel=3
                )
                continue
            runners[name] = runner
            if cache and name in to_convert:
                description = {"engine": name, "version": ENGINE_CLASSES[name].version(), "model": fast.name}
                with engine_cache.new_entry(keys[name], description) as staging:
                    for file in ENGINE_CLASSES[name].files:
                        shutil.move(os.path.join(folders[name], file), staging)
    return runners, to_convert


def predictor(
    model,
    *,
    engine="auto",
    optimize=True,
    batch_size=32,
    repeats=3,
    threads=None,
    cache=True,
    isolate=None,
    verbose=True,
):
    """keras_famous' inference path: a `Predictor`, called as `predictor(images)` -> numpy outputs (the main output
    of a model with auxiliary heads is all it returns when `optimize`).

    It runs `model`'s inference form (`inference_model`: BatchNormalization folded, dropout and auxiliary heads
    removed; the model itself when `optimize=False`) on the fastest float32 engine of this machine (see the module
    note): with `engine="auto"` on the TensorFlow backend every installed engine of ENGINES (TensorFlow, XLA,
    LiteRT, ONNX Runtime, OpenVINO) is checked against the Keras model and timed; `engine=` forces one (an error
    if it fails); on JAX and torch the engine is the backend's compiled `predict_on_batch`. `threads` sets the
    LiteRT, ONNX Runtime and OpenVINO threads (default: the cores this process may use, within a container's CPU
    quota). `cache=False` neither reads nor writes the engine cache. `isolate` converts in a child process (True),
    here (False), or in a child when the conversion is heavy (None). With a free height or width the engines
    are also checked at a second image size, and one that cannot take it is left out. Prints what it measures
    unless `verbose=False`."""
    started = time.perf_counter()
    where = f"predictor({model.name})"
    batch_size = check_positive_int(where, "batch_size", batch_size)
    repeats = check_positive_int(where, "repeats", repeats)
    threads = machine.usable_cores() if threads is None else check_positive_int(where, "threads", threads)
    log = print if verbose else (lambda text: None)
    forced = engine != "auto"
    fast = inference_model(model) if optimize else model
    names = _candidates(engine, len(fast.outputs))
    cache = bool(cache) and keras.backend.backend() == "tensorflow"
    shape = tuple(side or DEFAULT_SIDE for side in model.input_shape[1:])
    shapes = [shape]
    if any(side is None for side in model.input_shape[1:3]):
        shapes.append(tuple(OTHER_SIDE if side is None else side for side in model.input_shape[1:]))
    sizes = sorted({1, batch_size}) if not forced else [1]
    fingerprint = engine_cache.fingerprint(fast) if cache else None
    choice = None
    if cache and not forced:
        versions = [f"{name}:{ENGINE_CLASSES[name].version()}" for name in names]
        choice_key = engine_cache.key(fingerprint, versions, threads, sizes, model.input_shape, "choice")
        choice = engine_cache.read_choice(choice_key)
        if choice and not set(choice[0].values()) <= set(names):
            choice = None
    if choice:
        names = [name for name in names if name in set(choice[0].values())]
    runners, converted = _load(names, fast, threads, cache, fingerprint, shape, isolate, forced, log)
    rng = np.random.default_rng(0)
    runners = _verified(runners, model, shapes, [1] if choice else sizes, rng, forced)
    if choice and set(runners) == set(choice[0].values()):
        (engines, timings), status = choice, ("hit" if not converted else "partial")
    else:
        log(f"predictor for {model.name}: measuring {', '.join(runners)}")
        engines, timings = _race(runners, shape, sizes, repeats, rng, log)
        status = "off" if not cache else ("hit" if forced and not converted else "miss")
        if cache and not forced:
            engine_cache.write_choice(choice_key, engines, timings)
    used = {name: runners[name] for name in set(engines.values())}
    result = Predictor(
        fast, used, engines, timings, batch_size, threads=threads, cache=status, seconds=time.perf_counter() - started
    )
    log(f"predictor for {result.describe()}")
    return result
