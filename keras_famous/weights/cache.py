"""The weights cache. A file enters it only through a temporary file, a hash check and an atomic move, and a
file found in it (downloaded earlier, or placed by hand) is checked against the manifest's hash before use.

The cache lives under `KERAS_FAMOUS_HOME` (default `~/.keras/keras_famous`): `downloads/` holds the
publishers' files as published, each beside a `<file>.verified` record (the file's size, mtime, ctime, inode
and device when it was last verified, and its sha256), so a 500 MB file is hashed once, not on every build;
`converted/` holds the Keras-layout files made from them, each with a record of its own sha256. A file whose
identity differs from its record's is hashed again; `touch -r` cannot forge a ctime. Where the publisher gives
only a hash prefix, the full sha256 found at the first verification is required from then on.

A download holds a per-file lock (`.<file>.lock`), so a second process waits for the first instead of fetching
the file again, and writes `.<file>.partial`, which the next attempt resumes with an HTTP Range request; the
file enters the cache only when the whole of it has the expected hash.
"""

import contextlib
import glob
import hashlib
import http.client
import json
import os
import sys
import time
import urllib.error
import urllib.request

from ..arguments import setting
from ..files import atomic_file, file_mode

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


# Hashes: the manifest's ({"sha256": h}, {"md5": h}, {"sha1": h}, {"sha256_prefix": p} or {}), and always sha256, in
# one pass.


def _algorithm(kind):
    return "sha256" if kind.startswith("sha256") else kind


def _hashers(expected_hash):
    return {name: hashlib.new(name) for name in {"sha256", *map(_algorithm, expected_hash)}}


def file_digests(path, expected_hash):
    """{algorithm: hex digest} of `path`: sha256 and the algorithm of `expected_hash`."""
    hashers = _hashers(expected_hash)
    _hash_file(path, hashers)
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}


def _hash_file(path, hashers):
    """Feeds the bytes of `path` to every hasher of `hashers` ({algorithm: hasher})."""
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            for hasher in hashers.values():
                hasher.update(chunk)


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


# Verification records: `<file>.verified` says which file (its identity) was found to have which hashes.
IDENTITY = ("size", "mtime_ns", "ctime_ns", "inode", "device")


def _identity(stat):
    return dict(zip(IDENTITY, (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev)))


def _record_path(path):
    return path + ".verified"


def _read_record(path):
    try:
        with open(_record_path(path)) as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    keys = {*IDENTITY, "sha256", "manifest_hash"}
    return record if isinstance(record, dict) and keys <= set(record) else None


def _write_record(path, sha256, expected_hash):
    """Records that `path`, as it is now, has `sha256` (its identity read after the file took its place: a
    rename changes the ctime)."""
    with contextlib.suppress(OSError):  # read-only: verified on every use
        record = {**_identity(os.stat(path)), "sha256": sha256, "manifest_hash": expected_hash}
        with atomic_file(_record_path(path), "wb") as out:
            out.write(json.dumps(record).encode())


def _recorded(path, record, expected_hash):
    """Whether `record` describes `path` as it is now, verified against `expected_hash`."""
    return (
        bool(record)
        and record["manifest_hash"] == expected_hash
        and _identity(os.stat(path)) == {key: record[key] for key in IDENTITY}
    )


def verified_sha256(path, expected_hash, url):
    """The sha256 of the cached file `path` once it is checked against the manifest's hash, or, for a
    publisher that gives none, against the file first used there (trust on first use). A publisher's prefix is
    checked once; the full sha256 then found is required from then on."""
    record = _read_record(path)
    if _recorded(path, record, expected_hash):
        return record["sha256"]
    pinned = bool(record) and record["manifest_hash"] == expected_hash and "sha256" not in expected_hash
    trusted = {**expected_hash, "sha256": record["sha256"]} if pinned else expected_hash
    digests = file_digests(path, trusted)
    mismatch = _mismatch(digests, trusted)
    if mismatch:
        raise _refused(path, url, *mismatch, pinned)
    _write_record(path, digests["sha256"], expected_hash)
    return digests["sha256"]


def record_converted(path):
    """Records the sha256 of a file the cache made (a conversion), to be checked like a download."""
    digest = file_digests(path, {})["sha256"]
    _write_record(path, digest, {"sha256": digest})


