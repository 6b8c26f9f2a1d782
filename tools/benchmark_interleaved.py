"""Our default inference path against keras.applications' same network in ONE process, call by call in
turns: the finest comparison of the TensorFlow engines (separate processes, as `keras-famous bench` runs
them, differ by a few percent from run to run on a shared machine).

    python tools/benchmark_interleaved.py ResNet50 --batch 1 --calls 25

Prints the median and fastest latency of: `inference.predictor` (BatchNormalization folded + XLA, our
default), folding alone, XLA alone, and keras.applications' model in a `tf.function`.
"""

import argparse

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--calls", type=int, default=25)
    parser.add_argument("--input-size", type=int, default=None, help="input side (default: the model's)")
    args = parser.parse_args()
    from keras_famous import benchmarks, inference, registry

    spec = registry.get_spec(args.model)
    side = benchmarks.input_side(args.model, args.input_size)
    model = registry.build_variant(args.model, None, input_shape=(side, side, spec.input_shape[2]))
    engines = {
        "keras_famous (fold + XLA)": inference.predictor(model),
        "fold only": inference.predictor(model, jit_compile=False),
        "XLA only": inference.predictor(model, optimize=False),
    }
    if benchmarks.peers(args.model)[0]:  # the bench's own keras.applications engine: tf.function of the peer
        engines["keras.applications tf.function"] = benchmarks.keras_callable("keras.applications", args.model, side)[0]
    images = np.random.default_rng(0).uniform(-1, 1, (args.batch, *model.input_shape[1:])).astype("float32")
    latencies = {name: benchmarks.time_calls(lambda: call(images), 3, 0) for name, call in engines.items()}  # warm-up
    for _ in range(args.calls):
        for name, call in engines.items():
            latencies[name] += benchmarks.time_calls(lambda: call(images), 0, 1)
    base = np.median(latencies["keras_famous (fold + XLA)"])
    for name, values in latencies.items():
        print(
            f"{name:34s} median {np.median(values):9.2f} ms  fastest {np.min(values):9.2f} ms  "
            f"ours faster by {np.median(values) / base:.2f}x"
        )


if __name__ == "__main__":
    main()
