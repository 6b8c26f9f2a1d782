"""The console script, run as a user runs it."""

import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_famous
from keras_famous import cli
from conftest import infer, advance_name_counters, random_images


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


def test_quiet_by_default_verbose_on_request():
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}  # the user set none
    quiet = subprocess.run([SCRIPT, "summary", "LeNet5"], capture_output=True, text=True, env=env, timeout=300)
    assert quiet.returncode == 0, quiet.stderr
    assert "Total params" in quiet.stdout
    log_lines = [line for line in quiet.stderr.splitlines() if re.match(r"[IWEF]\d{4} \d\d:\d\d:\d\d", line)]
    assert log_lines == [], log_lines  # absl/TensorFlow C++ lines: I0000 00:00:..., W1124 12:00:00...
    for notice in ("rebuild TensorFlow", "oneDNN custom operations", "absl::InitializeLog", "WARNING:absl"):
        assert notice not in quiet.stderr
    verbose = subprocess.run(
        [SCRIPT, "summary", "LeNet5", "--verbose"], capture_output=True, text=True, env=env, timeout=300
    )
    assert verbose.returncode == 0, verbose.stderr
    assert verbose.stdout == quiet.stdout


def test_verbose_is_global():
    parser = cli.build_parser()
    assert parser.parse_args(["--verbose", "summary", "LeNet5"]).verbose
    assert parser.parse_args(["summary", "LeNet5", "--verbose"]).verbose
    assert not parser.parse_args(["summary", "LeNet5"]).verbose


def test_list_and_the_package_import_no_tensorflow():
    """`import keras_famous` loads its names when first used, so `keras-famous list` (the stored catalog) starts
    without Keras or TensorFlow; `python -m keras_famous` is the command too."""
    command = [sys.executable, "-X", "importtime", "-m", "keras_famous", "list", "--markdown"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.startswith("| Model |"), result.stderr[-2000:]
    imported = {
        line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")
    }
    assert "keras_famous.catalog" in imported  # the probe sees our imports
    assert not {name for name in imported if name.split(".")[0] in ("tensorflow", "keras", "torch", "jax")}
    probe = "import sys, keras_famous; keras_famous.__version__; print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "[]"


def _random_resnet18(directory):
    import safetensors.numpy
    import torch
    import torchvision

    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None).eval()
    torch.save(reference.state_dict(), directory / "r18.pth")
    safetensors.numpy.save_file(
        {k: v.numpy() for k, v in reference.state_dict().items()}, str(directory / "r18.safetensors")
    )
    return reference


def _reported_difference(stdout):
    line = next(line for line in stdout.splitlines() if line.startswith("max abs difference"))
    return float(line.split(": ", 1)[1].split()[0])


def test_convert_torch_checkpoints(tmp_path, capsys):
    import torch

    reference = _random_resnet18(tmp_path)
    images = np.random.default_rng(0).uniform(-1, 1, (2, 224, 224, 3)).astype("float32")
    with torch.no_grad():
        expected = reference(torch.from_numpy(images.transpose(0, 3, 1, 2))).numpy()
    for source in ("r18.pth", "r18.safetensors"):
        output = tmp_path / f"{source}.weights.h5"
        args = ("convert", str(tmp_path / source), "--model", "ResNet18", "--variant", "torchvision")
        if source == "r18.pth":  # the console script, as a user runs it
            result = _run(*args, "--output", str(output))
            assert result.returncode == 0, result.stderr
            stdout = result.stdout
        else:  # the same command in-process (cli.main): no second TensorFlow start-up
            assert cli.main([*args, "--output", str(output)]) == 0
            stdout = capsys.readouterr().out
        assert "max abs difference vs torchvision resnet18" in stdout
        assert _reported_difference(stdout) <= 1e-4 * np.abs(expected).max()
        model = keras_famous.ResNet18(variant="torchvision", weights=str(output), classifier_activation=None)
        assert np.abs(infer(model, images) - expected).max() <= 1e-4 * np.abs(expected).max()


def test_convert_refuses_to_overwrite_without_force(tmp_path, capsys):
    _random_resnet18(tmp_path)
    output = tmp_path / "out.weights.h5"
    output.write_bytes(b"precious")
    args = (
        "convert",
        str(tmp_path / "r18.safetensors"),
        "--model",
        "ResNet18",
        "--variant",
        "torchvision",
        "--output",
        str(output),
        "--no-top",
    )
    assert cli.main(list(args)) == 2  # in-process, as the other refusals: nothing is converted
    assert "--force" in capsys.readouterr().err and output.read_bytes() == b"precious"
    result = _run(*args, "--force")
    assert result.returncode == 0, result.stderr
    assert output.read_bytes() != b"precious"
    assert "max abs difference" in result.stdout  # pooled features against the reference's
    assert [p.name for p in tmp_path.iterdir() if "tmp" in p.name] == []


