"""Times an ONNX file under ONNX Runtime for `keras_famous.benchmarks`: the worker `MODEL.onnx BATCH WARMUP
REPEATS`, printing one JSON line (latencies in ms, peak resident memory of a process that holds only ONNX
Runtime). It runs in its own process started by `launch.command`. The session's idle
threads do not spin (`ONNXModel`'s default), so they take no time from what runs after it.
"""

import json
import sys

import numpy as np

from ..onnx_runtime import ONNXModel
from .timing import peak_resident_mb, time_calls, usable_cores


def main(argv):
    path = argv[0]
    batch, warmup, repeats = (int(value) for value in argv[1:4])
    runner = ONNXModel(path, num_threads=usable_cores())
    shape = [int(side) for side in runner.input_shape[1:]]
    images = np.random.default_rng(0).uniform(-1, 1, (batch, *shape)).astype("float32")
    latencies = time_calls(lambda: runner(images), warmup, repeats)
    print(json.dumps({"latencies_ms": latencies, "peak_mem_mb": peak_resident_mb()}))


if __name__ == "__main__":
    main(sys.argv[1:])
