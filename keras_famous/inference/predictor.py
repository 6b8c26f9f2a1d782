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

import dataclasses
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings

import keras
import numpy as np

from ..arguments import named, setting
from .. import machine
from ..applications import check_positive_int
from . import cache as engine_cache
from . import conversion, guard, loading, measure
from .engines import ENGINE_CLASSES, TIERS, available_on, require
from .measure import VERIFY_TOLERANCE  # noqa: F401  (public: inference.VERIFY_TOLERANCE)
from .rewrite import inference_model

DEFAULT_SIDE = 224  # the side the engines are measured at when the model's height or width is free
PRECISIONS = ("float32", "bfloat16", "int8", "auto")
OTHER_SIDE = 160  # a free-size model is also checked at this side, so that no engine fails on a later call


def _buckets(batch_size):
    """The batch sizes an engine that compiles per shape runs at: powers of two up to `batch_size`, and it."""
    return sorted({2**k for k in range(int(math.log2(batch_size)) + 1)} | {batch_size})


class Predictor:
    """A callable `images -> numpy outputs` (see `predictor`). `engine` is the engine that runs single images,
    `engines` the engine per measured batch size, `timings_ms` the median call time of every engine measured
    (from the cache when `cache == "hit"`), `threads` the engines' threads, `seconds` what creating it took,
    `precision` the tier of `engine`, and `agreement` each reduced-precision engine's top-1 agreement with the
    float32 model on the validation images.
    Any batch works: larger than `batch_size` runs in chunks of `batch_size`, and an engine that compiles for
    each shape (XLA, JAX, torch) runs a chunk padded to the next power of two, so it compiles a few shapes only.
    Calls from several threads are safe and give the serial results."""

    def __init__(self, model, runners, engines, timings_ms, batch_size, *, threads, cache, seconds, agreement):
        self.model = model
        self.agreement = agreement
        self._runners = runners
        self.engines = engines
        self.engine = engines[min(engines)]
        self.timings_ms = timings_ms
        self.batch_size = batch_size
        self.threads = threads
        self.cache = cache
        self.seconds = seconds
        self._buckets = _buckets(batch_size)

    @property
    def precision(self):
        """The precision tier ("float32", "bfloat16", "int8") of the engine that runs single images."""
        return self._runners[self.engine].tier

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
        if self.agreement:
            used += "; top-1 agreement with float32: " + ", ".join(f"{n} {a:.1%}" for n, a in self.agreement.items())
        return f"{self.model.name} on {used} ({self.threads} threads; engine cache: {self.cache}; ready in {self.seconds:.1f} s)"

    def __repr__(self):
        return f"Predictor({self.model.name!r}, engines={self.engines}, cache={self.cache!r})"


def _candidates(engine, outputs, tiers):
    backend = keras.backend.backend()
    available = available_on(backend, TIERS)
    if outputs > 1:  # optimize=False on a model with auxiliary heads: the converted runtimes keep one output
        available = tuple(name for name in available if not ENGINE_CLASSES[name].files)
    if engine == "auto":
        return [name for name in available if ENGINE_CLASSES[name].tier in tiers and ENGINE_CLASSES[name].installed()]
    if engine not in available:
        raise ValueError(
            f"{named('engine')} must be 'auto' or one of {available} on the {backend} backend; received {setting('engine', engine)}."
        )
    require(engine)
    return [engine]


def _tiers(precision, has_data):
    if precision not in PRECISIONS:
        raise ValueError(
            f"{named('precision')} must be one of {PRECISIONS}; received {setting('precision', precision)}."
        )
    if precision == "auto":
        return TIERS if has_data else ("float32",)
    return (precision,)


def _hash(images):
    return (
        "-" if images is None else hashlib.sha256(np.ascontiguousarray(images, dtype="float32").tobytes()).hexdigest()
    )


@dataclasses.dataclass(frozen=True)
class _Settings:
    engine: str
    precision: str
    min_agreement: float
    batch_size: int
    repeats: int
    threads: int
    isolate: object
    verbose: bool


