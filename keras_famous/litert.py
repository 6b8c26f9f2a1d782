"""The LiteRT interpreter for keras_famous' TFLite files, with no TensorFlow: `TFLiteModel` (also
`export.TFLiteModel`, which verifies every TFLite export with it). Imports only numpy and ai-edge-litert
(timing it is `keras_famous.benchmarks.litert_timing`'s job).
"""

import os
import threading

import numpy as np

from .quiet import quiet


class TFLiteModel:
    """A TFLite file (or flatbuffer bytes) loaded once in the LiteRT interpreter (XNNPACK on CPU, with
    `num_threads` threads; None lets LiteRT choose). Calling it runs float `inputs` `batch_size` images
    per invoke (the input tensor is resized to the batch), quantizing and dequantizing int8 inputs and
    outputs with the model's own scale and zero point. Calls from several threads take turns (one interpreter)."""

    def __init__(self, model_path_or_bytes, num_threads=None):
        from ai_edge_litert.interpreter import Interpreter

        with quiet(native_stderr=True):  # LiteRT's delegate line
            if isinstance(model_path_or_bytes, (bytes, bytearray)):
                self.interpreter = Interpreter(model_content=bytes(model_path_or_bytes), num_threads=num_threads)
            else:
                self.interpreter = Interpreter(model_path=os.fspath(model_path_or_bytes), num_threads=num_threads)
            self.interpreter.allocate_tensors()
        self.source = self.interpreter.get_input_details()[0]
        self.target = self.interpreter.get_output_details()[0]
        self._lock = threading.Lock()

    def _invoke(self, x):
        if tuple(self.source["shape"]) != x.shape:  # another batch (or image) size than the last call's
            self.interpreter.resize_tensor_input(self.source["index"], list(x.shape))
            self.interpreter.allocate_tensors()
            self.source = self.interpreter.get_input_details()[0]
            self.target = self.interpreter.get_output_details()[0]
        source, target = self.source, self.target
        if source["dtype"] == np.int8:
            scale, zero = source["quantization"]
            x = np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)
        self.interpreter.set_tensor(source["index"], x)
        self.interpreter.invoke()
        y = self.interpreter.get_tensor(target["index"])
        if target["dtype"] == np.int8:
            scale, zero = target["quantization"]
            y = scale * (y.astype("float32") - zero)
        return y

    def __call__(self, inputs, batch_size=1):
        inputs = np.asarray(inputs, dtype="float32")
        with self._lock:  # one interpreter: its tensors are shared state ("at least 1 reference to internal data")
            return np.concatenate([self._invoke(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)])
