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
def googlenet():
    """BatchNormalization to fold, auxiliary heads to drop, a main output to keep."""
    keras.utils.set_random_seed(3)
    return keras_famous.GoogLeNet(variant="torchvision", aux_logits=True, input_shape=(65, 65, 3), classes=7)


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

    monkeypatch.setattr(artifacts, "float32_tflite_bytes", broken)
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


def test_wrong_shapes_are_refused_and_threads_take_turns(googlenet):
    """Found by probing (issue 23): one image without its batch axis gave a (65, 7) answer; a call at another
    size left LiteRT's tensors resized so the next correct call failed; two threads broke LiteRT's interpreter."""
    import threading

    predictor = inference.predictor(googlenet, engine="litert", batch_size=4, verbose=False)
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
