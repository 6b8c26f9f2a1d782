"""ONNX Runtime for keras_famous' ONNX files, with no TensorFlow: `ONNXModel` (export verifies every ONNX
export with it; `inference.predictor` may choose it; the benchmark times it). Imports only numpy and onnxruntime.
"""

import os

import numpy as np


class ONNXModel:
    """An ONNX file (or its bytes) in an ONNX Runtime CPU session with `num_threads` intra-op threads (None:
    ONNX Runtime's default, one per physical core). Its idle threads do not spin unless `spinning=True`: a
    spinning pool keeps the cores busy for a while after each run, time taken from whatever runs next (the rest
    of the application, or the next engine a benchmark times). Calling it runs float `inputs` `batch_size`
    images per run (None: all in one run)."""

    def __init__(self, model_path_or_bytes, num_threads=None, spinning=False):
        try:
            import onnxruntime
        except ImportError as error:
            raise ImportError("ONNX Runtime is not installed: pip install 'keras-famous[onnx]'.") from error
        options = onnxruntime.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = int(num_threads)
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
        options.log_severity_level = 3  # errors only: no graph-optimization notices on the user's console
        source = bytes(model_path_or_bytes) if isinstance(model_path_or_bytes, (bytes, bytearray)) else None
        source = source if source is not None else os.fspath(model_path_or_bytes)
        self.session = onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.input_shape = self.session.get_inputs()[0].shape

    def _run(self, x):
        return self.session.run(None, {self.input_name: x})[0]

    def __call__(self, inputs, batch_size=None):
        inputs = np.asarray(inputs, dtype="float32")
        if batch_size is None or batch_size >= len(inputs):
            return self._run(inputs)
        return np.concatenate([self._run(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)])
