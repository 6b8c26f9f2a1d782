"""`inference.predictor`: every engine it can choose gives the Keras model's outputs at any batch size; it
picks the engine it measured fastest; an engine that cannot run the model is dropped with a warning."""

import keras
import numpy as np
import pytest

import keras_famous
from keras_famous import artifacts, inference, machine
from keras_famous.inference import engines
from conftest import assert_close_to_magnitude, infer, random_images

TF_ENGINES = ["tensorflow", "xla", "litert", "onnxruntime", "openvino"]


@pytest.fixture(scope="module")
def googlenet_model():
    """BatchNormalization to fold, auxiliary heads to drop, a main output to keep."""
    keras.utils.set_random_seed(3)
    return keras_famous.GoogLeNet(variant="torchvision", aux_logits=True, input_shape=(65, 65, 3), classes=7)


@pytest.fixture(scope="module")
def googlenet_home(tmp_path_factory):
    return str(tmp_path_factory.mktemp("googlenet_engines"))


@pytest.fixture
def googlenet(googlenet_model, googlenet_home, monkeypatch):
    """GoogLeNet's tests share one engine cache: each engine's files are converted once for them all (the tests
    of a broken or differing engine use LeNet5 in their own cache)."""
    monkeypatch.setenv("KERAS_FAMOUS_HOME", googlenet_home)
    return googlenet_model


def test_onnx_is_installed_for_these_tests():
    assert artifacts.onnx_available()  # the test extra installs it: ONNX Runtime must be among the engines


@pytest.mark.parametrize("engine", TF_ENGINES)
def test_every_engine_gives_the_keras_outputs_at_any_batch_size(googlenet, engine):
    predictor = inference.predictor(googlenet, engine=engine, batch_size=4, verbose=False)
    assert predictor.engine == engine and predictor.engines == {1: engine}
    for count in (1, 3, 9):  # 9: three calls of at most 4 images, the last of one
        images = random_images((65, 65, 3), batch=count, seed=count)
        assert_close_to_magnitude(predictor(images), infer(googlenet, images)[0], 1e-4)


def test_auto_measures_every_engine_and_picks_the_fastest(googlenet, capsys):
    predictor = inference.predictor(googlenet, batch_size=2, repeats=2)
    assert sorted(predictor.timings_ms) == [1, 2]
    for size, timings in predictor.timings_ms.items():
        assert sorted(timings) == sorted(TF_ENGINES)
        assert predictor.engines[size] == min(timings, key=timings.get)
    assert predictor.engine == predictor.engines[1] and predictor.engine_for(5) == predictor.engines[2]
    printed = capsys.readouterr().out
    assert "batch 1:" in printed and predictor.engine in printed  # the choice, as it is measured
    images = random_images((65, 65, 3), batch=5, seed=9)
    assert_close_to_magnitude(predictor(images), infer(googlenet, images)[0], 1e-4)


@pytest.fixture(scope="module")
def lenet():
    return keras_famous.LeNet5()  # the cheapest conversions: for the tests of what happens to a bad engine


def test_an_engine_that_fails_is_dropped_with_a_warning(lenet, monkeypatch):
    def broken(model):
        raise RuntimeError("this converter is broken (simulated)")

    monkeypatch.setattr(artifacts, "tflite_bytes_of", broken)
    with pytest.warns(UserWarning, match="litert.*simulated"):
        predictor = inference.predictor(lenet, batch_size=1, repeats=1, verbose=False)
    assert "litert" not in predictor.timings_ms[1] and predictor.engine in ("tensorflow", "xla", "onnxruntime")
    with pytest.raises(RuntimeError, match="simulated"):
        inference.predictor(lenet, engine="litert", verbose=False)


def test_an_engine_whose_outputs_differ_is_not_used(lenet, monkeypatch):
    original = engines.ONNXRuntimeEngine.__call__
    monkeypatch.setattr(engines.ONNXRuntimeEngine, "__call__", lambda self, images: original(self, images) + 1.0)
    with pytest.warns(UserWarning, match="onnxruntime.*differs"):
        predictor = inference.predictor(lenet, batch_size=1, repeats=1, verbose=False)
    assert "onnxruntime" not in predictor.timings_ms[1]


def test_bad_arguments_name_the_argument(googlenet):
    for kwargs, argument in (({"engine": "tensorrt"}, "`engine`"), ({"batch_size": 0}, "`batch_size`"),
                             ({"repeats": 0}, "`repeats`")):  # fmt: skip
        with pytest.raises(ValueError, match=argument):
            inference.predictor(googlenet, verbose=False, **kwargs)
    predictor = inference.predictor(googlenet, engine="tensorflow", verbose=False)
    with pytest.raises(ValueError, match="empty"):
        predictor(np.zeros((0, 65, 65, 3), "float32"))


def test_onnx_is_not_tried_where_its_conversion_would_run_out_of_memory(monkeypatch):
    model = keras_famous.LeNet5()
    monkeypatch.setattr(machine, "available_memory", lambda: artifacts.onnx_conversion_memory(model))
    with pytest.warns(UserWarning, match="ONNX Runtime is not tried.*GB"):
        predictor = inference.predictor(model, batch_size=1, repeats=1, verbose=False)
    assert "onnxruntime" not in predictor.timings_ms[1] and "litert" in predictor.timings_ms[1]


