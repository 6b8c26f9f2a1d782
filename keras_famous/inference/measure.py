"""Checking and timing the engines against the Keras model: float32 engines within VERIFY_TOLERANCE of its
outputs, reduced-precision ones by top-1 agreement (`guard`), then the race, the engines taking turns."""

import statistics
import time
import warnings

import keras
import numpy as np

from ..arguments import setting
from ..metrics import relative_difference
from . import guard

VERIFY_TOLERANCE = 1e-4  # max |engine - keras| / max |keras|, as export's float32 check


def main_output(outputs):
    outputs = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
    return np.asarray(keras.ops.convert_to_numpy(outputs), dtype="float32")


REFERENCE_CHUNK = 4  # a Functional model called eagerly holds every layer's output until it returns: ResNet50
# at batch 32 peaks near 6 GB, at 4 under 1 GB; the outputs do not depend on the batch in inference mode


def reference(model, images):
    """The Keras model's main output on `images`, in inference mode, computed a few images at a time."""
    chunks = [images[i : i + REFERENCE_CHUNK] for i in range(0, len(images), REFERENCE_CHUNK)]
    return np.concatenate([main_output(model(chunk, training=False)) for chunk in chunks])


def engine_problem(runner, images, expected):
    """Why `runner` cannot be used on `images` (None when its outputs are within VERIFY_TOLERANCE)."""
    try:
        error = relative_difference(main_output(runner(images)), expected)
    except Exception as exc:  # noqa: BLE001 (any engine failure means: do not use this engine)
        return f"failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None if error <= VERIFY_TOLERANCE else f"differs from the Keras model by {error:.3g}"


def drop(runners, name, problem, forced):
    if forced:
        raise ValueError(f"{setting('engine', name)} cannot be used: it {problem}.")
    warnings.warn(f"predictor: engine {name!r} {problem}; it is not used.", stacklevel=5)
    del runners[name]


def verified(runners, model, shapes, sizes, rng, forced):
    """`runners` less the float32 ones failing or differing from `model` at any of `shapes` x `sizes` (warned, or
    raised when `forced`); reduced-precision engines are checked by `agreeing`."""
    for shape in shapes:
        for size in sizes:
            images = rng.uniform(-1, 1, (size, *shape)).astype("float32")
            expected = reference(model, images)
            for name in [name for name in runners if runners[name].tier == "float32"]:
                problem = engine_problem(runners[name], images, expected)
                if problem:
                    side = f" at input shape {(size, *shape)}" if len(shapes) > 1 else ""
                    drop(runners, name, f"{problem}{side}", forced)
    return runners


def agreeing(runners, validation, reference, min_agreement, forced, below):
    """{engine: top-1 agreement} of the reduced-precision `runners` on `validation`; those below
    `min_agreement` (or failing) are dropped with a warning (and their figure put in `below`), or raise when
    the engine was forced."""
    agreement = {}
    for name in [name for name in runners if runners[name].tier != "float32"]:
        try:
            outputs = np.concatenate(
                [main_output(runners[name](validation[i : i + 32])) for i in range(0, len(validation), 32)]
            )
        except Exception as exc:  # noqa: BLE001
            drop(runners, name, f"failed on the validation images: {type(exc).__name__}: {exc}", forced)
            continue
        agreement[name] = guard.top1_agreement(outputs, reference)
        if agreement[name] < min_agreement:
            figure = (
                f"agrees with the float32 model's top-1 on {agreement[name]:.1%} of {len(validation)} validation images"
            )
            problem = f"{figure}, below min_agreement={min_agreement:g}"
            if forced:
                raise ValueError(f"precision {runners[name].tier} ({name}) {problem}: pass more typical calibration images, lower min_agreement, or use {setting('precision', 'float32')}.")  # fmt: skip
            warnings.warn(f"predictor: engine {name!r} {problem}; it is not used.", stacklevel=4)
            below[name] = agreement.pop(name)
            del runners[name]
    return agreement


def race(runners, shape, sizes, repeats, rng, log):
    """({size: fastest engine}, {size: {engine: median ms}}), the engines taking turns at each size."""
    engines, timings = {}, {}
    for size in sizes:
        images = rng.uniform(-1, 1, (size, *shape)).astype("float32")
        times = {name: [] for name in runners}
        for runner in runners.values():
            runner(images)  # warm-up (an int8 engine has not run at this size yet)
        for _ in range(repeats if len(runners) > 1 else 1):
            for name, runner in runners.items():
                start = time.perf_counter()
                runner(images)
                times[name].append(1000 * (time.perf_counter() - start))
        timings[size] = {name: statistics.median(values) for name, values in times.items()}
        engines[size] = min(timings[size], key=timings[size].get)
        log(f"  batch {size}: " + ", ".join(f"{name} {ms:.1f} ms" for name, ms in timings[size].items()))
    return engines, timings
