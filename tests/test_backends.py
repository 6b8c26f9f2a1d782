"""The builders, the weights loaders (every file format), the transfer helpers and export on the JAX and torch
backends give TensorFlow's outputs with the same weights.

A Keras backend is fixed when Keras is imported and this session runs TensorFlow, so each other backend runs in one
subprocess (backend_scripts/run_backend.py, which holds the case tables). The `results` fixture starts both, then
builds every builder case on TensorFlow with random weights (and random BatchNormalization statistics) and writes
its weights (the ResNet18 case's in every other format too) and inputs, marking each case ready as it goes, so the
subprocesses build and load while TensorFlow writes; TensorFlow's outputs of the files and of the transfer helpers
come from the same runner. The tests compare each backend's outputs with TensorFlow's: within 1e-4 of the output's
magnitude (`metrics.relative_difference`), with the same parameter counts. Exports made on the backends run here.

The work runs once per session: under pytest-xdist the first worker to need it does it under a file lock and the
other reads its results. Most of it is JAX's: XLA compiles each random initializer once per weight shape and each
model's forward pass (~0.1-1 s a compile), so its subprocess sets JAX_DISABLE_MOST_OPTIMIZATIONS (compiles ~5x faster,
the same math) and JAX_THREEFRY_PARTITIONABLE=0 (faster random weights; they are overwritten by the files anyway).
"""

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
import warnings

import keras
import numpy as np
import pytest
import safetensors.numpy

from keras_famous import export, preprocessing, registry
from keras_famous.convert import keras_h5
from keras_famous.metrics import relative_difference
from conftest import infer, random_images
from test_include_preprocessing import _torchvision_state
from backend_scripts import run_backend as shared

BACKENDS = ("jax", "torch")
TOLERANCE = 1e-4
SCRIPT = os.path.join(os.path.dirname(__file__), "backend_scripts", "run_backend.py")
TIMEOUT = 1200

# Export paths the backend does not support today: (backend, builder case or None for any, format) -> (the error's
# type, a part of its message). Everything else must export and give TensorFlow's outputs.
EXPORT_FAILURES = {
    # export.UNSUPPORTED: Keras exports ONNX from JAX through jax2onnx, and cannot trace a torch model into a
    # SavedModel (ExportArchive.track), TFLite's source; the package refuses them up front, saying what to do
    ("jax", None, "onnx"): ("builtins.ValueError", "through the jax2onnx package"),
    ("torch", None, "saved_model"): ("builtins.ValueError", "cannot be exported on the torch backend"),
    ("torch", None, "tflite"): ("builtins.ValueError", "cannot be exported on the torch backend"),
    # jax2tf writes LocalResponseNormalization's channel slices (layers.py, `padded[..., 0:channels]`) as a dynamic
    # gather (the batch size is free), which the TFLite converter cannot lower
    ("jax", "AlexNet-original", "tflite"): (
        "tensorflow.lite.python.convert_phase.ConverterError",
        "'vhlo.dynamic_gather_v1' op is not part of the vhlo support yet",
    ),
}


# -------------------------------------------------------------------------------------------- the shared work
def _randomize_batch_norm(model, rng):
    """Non-trivial BatchNormalization statistics, so that each backend's inference formula shows."""
    ranges = {"gamma": (0.5, 1.5), "beta": (-0.5, 0.5), "moving_mean": (-0.5, 0.5), "moving_variance": (0.5, 1.5)}
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([rng.uniform(*ranges[w.name], w.shape).astype("float32") for w in layer.weights])


def _write_resnet18_files(model, directory):
    """The ResNet18 case's weights in every other format the package reads (see run_backend.FILES)."""
    model.save(directory / "ResNet18.keras")
    weighted = [layer for layer in model.layers if layer.weights]
    keras_h5.write_legacy_h5(
        directory / "ResNet18-numbered.h5", {f"w{i}": layer.get_weights() for i, layer in enumerate(weighted)}
    )
    state = _torchvision_state(model)
    safetensors.numpy.save_file(state, str(directory / "ResNet18.safetensors"))
    import torch  # TensorFlow first is fine for torch (timm is the one that crashes)

    torch.save({key: torch.from_numpy(value) for key, value in state.items()}, directory / "ResNet18.pth")


def _mark_ready(root, name):
    (root / "ready" / name).touch()


def _save_input(root, key, array):
    np.save(root / "inputs" / f"{key}.npy", array)


