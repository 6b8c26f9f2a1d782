"""The benchmark tool: every engine's record has the documented fields and the runs are real (speed
itself is measured with the tool, not asserted); the default inference path computes what the model does."""

import json
import os
import subprocess
import sys
from dataclasses import asdict

import numpy as np
import pytest

import keras_famous
from keras_famous import benchmarks, cli, export, inference
from keras_famous.benchmarks import launch
from conftest import infer, random_images, threads_per_worker


def _assert_summarises_its_calls(record, batch):
    """The record's median and interquartile range are those of the calls it timed (`latencies_ms`)."""
    samples = np.asarray(record["latencies_ms"])
    assert len(samples) == record["timed_calls"] and np.all(samples > 0)
    q1, q3 = np.percentile(samples, [25, 75])
    assert record["latency_ms_median"] == pytest.approx(np.median(samples))
    assert record["latency_ms_spread"] == pytest.approx(q3 - q1)
    assert samples.min() <= record["latency_ms_median"] <= samples.max()
    assert record["latency_ms_spread"] <= samples.max() - samples.min()
    assert record["images_per_s"] == pytest.approx(batch * 1000 / record["latency_ms_median"])


def test_predictor_is_the_model_in_inference_mode_batched():
    model = keras_famous.ResNet18(variant="torchvision", input_shape=(64, 64, 3), classes=5)
    images = random_images((64, 64, 3), batch=5, seed=2)
    predict = inference.predictor(model, engine="xla", batch_size=2)  # 3 calls, the last of one image
    expected = infer(model, images)
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
    # one of each kind, ~20 s each; the ONNX Runtime worker is test_onnx_timing_...'s (the predictor races it here)
    engines = "keras_famous,keras.applications,torch,tflite/int8"
    outputs = [
        "--json",
        str(tmp_path / "b.json"),
        "--markdown",
        str(tmp_path / "b.md"),
        "--png",
        str(tmp_path / "b.png"),
    ]
    command = [
        sys.executable,
        "-m",
        "keras_famous.cli",
        "bench",
        "ResNet50",
        "--input-size",
        "32",
        "--batch",
        "2",
        "--engines",
        engines,
        "--warmup",
        "1",
        "--repeats",
        "3",
        *outputs,
    ]
    # PyTorch's OpenMP threads spin-wait on a core the other pytest-xdist worker holds: ResNet50 at 32 x 32 took
    # 1.2 s a call with 2 threads beside a busy process, 0.02 s with 1 (the thread policy of conftest.py)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads_per_worker()))
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=900, env=env)
    document = json.loads((tmp_path / "b.json").read_text())
    records = document["records"]
    assert [r["engine"] for r in records] == engines.split(",")
    for record in records:
        assert set(benchmarks.RECORD_KEYS) <= set(record)
        assert record["peak_mem_mb"] > 10 and record["gflops_per_s"] > 0
        assert record["timed_calls"] == 3
        _assert_summarises_its_calls(record, batch=2)
    base = records[0]["images_per_s"]
    assert [r["ratio_to_keras_famous"] for r in records] == pytest.approx([r["images_per_s"] / base for r in records])
    assert document["matmul_peak_gflops"] > 1 and document["machine"]["cores"] >= 1
    assert isinstance(document["machine"]["cpu_features"], list)  # Linux: read from /proc/cpuinfo
    chosen = records[0]["chosen_engine"]  # what inference.predictor measured fastest in its worker
    assert chosen in inference.ENGINES and f"keras_famous ({chosen})" in (tmp_path / "b.md").read_text()
    conv = document["tflite_conv_peak_gflops"]  # measured because a TFLite engine ran
    assert conv["float32"] > 1 and conv["int8"] > 1
    assert conv["int8_over_float32"] == pytest.approx(conv["int8"] / conv["float32"])
    table = (tmp_path / "b.md").read_text()
    assert "int8 / float32 =" in table
    assert table.count("| ResNet50 | 2 |") == len(records)
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"
    written = {path: path.read_bytes() for path in tmp_path.iterdir()}
    with pytest.raises(SystemExit, match="--force"):  # outputs exist, no --force: refused before any timing
        cli.main(command[3:])
    assert {path: path.read_bytes() for path in tmp_path.iterdir()} == written


def test_bench_refuses_unknown_engines_and_models():
    with pytest.raises(ValueError, match="engines"):
        benchmarks.run(["ResNet50"], engines=["tensorrt"])
    with pytest.raises(ValueError, match="Unknown model"):
        benchmarks.run(["ResNet5O"], engines=["keras_famous"])


