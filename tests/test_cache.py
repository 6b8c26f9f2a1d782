"""The weights cache serves only verified files: cached and hand-placed files are checked against the manifest
(once per file, through a record), conversions follow the source file, files take the umask's mode, a read-only
cache still loads, stale temporary downloads are cleaned, every network failure is one clear OSError, and a
broken KERAS_FAMOUS_MANIFEST cannot break loading a local file. No internet: servers on 127.0.0.1."""

import errno
import hashlib
import http.server
import io
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import warnings

import h5py
import numpy as np
import pytest
import safetensors.torch
import torch
import torchvision

import keras_famous
from keras_famous.weights import cache
from conftest import infer, http_server, one_file_entry, random_images, serving, write_manifest

SHAPE = (64, 64, 3)
PAYLOAD = b"published weights " * 1000
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


SENT, PROMISED = (1 << 20) + 1000, 4 << 20  # more than cache.CHUNK arrives, so the progress line has started


class _MisbehavingHandler(http.server.BaseHTTPRequestHandler):
    """GET /<name> fails the way `name` says, after the headers and SENT bytes of body where there is a body."""

    protocol_version = "HTTP/1.1"
    released = None  # a threading.Event that ends a stalled response

    def log_message(self, *args):
        pass

    def do_GET(self):
        name = self.path.strip("/")
        if name == "missing":
            self.send_error(404)
            return
        self.send_response(200)
        if name == "chunked-cut":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"%x\r\n%s\r\n" % (1 << 20, b"x" * (1 << 20)))
            self.wfile.write(b"%x\r\n%s" % (PROMISED, b"x" * 1000))  # the last chunk is cut short
        else:
            self.send_header("Content-Length", str(PROMISED))
            self.end_headers()
            self.wfile.write(b"x" * SENT)
        self.wfile.flush()
        if name == "stall":
            self.released.wait(30)
        if name == "reset":  # linger 0: closing sends RST, not FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.wfile.close()
            self.connection.close()
            self.wfile = io.BytesIO()  # what handle_one_request flushes after do_GET (the socket's file is closed)
        self.close_connection = True


@pytest.fixture
def served(tmp_path):
    """(directory, its URL): files put in the directory are served over HTTP, as a publisher's server would."""
    directory = tmp_path / "published"
    directory.mkdir()
    with serving(directory) as url:
        yield directory, url


@pytest.fixture
def misbehaving():
    released = threading.Event()
    with http_server(type("Handler", (_MisbehavingHandler,), {"released": released})) as url:
        yield url
        released.set()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_FAMOUS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _unused_url(name):
    """A URL on 127.0.0.1 where nothing listens: every download from it fails at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"


def _files(directory):
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


def _count_hashing(monkeypatch):
    calls = []
    real = cache.file_digests
    monkeypatch.setattr(cache, "file_digests", lambda *args: calls.append(args[0]) or real(*args))
    return calls


def _touch(path, seconds):
    """A later mtime, explicitly: a rewrite within the file system's timestamp granularity keeps the old one."""
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + int(seconds * 1e9)))


# 1. Cached and hand-placed files are verified before use, once per file.


def test_cached_file_is_verified_once_per_size_and_mtime(served, home, monkeypatch):
    directory, url = served
    (directory / "w.bin").write_bytes(PAYLOAD)
    target = str(home / "downloads" / "src" / "w.bin")
    assert cache.fetch(f"{url}/w.bin", target, {"md5": hashlib.md5(PAYLOAD).hexdigest()}, progress=False) == target
    record = json.loads((home / "downloads" / "src" / "w.bin.verified").read_text())
    assert record["sha256"] == PAYLOAD_SHA256 and record["size"] == len(PAYLOAD)

    hashed = _count_hashing(monkeypatch)
    offline = _unused_url("w.bin")  # a cache hit needs no server
    for _ in range(2):
        cache.fetch(offline, target, {"md5": hashlib.md5(PAYLOAD).hexdigest()})
    assert hashed == []  # the record made at download time covers this file
    _touch(target, 1)
    cache.fetch(offline, target, {"md5": hashlib.md5(PAYLOAD).hexdigest()})
    cache.fetch(offline, target, {"md5": hashlib.md5(PAYLOAD).hexdigest()})
    assert hashed == [target]  # changed mtime: verified again, then recorded again


