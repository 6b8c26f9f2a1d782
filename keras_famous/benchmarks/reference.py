"""Runs a weights file's source framework (torchvision, timm, tf_keras) beside the converted model and
reports the largest difference (`keras-famous convert`, tools/fetch_and_verify_weights.py). PyTorch runs
in a separate process (`reference_runner`), away from TensorFlow."""

import os
import subprocess
import tempfile

import numpy as np

from . import launch


def _images(model, default_shape, batch=2, seed=0):
    shape = tuple(d or default for d, default in zip(model.input_shape[1:], default_shape))
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=(batch, *shape)).astype("float32")


def _torch_outputs(library, source_model, path, images, headless):
    with tempfile.TemporaryDirectory() as scratch:
        images_path, output_path = os.path.join(scratch, "images.npy"), os.path.join(scratch, "out.npy")
        np.save(images_path, images)
        arguments = [library, source_model, os.fspath(path), images_path, output_path] + (
            ["--headless"] if headless else []
        )
        command = launch.command("keras_famous.benchmarks.reference_runner", *arguments)
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            return None, result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"
        return np.load(output_path), None


def _keras_outputs(source_model, path, images, include_top):
    try:
        import tf_keras
    except ImportError:
        return None, "tf_keras is not installed"
    builder = getattr(tf_keras.applications, source_model, None)
    if builder is None:
        return None, f"tf_keras has no application {source_model}"
    reference = builder(
        weights=None, include_top=include_top, input_shape=images.shape[1:], pooling="avg" if not include_top else None
    )
    try:  # by the order of the layers with weights, as Keras loads keras.applications' (Keras 2.0-named) files
        reference.load_weights(os.fspath(path))
    except ValueError:  # a file with a top into the headless reference
        reference.load_weights(os.fspath(path), by_name=True)
    return np.asarray(reference(images, training=False)), None  # eager: a few images, no predict function to trace


def max_abs_difference(model, path, reference, default_shape=(224, 224, 3)):
    """(max |ours - source| on random inputs, max |source|, None), or (None, None, why the source could not run).

    `reference` is the registry Reference of the file's source (library "torchvision", "timm" or
    "keras.applications"); `model` has the weights loaded, with softmax removed for logits. Inputs are
    random images of the model's input size (`default_shape` where the model takes any size).
    """
    include_top = any(layer.name == "predictions" for layer in model.layers)
    images = _images(model, default_shape)
    if reference.library in ("torchvision", "timm"):
        expected, why = _torch_outputs(reference.library, reference.model, path, images, not include_top)
    elif reference.library == "keras.applications":
        expected, why = _keras_outputs(reference.model, path, images, include_top)
    else:
        return None, None, f"no runnable source for {reference.library}"
    if expected is None:
        return None, None, why
    import keras

    outputs = model(images, training=False)  # eager: a few images, no predict function to trace
    outputs = keras.ops.convert_to_numpy(outputs[0] if isinstance(outputs, (list, tuple)) else outputs)
    if outputs.shape != expected.shape:
        return None, None, f"output shapes differ: ours {outputs.shape}, the source's {expected.shape}"
    return float(np.max(np.abs(outputs - expected))), float(np.max(np.abs(expected))), None