def test_rounds_take_turns_and_pool_their_timed_calls(monkeypatch):
    """The schedule and the pooling, with each worker's answer recorded (a real worker run is the bench command's
    test): every round runs each engine once, in the balanced order, and a record pools its rounds' calls."""
    calls = []

    def worker(engine, name, batch, side, warmup, repeats, timeout):
        calls.append(engine)
        first = 10.0 * len(calls)  # each call's own latencies, to see which ones a record pooled
        return {"latencies_ms": [first + i for i in range(repeats)], "peak_mem_mb": len(calls), "macs": 1000}

    monkeypatch.setattr(benchmarks.bench, "run_worker", worker)
    progress = []
    engines = ["keras_famous/eager", "keras_famous/function", "tflite/float32"]
    records = benchmarks.run(["LeNet5"], engines=engines, warmup=1, repeats=2, rounds=2, progress=progress.append)
    order = [line.split(": ")[1].split(" (")[0] for line in progress]
    assert order == calls and len(calls) == 6
    assert order[:3] != order[3:] and sorted(order[:3]) == sorted(order[3:]) == sorted(engines)
    assert [(order[i], order[i + 1]) for i in (0, 1, 3, 4)].count((order[0], order[1])) == 1  # no fixed follower
    for record in records:
        rounds = [10.0 * (i + 1) for i, engine in enumerate(calls) if engine == record.engine]
        assert record.latencies_ms == [first + i for first in rounds for i in range(2)] and record.timed_calls == 4
        assert record.peak_mem_mb == max(i + 1 for i, engine in enumerate(calls) if engine == record.engine)
        assert record.gflops_per_s == pytest.approx(2 * 1000 * record.images_per_s / 1e9)
        _assert_summarises_its_calls(asdict(record), batch=1)
    with pytest.raises(ValueError, match="rounds"):
        benchmarks.run(["LeNet5"], engines=["keras_famous"], rounds=0)


@pytest.mark.parametrize("count", [2, 3, 4, 5])
def test_balanced_orders_let_each_engine_follow_each_other_engine(count):
    rounds = count if count % 2 == 0 else 2 * count
    orders = benchmarks.balanced_orders(count, rounds)
    assert all(sorted(order) == list(range(count)) for order in orders)
    pairs = [(order[i], order[i + 1]) for order in orders for i in range(count - 1)]
    wanted = {(a, b) for a in range(count) for b in range(count) if a != b}
    assert set(pairs) == wanted and len(pairs) == len(wanted) * (1 if count % 2 == 0 else 2)


def test_cpu_features_are_read_and_printed():
    info = benchmarks.cpu_info()
    assert info["cores"] >= 1 and info["cpu"]
    summary = benchmarks.cpu_summary(info)
    assert "features:" in summary and "int8 dot product:" in summary
    if info["features"] is not None:
        flags = open("/proc/cpuinfo").read().split()
        assert ("AVX2" in info["features"]) == ("avx2" in flags)


def test_onnx_worker_runs_without_tensorflow(tmp_path):
    export.export(keras_famous.LeNet5(), tmp_path / "lenet.onnx", format="onnx")
    command = launch.command("keras_famous.benchmarks.onnx_timing", tmp_path / "lenet.onnx", 4, 1, 3)
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    timed = json.loads(result.stdout.splitlines()[-1])
    assert len(timed["latencies_ms"]) == 3 and all(latency > 0 for latency in timed["latencies_ms"])
    assert 10 < timed["peak_mem_mb"] < 300


def test_missing_peers_are_recorded_with_the_reason():
    records = benchmarks.run(["LeNet5"], engines=["keras.applications", "torch"])
    assert [r.images_per_s for r in records] == [None, None]
    assert "keras.applications" in records[0].note and "torchvision" in records[1].note


@pytest.mark.slow
def test_build_times_cover_building_loading_and_conversion():
    (lenet, resnet) = benchmarks.build_times(["LeNet5", "ResNet50"], progress=lambda text: None, repeats=1)
    assert lenet.build_s > 0 and lenet.load_weights_s > 0
    assert lenet.keras_applications_build_s is None and lenet.convert_s is None
    assert resnet.keras_applications_build_s > 0 and resnet.convert_s > 0 and "torchvision" in resnet.note
    assert "| ResNet50 |" in benchmarks.build_markdown([lenet, resnet])


def test_litert_worker_runs_without_tensorflow(tmp_path):
    """The LiteRT worker starts as a module without keras_famous/__init__ (which imports TensorFlow): its
    peak memory is LiteRT's and the model's, far below TensorFlow's own import (over 500 MB)."""
    export.export(keras_famous.LeNet5(), tmp_path / "lenet.tflite", format="tflite")
    command = launch.command("keras_famous.benchmarks.litert_timing", tmp_path / "lenet.tflite", 4, 1, 3)
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    timed = json.loads(result.stdout.splitlines()[-1])
    assert len(timed["latencies_ms"]) == 3 and all(latency > 0 for latency in timed["latencies_ms"])
    assert 10 < timed["peak_mem_mb"] < 300