@pytest.mark.parametrize("engine", ["litert", "openvino"])
def test_wrong_shapes_are_refused_and_threads_take_turns(googlenet, engine):
    """Found by probing (issue 23): one image without its batch axis gave a (65, 7) answer; a call at another
    size left LiteRT's tensors resized so the next correct call failed; two threads broke LiteRT's interpreter."""
    import threading

    predictor = inference.predictor(googlenet, engine=engine, batch_size=4, verbose=False)
    images = random_images((65, 65, 3), batch=3, seed=5)
    with pytest.raises(ValueError, match=r"shape \(N, 65, 65, 3\); received an array of shape \(65, 65, 3\).*\[None\]"):
        predictor(images[0])
    with pytest.raises(ValueError, match=r"received an array of shape \(3, 33, 33, 3\)"):
        predictor(random_images((33, 33, 3), batch=3))
    expected = predictor(images)
    assert_close_to_magnitude(expected, infer(googlenet, images)[0], 1e-4)
    runner_outputs, errors = [], []

    def work():
        try:
            for count in (1, 3, 2, 3) * 5:  # batch sizes change under the other thread's feet
                runner_outputs.append((count, predictor(images[:count])))
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(runner_outputs) == 40
    for count, output in runner_outputs:
        np.testing.assert_allclose(output, expected[:count], rtol=1e-5, atol=1e-6)


SECOND_PROCESS = """
import keras_famous
from keras_famous import inference
predictor = inference.predictor(keras_famous.LeNet5(weights="digits"), batch_size=4, repeats=1)
print("STATUS", predictor.cache, predictor.engines[1], predictor.engines[4], round(predictor.seconds, 2))
"""


def test_a_second_process_is_served_by_the_engine_cache_and_a_damaged_entry_is_rebuilt(tmp_path, monkeypatch):
    """The first predictor converts and races in a child process (isolate=True) and caches its files and choice; a new
    process for the same weights converts nothing; an entry whose file was changed is refused and rebuilt."""
    import os
    import subprocess
    import sys

    from keras_famous.inference import cache

    home = tmp_path / "home"
    monkeypatch.setenv("KERAS_FAMOUS_HOME", str(home))
    model = keras_famous.LeNet5(weights="digits")
    first = inference.predictor(model, batch_size=4, repeats=1, isolate=True, verbose=False)
    assert first.cache == "miss"
    entries = {e.name: e.path for e in os.scandir(cache.root()) if e.is_dir() and e.name != "choices"}
    assert len(entries) == 3  # litert, onnxruntime and openvino files
    result = subprocess.run(
        [sys.executable, "-c", SECOND_PROCESS], capture_output=True, text=True, env=dict(os.environ)
    )
    assert result.returncode == 0, result.stderr[-2000:]
    status = next(line.split() for line in result.stdout.splitlines() if line.startswith("STATUS"))
    assert status[1:4] == ["hit", first.engines[1], first.engines[4]] and "converting" not in result.stdout
    tflite = next(
        os.path.join(path, "model.tflite")
        for path in entries.values()
        if os.path.exists(os.path.join(path, "model.tflite"))
    )
    with open(tflite, "r+b") as handle:  # one byte changed, size and mtime kept
        stat = os.stat(tflite)
        handle.seek(stat.st_size // 2)
        byte = handle.read(1)
        handle.seek(stat.st_size // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    os.utime(tflite, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.warns(UserWarning, match="litert entry is damaged.*sha256"):
        again = inference.predictor(model, batch_size=4, repeats=1, engine="litert", verbose=False)
    images = random_images((32, 32, 1), batch=3)
    assert_close_to_magnitude(again(images), infer(model, images), 1e-4)
    assert cache.lookup(cache.root(), os.path.basename(os.path.dirname(tflite)), ("model.tflite",))[0]  # rebuilt


def test_free_image_sizes_work_on_every_engine_kept(tmp_path):
    model = keras_famous.SqueezeNet1_1(include_top=False, pooling="avg", input_shape=(None, None, 3))
    predictor = inference.predictor(model, batch_size=2, repeats=1, verbose=False, cache=False)
    assert predictor.model.input_shape[1:3] == (None, None)
    for side in (64, 97):  # two sides, neither of them measured
        images = random_images((side, side, 3), batch=2, seed=side)
        for engine in predictor._runners.values():  # every engine the predictor may run
            assert_close_to_magnitude(engine(images), infer(model, images), 1e-4)
        assert_close_to_magnitude(predictor(images), infer(model, images), 1e-4)


def test_xla_compiles_a_few_batch_shapes_only(googlenet):
    predictor = inference.predictor(googlenet, engine="xla", batch_size=8, verbose=False)
    images = random_images((65, 65, 3), batch=8, seed=2)
    expected = infer(googlenet, images)[0]
    for count in range(1, 9):
        assert_close_to_magnitude(predictor(images[:count]), expected[:count], 1e-4)
    function = predictor._runners["xla"]._function
    assert function.experimental_get_tracing_count() <= 4  # batches 1, 2, 4, 8: padded, not one per count


def test_threads_are_set_and_named(googlenet):
    with pytest.raises(ValueError, match="`threads`"):
        inference.predictor(googlenet, threads=0, verbose=False)
    predictor = inference.predictor(googlenet, engine="openvino", threads=1, verbose=False)
    assert predictor.threads == 1 and "1 threads" in predictor._runners["openvino"].describe()
    assert predictor._runners["openvino"]._compiled.get_property("INFERENCE_NUM_THREADS") == 1
    import openvino

    assert predictor._runners["openvino"]._compiled.get_property("INFERENCE_PRECISION_HINT") == openvino.Type.f32