def predictor(
    model, *, engine="auto", precision="float32", calibration=None, validation=None, min_agreement=0.99,
    optimize=True, batch_size=32, repeats=3, threads=None, cache=True, isolate=None, verbose=True,
):  # fmt: skip
    """keras_famous' inference path: a `Predictor`, called as `predictor(images)` -> numpy outputs (the main output
    of a model with auxiliary heads is all it returns when `optimize`).

    It runs `model`'s inference form (`inference_model`: BatchNormalization folded, dropout and auxiliary heads
    removed; the model itself when `optimize=False`) on the fastest engine of this machine (see the module
    note): with `engine="auto"` on the TensorFlow backend every installed engine of ENGINES at the `precision`
    asked for is checked and timed; `engine=` forces one (an error if it fails); on JAX and torch the engine is
    the backend's compiled `predict_on_batch`.

    `precision`: "float32" (TensorFlow, XLA, LiteRT, ONNX Runtime, OpenVINO; each checked against the Keras model
    to 1e-4); "bfloat16" (OpenVINO, where the CPU has AVX512_BF16 or AMX); "int8" (LiteRT full-integer and ONNX
    Runtime QDQ, calibrated on `calibration`); "auto": the fastest of the tiers that pass. A reduced tier needs
    `calibration` images (typical inputs, as the model takes them) and is used only where its top-1 class agrees
    with the float32 model's on at least `min_agreement` of images it did not calibrate on (`validation`, else
    the last quarter of `calibration`); blank images or images on which the model's outputs barely vary are
    refused (`guard`). An engine below the bar is dropped with a warning, or is an error when the tier was asked.
    `min_agreement=0` measures and reports the agreement without refusing anything (speed on random weights, say).

    `threads` sets the LiteRT, ONNX Runtime and OpenVINO threads (default: the cores this process may use, within a
    container's CPU quota). `cache=False` neither reads nor writes the engine cache. `isolate`: the conversions and
    the race in a child process (True; its memory - tf2onnx's 80 times the weights, every engine's buffers at
    `batch_size` - returns when it exits, and this process loads the chosen engines only), here (False), or in a
    child when the conversion is heavy (None). With a free height or width the engines are also checked at a
    second image size, and one that cannot take it is left out. Prints what it measures unless `verbose=False`."""
    started = time.perf_counter()
    where = f"predictor({model.name})"
    settings = _Settings(
        engine=engine, precision=precision, min_agreement=min_agreement, isolate=isolate, verbose=verbose,
        batch_size=check_positive_int(where, "batch_size", batch_size),
        repeats=check_positive_int(where, "repeats", repeats),
        threads=machine.usable_cores() if threads is None else check_positive_int(where, "threads", threads),
    )  # fmt: skip
    if isinstance(min_agreement, bool) or not isinstance(min_agreement, (int, float)) or not 0 <= min_agreement <= 1:
        raise ValueError(
            f"{named('min_agreement')} must be a fraction in [0, 1]; received {setting('min_agreement', min_agreement)}."
        )
    tiers = _tiers(precision, calibration is not None or validation is not None)
    fast = inference_model(model) if optimize else model
    names = _candidates(engine, len(fast.outputs), tiers)
    reduced = [name for name in names if ENGINE_CLASSES[name].tier != "float32"]
    if precision != "auto" and precision != "float32" and not reduced:
        hint = " (bfloat16 needs a CPU with AVX512_BF16 or AMX, and OpenVINO)" if precision == "bfloat16" else ""
        raise ValueError(
            f"No engine here computes at {setting('precision', precision)}{hint}; use {setting('precision', 'float32')}."
        )
    if engine != "auto" and precision not in ("auto", ENGINE_CLASSES[engine].tier):
        raise ValueError(f"{setting('engine', engine)} computes in {ENGINE_CLASSES[engine].tier}; received {setting('precision', precision)}.")  # fmt: skip
    data = reference = None
    if reduced:
        calibration, validation = guard.split(calibration, validation, model.input_shape)
        reference = measure.reference(model, validation)  # the float32 outputs agreement is measured against
        if min_agreement > 0:  # a guard is asked for: data that would fool it is refused
            if calibration is not None and len(calibration):
                guard.check_not_degenerate(
                    named("calibration"), calibration, measure.reference(model, calibration[:64])
                )
            guard.check_not_degenerate(named("validation"), validation, reference)
        if any(ENGINE_CLASSES[name].calibrated for name in reduced) and (calibration is None or not len(calibration)):
            raise ValueError(
                f"int8 needs {named('calibration')} images to take its ranges from; received validation only."
            )
        data = (calibration, validation)
    tensorflow = keras.backend.backend() == "tensorflow"
    with tempfile.TemporaryDirectory(prefix="keras_famous-engine-store-") as scratch:
        store = engine_cache.root() if cache and tensorflow else None
        # the cache's keys, and the child's: hashing every weight is not needed for a forced engine without cache
        fingerprint = engine_cache.fingerprint(fast) if tensorflow and (store or engine == "auto") else None
        cached, measured = store is not None, False
        if tensorflow and engine == "auto":
            child_store = _race_in_child(fast, fingerprint, names, data, settings, store or scratch)
            store, measured = child_store or store, child_store is not None
        return _create(
            model, fast, names, data, settings, store, fingerprint, started, cached=cached, measured=measured,
            reference=reference,
        )  # fmt: skip


def _choice_key(fast, fingerprint, names, data, settings, sizes):
    versions = [f"{name}:{ENGINE_CLASSES[name].version()}" for name in names]
    hashes = ("-", "-") if data is None else (_hash(data[0]), _hash(data[1]))
    parts = (versions, settings.threads, sizes, fast.input_shape, settings.precision, hashes, settings.min_agreement)
    return engine_cache.key(fingerprint, *parts, "choice")


