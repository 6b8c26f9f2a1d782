"""The scripts in tools/ that need data or internet, run here on data the tests make."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
import torch
import torchvision

import keras_famous
from keras_famous import datasets
from conftest import infer, one_file_entry, serving, write_manifest

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def _run(script, *args, env=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    return subprocess.run(
        [sys.executable, str(TOOLS / script), *args], capture_output=True, text=True, env=env, timeout=600
    )


def test_evaluate_tool_on_a_class_directory(tmp_path):
    """An ImageNet-format directory (one folder per class) of real digit scans as PNG files."""
    import keras

    (_, _), (x_test, y_test) = datasets.digits_32x32()
    x, y = x_test[:80], y_test[:80]
    pixels = np.round((x + 0.1) / 1.275 * 255).clip(0, 255).astype("uint8")
    for index, (image, label) in enumerate(zip(pixels, y)):
        folder = tmp_path / "val" / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        keras.utils.save_img(folder / f"{index}.png", image, scale=False)
    result = _run("evaluate_imagenet.py", "--model", "LeNet5", "--weights", "digits", "--data", str(tmp_path / "val"))
    assert result.returncode == 0, result.stderr
    reported = result.stdout.strip().splitlines()[-1]
    top1 = float(reported.split("top-1 ")[1].split(",")[0])

    model = keras_famous.LeNet5(weights="digits")
    scores = infer(model, pixels.astype("float32") / 255 * 1.275 - 0.1)
    assert "80 images" in reported and "preprocess=digits" in reported
    assert top1 == round(float(np.mean(scores.argmax(axis=1) == y)), 4)


def test_fetch_and_verify_tool_through_a_mirror(tmp_path):
    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path / "served" / "resnet18.safetensors"
    path.parent.mkdir()
    safetensors.numpy.save_file({k: v.numpy() for k, v in reference.state_dict().items()}, str(path))
    with serving(path.parent) as url:
        sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        entry = one_file_entry("ResNet18", "resnet18", f"{url}/resnet18.safetensors", {"sha256": sha256})
        mirror = write_manifest(tmp_path / "mirror.json", [entry])
        env = {"KERAS_FAMOUS_MANIFEST": str(mirror), "KERAS_FAMOUS_HOME": str(tmp_path / "home")}
        result = _run("fetch_and_verify_weights.py", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("ResNet18"))
    assert line.split()[:4] == ["ResNet18", "torchvision", "imagenet", "ok"] and "max abs difference" in line


def test_mixed_precision_benchmark_runs_both_policies(tmp_path):
    if keras_famous.precision.choose_policy("auto") == "float32":  # no accelerator: it says so instead of timing
        refused = _run("benchmark_mixed_precision.py", "--steps", "1")
        assert refused.returncode == 2 and "GPU" in refused.stderr
    out = tmp_path / "mp.json"
    result = _run(
        "benchmark_mixed_precision.py",
        "--model",
        "ResNet18",
        "--batch",
        "2",
        "--steps",
        "2",
        "--warmup",
        "1",
        "--input-size",
        "64",
        "--policy",
        "mixed_bfloat16",
        "--allow-cpu",
        "--json",
        str(out),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    records = json.loads(out.read_text())
    assert [r["policy"] for r in records] == ["float32", "mixed_bfloat16"]
    assert all(np.isfinite(r["final_loss"]) for r in records)
    speedup = records[1]["images_per_s"] / records[0]["images_per_s"]
    assert records[1]["speedup_vs_float32"] == pytest.approx(speedup)
    for record in records:
        assert record["step_ms"] * record["images_per_s"] == pytest.approx(2 * 1000)  # batch 2 per step
        line = next(line for line in result.stdout.splitlines() if line.split()[:1] == [record["policy"]])
        assert f"{record['images_per_s']:.1f} images/s" in line and f"x{record['speedup_vs_float32']:.2f} vs" in line


def test_interleaved_benchmark_times_every_engine_in_one_process():
    # SqueezeNet1_1: the engines' conversions are cheap, so the predictor converts in this process (no child)
    result = _run("benchmark_interleaved.py", "SqueezeNet1_1", "--input-size", "64", "--calls", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("CPU: ") and "int8 dot product" in result.stdout.splitlines()[0]
    rows = [line.strip() for line in result.stdout.splitlines() if "median" in line]
    labels = [row.split("  ")[0] for row in rows]
    forced = ["tensorflow", "xla", "litert", "onnxruntime", "openvino"]
    assert labels[0].startswith("predictor (auto: ") and labels[1:] == forced
    medians = [float(row.split("median")[1].split("ms")[0]) for row in rows]
    ratios = [float(row.split("ms")[1].split("x")[0]) for row in rows]
    for median, ratio in zip(medians, ratios):  # each row's median over the default's, printed to 0.01
        assert ratio == pytest.approx(median / medians[0], abs=0.006 + 0.006 * ratio)
    chosen = labels[0][len("predictor (auto: ") : -1]
    fastest = min(medians[1:6])
    speed = float(result.stdout.split("default / fastest engine speed:")[1].split()[0])
    # the medians are printed to 0.01 ms: at a ~1 ms median that rounding moves their ratio by up to ~1%
    rounding = (fastest / medians[0]) * (0.005 / fastest + 0.005 / medians[0]) + 5e-4
    assert speed == pytest.approx(fastest / medians[0], abs=rounding) and chosen in labels[1:6]
    assert f"| SqueezeNet1_1 | 1 | {chosen} |" in result.stdout


def test_fine_tune_benchmark_times_files_against_memory_in_turns():
    """tools/benchmark_fine_tune.py on a few images: both sources train the same epochs, the ratio is theirs."""
    sys.path.insert(0, str(TOOLS))
    try:
        import benchmark_fine_tune
    finally:
        sys.path.remove(str(TOOLS))
    (row,) = benchmark_fine_tune.throughput([32], count=48, rounds=1, batch=16)
    assert row["images"] == 48 and row["files_images_per_s"] > 0 and row["memory_images_per_s"] > 0
    assert row["files_over_memory"] == pytest.approx(row["files_images_per_s"] / row["memory_images_per_s"], rel=0.01)
    assert "cores" in benchmark_fine_tune.cpu_features()
