import contextlib
import functools
import gc
import http.server
import json
import os
import threading

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

# The modules that compare with PyTorch, torchvision or timm (or write their release-shaped files) import
# them. timm crashes in a process that imported TensorFlow first, so when any of these modules is selected
# the session imports the PyTorch stack before TensorFlow, in pytest_configure; other runs never load it.
TORCH_MODULES = frozenset({
    "test_cache.py", "test_cli.py", "test_export.py", "test_released_weights.py", "test_tools.py",
    "test_torch_parity.py", "test_weights.py",
})  # fmt: skip


def _selects_torch_modules(args):
    files = [os.path.basename(arg.split("::")[0]) for arg in args if not arg.startswith("-")]
    return not files or any(not name.endswith(".py") or name in TORCH_MODULES for name in files)


def threads_per_worker():
    """The cores each pytest-xdist worker may use (all of them without xdist)."""
    return max(1, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))


def pytest_configure(config):
    if _selects_torch_modules(config.args):
        import timm  # noqa: F401
        import torch
        import torchvision  # noqa: F401

        # pytest-xdist workers share the cores, and PyTorch's OpenMP threads spin-wait on a core another
        # worker holds: GoogLeNet trains 7 s an epoch alone, 50 s beside a busy worker with 2 threads, 21 s with 1.
        torch.set_num_threads(threads_per_worker())
    import keras  # noqa: F401  (TensorFlow after PyTorch)
    import tensorflow as tf

    # The same for TensorFlow's op threads: two workers each running two threads on two cores contend.
    if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
        tf.config.threading.set_intra_op_parallelism_threads(threads_per_worker())


def pytest_collection_finish(session):
    # A full garbage collection walks every object PyTorch, TensorFlow and the test modules made at import (0.33 s
    # here). Those objects live as long as the process, so they move to the collector's permanent generation
    # (gc.freeze): a collection then walks only what the tests made.
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def _own_cache_home(tmp_path_factory, monkeypatch):
    """Each test its own KERAS_FAMOUS_HOME: no weights or engine cache leaks from one test into another (or
    from the user's home into the suite); a test that means to share one sets it itself."""
    monkeypatch.setenv("KERAS_FAMOUS_HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    """Keras' names and dtype policy as in a new session. Without its own full collection (`free_memory`): a
    test leaves models and graphs the frozen generation does not hold, and two collections a test walked them
    all again, ~1 s a test late in a worker's run (450 s of a 3,000 s suite); Python's collector frees them."""
    import keras

    keras.backend.clear_session(free_memory=False)
    keras.config.set_dtype_policy("float32")
    yield
    keras.backend.clear_session(free_memory=False)


def assert_close_to_magnitude(actual, expected, tolerance):
    """max |actual - expected| <= tolerance * max |expected| (the issues' "within x of the magnitude")."""
    actual, expected = np.asarray(actual, dtype="float64"), np.asarray(expected, dtype="float64")
    assert actual.shape == expected.shape
    scale = max(np.abs(expected).max(), 1e-12)
    error = np.abs(actual - expected).max()
    assert error <= tolerance * scale, f"max abs error {error:.3g} > {tolerance} * {scale:.3g}"
    return error / scale


def advance_name_counters(library):
    """Unnamed layers built before, as in a notebook (`keras`), or as Keras 2.0 did when it wrote
    keras.applications' released files (`tf_keras`): its automatic names then count from 1 ("conv2d_1")."""
    for layer in (
        library.layers.Conv2D(1, 1),
        library.layers.BatchNormalization(),
        library.layers.Activation("relu"),
        library.layers.Dense(1),
        library.layers.Add(),
    ):
        del layer


def infer(model, images):
    """`model(images)` in inference mode as numpy (a list for several outputs), what `model.predict` returns:
    for the few images of a test, without tracing a predict function (seconds for the deep networks)."""
    import keras

    return keras.tree.map_structure(np.asarray, model(images, training=False))


def random_images(shape, batch=2, seed=0):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=(batch, *shape)).astype("float32")


def build_small(name, variant=None, **kwargs):
    """The variant at the smallest of a few input sides it accepts, with 10 classes: fast to build and
    run, the same layers and operations as at full size."""
    from keras_famous import registry

    spec = registry.get_spec(name)
    for side in (32, 64, 75, 96, 128, 160, 224, 227, 299):
        if side < 64 and spec.input_shape[0] > 32:
            continue
        try:
            return registry.build_variant(
                name, variant, input_shape=(side, side, spec.input_shape[2]), classes=10, **kwargs
            )
        except ValueError as error:
            if "input" not in str(error):
                raise
    raise AssertionError(f"no small input size for {name}")


# Models whose default variant test_export round-trips through .keras and exports (one per family and
# the layouts with their own operations); test_serialization round-trips every other variant.
EXPORTED_MODELS = (
    "LeNet5",
    "AlexNet",
    "ZFNet",
    "NiN",
    "VGG11",
    "GoogLeNet",
    "ResNet18",
    "ResNet50V2",
    "ResNeXt50",
    "InceptionV3",
    "InceptionV4",
    "InceptionResNetV2",
    "Xception",
    "DenseNet121",
    "SqueezeNet1_1",
)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def http_server(handler):
    """A server of `handler` on 127.0.0.1 (a free port) while the block runs; yields its URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # shutdown() waits for the serving loop's next poll: 0.5 s a server by default
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def serving(directory):
    """`directory` served over HTTP on 127.0.0.1, as a publisher's server would (a context manager yielding the URL)."""
    return http_server(functools.partial(QuietHandler, directory=str(directory)))


def one_file_entry(model, source_model, url, file_hash, variant="torchvision"):
    """A manifest entry of a torchvision checkpoint published as safetensors at `url`."""
    return {
        "model": model,
        "variant": variant,
        "source": "torchvision",
        "source_model": source_model,
        "format": "safetensors",
        "converter": "torchvision",
        "files": {"top": {"url": url, "hash": file_hash}},
    }


def write_manifest(path, entries):
    path.write_text(json.dumps({"version": 1, "entries": entries}))
    return path
