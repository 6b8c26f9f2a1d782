"""The engine cache: what a predictor converted and measured, kept so that the next one is ready in seconds.

Under `KERAS_FAMOUS_HOME/engines/` (the weights cache's home):
- `<key>/`: one engine's files for one inference graph (`model.onnx`; `model.xml` and `model.bin`; ...) and
  `record.json` with each file's sha256. The key hashes the graph's fingerprint (its config and every weight's
  bytes), the engine, its runtime's version, the CPU's feature flags and the input shape. An entry is written in
  a temporary folder and renamed into place whole; it is hashed again before every use, and one that fails
  is removed (the predictor converts afresh).
- `choices/<key>.json`: which engine was fastest at each batch size (and the timings), keyed also on the set
  of engines raced, the threads and the batch size. A loaded engine is still checked against the Keras model.
The folder is bounded (`KERAS_FAMOUS_ENGINE_CACHE_MB`, default 8192): after each new entry the least recently
used ones are removed until it fits. Anyone who can write the cache can rewrite a record with its files:
the hashes catch corruption and stray writes, not an attacker with the user's permissions.
"""

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time

import numpy as np

from .. import machine
from ..files import atomic_file
from ..weights.cache import file_digests, home

RECORD = "record.json"
DEFAULT_LIMIT_MB = 8192


def root():
    return os.path.join(home(), "engines")


def limit_bytes():
    text = os.environ.get("KERAS_FAMOUS_ENGINE_CACHE_MB", str(DEFAULT_LIMIT_MB))
    try:
        return int(float(text) * 2**20)
    except ValueError:
        raise ValueError(f"KERAS_FAMOUS_ENGINE_CACHE_MB must be a number of megabytes; it is {text!r}.") from None


def fingerprint(model):
    """sha256 of `model`'s graph (its config, as JSON) and of every weight's dtype, shape and bytes."""
    digest = hashlib.sha256(json.dumps(model.get_config(), sort_keys=True, default=repr).encode())
    for weight in model.weights:
        array = np.ascontiguousarray(weight.numpy())
        digest.update(f"{weight.path}:{array.dtype}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def key(*parts):
    """A cache key from `parts` (strings, numbers, tuples), with the CPU's feature flags always among them."""
    flags = " ".join(sorted(machine.cpu_flags() or ()))
    return hashlib.sha256(json.dumps([*map(str, parts), flags]).encode()).hexdigest()[:40]


def _sha256(path):
    return file_digests(path, {})["sha256"]


def _touch(path):
    with contextlib.suppress(OSError):
        os.utime(path)  # the last use, which eviction reads


def lookup(store, entry_key, files):
    """The folder of entry `entry_key` in the cache folder `store` (`root()`, or a scratch folder) when it holds
    `files`, each with the sha256 its record names; else None (a damaged entry is removed, with the reason
    returned as the second value)."""
    folder = os.path.join(store, entry_key)
    try:
        with open(os.path.join(folder, RECORD)) as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None, None
    for name in files:
        path = os.path.join(folder, name)
        if not os.path.isfile(path) or record.get("sha256", {}).get(name) != _sha256(path):
            shutil.rmtree(folder, ignore_errors=True)
            return None, f"{name} does not match its recorded sha256"
    _touch(os.path.join(folder, RECORD))
    return folder, None


@contextlib.contextmanager
def new_entry(store, entry_key, description):
    """A temporary folder to write an entry's files into; when the block ends they are hashed, recorded and
    renamed into place (a concurrent writer's entry, if first, is kept), and the cache trimmed to its bound."""
    os.makedirs(store, exist_ok=True)
    staging = tempfile.mkdtemp(dir=store, prefix=f".{entry_key}.tmp-")
    try:
        yield staging
        names = sorted(name for name in os.listdir(staging) if name != RECORD)
        record = {"sha256": {name: _sha256(os.path.join(staging, name)) for name in names}, **description}
        with open(os.path.join(staging, RECORD), "w") as out:
            json.dump(record, out, indent=1)
        try:
            os.rename(staging, os.path.join(store, entry_key))
        except OSError:  # another process put the same entry first
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    trim(store)


def _size(folder):
    return sum(entry.stat().st_size for entry in os.scandir(folder) if entry.is_file())


def trim(store, limit=None):
    """Removes the least recently used entries until the cache folder `store` holds at most `limit` bytes."""
    limit = limit_bytes() if limit is None else limit
    entries = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(store):
            if entry.is_dir() and not entry.name.startswith(".") and entry.name != "choices":
                record = os.path.join(entry.path, RECORD)
                used = os.path.getmtime(record) if os.path.exists(record) else 0.0
                entries.append((used, entry.path, _size(entry.path)))
    total = sum(size for _, _, size in entries)
    for _, folder, size in sorted(entries):
        if total <= limit:
            break
        shutil.rmtree(folder, ignore_errors=True)
        total -= size


def read_choice(store, choice_key):
    path = os.path.join(store, "choices", f"{choice_key}.json")
    try:
        with open(path) as handle:
            choice = json.load(handle)
        engines = {int(size): name for size, name in choice["engines"].items()}
        timings = {int(size): times for size, times in choice["timings_ms"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    _touch(path)
    return engines, timings


def write_choice(store, choice_key, engines, timings):
    os.makedirs(os.path.join(store, "choices"), exist_ok=True)
    with atomic_file(os.path.join(store, "choices", f"{choice_key}.json"), "w") as out:
        json.dump({"engines": engines, "timings_ms": timings, "written": time.time()}, out, indent=1)
