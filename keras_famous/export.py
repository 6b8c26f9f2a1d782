"""SavedModel, TFLite, ONNX and .keras export that checks itself.

`export(model, path, format=None | "saved_model" | "tflite" | "onnx" | "keras", quantize=None | "float16" |
"dynamic" | "int8", representative_data=None)` writes the artifact atomically (a temporary sibling, then one
rename; an existing output is kept unless `overwrite=True`, which replaces a file by a file and a SavedModel
folder by a SavedModel folder, never another folder). Without `format` the path's extension names it (.tflite,
.onnx, .keras; a folder name: saved_model), and a `format` the extension contradicts is refused. It then runs
the artifact - the SavedModel through TensorFlow, the TFLite flatbuffer through the LiteRT interpreter
(`ai-edge-litert`), the ONNX model through ONNX Runtime (`pip install keras-famous[onnx]`), the .keras file
reloaded with safe_mode=True - on sample inputs and compares it with the Keras model. It raises if the largest
difference exceeds the format's tolerance (relative to the largest Keras output) or, for quantized formats, if
top-1 agreement drops below its floor:

    format / quantize        max |diff| / max |keras|   top-1 agreement
    saved_model              1e-5                       -
    onnx                     1e-4                       -
    tflite (float32)         1e-4                       -
    tflite float16           2e-2                       -
    tflite dynamic           1e-1                       -
    tflite int8              -                          0.8 (int8 input and output, see below)
    keras                    1e-6                       -

By default (`optimize=True`) the graph exported is `keras_famous.inference.inference_model(model)`:
BatchNormalization folded into the convolutions, dropout and auxiliary classifiers removed; the check
above compares the artifact with the original model, so every export also proves the rewrite.

`quantize="int8"` is full-integer quantization: `representative_data` (an array of typical inputs,
as the model takes them, a few hundred at most) calibrates every tensor's range, and the model's
input and output become int8 with the scale and zero point the interpreter reports
(`real = scale * (q - zero_point)`); `run_tflite` does that conversion for you.
"""

import contextlib
import os
import tempfile
from dataclasses import dataclass
from typing import Optional

import keras
import numpy as np

from . import artifacts
from .arguments import named, setting
from .files import atomic_path, check_writable_target
from .inference import guard
from .inference.rewrite import inference_model
from .litert import TFLiteModel  # noqa: F401  (public here: export.TFLiteModel)
from .metrics import relative_difference, top1_agreement
from .onnx_runtime import ONNXModel

FORMATS = ("saved_model", "tflite", "onnx", "keras")
EXTENSIONS = {".tflite": "tflite", ".onnx": "onnx", ".keras": "keras"}  # a folder, or no extension: saved_model
QUANTIZATIONS = (None, "float16", "dynamic", "int8")
TOLERANCES = {
    ("saved_model", None): 1e-5,
    ("onnx", None): 1e-4,
    ("tflite", None): 1e-4,
    ("tflite", "float16"): 2e-2,
    ("tflite", "dynamic"): 1e-1,
    ("keras", None): 1e-6,
}
INT8_MIN_AGREEMENT = 0.8
SIGNATURE = artifacts.SIGNATURE


@dataclass(frozen=True)
class ExportReport:
    path: str
    format: str
    quantize: Optional[str]
    size_bytes: int
    max_abs_difference: Optional[float]
    relative_difference: Optional[float]
    top1_agreement: Optional[float]
    saved_model: Optional["ExportReport"] = None  # format="tflite" with saved_model_path
    verified_on: Optional[int] = None  # the images compared (for int8: held out of the calibration)


# what Keras cannot export from a backend (keras.export), and why
UNSUPPORTED = {
    ("torch", "saved_model"): "Keras' torch backend cannot trace a model into a SavedModel (ExportArchive.track)",
    ("torch", "tflite"): "Keras' torch backend cannot trace a model into a SavedModel, the TFLite file's source",
    ("jax", "onnx"): "Keras exports ONNX from JAX through the jax2onnx package, which keras_famous does not use",
}


