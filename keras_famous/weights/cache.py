"""Download into the cache: temporary file, hash check, atomic move. A file that fails never enters the cache.

The cache lives under `KERAS_FAMOUS_HOME` (default `~/.keras/keras_famous`): `downloads/` holds the
publishers' files as published, `converted/` the Keras-layout files made from them once.
"""

import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request

CHUNK = 1 << 20


def home():
    return os.path.expanduser(os.environ.get("KERAS_FAMOUS_HOME", os.path.join("~", ".keras", "keras_famous")))


def cache_path(*parts):
    return os.path.join(home(), *parts)


def file_digest(path, algorithm):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path, expected_hash):
    """ValueError unless `path` has the expected hash ({"sha256": h}, {"md5": h}, {"sha256_prefix": p} or {})."""
    for kind, value in expected_hash.items():
        algorithm = "sha256" if kind.startswith("sha256") else kind
        actual = file_digest(path, algorithm)
        ok = actual.startswith(value) if kind.endswith("_prefix") else actual == value
        if not ok:
            raise ValueError(
                f"{algorithm} of the downloaded file is {actual}, the manifest expects {value}"
                f"{'...' if kind.endswith('_prefix') else ''}: the file is corrupt, truncated or not the published one."
            )


class _Progress:
    def __init__(self, total, label, stream):
        self.total, self.label, self.stream, self.done, self.last = total, label, stream, 0, -1

    def update(self, count):
        self.done += count
        percent = int(100 * self.done / self.total) if self.total else None
        if percent != self.last:
            self.last = percent
            shown = f"{percent:3d}%" if percent is not None else f"{self.done / 1e6:.1f} MB"
            width = 30
            filled = int(width * self.done / self.total) if self.total else 0
            self.stream.write(f"\r{self.label} [{'=' * filled}{' ' * (width - filled)}] {shown}")
            self.stream.flush()

    def close(self):
        self.stream.write("\n")
        self.stream.flush()


def fetch(url, target, expected_hash, progress=True, stream=None):
    """The verified file at `target`, downloading `url` first if it is not there.

    Cached files are trusted (they were verified on entry). OSError for network and disk failures
    (naming the URL and the path to place the file at by hand), ValueError for a hash mismatch.
    """
    if os.path.isfile(target):
        return target
    os.makedirs(os.path.dirname(target), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".download-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=60)
            except (urllib.error.URLError, OSError) as error:
                raise OSError(
                    f"Could not download {url} ({error}). Offline? Download it elsewhere and place it at "
                    f"{target} (keras_famous verifies its hash), or build with weights=None."
                ) from error
            with response:
                total = int(response.headers.get("Content-Length") or 0)
                bar = _Progress(total, f"Downloading {os.path.basename(target)}", stream or sys.stderr) if progress else None
                received = 0
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    out.write(chunk)
                    received += len(chunk)
                    if bar:
                        bar.update(len(chunk))
                if bar:
                    bar.close()
                if total and received != total:
                    raise OSError(f"Download of {url} was cut short: {received} of {total} bytes. Try again.")
        verify(tmp, expected_hash)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return target
