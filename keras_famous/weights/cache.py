"""The weights cache. A file enters it only through a temporary file, a hash check and an atomic move, and a
file found in it (downloaded earlier, or placed by hand) is checked against the manifest's hash before use.

The cache lives under `KERAS_FAMOUS_HOME` (default `~/.keras/keras_famous`): `downloads/` holds the
publishers' files as published, each beside a `<file>.verified` record (size, mtime and sha256 of the file
last verified, so a 500 MB file is hashed once, not on every build); `converted/` holds the Keras-layout
files made from them.
"""

import contextlib
import glob
import hashlib
import http.client
import json
import os
import sys
import time
import urllib.request

from ..files import atomic_file

CHUNK = 1 << 20
TIMEOUT = 60  # seconds to connect, and between two reads, before a download is given up
STALE_PART_AGE = 24 * 3600  # a temporary download this old is abandoned, whoever wrote it


def home():
    return os.path.expanduser(os.environ.get("KERAS_FAMOUS_HOME", os.path.join("~", ".keras", "keras_famous")))


def cache_path(*parts):
    return os.path.join(home(), *parts)


def not_writable(directory, error):
    """`error` (PermissionError, read-only file system, disk full, ...) saying which directory and what to do."""
    return type(error)(
        f"Cannot write to the weights cache {directory} ({error}): set KERAS_FAMOUS_HOME to a writable directory."
    )


# Hashes: the manifest's ({"sha256": h}, {"md5": h}, {"sha256_prefix": p} or {}), and always sha256, in one pass.


def _algorithm(kind):
    return "sha256" if kind.startswith("sha256") else kind


def _hashers(expected_hash):
    return {name: hashlib.new(name) for name in {"sha256", *map(_algorithm, expected_hash)}}


def file_digests(path, expected_hash):
    """{algorithm: hex digest} of `path`: sha256 and the algorithm of `expected_hash`."""
    hashers = _hashers(expected_hash)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}


def _mismatch(digests, expected_hash):
    """(algorithm, expected, found) of a hash that differs from `expected_hash`, or None."""
    for kind, value in expected_hash.items():
        found = digests[_algorithm(kind)]
        if not (found.startswith(value) if kind.endswith("_prefix") else found == value):
            return _algorithm(kind), value + ("..." if kind.endswith("_prefix") else ""), found
    return None


def verify(path, expected_hash):
    """The sha256 of `path`; ValueError unless it has `expected_hash`."""
    digests = file_digests(path, expected_hash)
    mismatch = _mismatch(digests, expected_hash)
    if mismatch:
        algorithm, expected, found = mismatch
        raise ValueError(
            f"{path} has {algorithm} {found}, the manifest expects {expected}: "
            "the file is corrupt, truncated or not the published one."
        )
    return digests["sha256"]


# Verification records: `<file>.verified` says which file (size, mtime) was found to have which hashes.


def _record_path(path):
    return path + ".verified"


def _read_record(path):
    try:
        with open(_record_path(path)) as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    keys = {"size", "mtime_ns", "sha256", "manifest_hash"}
    return record if isinstance(record, dict) and keys <= set(record) else None


def _write_record(path, stat, sha256, expected_hash):
    record = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256, "manifest_hash": expected_hash}
    with contextlib.suppress(OSError), atomic_file(_record_path(path), "wb") as out:  # read-only: verify on every use
        out.write(json.dumps(record).encode())


def verified_sha256(path, expected_hash, url):
    """The sha256 of the cached file `path` once it is checked against the manifest's hash, or, for a
    publisher that gives none, against the file first used there (trust on first use)."""
    stat = os.stat(path)
    record = _read_record(path)
    if record and (record["size"], record["mtime_ns"], record["manifest_hash"]) == (
        stat.st_size,
        stat.st_mtime_ns,
        expected_hash,
    ):
        return record["sha256"]
    first_use = not expected_hash
    trusted = {"sha256": record["sha256"]} if first_use and record else expected_hash
    digests = file_digests(path, trusted)
    mismatch = _mismatch(digests, trusted)
    if mismatch:
        raise _refused(path, url, *mismatch, first_use)
    _write_record(path, stat, digests["sha256"], expected_hash)
    return digests["sha256"]


def _refused(path, url, algorithm, expected, found, first_use):
    why = (
        f"its sha256 is {found}, but was {expected} when keras_famous first used it (the publisher gives no hash, "
        "so the first file is trusted and a different one refused)"
        if first_use
        else f"its {algorithm} is {found}, the manifest expects {expected}"
    )
    return ValueError(
        f"The cached weights file {path} is not the one published at {url}: {why}. Delete it to download it "
        "again, or place the published file there, or build with weights=None."
    )


# Downloads.