def format_of(path, format=None, *, path_argument="path"):
    """The format to write at `path` (the argument `path_argument`): `format`, else the one its extension names
    (.tflite, .onnx, .keras; a folder or no extension: saved_model). A `format` the extension contradicts is
    refused, naming both."""
    path = os.fspath(path)
    format_name, path_name = named("format"), named(path_argument)
    suffix = os.path.splitext(path.rstrip(os.sep))[1].lower()
    implied = EXTENSIONS.get(suffix) or ("saved_model" if not suffix or os.path.isdir(path) else None)
    if format is None:
        if implied is None:
            raise ValueError(
                f"{path_name} {path!r}: the extension {suffix!r} names no export format. End it in .tflite, .onnx "
                f"or .keras, give a folder name (SavedModel), or pass {format_name}."
            )
        return implied
    if format not in FORMATS:
        raise ValueError(f"{format_name} must be one of {FORMATS}; received {format!r}.")
    if implied is not None and implied != format:
        raise ValueError(
            f"{format_name} {format!r} contradicts {path_name} {path!r}, which names {implied}: "
            f"{'give a folder name (no extension)' if format == 'saved_model' else f'end it in .{format}'}, "
            f"or drop {format_name}."
        )
    return format


def check_arguments(
    path, format=None, quantize=None, representative_data=None, overwrite=False, *, path_argument="path"
):
    """The format `export` writes at `path` (`format_of`), once every check it makes before any work has passed
    (a command line runs them before it builds the model)."""
    format = format_of(path, format, path_argument=path_argument)
    why = UNSUPPORTED.get((keras.config.backend(), format))
    if why:
        raise ValueError(
            f"{setting('format', format)} cannot be exported on the {keras.config.backend()} backend: {why}. Export it from "
            "TensorFlow: model.save_weights('m.weights.h5'), then with KERAS_BACKEND=tensorflow build the same model "
            f"with {setting('weights', 'm.weights.h5')} and export that (the outputs are the same: tests/test_backends.py)."
        )
    if quantize not in QUANTIZATIONS:
        raise ValueError(
            f"{named('quantize')} must be one of {QUANTIZATIONS}; received {setting('quantize', quantize)}."
        )
    if quantize is not None and format != "tflite":
        raise ValueError(
            f"{named('quantize')} applies to {setting('format', 'tflite')} only; received {setting('format', format)}, "
            f"{setting('quantize', quantize)}."
        )
    if quantize == "int8" and representative_data is None:
        raise ValueError(
            f"{setting('quantize', 'int8')} needs {named('representative_data')}: typical inputs to calibrate the int8 "
            "ranges (a .npy file on the command line)."
        )
    if format == "onnx":
        artifacts.require_onnx()
    check_writable_target(path, overwrite, saved_model=format == "saved_model")
    return format


def check_representative_data(model, data, argument="representative_data"):
    """`data` as a float32 array of typical inputs of `model`, shape (N, *model input), N >= 1, finite; else a
    ValueError naming the `argument` it was given as, and the shape expected."""
    name = named(argument)
    expected = tuple(model.input_shape[1:])
    wanted = f"(N, {', '.join(str(d) for d in expected)}) with N >= 1"
    try:
        array = np.asarray(data, dtype="float32")
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be an array of typical model inputs of shape {wanted}; {error}.") from None
    if (
        array.ndim != len(expected) + 1
        or len(array) == 0
        or any(want is not None and got != want for got, want in zip(array.shape[1:], expected))
    ):
        raise ValueError(
            f"{name} must be typical model inputs of shape {wanted} (a batch, as the model takes them); "
            f"received shape {array.shape}."
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} holds NaN or infinite values; calibrate on real inputs.")
    return array


def _single_output(model):
    if len(model.outputs) != 1:
        raise ValueError(
            f"{model.name!r} has {len(model.outputs)} outputs; export a single-output model "
            "(keras_famous.without_auxiliary_heads(model) drops auxiliary classifiers, as optimize=True does)."
        )


