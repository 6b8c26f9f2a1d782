"""The LiteRT interpreter for keras_famous' TFLite files, with no TensorFlow: `TFLiteModel` (also
`export.TFLiteModel`), and, run as a script by `keras_famous.benchmark`, a timing worker
`python litert.py MODEL.tflite BATCH WARMUP REPEATS` printing one JSON line (latencies in ms, peak
resident memory of a process that holds only the interpreter), and the timing loop every benchmark
worker shares (`time_calls`). Imports only numpy and ai-edge-litert.
"""

import json
import os
import resource
import sys
import time

import numpy as np


def peak_resident_mb():
    """This process's peak resident memory in MB: Linux's VmHWM, which starts afresh at exec (unlike
    `ru_maxrss`, which keeps the resident size of the process that spawned this one); `ru_maxrss`
    elsewhere."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_calls(call, warmup, repeats):
    """Milliseconds of each of `repeats` calls of `call()`, after `warmup` untimed calls."""
    latencies = []
    for step in range(warmup + repeats):
        start = time.perf_counter()
        call()
        if step >= warmup:
            latencies.append(1000 * (time.perf_counter() - start))
    return latencies


class TFLiteModel:
    """A TFLite file (or flatbuffer bytes) loaded once in the LiteRT interpreter (XNNPACK on CPU, with
    `num_threads` threads; None lets LiteRT choose). Calling it runs float `inputs` `batch_size` images
    per invoke (the input tensor is resized to the batch), quantizing and dequantizing int8 inputs and
    outputs with the model's own scale and zero point."""

    def __init__(self, model_path_or_bytes, num_threads=None):
        from ai_edge_litert.interpreter import Interpreter

        if isinstance(model_path_or_bytes, (bytes, bytearray)):
            self.interpreter = Interpreter(model_content=bytes(model_path_or_bytes), num_threads=num_threads)
        else:
            self.interpreter = Interpreter(model_path=os.fspath(model_path_or_bytes), num_threads=num_threads)
        self.interpreter.allocate_tensors()
        self.source = self.interpreter.get_input_details()[0]
        self.target = self.interpreter.get_output_details()[0]

    def _invoke(self, x):
        if self.source["shape"][0] != len(x):
            self.interpreter.resize_tensor_input(self.source["index"], [len(x), *x.shape[1:]])
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
        return np.concatenate([self._invoke(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)])


def main(argv):
    path = argv[0]
    batch, warmup, repeats = (int(value) for value in argv[1:4])
    runner = TFLiteModel(path, num_threads=os.cpu_count())
    shape = runner.source["shape"][1:]
    images = np.random.default_rng(0).uniform(-1, 1, (batch, *shape)).astype("float32")
    latencies = time_calls(lambda: runner(images, batch_size=batch), warmup, repeats)
    print(json.dumps({"latencies_ms": latencies, "peak_mem_mb": peak_resident_mb()}))


if __name__ == "__main__":
    main(sys.argv[1:])
