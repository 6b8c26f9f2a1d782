"""What each inference engine runs, made from a Keras model on the TensorFlow backend: a SavedModel
directory, a TFLite flatbuffer and an ONNX model, each with one float32 input "images" of any batch size.
`export` writes them and verifies them; `inference.predictor` makes them in memory and times them.

ONNX goes through Keras' own `model.export(format="onnx")` (tf2onnx). Keras runs a grouped Conv2D inside an
XLA-compiled tf.function on the TensorFlow backend (TensorFlow's CPU kernel has no grouped convolution,
keras-team/keras#18180), and tf2onnx cannot convert that call (onnx/tensorflow-onnx#2099): the ONNX file
then holds a `StatefulPartitionedCall` node ONNX Runtime refuses. `write_onnx` traces grouped convolutions
as one plain TensorFlow convolution instead, which tf2onnx turns into an ONNX `Conv` with its `group`.
"""

import contextlib
import os
import tempfile
import types
import warnings

import numpy as np

from .quiet import quiet

SIGNATURE = "serving_default"
INPUT_NAME = "images"


def _images_spec(model):
    import tensorflow as tf

    return tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name=INPUT_NAME)


def write_saved_model(model, directory):
    """`model`'s inference call as a SavedModel in `directory` (which must not exist), signature SIGNATURE."""
    import keras
    from keras.export import ExportArchive

    archive = ExportArchive()
    if keras.config.backend() != "tensorflow":
        # JAX's archive takes its variables from `track`; on TensorFlow `add_endpoint` collects the variables
        # the call uses, and `track` would only add a walk over the model's object graph looking for lookup
        # tables (none here): half the write time, and a SavedModel TFLite converts faster (DenseNet121
        # 6.7 -> 3.2 s to write, 7.2 -> 4.2 s to convert)
        archive.track(model)
    archive.add_endpoint(SIGNATURE, lambda images: model(images, training=False), input_signature=[_images_spec(model)])
    archive.write_out(directory, verbose=False)


def tflite_bytes(saved_model_dir, quantize=None, representative_data=None):
    """The TFLite flatbuffer of a SavedModel written by `write_saved_model`: float32, or quantized "float16",
    "dynamic" (int8 weights) or "int8" (full integer, calibrated on `representative_data`, int8 input and output)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=[SIGNATURE])
    if quantize is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantize == "int8":
        samples = np.asarray(representative_data, dtype="float32")

        def calibration():
            for sample in samples:
                yield [sample[None]]

        converter.representative_dataset = calibration
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    with quiet(native_stderr=True):  # the converter's "fully_quantize: 0, ..."
        return converter.convert()


def tflite_bytes_of(model, quantize=None, representative_data=None):
    """`model`'s TFLite flatbuffer (float32, or quantized as `tflite_bytes` does), made in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="keras_famous-tflite-") as directory:
        saved_model = os.path.join(directory, "saved_model")
        write_saved_model(model, saved_model)
        return tflite_bytes(saved_model, quantize, representative_data)


def onnx_available():
    """Whether ONNX export (tf2onnx, onnx) and ONNX Runtime are installed: `pip install keras-famous[onnx]`."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("tf2onnx", "onnx", "onnxruntime"))


def require_onnx():
    if not onnx_available():
        raise ImportError(
            "ONNX export and ONNX Runtime need tf2onnx, onnx and onnxruntime: pip install 'keras-famous[onnx]'."
        )


def _plain_grouped_convolution(layer, inputs, kernel):
    import tensorflow as tf

    return tf.nn.convolution(
        inputs, kernel, strides=list(layer.strides), padding=layer.padding.upper(), dilations=list(layer.dilation_rate)
    )


@contextlib.contextmanager
def _grouped_convolutions_traced_plain(model):
    """Within the block, `model`'s grouped Conv2D layers (nested models' too) trace as one tf.nn.convolution
    (TensorFlow backend: tf2onnx's problem; torch's own ONNX exporter converts grouped convolutions)."""
    import keras

    if keras.config.backend() != "tensorflow":
        yield
        return
    grouped = [
        layer
        for layer in _all_layers(model)
        if isinstance(layer, keras.layers.Conv2D) and getattr(layer, "groups", 1) > 1
    ]
    for layer in grouped:
        layer.convolution_op = types.MethodType(_plain_grouped_convolution, layer)
    try:
        yield
    finally:
        for layer in grouped:
            del layer.convolution_op


def _all_layers(model):
    import keras

    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


# tf2onnx's peak memory, measured (models at small inputs, 2026-11-30): 47x the float32 weights for ResNet18,
# 70-80x for Inception-v3, Xception and Inception-v4 (11.5 GB for Inception-v4's 164 MB).
ONNX_CONVERSION_MEMORY_PER_WEIGHT_BYTE = 80


def onnx_conversion_memory(model):
    """The memory tf2onnx may need to convert `model`, in bytes (an estimate from its weights)."""
    return ONNX_CONVERSION_MEMORY_PER_WEIGHT_BYTE * 4 * model.count_params()


def write_onnx(model, path, opset=None):
    """`model`'s inference call as an ONNX file at `path` (input "images", any batch size), through tf2onnx
    (whose peak memory is some 50-80 times the model's float32 weights: see onnx_conversion_memory)."""
    require_onnx()
    with _grouped_convolutions_traced_plain(model), quiet("tf2onnx"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf2onnx's numpy 2 deprecation notices (Keras patches np.object in)
        model.export(
            os.fspath(path), format="onnx", verbose=False, input_signature=[_images_spec(model)], opset_version=opset
        )


def onnx_bytes(model):
    """`model`'s ONNX model (see write_onnx), made in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="keras_famous-onnx-") as directory:
        path = os.path.join(directory, "model.onnx")
        write_onnx(model, path)
        with open(path, "rb") as handle:
            return handle.read()
