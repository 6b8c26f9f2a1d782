"""The child processes of a predictor's creation (`python -m keras_famous.inference.worker convert|race ...`):
a module of its own, which the package does not import, so that running it as `__main__` runs it once.

    convert GRAPH.keras DIR THREADS CALIBRATION.npy|- ENGINE...   each engine's files into DIR/ENGINE
    race GRAPH.keras REQUEST.json                                 conversions, checks and the race into a cache
"""

import json
import sys
import time

import keras
import numpy as np

import keras_famous  # noqa: F401  (registers the package's layers for loading)

from .conversion import convert_here
from .predictor import _create, _Settings

CANNOT_LOAD = 3  # the exit status that makes the parent do the work itself


def _load_graph(path):
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as error:  # noqa: BLE001 (custom layers that are not registered, ...)
        print(f"cannot load the graph: {error}", file=sys.stderr)
        return None


def convert(path, directory, threads, images, *names):
    fast = _load_graph(path)
    if fast is None:
        return CANNOT_LOAD
    calibration = None if images == "-" else np.load(images, allow_pickle=False)
    for name, text in convert_here(fast, names, directory, int(threads), calibration).items():
        print(f"{name}\t{text}", flush=True)
    return 0


def race(path, request_path):
    fast = _load_graph(path)
    if fast is None:
        return CANNOT_LOAD
    with open(request_path) as handle:
        request = json.load(handle)
    arrays = [np.load(array, allow_pickle=False) for array in request.pop("arrays")]
    data = None if not arrays else (arrays[0] if arrays[0].size else None, arrays[1])
    fingerprint, store, names = request.pop("fingerprint"), request.pop("store"), request.pop("names")
    settings = _Settings(**dict(request, isolate=False))
    _create(fast, fast, names, data, settings, store, fingerprint, time.perf_counter(), cached=True, announce=False)
    return 0


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    sys.exit({"convert": convert, "race": race}[command](*arguments))