def test_wrong_cached_file_is_refused_saying_what_to_do(served, home):
    directory, url = served
    (directory / "w.bin").write_bytes(PAYLOAD)
    target = home / "downloads" / "src" / "w.bin"
    cache.fetch(f"{url}/w.bin", str(target), {"sha256": PAYLOAD_SHA256}, progress=False)
    wrong = PAYLOAD.replace(b"published", b"tampered!")
    target.write_bytes(wrong)
    _touch(target, 1)
    for _ in range(2):  # refused every time, never recorded as verified
        with pytest.raises(ValueError) as error:
            cache.fetch(f"{url}/w.bin", str(target), {"sha256": PAYLOAD_SHA256})
        message = str(error.value)
        for part in (str(target), PAYLOAD_SHA256, hashlib.sha256(wrong).hexdigest(), f"{url}/w.bin"):
            assert part in message
        assert "Delete it" in message and "place the published file there" in message and "weights=None" in message
    assert target.read_bytes() == wrong  # the user's file is left to the user


def test_hand_placed_file_is_verified_like_a_download(home):
    url = _unused_url("w.bin")
    target = home / "downloads" / "src" / "w.bin"
    with pytest.raises(OSError) as error:
        cache.fetch(url, str(target), {"sha256": PAYLOAD_SHA256})
    assert f"place it at {target} " in str(error.value)
    target.write_bytes(b"not the published file")  # placed where the message says
    with pytest.raises(ValueError, match="not the one published at"):
        cache.fetch(url, str(target), {"sha256": PAYLOAD_SHA256})
    target.write_bytes(PAYLOAD)
    _touch(target, 1)
    assert cache.fetch_verified(url, str(target), {"sha256": PAYLOAD_SHA256}) == (str(target), PAYLOAD_SHA256)


def test_unpublished_hash_is_trusted_on_first_use(served, home):
    """timm's hub gives no hash: the first file is recorded, a different one later is refused."""
    directory, url = served
    (directory / "w.bin").write_bytes(PAYLOAD)
    target = home / "downloads" / "src" / "w.bin"
    assert cache.fetch_verified(f"{url}/w.bin", str(target), {}, progress=False)[1] == PAYLOAD_SHA256
    target.write_bytes(b"another file")
    _touch(target, 1)
    with pytest.raises(ValueError, match="first used it") as error:
        cache.fetch(f"{url}/w.bin", str(target), {})
    assert PAYLOAD_SHA256 in str(error.value) and "gives no hash" in str(error.value)
    target.write_bytes(PAYLOAD)  # the first file back
    _touch(target, 2)
    assert cache.fetch(f"{url}/w.bin", str(target), {}) == str(target)
    target.unlink()  # deleting it is the way to accept a new file: its record goes with it
    (directory / "w.bin").write_bytes(b"the publisher's new file")
    new_sha256 = hashlib.sha256(b"the publisher's new file").hexdigest()
    assert cache.fetch_verified(f"{url}/w.bin", str(target), {}, progress=False)[1] == new_sha256


# 2. Conversions follow the source file.


@pytest.fixture(scope="module")
def squeezenets(tmp_path_factory):
    """Two different random torchvision SqueezeNet 1.1 checkpoints (small, quick to convert)."""
    directory = tmp_path_factory.mktemp("squeezenets")
    for name, seed in (("a", 0), ("b", 1)):
        torch.manual_seed(seed)
        state = torchvision.models.squeezenet1_1(weights=None).state_dict()
        state = {key: value.contiguous() for key, value in state.items()}
        safetensors.torch.save_file(state, str(directory / f"{name}.safetensors"))
    return directory


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _manifest(tmp_path, monkeypatch, url, file_hash):
    path = write_manifest(
        tmp_path / "manifest.json", [one_file_entry("SqueezeNet1_1", "squeezenet1_1", url, file_hash)]
    )
    monkeypatch.setenv("KERAS_FAMOUS_MANIFEST", str(path))


def _publish_squeezenet(squeezenets, served, tmp_path, monkeypatch):
    """(served directory, its URL, the source file): SqueezeNet "a" published and in the manifest."""
    directory, url = served
    source = squeezenets / "a.safetensors"
    (directory / "squeezenet1_1.safetensors").write_bytes(source.read_bytes())
    _manifest(tmp_path, monkeypatch, f"{url}/squeezenet1_1.safetensors", {"sha256": _sha256(source)})
    return directory, url, source