def run_tflite(model_path_or_bytes, inputs):
    """Runs a TFLite model with the LiteRT interpreter on float `inputs` (see TFLiteModel)."""
    return TFLiteModel(model_path_or_bytes)(inputs)


def run_onnx(model_path_or_bytes, inputs):
    """Runs an ONNX model with ONNX Runtime on float `inputs` (see onnx_runtime.ONNXModel)."""
    return ONNXModel(model_path_or_bytes)(inputs)


def _run_keras(path, inputs):
    return keras_outputs(keras.saving.load_model(path, safe_mode=True), inputs)


def _run_saved_model(directory, inputs):
    import tensorflow as tf

    loaded = tf.saved_model.load(directory)
    result = loaded.signatures[SIGNATURE](images=tf.constant(inputs))
    return next(iter(result.values())).numpy()


def keras_outputs(model, inputs, batch_size=32):
    """The model's (main) output on `inputs`, computed eagerly in batches: no predict-function tracing."""
    import keras

    batches = []
    for start in range(0, len(inputs), batch_size):
        outputs = model(inputs[start : start + batch_size], training=False)
        outputs = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
        batches.append(keras.ops.convert_to_numpy(keras.ops.cast(outputs, "float32")))
    return np.concatenate(batches)


def _sample_inputs(model, sample_inputs, representative_data):
    if sample_inputs is not None:
        return np.asarray(sample_inputs, dtype="float32")
    if representative_data is not None:
        return np.asarray(representative_data[:8], dtype="float32")
    shape = tuple(d or 224 for d in model.input_shape[1:])
    return np.random.default_rng(0).uniform(-1, 1, (4, *shape)).astype("float32")


def _verify(format, quantize, artifact, inputs, expected):
    """(max |diff|, relative diff, top-1 agreement) of the artifact against the Keras outputs; raises
    beyond the format's tolerance."""
    run = {"saved_model": _run_saved_model, "tflite": run_tflite, "onnx": run_onnx, "keras": _run_keras}[format]
    actual = run(artifact, inputs)
    difference = float(np.max(np.abs(actual - expected)))
    relative = relative_difference(actual, expected)
    agreement = top1_agreement(actual, expected)
    tolerance = TOLERANCES.get((format, quantize))
    if tolerance is not None and relative > tolerance:
        raise ValueError(
            f"The exported {format}{f' ({quantize})' if quantize else ''} differs from the Keras model by "
            f"{difference:.3g} ({relative:.3g} of the output magnitude), over the tolerance {tolerance}."
        )
    if quantize == "int8" and agreement < INT8_MIN_AGREEMENT:
        raise ValueError(
            f"The int8 model agrees with the Keras model's top-1 on {agreement:.0%} of the samples, under "
            f"{INT8_MIN_AGREEMENT:.0%}: calibrate with more representative data or keep float16."
        )
    return difference, relative, agreement


def _size(path):
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)
    return os.path.getsize(path)