def _race_in_child(fast, fingerprint, names, data, settings, store):
    """The conversions and the race run by a child process into the cache folder `store` (when they are heavy and
    not already there): `store` once the child has written its choice there, else None."""
    sizes = sorted({1, settings.batch_size})
    key = _choice_key(fast, fingerprint, names, data, settings, sizes)
    if engine_cache.read_choice(store, key):
        return None  # cached: nothing to convert or measure
    if not conversion.use_child(fast, [name for name in names if ENGINE_CLASSES[name].files], settings.isolate):
        return None
    with tempfile.TemporaryDirectory(prefix="keras_famous-race-") as scratch:
        graph = os.path.join(scratch, "graph.keras")
        try:
            fast.save(graph)
        except Exception:  # noqa: BLE001 (a graph Keras cannot save: measured in this process)
            return None
        arrays = []
        for index, images in enumerate(data or ()):
            arrays.append(os.path.join(scratch, f"images{index}.npy"))
            np.save(arrays[-1], np.asarray(images if images is not None else np.zeros((0,)), dtype="float32"))
        request = dict(dataclasses.asdict(settings), fingerprint=fingerprint, store=store, names=names, arrays=arrays)
        with open(os.path.join(scratch, "request.json"), "w") as out:  # what the worker's `race` reads
            json.dump(request, out)
        if settings.verbose:
            print(f"predictor for {fast.name}: converting and measuring in a child process", flush=True)
        request_path = os.path.join(scratch, "request.json")
        command = [sys.executable, "-m", "keras_famous.inference.worker", "race", graph, request_path]
        environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"))
        result = subprocess.run(command, env=environment, stdout=None if settings.verbose else subprocess.DEVNULL)
    if result.returncode != 0 or not engine_cache.read_choice(store, key):
        warnings.warn(f"predictor: the child process could not measure {fast.name}; measuring here.", stacklevel=3)
        return None
    return store


def _create(
    model, fast, names, data, settings, store, fingerprint, started, *, cached, measured=False, announce=True,
    reference=None,
):  # fmt: skip
    """The Predictor: `fast`'s engines `names` loaded (from `store`, a cache folder, or converted), checked
    against `model` (and, for reduced precision, on `data` = (calibration, validation)), raced, chosen.
    `cached`: `store` is the engine cache (else a scratch folder, or None); `measured`: a child process has
    just converted and raced into `store`, so what this process loads from it is not a cache hit. `reference`:
    `model`'s outputs on the validation images, when the caller has them already."""
    log = print if settings.verbose else (lambda text: None)
    forced = settings.engine != "auto"
    calibration, validation = data if data is not None else (None, None)
    if reference is None and data is not None:
        reference = measure.reference(model, validation)
    shape = tuple(side or DEFAULT_SIDE for side in model.input_shape[1:])
    shapes = [shape]
    if any(side is None for side in model.input_shape[1:3]):
        shapes.append(tuple(OTHER_SIDE if side is None else side for side in model.input_shape[1:]))
    sizes = sorted({1, settings.batch_size}) if not forced else [1]
    key_parts = (fingerprint, shape, _hash(calibration) if data is not None else "-")
    choice = choice_key = None
    if store and not forced:
        choice_key = _choice_key(fast, fingerprint, names, data, settings, sizes)
        choice = engine_cache.read_choice(store, choice_key)
        if choice and not set(choice[0].values()) <= set(names):
            choice = None
    if choice:
        names = [name for name in names if name in set(choice[0].values())]
    runners, converted = loading.load(
        names, fast, settings.threads, store, key_parts, settings.isolate, forced, calibration, log
    )
    rng = np.random.default_rng(0)
    runners = measure.verified(runners, model, shapes, [1] if choice else sizes, rng, forced)
    below = {}
    agreement = measure.agreeing(runners, validation, reference, settings.min_agreement, forced, below) if data else {}
    if not runners and below:
        figures = ", ".join(f"{name} {fraction:.1%}" for name, fraction in below.items())
        raise ValueError(
            f"{setting('precision', settings.precision)}: no engine's top-1 agrees with the float32 model's on min_agreement="
            f"{settings.min_agreement:g} of the {len(validation)} validation images ({figures}). Pass more typical "
            f"calibration images, lower min_agreement, or use {setting('precision', 'float32')}."
        )
    if not runners:
        raise RuntimeError(f"No inference engine could run {model.name} (see the warnings above).")
    if choice and set(runners) == set(choice[0].values()):
        (engines, timings), status = choice, ("hit" if not converted else "partial")
    else:
        log(f"predictor for {model.name}: measuring {', '.join(runners)}")
        engines, timings = measure.race(runners, shape, sizes, settings.repeats, rng, log)
        status = "hit" if forced and not converted else "miss"
        if store and not forced:
            engine_cache.write_choice(store, choice_key, engines, timings)
    if measured and status == "hit":
        status = "miss"
    if not cached:
        status = "off"
    used = {name: runners[name] for name in set(engines.values())}
    result = Predictor(
        fast, used, engines, timings, settings.batch_size, threads=settings.threads, cache=status,
        seconds=time.perf_counter() - started, agreement={name: agreement[name] for name in used if name in agreement},
    )  # fmt: skip
    if announce:
        log(f"predictor for {result.describe()}")
    return result