def _pretrained_features():
    model = keras_famous.SqueezeNet1_1(weights="imagenet", include_top=False, input_shape=SHAPE, pooling="avg")
    return infer(model, random_images(SHAPE))


def test_conversion_is_keyed_on_the_source_file(squeezenets, tmp_path, home, monkeypatch):
    """A mirror manifest switched to another file, then back: each file gets its own conversion."""
    url = _unused_url("squeezenet1_1.safetensors")
    target = home / "downloads" / "torchvision" / "squeezenet1_1.safetensors"
    target.parent.mkdir(parents=True)
    features = []
    for name in ("a", "b", "a"):
        target.write_bytes((squeezenets / f"{name}.safetensors").read_bytes())  # placed by hand
        _manifest(tmp_path, monkeypatch, url, {"sha256": _sha256(target)})
        features.append(_pretrained_features())
    assert not np.allclose(features[0], features[1])  # b is not served a's conversion
    np.testing.assert_array_equal(features[0], features[2])
    converted = [name for name in _files(home / "converted") if not name.endswith(".verified")]
    assert len(converted) == 2
    assert {name.rsplit("_", 1)[1] for name in converted} == {
        f"{_sha256(squeezenets / n)[:16]}.h5" for n in ("a.safetensors", "b.safetensors")
    }


# 3. Files take the umask's mode.


def test_cache_files_honour_the_umask(squeezenets, served, tmp_path, home, monkeypatch):
    directory, url, source = _publish_squeezenet(squeezenets, served, tmp_path, monkeypatch)
    previous = os.umask(0o027)
    try:
        _pretrained_features()
    finally:
        os.umask(previous)
    files = _files(home)  # the conversion and its record, the download, its record and its lock
    assert [f.split("/")[0] for f in files] == ["converted", "converted", "downloads", "downloads", "downloads"]
    assert {f: oct(os.stat(home / f).st_mode & 0o777) for f in files} == {f: oct(0o640) for f in files}


# 4. A read-only cache that holds the download still loads.