def test_convert_keras_applications_h5(tmp_path, capsys):
    import tf_keras

    tf_keras.applications.ResNet50(weights=None).save_weights(tmp_path / "resnet50.h5")
    result = _run(
        "convert", str(tmp_path / "resnet50.h5"), "--model", "ResNet50", "--output", str(tmp_path / "r50.weights.h5")
    )
    assert result.returncode == 0, result.stderr
    assert _reported_difference(result.stdout) < 1e-5  # softmax outputs of tf_keras and ours
    # xception_weights_tf_dim_ordering_tf_kernels.h5 as Keras 2.0 wrote it: shortcut convolutions conv2d_1..4
    tf_keras.backend.clear_session()
    advance_name_counters(tf_keras)
    tf_keras.applications.Xception(weights=None).save_weights(tmp_path / "xception.h5")
    xception = ["convert", str(tmp_path / "xception.h5"), "--model", "Xception"]  # in-process: one start-up less
    assert cli.main([*xception, "--output", str(tmp_path / "xception.weights.h5")]) == 0
    assert _reported_difference(capsys.readouterr().out) < 1e-5  # tf_keras reads it by order too
    # in-process (cli.main), as the other error checks: the file is refused before anything is written
    wrong = ["convert", str(tmp_path / "resnet50.h5"), "--model", "ResNet101"]
    assert cli.main([*wrong, "--output", str(tmp_path / "x.weights.h5")]) == 2
    assert "does not match this model" in capsys.readouterr().err
    assert not (tmp_path / "x.weights.h5").exists()


def test_export_lenet5_to_int8_tflite(tmp_path):

    from keras_famous import datasets

    (x_train, _), _ = datasets.digits_32x32()
    np.save(tmp_path / "calibration.npy", x_train[:100])
    args = (
        "export",
        "LeNet5",
        "--weights",
        "digits",
        "--quantize",
        "int8",
        "--representative",
        str(tmp_path / "calibration.npy"),
    )
    result = _run(*args, "--output", str(tmp_path / "lenet.tflite"))
    assert result.returncode == 0, result.stderr
    assert "as tflite int8" in result.stdout and "top-1 agreement" in result.stdout
    assert "on 25 held-out images" in result.stdout  # calibrated on 75 of the 100, checked on the others
    again = _run(*args, "--output", str(tmp_path / "lenet.tflite"))
    assert again.returncode == 2 and "--force" in again.stderr and "overwrite=True" not in again.stderr


def test_export_errors_name_the_flags(tmp_path, capsys):
    """Run in-process (cli.main): the checks come before any export."""

    np.save(tmp_path / "wrong.npy", np.zeros((4, 28, 28, 1), "float32"))
    np.save(tmp_path / "zeros.npy", np.zeros((20, 32, 32, 1), "float32"))
    output = str(tmp_path / "lenet.tflite")
    cases = {
        ("--quantize", "int8", "--representative", str(tmp_path / "wrong.npy")): "--representative",
        ("--quantize", "int8"): "--representative",
        ("--quantize", "int8", "--representative", str(tmp_path / "missing.npy")): "--representative",
        ("--input-shape", "32,32"): "--input-shape",
        ("--input-shape", "8,8,1"): "--input-shape",
        ("--format", "onnx"): "--format 'onnx' contradicts --output",
        (
            "--quantize",
            "int8",
            "--representative",
            str(tmp_path / "zeros.npy"),
        ): "of the 20 --representative images are blank",
    }
    for extra, flag in cases.items():
        assert cli.main(["export", "LeNet5", "--output", output, *extra]) == 2
        error = capsys.readouterr().err
        assert flag in error and "representative_data" not in error and "input_shape" not in error, (extra, error)
    cli.main(["export", "LeNet5", "--output", output, *list(cases)[0]])
    assert "(N, 32, 32, 1)" in capsys.readouterr().err  # the shape the model takes
    (tmp_path / "lenet.tflite").write_bytes(b"keep")
    assert cli.main(["export", "LeNet5", "--output", output]) == 2
    assert "--force" in capsys.readouterr().err and (tmp_path / "lenet.tflite").read_bytes() == b"keep"