def _prepare_tensorflow(root):
    """Writes the files and inputs every backend reads, marking each case ready as soon as its files are written,
    then TensorFlow's outputs and report (root/tensorflow)."""
    with warnings.catch_warnings():  # Keras' TensorFlow saving calls np.array(variable): numpy 2's copy notice
        warnings.simplefilter("ignore", DeprecationWarning)
        _write_tensorflow_side(root)


def _write_tensorflow_side(root):
    directory = root / "files"
    rng = np.random.default_rng(7)
    outputs, report = {}, {}
    for index, (case_id, *_) in enumerate(shared.BUILDS):
        keras.backend.clear_session(free_memory=False)
        keras.utils.set_random_seed(index)  # the same weights every run: an unseeded SqueezeNet once gave logits
        started = time.perf_counter()  # so small that float rounding crossed 1e-4 of them
        model = shared.build(case_id)
        _randomize_batch_norm(model, rng)
        model.save_weights(shared.case_weights(str(root), case_id))
        images = random_images(model.input_shape[1:], seed=index)
        _save_input(root, case_id, images)
        if case_id in shared.SAVED_MODELS:
            model.save(directory / f"{case_id}.keras")
        if case_id == shared.RESNET18:
            _write_resnet18_files(model, directory)
        _mark_ready(root, case_id)
        outputs[case_id] = infer(model, images)
        report[case_id] = {"error": None, "params": shared.counts(model), "seconds": time.perf_counter() - started}
    keras.backend.clear_session()
    _save_input(root, "pixels", np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype("float32"))
    _save_input(root, "classifier_images", random_images((32, 32, 3), batch=4, seed=99))
    _save_input(root, "classifier_labels", np.array([0, 1, 2, 1]))
    for side in shared.POOLING_SIDES:
        _save_input(root, f"pool{side}", random_images((side, side, 3), seed=side))
    shared.make_classifier(str(root)).save_weights(directory / "classifier.weights.h5")  # its random head
    _mark_ready(root, "all")
    loaded, more = shared.run_cases(
        str(root), shared.cases(("load_model", "file", "preprocessing", "pooling", "transfer"))
    )
    shared.save(str(root), "tensorflow", {**outputs, **loaded}, {**report, **more})


def _start_backends(root):
    """One subprocess per backend, started at once (each waits for the files it needs), one thread each."""
    running = {}
    for name in BACKENDS:
        env = dict(os.environ, KERAS_BACKEND=name, TF_CPP_MIN_LOG_LEVEL="3", OMP_NUM_THREADS="1")
        if name == "jax":
            env.update(JAX_DISABLE_MOST_OPTIMIZATIONS="1", JAX_THREEFRY_PARTITIONABLE="0")
            env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        log = open(root / f"{name}.log", "w")
        process = subprocess.Popen([sys.executable, SCRIPT, str(root)], stdout=log, stderr=subprocess.STDOUT, env=env)
        running[name] = (process, log, time.perf_counter())
    return running


def _wait(running, kill=False):
    """{backend: {"returncode", "seconds"}} once every subprocess ended (killed first with `kill`)."""
    runs, deadline = {}, time.monotonic() + TIMEOUT
    while running:
        for name, (process, log, started) in list(running.items()):
            if kill or time.monotonic() > deadline:
                process.kill()
            code = process.poll()
            if code is not None:
                log.close()
                runs[name] = {"returncode": code, "seconds": round(time.perf_counter() - started, 1)}
                del running[name]
        time.sleep(0.1)
    return runs


