"""`keras-famous demo`, the main job: offline, end to end, its table true to the files it wrote."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_famous import datasets, export


@pytest.mark.slow
def test_demo_runs_offline_and_reports_what_it_wrote(tmp_path):
    out = tmp_path / "demo"
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}  # as users run it
    command = [
        sys.executable,
        "-m",
        "keras_famous",
        "demo",
        "--output",
        str(out),
        "--pretrain-epochs",
        "1",
        "--head-epochs",
        "1",
        "--fine-tune-epochs",
        "1",
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    for step in ("[1/3]", "[2/3]", "[3/3]", "| model | format |"):
        assert step in result.stdout
    # our output only: no TensorFlow C++ lines, none of the TFLite converter's
    for line in ("fully_quantize", "inference_type", "absl::InitializeLog", "I0000", "W0000", "cpu_feature_guard"):
        assert line not in result.stdout + result.stderr, line
    report = json.loads((out / "results.json").read_text())
    rows = {(row["model"], row["format"]): row for row in report["rows"]}
    assert len(rows) == 6
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "results.md").read_text().count("\n|") >= 7
    lenet = {fmt: rows[("lenet5", fmt)] for fmt in ("keras", "tflite float32", "tflite int8")}
    assert lenet["keras"]["accuracy"] >= 0.97  # the shipped weights' recorded test accuracy is 0.9756
    assert lenet["tflite float32"]["accuracy"] == pytest.approx(lenet["keras"]["accuracy"], abs=0.003)
    assert lenet["tflite int8"]["accuracy"] >= lenet["keras"]["accuracy"] - 0.02
    transfer_model = next(model for model, _ in rows if model != "lenet5")
    keras_accuracy = rows[(transfer_model, "keras")]["accuracy"]
    assert keras_accuracy > 0.35  # 5 classes (chance 0.2), after a 1 + 1 + 1 epoch schedule (0.50 here)
    assert rows[(transfer_model, "tflite float32")]["accuracy"] == pytest.approx(keras_accuracy, abs=0.005)
    for model in ("lenet5", transfer_model):
        assert rows[(model, "tflite int8")]["size_mb"] < 0.4 * rows[(model, "tflite float32")]["size_mb"]
    # the table's numbers are the files': re-score the LeNet-5 int8 file here
    _, (x_test, y_test) = datasets.digits_32x32()
    rescored = np.mean(export.run_tflite(out / "lenet5_int8.tflite", x_test).argmax(1) == y_test)
    assert rescored == pytest.approx(lenet["tflite int8"]["accuracy"], abs=1e-9)


def test_demo_checks_its_optional_dependencies_before_any_work(tmp_path, monkeypatch, capsys):
    import importlib.util

    from keras_famous import cli

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert cli.main(["demo", "--output", str(tmp_path / "demo")]) == 2
    error = capsys.readouterr().err
    assert "The demo needs matplotlib" in error and "pip install 'keras-famous[demo]'" in error
    assert not (tmp_path / "demo").exists()  # nothing trained, nothing written