def test_messages_say_what_was_typed_and_print_paths_unchanged(tmp_path, capsys):
    """The library names an argument where it checks it, as the command spells it: no text of another error is
    rewritten, so a path holding "weights=" or "variant=" comes out as it is."""
    odd = tmp_path / "variant=a" / "resnet18-1000.weights=3.weights.h5"  # not there
    (tmp_path / "x.txt").write_bytes(b"")
    cases = {
        ("export", "LeNet5", "--variant", "nope", "--output", str(tmp_path / "m.tflite")): "Unknown --variant 'nope'",
        ("export", "LeNet5", "--weights", str(odd), "--output", str(tmp_path / "m.tflite")): (
            f"--weights file not found for LeNet5: {str(odd)!r}. Pass an existing file, or --weights none."
        ),
        ("export", "LeNet5", "--weights", "imagenet", "--output", str(tmp_path / "m.tflite")): (
            "No pretrained --weights imagenet for LeNet5 variant 'original'. This model has --weights digits instead."
        ),
        ("convert", str(tmp_path / "x.txt"), "--model", "LeNet5", "--output", str(tmp_path / "o.weights.h5")): (
            "Unsupported SRC file format"
        ),
        ("train", "LeNet5", "--dataset", str(tmp_path), "--image-size", "3"): "--image-size must be",
        ("train", "LeNet5", "--output", str(tmp_path / "m.h5")): "--output must end in .keras",
    }
    for argv, expected in cases.items():
        assert cli.main(list(argv)) == 2, argv
        error = capsys.readouterr().err
        assert expected in error and "`" not in error and "----" not in error, (argv, error)
    # the Python API keeps the Python spellings
    with pytest.raises(ValueError, match=r"Unknown `variant` 'nope'"):
        keras_famous.LeNet5(variant="nope")
    with pytest.raises(ValueError, match=r"Pass an existing file, or weights=None"):
        keras_famous.LeNet5(weights=str(odd))


def test_export_takes_the_format_from_the_extension_and_force_never_deletes_a_folder(tmp_path, capsys):
    digits = ["export", "LeNet5", "--weights", "digits", "--output"]
    assert cli.main([*digits, str(tmp_path / "m.keras")]) == 0  # no --format: the extension names it
    assert "as keras" in capsys.readouterr().out
    images = random_images((32, 32, 1))
    reloaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_array_equal(infer(reloaded, images), infer(keras_famous.LeNet5(weights="digits"), images))
    refused = {
        ("--output", str(tmp_path / "m.tflite"), "--format", "saved_model"): "--format 'saved_model' contradicts",
        ("--output", str(tmp_path / "m.onnx"), "--format", "tflite"): "--format 'tflite' contradicts --output",
        ("--output", str(tmp_path / "m.h5")): "names no export format",
        ("--output", str(tmp_path / "m.onnx"), "--quantize", "float16"): "--format tflite only",
    }
    for extra, message in refused.items():
        assert cli.main(["export", "LeNet5", *extra]) == 2
        assert message in capsys.readouterr().err, extra
    assert sorted(path.name for path in tmp_path.iterdir()) == ["m.keras"]
    # --force replaces what a previous export or run wrote, never a folder of the user's
    for command, folder in (
        ([*digits, str(tmp_path / "keep.tflite"), "--force"], tmp_path / "keep.tflite"),
        (
            ["train", "LeNet5", "--epochs", "1", "--output", str(tmp_path / "run.keras"), "--force"],
            tmp_path / "run.keras",
        ),
    ):
        folder.mkdir()
        (folder / "notes.txt").write_text("mine")
        assert cli.main(command) == 2
        error = capsys.readouterr().err
        assert f"{folder} is a folder: --force replaces a file, never a folder" in error, error
        assert (folder / "notes.txt").read_text() == "mine"
    (tmp_path / "saved").mkdir()
    assert cli.main([*digits, str(tmp_path / "saved"), "--force"]) == 2  # a folder, but not a SavedModel
    assert "is not a SavedModel folder" in capsys.readouterr().err
    (tmp_path / "saved").rmdir()
    for _ in range(2):  # a SavedModel replaces the SavedModel it wrote
        assert cli.main([*digits, str(tmp_path / "saved"), "--force"]) == 0
    assert "as saved_model" in capsys.readouterr().out
