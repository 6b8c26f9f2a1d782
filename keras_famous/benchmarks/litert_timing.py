"""Times a TFLite file under the LiteRT interpreter for `keras_famous.benchmarks`: the worker
`MODEL.tflite BATCH WARMUP REPEATS`, printing one JSON line (latencies in ms, peak resident memory of a
process that holds only the interpreter). It runs in its own process started by
`launch.command`, so no TensorFlow is loaded beside LiteRT.
"""

import json
import os
import sys

import numpy as np

from ..litert import TFLiteModel
from .timing import peak_resident_mb, time_calls


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
