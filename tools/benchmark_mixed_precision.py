"""Training throughput of a catalog model in float32 vs mixed precision, side by side in one run.

    python tools/benchmark_mixed_precision.py [--model ResNet50] [--batch 64] [--steps 50] [--json out.json]

Run it on a CUDA GPU (mixed_float16, with loss scaling) or a TPU/recent CPU with bfloat16 support
(mixed_bfloat16): it trains the model on random images for `--warmup` + `--steps` steps per policy and
prints images/s and the speed-up over float32. On a machine without an accelerator it stops, unless
`--allow-cpu` is given (a CPU run shows the tool works; the numbers say nothing about a GPU's).
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_famous import precision, registry  # noqa: E402
from keras_famous.files import atomic_file  # noqa: E402


def throughput(model_name, policy, batch, steps, warmup, input_size, classes=1000):
    """Images per second of `train_on_batch` under `policy`, after `warmup` steps."""
    keras.backend.clear_session()
    keras.config.set_dtype_policy(policy)
    try:
        spec = registry.get_spec(model_name)
        shape = (input_size, input_size, spec.input_shape[2]) if input_size else spec.input_shape
        model = registry.get_model(spec.name, input_shape=shape, classes=classes)
        model.compile(keras.optimizers.SGD(0.01, momentum=0.9), loss="sparse_categorical_crossentropy")
        rng = np.random.default_rng(0)
        images = rng.uniform(-1, 1, (batch, *shape)).astype("float32")
        labels = rng.integers(0, classes, batch)
        for _ in range(warmup):
            model.train_on_batch(images, labels)
        start = time.perf_counter()
        for _ in range(steps):
            loss = model.train_on_batch(images, labels)
        seconds = time.perf_counter() - start
    finally:
        keras.config.set_dtype_policy("float32")
    return dict(
        policy=policy, images_per_s=batch * steps / seconds, step_ms=1e3 * seconds / steps, final_loss=float(loss)
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ResNet50")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--input-size", type=int, default=None, help="default: the model's own (224 for ResNet50)")
    parser.add_argument(
        "--policy", default="auto", help="the mixed policy to compare: auto, mixed_float16, mixed_bfloat16"
    )
    parser.add_argument("--allow-cpu", action="store_true", help="run without an accelerator (a smoke test)")
    parser.add_argument("--json", default=None, help="also write the records here")
    args = parser.parse_args(argv)

    mixed = precision.choose_policy(args.policy)
    if mixed == "float32":
        if not args.allow_cpu:
            print(
                "No GPU or TPU here: 'auto' means float32, so there is nothing to compare. Run this on a GPU, "
                "or pass --policy mixed_bfloat16 --allow-cpu for a CPU run.",
                file=sys.stderr,
            )
            return 2
        mixed = "mixed_bfloat16"
    devices = sorted({device.device_type for device in tf.config.list_logical_devices()})
    if devices == ["CPU"] and not args.allow_cpu:
        print("No accelerator here; pass --allow-cpu to run on the CPU anyway.", file=sys.stderr)
        return 2
    records = [
        throughput(args.model, policy, args.batch, args.steps, args.warmup, args.input_size)
        for policy in ("float32", mixed)
    ]
    base = records[0]["images_per_s"]
    for record in records:
        record.update(
            model=args.model, batch=args.batch, devices=devices, speedup_vs_float32=record["images_per_s"] / base
        )
    print(f"{args.model}, batch {args.batch}, on {', '.join(devices)}:")
    for record in records:
        print(
            f"  {record['policy']:15s} {record['images_per_s']:9.1f} images/s  {record['step_ms']:8.1f} ms/step  "
            f"x{record['speedup_vs_float32']:.2f} vs float32"
        )
    if args.json:
        with atomic_file(args.json, "w") as handle:
            json.dump(records, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