def offline_error(url, target, why):
    return OSError(
        f"Could not download {url} ({why}). Offline? Download it elsewhere and place it at "
        f"{target} (keras_famous verifies its hash), or build with weights=None."
    )


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: alive, another user's
        pass
    return True


def remove_stale_parts(directory):
    """Removes the temporary downloads (`.download-<pid>-<random>.part`) of processes no longer alive on this
    machine, and any older than STALE_PART_AGE; a live process's download in progress stays."""
    for part in glob.glob(os.path.join(glob.escape(directory), ".download-*.part")):
        pid = os.path.basename(part).split("-")[1]
        with contextlib.suppress(OSError):
            if (pid.isdigit() and int(pid) > 0 and not _pid_alive(int(pid))) or (
                time.time() - os.path.getmtime(part) > STALE_PART_AGE
            ):
                os.remove(part)


def _open(url, target):
    try:
        return urllib.request.urlopen(url, timeout=TIMEOUT)
    except (OSError, http.client.HTTPException) as error:  # URLError, HTTPError, timeouts are OSErrors
        raise offline_error(url, target, error) from error


def _chunks(response, total, url, target):
    """The body, chunk by chunk; a failed read or a body shorter than `total` (its Content-Length) is offline_error."""
    received = 0
    while True:
        try:
            chunk = response.read(CHUNK)
        except (OSError, http.client.HTTPException) as error:  # IncompleteRead, ConnectionResetError, timeout
            raise offline_error(url, target, error) from error
        if not chunk:
            break
        received += len(chunk)
        yield chunk
    if total and received < total:
        raise offline_error(url, target, f"the connection closed after {received} of {total} bytes")


class _Progress:
    def __init__(self, total, label, stream):
        self.total, self.label, self.stream, self.done, self.last = total, label, stream, 0, None

    def __enter__(self):
        return self

    def update(self, count):
        self.done += count
        percent = int(100 * self.done / self.total) if self.total else None
        if self.stream and (percent != self.last or percent is None):
            self.last = percent
            shown = f"{percent:3d}%" if percent is not None else f"{self.done / 1e6:.1f} MB"
            width = 30
            filled = int(width * self.done / self.total) if self.total else 0
            self.stream.write(f"\r{self.label} [{'=' * filled}{' ' * (width - filled)}] {shown}")
            self.stream.flush()

    def __exit__(self, *exc_info):  # ends the line, also before an error propagates
        if self.stream and self.done:
            self.stream.write("\n")
            self.stream.flush()


def download(url, target, expected_hash, progress=True, stream=None):
    """Downloads `url` to `target`: it enters the cache with the expected hash (and a record of it), or not at all."""
    directory = os.path.dirname(target)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as error:
        raise not_writable(directory, error) from error
    remove_stale_parts(directory)
    with contextlib.suppress(OSError):
        os.remove(_record_path(target))  # it describes a file no longer there
    hashers = _hashers(expected_hash)
    with contextlib.ExitStack() as stack:
        try:
            out = stack.enter_context(atomic_file(target, "wb", prefix=f".download-{os.getpid()}-", suffix=".part"))
        except OSError as error:
            raise not_writable(directory, error) from error
        response = stack.enter_context(_open(url, target))
        total = int(response.headers.get("Content-Length") or 0)
        label = f"Downloading {os.path.basename(target)}"
        with _Progress(total, label, (stream or sys.stderr) if progress else None) as bar:
            for chunk in _chunks(response, total, url, target):
                try:
                    out.write(chunk)
                except OSError as error:
                    raise not_writable(directory, error) from error
                for hasher in hashers.values():
                    hasher.update(chunk)
                bar.update(len(chunk))
        digests = {name: hasher.hexdigest() for name, hasher in hashers.items()}
        mismatch = _mismatch(digests, expected_hash)
        if mismatch:
            algorithm, expected, found = mismatch
            raise ValueError(
                f"The file downloaded from {url} for {target} has {algorithm} {found}, the manifest expects "
                f"{expected}: it is corrupt, truncated or not the published one, and was not kept. "
                "Try again, or build with weights=None."
            )
        out.flush()
        stat = os.fstat(out.fileno())  # this file's, though another process may replace `target` next
    _write_record(target, stat, digests["sha256"], expected_hash)


def fetch_verified(url, target, expected_hash, progress=True, stream=None):
    """(target, its sha256): the verified file at `target`, downloaded from `url` first if it is not there.

    OSError for network failures (naming the URL and the path to place the file at by hand) and for a cache
    that cannot be written; ValueError for a file without the expected hash.
    """
    if not os.path.isfile(target):
        download(url, target, expected_hash, progress, stream)
    return target, verified_sha256(target, expected_hash, url)


def fetch(url, target, expected_hash, progress=True, stream=None):
    """The verified file at `target` (see fetch_verified)."""
    return fetch_verified(url, target, expected_hash, progress, stream)[0]