def _read_only(monkeypatch, root):
    """Makes creating files and directories under `root` fail as on a read-only cache. Simulated by
    monkeypatching, because the tests may run as root, which ignores permission bits."""
    root = str(root)
    real_mkstemp, real_makedirs = tempfile.mkstemp, os.makedirs

    def refuse(path):
        if os.path.abspath(path).startswith(root):
            raise PermissionError(errno.EROFS, "Read-only file system (simulated)", path)

    def mkstemp(*args, dir=None, **kwargs):
        refuse(dir or tempfile.gettempdir())
        return real_mkstemp(*args, dir=dir, **kwargs)

    def makedirs(name, *args, **kwargs):
        if not os.path.isdir(name):
            refuse(name)
        return real_makedirs(name, *args, **kwargs)

    real_open = open

    def open_(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and set(mode) & set("wax+"):
            refuse(os.fspath(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(os, "makedirs", makedirs)
    monkeypatch.setattr("builtins.open", open_)


def test_read_only_cache_still_loads(squeezenets, served, tmp_path, home, monkeypatch):
    directory, url, source = _publish_squeezenet(squeezenets, served, tmp_path, monkeypatch)
    expected = _pretrained_features()
    for path in (home / "converted").iterdir():
        path.unlink()
    (home / "converted").rmdir()
    (home / "downloads" / "torchvision" / "squeezenet1_1.safetensors.verified").unlink()
    before = _files(home)

    _manifest(tmp_path, monkeypatch, _unused_url("squeezenet1_1.safetensors"), {"sha256": _sha256(source)})
    _read_only(monkeypatch, home)
    hashed = _count_hashing(monkeypatch)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            np.testing.assert_array_equal(_pretrained_features(), expected)
    assert len(hashed) == 2  # no record can be kept: verified on every build
    messages = [str(w.message) for w in caught if "converted" in str(w.message)]
    assert len(messages) == 1 and str(home / "converted") in messages[0] and "KERAS_FAMOUS_HOME" in messages[0]
    assert _files(home) == before

    wrong = home / "downloads" / "torchvision" / "squeezenet1_1.safetensors"
    wrong.write_bytes(b"not the published file")
    with pytest.raises(ValueError, match="not the one published at"):
        _pretrained_features()


# 5. Stale temporary downloads are cleaned, live ones are not.


def test_stale_part_files_are_removed_and_live_ones_kept(served, home):
    directory, url = served
    (directory / "w.bin").write_bytes(PAYLOAD)
    target = home / "downloads" / "src" / "w.bin"
    target.parent.mkdir(parents=True)
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    dead_pid = int(finished.stdout)
    parts = {
        "dead": target.parent / f".download-{dead_pid}-abcd1234.part",
        "mine": target.parent / f".download-{os.getpid()}-abcd1234.part",
        "live": target.parent / ".download-1-abcd1234.part",  # init: alive (another user's where not root)
        "old": target.parent / f".download-{os.getpid()}-old12345.part",
    }
    for path in parts.values():
        path.write_bytes(b"partial")
    os.utime(parts["old"], (time.time() - 25 * 3600,) * 2)
    cache.fetch(f"{url}/w.bin", str(target), {"sha256": PAYLOAD_SHA256}, progress=False)
    assert {name for name, path in parts.items() if path.exists()} == {"mine", "live"}
    assert sorted(p.name for p in target.parent.iterdir() if not p.name.startswith(".")) == [
        "w.bin",
        "w.bin.verified",
    ]


# 6. Every network failure is one OSError naming the URL and the path to place the file at.


@pytest.mark.parametrize(
    "name, why",
    [
        ("missing", "HTTP Error 404"),
        ("chunked-cut", "IncompleteRead"),
        ("short", f"the connection closed after {SENT} of {PROMISED} bytes"),
        ("reset", ""),  # "Connection reset by peer", or a short body if the data arrived first
        ("stall", "timed out"),
    ],
)
def test_network_failures_say_where_to_place_the_file(misbehaving, home, monkeypatch, name, why):
    monkeypatch.setattr(cache, "TIMEOUT", 2)
    target = home / "downloads" / "src" / "w.bin"
    url = f"{misbehaving}/{name}"
    stream = io.StringIO()
    started = time.monotonic()
    with pytest.raises(OSError) as error:
        cache.fetch(url, str(target), {"sha256": PAYLOAD_SHA256}, stream=stream)
    assert time.monotonic() - started < 10
    assert type(error.value) is OSError
    message = str(error.value)
    assert message.startswith(f"Could not download {url} (") and why in message
    assert message.endswith(
        f"). Offline? Download it elsewhere and place it at {target} (keras_famous verifies its hash), "
        "or build with weights=None."
    )
    shown = stream.getvalue()
    if name in ("chunked-cut", "short", "stall"):  # the progress line was started, and is ended before the error
        assert "Downloading w.bin" in shown and shown.endswith("\n")
    assert shown == "" or shown.endswith("\n")  # 404: no progress line; a reset may come before any byte is read
    assert [name for name in _files(home) if not name.endswith((".lock", ".partial"))] == []  # the part is kept aside


# 7. A broken KERAS_FAMOUS_MANIFEST leaves local files alone, and says what is wrong.


@pytest.mark.parametrize(
    "content, wrong",
    [
        (None, "No such file or directory"),
        ("{not json", "Expecting property name"),
        ('{"version": 1}', "no 'entries' list"),
        ('{"entries": [5]}', "entry 0 is not an object"),
        (
            json.dumps(
                {
                    "entries": [
                        {
                            "model": "AlexNet",
                            "variant": "torchvision",
                            "source": "torchvision",
                            "source_model": "alexnet",
                            "format": "torch_pth",
                            "converter": "torchvision",
                        }
                    ]
                }
            ),
            "entry 0 lacks 'files'",
        ),
    ],
)
def test_broken_manifest(tmp_path, monkeypatch, content, wrong):
    manifest = tmp_path / "mirror.json"
    if content is not None:
        manifest.write_text(content)
    monkeypatch.setenv("KERAS_FAMOUS_MANIFEST", str(manifest))
    keras_famous.SqueezeNet1_1(include_top=False, input_shape=SHAPE).save_weights(tmp_path / "local.weights.h5")
    model = keras_famous.SqueezeNet1_1(include_top=False, input_shape=SHAPE, weights=str(tmp_path / "local.weights.h5"))
    assert model.built
    with pytest.raises(FileNotFoundError, match="file not found"):
        keras_famous.SqueezeNet1_1(weights=str(tmp_path / "absent.pth"))
    with pytest.raises(ValueError) as error:
        keras_famous.SqueezeNet1_1(weights="imagenet")
    assert f"KERAS_FAMOUS_MANIFEST={str(manifest)!r}" in str(error.value) and wrong in str(error.value)


# 8. A cache that cannot be written names KERAS_FAMOUS_HOME and the directory.


@pytest.mark.parametrize("exists", [False, True])  # the directory cannot be made / cannot take the file
def test_unwritable_cache_names_keras_famous_home(served, home, monkeypatch, exists):
    directory, url = served
    (directory / "w.bin").write_bytes(PAYLOAD)
    target = home / "downloads" / "src" / "w.bin"
    if exists:
        target.parent.mkdir(parents=True)
    _read_only(monkeypatch, home)
    with pytest.raises(PermissionError) as error:
        cache.fetch(f"{url}/w.bin", str(target), {"sha256": PAYLOAD_SHA256})
    message = str(error.value)
    assert str(target.parent) in message and "set KERAS_FAMOUS_HOME to a writable directory" in message


# 9. A download with the wrong hash names what was expected and found, and never enters the cache.


def test_download_hash_mismatch_names_url_file_and_hashes(served, home):
    directory, url = served
    (directory / "w.bin").write_bytes(PAYLOAD)
    target = home / "downloads" / "src" / "w.bin"
    with pytest.raises(ValueError) as error:
        cache.fetch(f"{url}/w.bin", str(target), {"sha256_prefix": "00000000"}, progress=False)
    message = str(error.value)
    for part in (f"{url}/w.bin", str(target), "00000000...", PAYLOAD_SHA256, "was not kept"):
        assert part in message
    assert [name for name in _files(home) if not name.endswith(".lock")] == []  # no part kept either


# 10. The record cannot be fooled by ordinary means; converted files are verified too; prefixes are pinned.


def test_a_same_size_file_with_the_old_mtime_is_hashed_again_and_refused(served, home):
    """`touch -r`: another file of the same size given the verified file's mtime. The ctime (which no user call
    sets) and the inode tell it apart."""
    directory, url = served
    (directory / "w.bin").write_bytes(PAYLOAD)
    target = home / "downloads" / "src" / "w.bin"
    cache.fetch(f"{url}/w.bin", str(target), {"sha256": PAYLOAD_SHA256}, progress=False)
    original = os.stat(target)
    forged = PAYLOAD.replace(b"published", b"tampered!")
    assert len(forged) == len(PAYLOAD)
    replacement = target.with_name("forged")
    replacement.write_bytes(forged)
    os.replace(replacement, target)
    os.utime(target, ns=(original.st_atime_ns, original.st_mtime_ns))  # what `touch -r` does
    assert (os.stat(target).st_size, os.stat(target).st_mtime_ns) == (original.st_size, original.st_mtime_ns)
    with pytest.raises(ValueError, match="not the one published at"):
        cache.fetch(f"{url}/w.bin", str(target), {"sha256": PAYLOAD_SHA256})


def test_a_publishers_prefix_is_pinned_to_the_full_sha256_at_first_use(served, home):
    """torchvision publishes 8 hex digits of the sha256 in the file name (32 bits): after the first verification
    the full sha256 is required. (A 3-digit prefix here, so that a colliding file is found quickly.)"""
    directory, url = served
    (directory / "w.bin").write_bytes(PAYLOAD)
    target = home / "downloads" / "src" / "w.bin"
    prefix = {"sha256_prefix": PAYLOAD_SHA256[:3]}
    assert cache.fetch_verified(f"{url}/w.bin", str(target), prefix, progress=False)[1] == PAYLOAD_SHA256
    collision = next(
        candidate
        for candidate in (b"%08d" % n + PAYLOAD[8:] for n in range(1 << 16))
        if hashlib.sha256(candidate).hexdigest()[:3] == PAYLOAD_SHA256[:3] and candidate != PAYLOAD
    )
    target.write_bytes(collision)
    with pytest.raises(ValueError, match="first used it") as error:
        cache.fetch(f"{url}/w.bin", str(target), prefix)
    assert PAYLOAD_SHA256 in str(error.value) and hashlib.sha256(collision).hexdigest() in str(error.value)


def test_a_converted_file_changed_since_is_converted_again(squeezenets, served, tmp_path, home, monkeypatch):
    directory, url, source = _publish_squeezenet(squeezenets, served, tmp_path, monkeypatch)
    expected = _pretrained_features()
    (converted,) = [path for path in (home / "converted").iterdir() if path.suffix == ".h5"]
    other = squeezenets / "b.safetensors"  # a conversion of another file, put in its place
    (directory / "squeezenet1_1.safetensors").write_bytes(other.read_bytes())
    original = converted.read_bytes()
    with h5py.File(converted, "r+") as handle:  # one weight overwritten in place
        text = lambda value: value.decode() if isinstance(value, bytes) else str(value)  # noqa: E731
        name = text(handle.attrs["layer_names"][0])
        weight = handle[name][text(handle[name].attrs["weight_names"][0])]
        weight[...] = np.zeros(weight.shape, weight.dtype)
    assert converted.read_bytes() != original
    with pytest.warns(UserWarning, match="is not the file keras_famous converted"):
        again = _pretrained_features()
    np.testing.assert_array_equal(again, expected)  # converted again, from the verified source
    assert converted.read_bytes() == original
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new record covers it: no warning, no conversion
        np.testing.assert_array_equal(_pretrained_features(), expected)


# 11. One download for two processes; an interrupted download resumes.


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves BIG; honours `Range: bytes=N-`; the first request is cut after half the file when `cut` is set."""

    protocol_version = "HTTP/1.1"
    requests, cut, delay = None, False, 0.0

    def log_message(self, *args):
        pass

    def do_GET(self):
        wanted = self.headers.get("Range")
        self.requests.append(wanted)
        start = int(wanted.split("=")[1].rstrip("-")) if wanted else 0
        self.send_response(206 if wanted else 200)
        if wanted:
            self.send_header("Content-Range", f"bytes {start}-{len(BIG) - 1}/{len(BIG)}")
        self.send_header("Content-Length", str(len(BIG) - start))
        self.end_headers()
        time.sleep(self.delay)
        body = BIG[start:]
        if self.cut and len(self.requests) == 1:
            body = body[: len(body) // 2]
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True


BIG = np.random.default_rng(0).bytes(3 << 20)
BIG_SHA256 = hashlib.sha256(BIG).hexdigest()


def _range_server(**options):
    requests = []
    return requests, http_server(type("Handler", (_RangeHandler,), {"requests": requests, **options}))


def test_an_interrupted_download_resumes_and_is_verified_whole(home):
    requests, server = _range_server(cut=True)
    target = home / "downloads" / "src" / "big.bin"
    with server as url:
        with pytest.raises(OSError, match="the connection closed after"):
            cache.fetch(f"{url}/big.bin", str(target), {"sha256": BIG_SHA256}, progress=False)
        assert not target.exists()  # the part never enters the cache
        part = target.parent / ".big.bin.partial"
        assert part.stat().st_size == len(BIG) // 2
        stream = io.StringIO()
        assert (
            cache.fetch_verified(f"{url}/big.bin", str(target), {"sha256": BIG_SHA256}, stream=stream)[1] == BIG_SHA256
        )
    assert requests == [None, f"bytes={len(BIG) // 2}-"]
    assert "resuming at 1.6 MB" in stream.getvalue() and target.read_bytes() == BIG and not part.exists()
    # a part that is not a prefix of the file: the whole file then fails its hash and nothing is kept
    requests, server = _range_server()
    other = home / "downloads" / "src" / "other.bin"
    (other.parent / ".other.bin.partial").write_bytes(b"not the start of the file")
    with server as url, pytest.raises(ValueError, match="was not kept"):
        cache.fetch(f"{url}/other.bin", str(other), {"sha256": BIG_SHA256}, progress=False)
    assert not other.exists() and not (other.parent / ".other.bin.partial").exists()


def test_two_processes_fetching_one_file_download_it_once(home):
    """The second waits on the first's lock, then finds the file verified (threads: flock locks open files)."""
    requests, server = _range_server(delay=0.5)
    target = home / "downloads" / "src" / "big.bin"
    results, errors = [], []

    def fetch():
        try:
            results.append(cache.fetch_verified(url + "/big.bin", str(target), {"sha256": BIG_SHA256}, progress=False))
        except Exception as error:  # noqa: BLE001  (reported below)
            errors.append(error)

    with server as url:
        threads = [threading.Thread(target=fetch) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert errors == [] and results == [(str(target), BIG_SHA256)] * 2
    assert requests == [None]  # one download
