"""Converting the inference graph for the engines that need files, in this process or in a child.

tf2onnx peaks at some 80 times the model's float32 weights (8 GB for a ResNet50) and keeps much of it until the
process ends. A child process (`python -m keras_famous.inference.worker convert MODEL.keras DIR ...`) loads
the graph from a `.keras` file (safe_mode), writes each engine's files into DIR/ENGINE and exits, returning its
memory; the predictor's own process stays near the size of the model. The child is used when the estimated
conversion memory exceeds CHILD_ABOVE_BYTES (or when asked), and its failure to load a graph with custom
layers that are not registered falls back to converting here.
"""

import os
import subprocess
import sys
import tempfile

import numpy as np

from .. import artifacts
from .engines import ENGINE_CLASSES

CHILD_ABOVE_BYTES = 1 << 30


def use_child(fast, names, isolate):
    """Whether to convert `names` for `fast` in a child process: `isolate` if given, else when it is heavy."""
    if isolate is not None:
        return bool(isolate)
    onnx = any(name.startswith("onnxruntime") for name in names)
    return onnx and artifacts.onnx_conversion_memory(fast) > CHILD_ABOVE_BYTES


def convert_here(fast, names, directory, threads, calibration=None):
    """{engine: error text} after writing each engine's files into directory/engine (an error skips the engine);
    int8 engines calibrate on `calibration`."""
    errors = {}
    for name in names:
        target = os.path.join(directory, name)
        os.makedirs(target, exist_ok=True)
        try:
            ENGINE_CLASSES[name](threads).convert(fast, target, calibration)
        except Exception as error:  # noqa: BLE001 (an engine that cannot convert is left out, with the reason)
            errors[name] = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    return errors


def convert_in_child(fast, names, directory, threads, calibration=None):
    """convert_here, run by a child process on `fast` saved to a `.keras` file; None if the child cannot run it."""
    with tempfile.TemporaryDirectory(prefix="keras_famous-graph-") as scratch:
        path, images = os.path.join(scratch, "graph.keras"), os.path.join(scratch, "calibration.npy")
        try:
            fast.save(path)
        except Exception:  # noqa: BLE001 (a graph Keras cannot save: convert in this process)
            return None
        if calibration is not None:
            np.save(images, np.asarray(calibration, dtype="float32"))
        arguments = [path, directory, str(threads), images if calibration is not None else "-", *names]
        command = [sys.executable, "-m", "keras_famous.inference.worker", "convert", *arguments]
        environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"))
        result = subprocess.run(command, capture_output=True, text=True, env=environment)
    if result.returncode == 3:  # the graph does not load in a fresh process (custom layers not registered)
        return None
    if result.returncode != 0:
        lines = (result.stderr or "").strip().splitlines()
        return dict.fromkeys(
            names, f"the conversion process exited with {result.returncode}: {lines[-1] if lines else ''}"
        )
    errors = {}
    for line in result.stdout.splitlines():
        name, _, text = line.partition("\t")
        if name in names and text:
            errors[name] = text
    return errors
