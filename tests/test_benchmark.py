"""The benchmark tool: every engine's record has the documented fields and the runs are real (speed
itself is measured with the tool, not asserted); the default inference path computes what the model does."""

import json
import subprocess
import sys

import numpy as np
import pytest

import keras_famous
from keras_famous import benchmark, export, inference
from conftest import random_images


def test_predictor_is_the_model_in_inference_mode_batched():
    model = keras_famous.ResNet18(variant="torchvision", input_shape=(64, 64, 3), classes=5)
    images = random_images((64, 64, 3), batch=5, seed=2)
    predict = inference.predictor(model, batch_size=2)  # 3 calls, the last of one image
    expected = model.predict(images, verbose=0)
    np.testing.assert_allclose(predict(images), expected, atol=1e-5 * np.abs(expected).max())
    assert len(predict.model.layers) < len(model.layers)  # BatchNormalization folded away
    with pytest.raises(ValueError, match="batch_size"):
        inference.predictor(model, batch_size=0)


def test_tflite_model_runs_whole_batches_like_single_images(tmp_path):
    model = keras_famous.SqueezeNet1_1(input_shape=(64, 64, 3), classes=4)
    export.export(model, tmp_path / "s.tflite", format="tflite")
    runner = export.TFLiteModel(tmp_path / "s.tflite", num_threads=2)
    images = random_images((64, 64, 3), batch=5, seed=3)
    np.testing.assert_allclose(runner(images, batch_size=4), runner(images), atol=1e-5)


@pytest.mark.slow
def test_bench_command_writes_one_record_per_engine(tmp_path):
    engines = "keras_famous,keras.applications,torch,tflite/int8"  # one of each kind: ~20 s each
    outputs = ["--json", str(tmp_path / "b.json"), "--markdown", str(tmp_path / "b.md"), "--png", str(tmp_path / "b.png")]
    command = [sys.executable, "-m", "keras_famous.cli", "bench", "ResNet50", "--input-size", "64", "--batch", "2",
               "--engines", engines, "--warmup", "1", "--repeats", "3", *outputs]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=900)
    document = json.loads((tmp_path / "b.json").read_text())
    records = document["records"]
    assert [r["engine"] for r in records] == engines.split(",")
    for record in records:
        assert set(benchmark.RECORD_KEYS) <= set(record)
        assert record["images_per_s"] > 0 and record["latency_ms_median"] > 0 and record["peak_mem_mb"] > 10
        assert record["latency_ms_spread"] >= 0 and record["gflops_per_s"] > 0
        assert record["images_per_s"] == pytest.approx(2000 / record["latency_ms_median"])
        assert record["timed_calls"] == 3
    base = records[0]["images_per_s"]
    assert [r["ratio_to_keras_famous"] for r in records] == pytest.approx([r["images_per_s"] / base for r in records])
    assert document["matmul_peak_gflops"] > 1 and document["machine"]["cores"] >= 1
    conv = document["tflite_conv_peak_gflops"]  # measured because a TFLite engine ran
    assert conv["float32"] > 1 and conv["int8"] > 1
    assert conv["int8_over_float32"] == pytest.approx(conv["int8"] / conv["float32"])
    table = (tmp_path / "b.md").read_text()
    assert "int8 / float32 =" in table
    assert table.count("| ResNet50 | 2 |") == len(records)
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"
    again = subprocess.run(command, capture_output=True, text=True, timeout=900)  # outputs exist, no --force
    assert again.returncode != 0 and "--force" in again.stderr


def test_bench_refuses_unknown_engines_and_models():
    with pytest.raises(ValueError, match="engines"):
        benchmark.run(["ResNet50"], engines=["tensorrt"])
    with pytest.raises(ValueError, match="Unknown model"):
        benchmark.run(["ResNet5O"], engines=["keras_famous"])


def test_rounds_take_turns_and_pool_their_timed_calls():
    progress = []
    records = benchmark.run(["LeNet5"], engines=["keras_famous", "keras_famous/function"], warmup=1, repeats=2,
                            rounds=2, progress=progress.append)  # fmt: skip
    assert [line.split(": ")[1].split(" (")[0] for line in progress] == ["keras_famous", "keras_famous/function"] * 2
    assert [r.timed_calls for r in records] == [4, 4] and all(r.images_per_s > 0 for r in records)
    with pytest.raises(ValueError, match="rounds"):
        benchmark.run(["LeNet5"], engines=["keras_famous"], rounds=0)


def test_missing_peers_are_recorded_with_the_reason():
    records = benchmark.run(["LeNet5"], engines=["keras.applications", "torch"])
    assert [r.images_per_s for r in records] == [None, None]
    assert "keras.applications" in records[0].note and "torchvision" in records[1].note


@pytest.mark.slow
def test_build_times_cover_building_loading_and_conversion():
    (lenet, resnet) = benchmark.build_times(["LeNet5", "ResNet50"], progress=lambda text: None, repeats=1)
    assert lenet.build_s > 0 and lenet.load_weights_s > 0
    assert lenet.keras_applications_build_s is None and lenet.convert_s is None
    assert resnet.keras_applications_build_s > 0 and resnet.convert_s > 0 and "torchvision" in resnet.note
    assert "| ResNet50 |" in benchmark.build_markdown([lenet, resnet])