def converted_intact(path):
    """Whether the converted file `path` is the one the cache made: its record's identity, or else its sha256."""
    record = _read_record(path)
    if record is None:
        return False
    if _recorded(path, record, record["manifest_hash"]):
        return True
    if file_digests(path, {})["sha256"] != record["sha256"]:
        return False
    _write_record(path, record["sha256"], record["manifest_hash"])
    return True


def _refused(path, url, algorithm, expected, found, pinned):
    if pinned:
        why = (
            f"its sha256 is {found}, but was {expected} when keras_famous first used it (the publisher gives no hash "
            "or only a prefix, so the first file verified is pinned and a different one refused)"
        )
    else:
        why = f"its {algorithm} is {found}, the manifest expects {expected}"
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


def _open(url, target, offset=0):
    """The response for `url`, from byte `offset` (an HTTP Range request) when it is not 0."""
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as error:
        if offset and error.code == 416:  # the part is not a prefix of the file any more: start over
            raise
        raise offline_error(url, target, error) from error
    except (OSError, http.client.HTTPException) as error:  # URLError, timeouts are OSErrors
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


def _partial_path(target):
    return os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.partial")


@contextlib.contextmanager
def _locked(target):
    """An exclusive lock on `.<file>.lock` beside `target` while the block runs (where the system has flock)."""
    directory = os.path.dirname(target)
    try:
        os.makedirs(directory, exist_ok=True)
        handle = open(os.path.join(directory, f".{os.path.basename(target)}.lock"), "a")
    except OSError as error:
        raise not_writable(directory, error) from error
    with handle:
        try:
            import fcntl
        except ImportError:  # Windows: no lock, each process downloads to its own end
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _resumed_response(url, target, partial):
    """(response, bytes already there): the rest of the file after `partial` where the server serves ranges,
    else the whole file (the part discarded)."""
    offset = os.path.getsize(partial) if os.path.isfile(partial) else 0
    if offset:
        try:
            response = _open(url, target, offset)
        except urllib.error.HTTPError:  # 416: the range is past the end
            response = None
        if (
            response is not None
            and response.status == 206
            and response.headers.get("Content-Range", "").startswith(f"bytes {offset}-")
        ):
            return response, offset
        if response is not None:
            response.close()
    return _open(url, target), 0


def download(url, target, expected_hash, progress=True, stream=None):
    """Downloads `url` to `target` (the caller holds its lock): it enters the cache with the expected hash (and a
    record of it), or not at all. The bytes arrive in `.<file>.partial`, which a later call resumes."""
    directory = os.path.dirname(target)
    remove_stale_parts(directory)
    with contextlib.suppress(OSError):
        os.remove(_record_path(target))  # it describes a file no longer there
    partial = _partial_path(target)
    response, offset = _resumed_response(url, target, partial)
    hashers = _hashers(expected_hash)
    with response:
        if offset:  # the bytes already there count in the hash: the file is verified whole
            _hash_file(partial, hashers)
        total = int(response.headers.get("Content-Length") or 0)
        label = f"Downloading {os.path.basename(target)}" + (f" (resuming at {offset / 1e6:.1f} MB)" if offset else "")
        try:
            out = open(partial, "ab" if offset else "wb")
        except OSError as error:
            raise not_writable(directory, error) from error
        with out, _Progress(offset + total if total else 0, label, (stream or sys.stderr) if progress else None) as bar:
            bar.done = offset
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
        os.remove(partial)
        algorithm, expected, found = mismatch
        raise ValueError(
            f"The file downloaded from {url} for {target} has {algorithm} {found}, the manifest expects "
            f"{expected}: it is corrupt, truncated or not the published one, and was not kept. "
            f"Try again, or build with {setting('weights', None)}."
        )
    os.chmod(partial, file_mode())
    os.replace(partial, target)
    _write_record(target, digests["sha256"], expected_hash)


def fetch_verified(url, target, expected_hash, progress=True, stream=None):
    """(target, its sha256): the verified file at `target`, downloaded from `url` first if it is not there.

    OSError for network failures (naming the URL and the path to place the file at by hand) and for a cache
    that cannot be written; ValueError for a file without the expected hash.
    """
    if not os.path.isfile(target):
        with _locked(target):
            if not os.path.isfile(target):  # else another process fetched it while this one waited
                download(url, target, expected_hash, progress, stream)
    return target, verified_sha256(target, expected_hash, url)


def fetch(url, target, expected_hash, progress=True, stream=None):
    """The verified file at `target` (see fetch_verified)."""
    return fetch_verified(url, target, expected_hash, progress, stream)[0]