def export(
    model,
    path,
    format=None,
    quantize=None,
    representative_data=None,
    verify=True,
    sample_inputs=None,
    overwrite=False,
    optimize=True,
    saved_model_path=None,
    validation_data=None,
):
    """Exports `model` to `path` and (by default) verifies the artifact against it; returns an ExportReport.

    With `optimize=True` the exported graph is `inference.inference_model(model)`: BatchNormalization
    folded into the convolutions, dropout and auxiliary classifiers removed. Verification always
    compares with `model` itself (its main output), so the rewrite is checked with every export.
    With format="tflite", `saved_model_path` also keeps (and verifies) the SavedModel the TFLite file is
    converted from; its report is the returned report's `saved_model`.

    int8 is checked on images it was not calibrated on: `validation_data` (or `sample_inputs`), else the last
    quarter of `representative_data` is held out of the calibration. Blank images, or images on which the
    float32 model's outputs barely vary, are refused: agreement on them says nothing."""
    path = os.path.abspath(os.fspath(path))
    format = check_arguments(path, format, quantize, representative_data, overwrite)
    if saved_model_path is not None:
        if format != "tflite":
            raise ValueError(
                f"{named('saved_model_path')} applies to {setting('format', 'tflite')} (the SavedModel is its source)."
            )
        saved_model_path = os.path.abspath(os.fspath(saved_model_path))
        check_arguments(saved_model_path, "saved_model", overwrite=overwrite, path_argument="saved_model_path")
    if representative_data is not None:
        representative_data = check_representative_data(model, representative_data)
    if sample_inputs is not None:
        sample_inputs = check_representative_data(model, sample_inputs, "sample_inputs")
    if validation_data is not None:
        validation_data = check_representative_data(model, validation_data, "validation_data")
    held_out = held_out_expected = None
    if quantize == "int8":
        guard.check_not_blank(named("representative_data"), representative_data)
        if verify:
            given = validation_data if validation_data is not None else sample_inputs
            validation_argument = "validation_data" if validation_data is not None else "sample_inputs"
            representative_data, held_out = guard.split(
                representative_data, given, model.input_shape, arguments=("representative_data", validation_argument)
            )
            validation_name = (
                named(validation_argument) if given is not None else f"held-out {named('representative_data')}"
            )
            calibration = representative_data[:64]
            guard.check_not_degenerate(named("representative_data"), calibration, keras_outputs(model, calibration))
            held_out_expected = keras_outputs(model, held_out)  # also what the artifact is compared with below
            guard.check_not_degenerate(validation_name, held_out, held_out_expected)
    reference = model
    if optimize and format != "keras":  # a .keras file keeps the model as built, to train on
        model = inference_model(model)
    if format != "keras":
        _single_output(model)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # The outputs replace `path` (and `saved_model_path`) only when everything below succeeded.
    with contextlib.ExitStack() as outputs:
        if format == "saved_model":
            artifact = saved_model_dir = outputs.enter_context(atomic_path(path, directory=True))
            artifacts.write_saved_model(model, saved_model_dir)
        elif format == "onnx":
            artifact = outputs.enter_context(atomic_path(path, suffix=".onnx"))
            artifacts.write_onnx(model, artifact)
        elif format == "keras":
            artifact = outputs.enter_context(atomic_path(path, suffix=".keras"))
            model.save(artifact)
        else:
            artifact = outputs.enter_context(atomic_path(path, suffix=".tflite"))
            if saved_model_path is not None:
                saved_model_dir = outputs.enter_context(atomic_path(saved_model_path, directory=True))
            else:
                scratch = tempfile.TemporaryDirectory(
                    dir=os.path.dirname(path), prefix=f".{os.path.basename(path)}.tmp-"
                )
                saved_model_dir = os.path.join(outputs.enter_context(scratch), "saved_model")
            artifacts.write_saved_model(model, saved_model_dir)
            with open(artifact, "wb") as handle:
                handle.write(artifacts.tflite_bytes(saved_model_dir, quantize, representative_data))
        checks = {format: (None, None, None), "saved_model": (None, None, None)}
        if verify:
            if held_out is not None:
                inputs, expected = held_out, held_out_expected
            else:
                inputs = _sample_inputs(model, sample_inputs, representative_data)
                expected = keras_outputs(reference, inputs)
            checks[format] = _verify(format, quantize, artifact, inputs, expected)
            if saved_model_path is not None:
                checks["saved_model"] = _verify("saved_model", None, saved_model_dir, inputs, expected)
    saved_model_report = None
    if saved_model_path is not None:
        saved_model_report = ExportReport(
            saved_model_path, "saved_model", None, _size(saved_model_path), *checks["saved_model"]
        )
    verified_on = len(inputs) if verify else None
    return ExportReport(
        path, format, quantize, _size(path), *checks[format], saved_model=saved_model_report, verified_on=verified_on
    )
