"""What creating `inference.predictor(model)` costs, cold (nothing cached) and cached (a new process, the same
weights), each in a fresh process: seconds to ready and peak resident memory, of the process itself and of
its conversion child (tf2onnx's memory is spent there and returned when it exits).

    python tools/benchmark_predictor_creation.py ResNet50 --runs 2

The engine cache is a temporary KERAS_FAMOUS_HOME made for the run (removed at the end), so the first run is
cold whatever the user's cache holds. The weights are random but fixed (a seed), the same in every process.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

CREATE = """
import json, resource, sys, time
started = time.perf_counter()
import keras, keras_famous
from keras_famous import inference, registry
from keras_famous.benchmarks import peak_resident_mb
keras.utils.set_random_seed(0)
model = registry.build_variant(sys.argv[1], None)
built = time.perf_counter()
predictor = inference.predictor(model, batch_size=int(sys.argv[2]), verbose=False)
print(json.dumps({"seconds": predictor.seconds, "total_seconds": time.perf_counter() - started,
                  "build_seconds": built - started, "cache": predictor.cache, "engines": predictor.engines,
                  "peak_mb": peak_resident_mb(),
                  "child_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--runs", type=int, default=2, help="processes per model: the first cold, the rest cached")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # importing keras_famous imports TensorFlow
    from keras_famous.machine import cpu_summary

    print(cpu_summary(), flush=True)
    print("| model | run | cache | ready (s) | process total (s) | peak RSS (MB) | conversion child peak (MB) |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models:
        with tempfile.TemporaryDirectory(prefix="keras_famous-creation-") as home:
            environment = dict(os.environ, KERAS_FAMOUS_HOME=home, TF_CPP_MIN_LOG_LEVEL="3")
            for run in range(1, args.runs + 1):
                result = subprocess.run(
                    [sys.executable, "-c", CREATE, name, str(args.batch)],
                    capture_output=True,
                    text=True,
                    env=environment,
                )
                if result.returncode != 0:
                    print(result.stderr[-3000:], file=sys.stderr)
                    return 1
                record = json.loads(result.stdout.strip().splitlines()[-1])
                print(
                    f"| {name} | {run} | {record['cache']} | {record['seconds']:.1f} | {record['total_seconds']:.1f} | "
                    f"{record['peak_mb']:,.0f} | {record['child_peak_mb']:,.0f} |  engines {record['engines']}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
