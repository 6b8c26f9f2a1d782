"""Our default inference path against every float32 engine it could have chosen, in ONE process, call by call
in turns: does `inference.predictor` pick (nearly) the fastest engine on this machine?

    python tools/benchmark_interleaved.py ResNet50 InceptionV3 DenseNet121 --batch 1 32 --calls 15

For each model and batch size it times `inference.predictor(model)` (engine="auto": the engine it measured
fastest when it was created) beside each engine forced (`engine="tensorflow"`, "xla", "litert",
"onnxruntime", "openvino" when installed) and keras.applications' same network in a `tf.function`, and with
`--precision bfloat16 int8` the predictor at those tiers, the engines taking turns call by call, and prints the
medians, the CPU's features, the default's speed over the fastest float32 engine's (the target: at least 0.97)
and each reduced tier's speed over the float32 default's (targets: int8 2x where the CPU has VNNI, bfloat16
1.5x where it has AVX512_BF16 or AMX). PyTorch is timed by `keras-famous bench --engines torch` in its
own process (timm cannot share a process with TensorFlow here).
"""

import argparse

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--batch", type=int, nargs="+", default=[1])
    parser.add_argument("--calls", type=int, default=15, help="timed calls per engine (in turns)")
    parser.add_argument("--input-size", type=int, default=None, help="input side (default: the model's)")
    parser.add_argument(
        "--precision", nargs="+", default=["float32"], choices=("float32", "bfloat16", "int8"),
        help="also time the predictor at these reduced tiers (their speed over the float32 default is printed)",
    )  # fmt: skip
    args = parser.parse_args()
    from keras_famous import benchmarks, inference, registry
    from keras_famous.inference.engines import ENGINE_CLASSES

    print(benchmarks.cpu_summary(), flush=True)
    forced = [
        name for name in ("tensorflow", "xla", "litert", "onnxruntime", "openvino") if ENGINE_CLASSES[name].installed()
    ]
    tiers = [tier for tier in args.precision if tier != "float32"]
    summary = []
    for name in args.models:
        spec = registry.get_spec(name)
        side = benchmarks.input_side(name, args.input_size)
        model = registry.build_variant(name, None, input_shape=(side, side, spec.input_shape[2]))
        for batch in args.batch:
            print(f"{name} batch {batch}: building the engines ...", flush=True)
            engines = {"predictor (auto)": inference.predictor(model, batch_size=batch, verbose=False)}
            engines["predictor (auto)"].label = f"predictor (auto: {engines['predictor (auto)'].engine_for(batch)})"
            for engine in forced:
                engines[engine] = inference.predictor(model, engine=engine, batch_size=batch, verbose=False)
            calibration = np.random.default_rng(1).uniform(-1, 1, (40, *model.input_shape[1:])).astype("float32")
            for tier in tiers:  # random weights: agreement is not asked for (min_agreement=0), speed is measured
                try:
                    engines[f"predictor ({tier})"] = inference.predictor(
                        model,
                        precision=tier,
                        calibration=calibration,
                        min_agreement=0,
                        batch_size=batch,
                        verbose=False,
                    )
                except ValueError as error:
                    print(f"  {tier}: {error}", flush=True)
            if benchmarks.peers(name)[0]:
                engines["keras.applications tf.function"] = benchmarks.keras_callable("keras.applications", name, side)[
                    0
                ]
            images = np.random.default_rng(0).uniform(-1, 1, (batch, *model.input_shape[1:])).astype("float32")
            latencies = {label: benchmarks.time_calls(lambda: call(images), 2, 0) for label, call in engines.items()}
            for _ in range(args.calls):
                for label, call in engines.items():
                    latencies[label] += benchmarks.time_calls(lambda: call(images), 0, 1)
            medians = {label: float(np.median(values)) for label, values in latencies.items()}
            fastest = min(medians[engine] for engine in forced)
            auto = medians["predictor (auto)"]
            for label, value in medians.items():
                shown = getattr(engines[label], "label", label)
                print(f"  {shown:40s} median {value:9.2f} ms  {value / auto:5.2f}x the default's time")
            reduced = {
                tier: auto / medians[f"predictor ({tier})"] for tier in tiers if f"predictor ({tier})" in medians
            }
            summary.append((name, batch, engines["predictor (auto)"].engine_for(batch), fastest / auto, reduced))
            print(f"  default / fastest engine speed: {fastest / auto:.3f}", flush=True)
    columns = "".join(f" {tier} speed / float32 default's |" for tier in tiers)
    print(f"\n| model | batch | chosen engine | default's speed / fastest float32 engine's |{columns}")
    print("|---|---:|---|---:|" + "---:|" * len(tiers))
    for name, batch, chosen, ratio, reduced in summary:
        cells = "".join(f" {reduced[tier]:.2f}x |" if tier in reduced else " - |" for tier in tiers)
        print(f"| {name} | {batch} | {chosen} | {ratio:.3f} |{cells}")


if __name__ == "__main__":
    main()
