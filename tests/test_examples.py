"""The scripts in examples/ run as written (offline: weights are files the tests make)."""

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_famous
from keras_famous import datasets

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(script, *args, cwd=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _digit_pngs(directory, per_class, classes=3, side=32):
    (x, y), _ = datasets.digits_32x32()
    paths = []
    for label in range(classes):
        folder = directory / f"digit_{label}"
        folder.mkdir(parents=True)
        for k, image in enumerate(x[y == label][:per_class]):
            pixels = np.clip((image + 0.1) / 1.275 * 255, 0, 255).repeat(3, -1)
            keras.utils.save_img(folder / f"{k}.png", keras.ops.image.resize(pixels, (side, side)).numpy())
            paths.append(folder / f"{k}.png")
    return paths


@pytest.mark.slow
def test_application_example_decodes_imagenet_predictions(tmp_path):
    weights = tmp_path / "resnext50.weights.h5"
    keras_famous.ResNeXt50().save_weights(weights)  # stands in for the downloaded ImageNet file
    images = _digit_pngs(tmp_path / "images", per_class=1, classes=2)
    out = _run("application.py", *images, "--weights", weights)
    assert out.count(".png") == 2 and out.count("%") == 10 and "(n0" in out


@pytest.mark.slow
def test_fine_tune_example_on_an_image_folder(tmp_path):
    _digit_pngs(tmp_path / "data", per_class=20)
    out = _run(
        "fine_tune_image_folder.py",
        tmp_path / "data",
        "--backbone",
        "ResNet18",
        "--weights",
        "none",
        "--size",
        "32",
        "--head-epochs",
        "1",
        "--fine-tune-epochs",
        "1",
        "--output",
        tmp_path / "tuned.keras",
    )
    assert "3 classes: digit_0, digit_1, digit_2" in out
    model = keras.models.load_model(tmp_path / "tuned.keras", safe_mode=True)
    assert model.output_shape == (None, 3)


@pytest.mark.slow
def test_deploy_tflite_example_writes_three_verified_files(tmp_path):
    out = _run("deploy_tflite.py", "--output-dir", tmp_path / "tflite")
    files = sorted(p.name for p in (tmp_path / "tflite").iterdir())
    assert files == ["lenet5_float16.tflite", "lenet5_float32.tflite", "lenet5_int8.tflite"]
    assert out.count("top-1 agreement") == 3