def _shared_root(tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the directory this session's workers share
    return base / "backends"


@contextlib.contextmanager
def _locked(path):
    """An exclusive lock on `path` (created) while the block runs: one pytest-xdist worker at a time."""
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read(root, name):
    directory = root / name
    if not (directory / "report.json").exists():
        return None
    with np.load(directory / "outputs.npz") as outputs:
        arrays = dict(outputs)
    return arrays, json.loads((directory / "report.json").read_text())


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """{"tensorflow" / "jax" / "torch": (outputs, report) or None if the subprocess failed, "runs", "root"}."""
    root = _shared_root(tmp_path_factory)
    with _locked(f"{root}.lock"):
        if not (root / "done.json").exists():
            shutil.rmtree(root, ignore_errors=True)  # a worker that failed before
            for directory in ("files", "inputs", "ready"):
                (root / directory).mkdir(parents=True)
            started, cpu = time.perf_counter(), time.process_time()
            running = _start_backends(root)
            try:
                _prepare_tensorflow(root)
            except BaseException:
                _wait(running, kill=True)
                raise
            prepared = {"seconds": round(time.perf_counter() - started, 1), "cpu": round(time.process_time() - cpu, 1)}
            runs = _wait(running)
            shutil.rmtree(root / "files")  # 1.7 GB of weights files: the results are all the tests read
            (root / "done.json").write_text(json.dumps({"tensorflow": prepared, **runs}))
    return {
        "root": root,
        "runs": json.loads((root / "done.json").read_text()),
        **{name: _read(root, name) for name in ("tensorflow", *BACKENDS)},
    }


def _case(results, backend, case_id):
    """(outputs, the case's report) of `backend`; fails with the subprocess' log or the case's traceback."""
    if results[backend] is None:
        log = (results["root"] / f"{backend}.log").read_text()[-5000:]
        pytest.fail(f"The {backend} subprocess failed ({results['runs'][backend]}):\n{log}")
    outputs, report = results[backend]
    info = report[case_id]
    assert info["error"] is None, f"{case_id} raised on {backend}:\n{info['error']}"
    return outputs, info


def _assert_same(results, backend, key, case_id=None):
    """`backend`'s output `key` is TensorFlow's within TOLERANCE of its magnitude; returns the difference."""
    case_id = case_id or key
    expected = _case(results, "tensorflow", case_id)[0][key]
    actual = _case(results, backend, case_id)[0][key]
    assert np.all(np.isfinite(expected)) and np.abs(expected).max() > 0, f"degenerate TensorFlow output {key}"
    assert actual.shape == expected.shape, (key, actual.shape, expected.shape)
    difference = relative_difference(actual, expected)
    assert difference <= TOLERANCE, (
        f"{key} on {backend} differs from TensorFlow by {difference:.3g} of the output magnitude (tolerance {TOLERANCE})"
    )
    return difference


def _ids(cases):
    return [case[0] for case in cases]


# ------------------------------------------------------------------------------------------ cheap, TF only
def test_every_family_has_a_builder_case():
    families = {registry.get_spec(name).family for _, name, *_ in shared.BUILDS}
    assert families == {spec.family for spec in registry.SPECS.values()}
    assert {"ResNet18", "ResNet50", "ResNeXt50", "ResNet50V2", "WideResNet50_2"} <= {c[1] for c in shared.BUILDS}


def test_builder_cases_use_the_smallest_input(tmp_path):
    """One pixel less is refused; the flattening tops refuse a weights file at that size (so those cases load their
    file after building, through registry.load_weights)."""
    weights = tmp_path / "any.weights.h5"
    weights.touch()
    for case_id, name, variant, side, kwargs in shared.BUILDS:
        channels = registry.get_spec(name).input_shape[2]
        with pytest.raises(ValueError, match="too small"):
            registry.build_variant(name, variant, input_shape=(side - 1, side - 1, channels), **kwargs)
        if case_id in shared.LOADED_AFTER_BUILDING:
            with pytest.raises(ValueError, match="pre-trained weights and `include_top=True`"):
                registry.build_variant(name, variant, input_shape=(side, side, channels), weights=weights, **kwargs)


# --------------------------------------------------------------------------------- the backends against TF
BUILD_CASES = [
    (case_id, backend) for case_id in _ids(shared.BUILDS) for backend in BACKENDS if shared.runs_on(backend, case_id)
]


@pytest.mark.slow
@pytest.mark.parametrize("case_id, backend", BUILD_CASES, ids=["-".join(case) for case in BUILD_CASES])
def test_builder_loads_tensorflow_weights_and_gives_its_outputs(results, backend, case_id):
    _assert_same(results, backend, case_id)
    assert _case(results, backend, case_id)[1]["params"] == _case(results, "tensorflow", case_id)[1]["params"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case_id", _ids(shared.FILES) + [f"load_model/{name}" for name in shared.SAVED_MODELS])
def test_weights_files_of_every_format_load_as_on_tensorflow(results, backend, case_id):
    _assert_same(results, backend, case_id)
    assert _case(results, backend, case_id)[1]["params"] == _case(results, "tensorflow", case_id)[1]["params"]


@pytest.mark.slow
def test_tensorflow_reads_every_file_as_the_ResNet18_weights(results):
    """The files hold the same weights (so each backend is compared with TensorFlow on every format)."""
    outputs = results["tensorflow"][0]
    for case_id, _, options in shared.FILES:
        if case_id != "digits" and not options:
            assert relative_difference(outputs[case_id], outputs[shared.RESNET18]) <= 1e-6, case_id


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_image_preprocessing_layer_computes_preprocessing_scale(results, backend):
    pixels = np.load(results["root"] / "inputs" / "pixels.npy")
    outputs = _case(results, backend, "preprocessing")[0]
    for mode in preprocessing.MODES:
        assert relative_difference(outputs[f"preprocessing/{mode}"], preprocessing.scale(pixels, mode)) <= 1e-6, mode


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_unpadded_average_pooling_gives_tensorflow_averages(results, backend):
    """The "same" 3x3/2 average pool on odd and even sides (Keras' AveragePooling2D is off on torch for even ones:
    keras-team/keras#18452), and Caffe's 3x3/2 pools (NiN's, the Caffe model zoo variants') on the same sides."""
    for side in shared.POOLING_SIDES:
        for key in (str(side), f"caffe_max_{side}", f"caffe_ave_{side}"):
            assert _assert_same(results, backend, f"pooling/{key}", "pooling") <= 1e-6, key


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_feature_extractor_gives_tensorflow_features(results, backend):
    info = _case(results, backend, "features")[1]
    assert info["levels"] == _case(results, "tensorflow", "features")[1]["levels"]
    assert info["levels"] == ["stride_4", "stride_8", "stride_16", "stride_32"]
    for level in info["levels"]:
        _assert_same(results, backend, f"features/{level}", "features")


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_classifier_freezes_and_fine_tunes_its_head_only(results, backend):
    info = _case(results, backend, "classifier")[1]
    reference = _case(results, "tensorflow", "classifier")[1]
    _assert_same(results, backend, "classifier/before", "classifier")
    assert info["trainable_weights"] == reference["trainable_weights"]
    assert info["trainable_weights"]["classifier"] == info["trainable_weights"]["freeze"] == 2
    assert info["steps"] == 1 and not info["tuned"]
    assert info["weights"] == reference["weights"]
    head = sorted(set(info["weights"]) - set(info["backbone_weights"]))
    assert len(head) == 2 and info["changed"] == head == reference["changed"]  # the backbone, BN statistics included
    _assert_same(results, backend, "classifier/after", "classifier")


def _export_failure(backend, case_id, fmt):
    return EXPORT_FAILURES.get((backend, case_id, fmt)) or EXPORT_FAILURES.get((backend, None, fmt))


def _run_artifact(fmt, path, images):
    if fmt == "tflite":
        return export.run_tflite(path, images)
    if fmt == "onnx":
        return export.run_onnx(path, images)
    import tensorflow as tf

    signature = tf.saved_model.load(path).signatures[export.SIGNATURE]
    return next(iter(signature(images=tf.constant(images)).values())).numpy()


EXPORT_CASES = [
    (backend, case_id, fmt)
    for backend in BACKENDS
    for case_id, formats in shared.EXPORTS.items()
    for fmt in formats
    if shared.runs_on(backend, case_id)
]


@pytest.mark.slow
@pytest.mark.parametrize("backend, case_id, fmt", EXPORT_CASES, ids=["-".join(case) for case in EXPORT_CASES])
def test_export_from_the_backend(results, backend, case_id, fmt):
    """What export makes on the backend runs and gives TensorFlow's outputs; a path the backend cannot take fails
    with the error EXPORT_FAILURES records."""
    result = _case(results, backend, f"export/{case_id}")[1][fmt]
    failure = _export_failure(backend, case_id, fmt)
    if failure is not None:
        error, message = failure
        assert "error" in result, f"{backend} now exports {case_id} to {fmt}: update EXPORT_FAILURES, test it"
        assert (result["error"], message in result["message"]) == (error, True), result["traceback"]
        return
    assert "error" not in result, f"{backend} {fmt} export of {case_id} failed:\n{result.get('traceback')}"
    tensorflow = _case(results, "tensorflow", case_id)[0][case_id]
    actual = _run_artifact(fmt, result["path"], np.load(results["root"] / "inputs" / f"{case_id}.npy"))
    difference = relative_difference(actual, tensorflow)
    assert difference <= TOLERANCE, f"{backend} {fmt} of {case_id}: {difference:.3g} from TensorFlow's outputs"
