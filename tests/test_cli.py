"""The console script, run as a user runs it."""

import os
import subprocess
import sys

import keras_famous


SCRIPT = os.path.join(os.path.dirname(sys.executable), "keras-famous")  # the installed console script


def _run(*args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, env=env, timeout=300)


def test_list_prints_every_model_and_variant():
    result = _run("list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name in keras_famous.list_models():
        spec = keras_famous.registry.get_spec(name)
        for variant in spec.variants:
            assert any(line.split()[:2] == [name, variant] for line in lines), (name, variant)
    assert any("VGG16" in line and "138,357,544" in line and " 23 " in line for line in lines)


def test_summary_prints_layer_table():
    result = _run("summary", "VGG16")
    assert result.returncode == 0, result.stderr
    assert "block1_conv1" in result.stdout and "224x224x64" in result.stdout
    assert "Total params: 138,357,544" in result.stdout


def test_unknown_model_is_a_clear_error():
    result = _run("summary", "resnet51")
    assert result.returncode == 2
    assert "Unknown model `name`" in result.stderr


def test_module_entry_point():
    result = subprocess.run([sys.executable, "-m", "keras_famous.cli", "list", "--markdown"], capture_output=True,
                            text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0 and result.stdout.startswith("| Model |")
