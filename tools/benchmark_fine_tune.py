"""Fine-tuning from a folder, measured: (1) training throughput from JPEG files against the same images held in
memory (ResNet18, engines taking turns in one process); (2) peak memory of an epoch over 20,000 small images
against 2,000 (one fresh process each); (3) the demo's task through `keras-famous train`: ResNet18 trained on the
digits 0-4, then a new head for 5-9, head-only against two-phase accuracy.

    python tools/benchmark_fine_tune.py [--sides 64 160] [--images 512] [--rounds 3] [--skip memory demo]

Prints the CPU's features beside the figures; the ratios are what to compare across machines.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np


def cpu_features():
    flags = set()
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name") and model == "unknown CPU":
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    shown = [flag for flag in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile") if flag in flags]
    return f"{model}, {os.cpu_count()} cores, {' '.join(shown) or 'no AVX2'}"


def write_images(directory, count, side, classes=4, fmt="jpg", seed=0):
    """`count` smooth random images (gradients and blobs, JPEG-compressible like photos) in class folders."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    grid = np.linspace(0, 1, side, dtype="float32")
    for index in range(count):
        label = index % classes
        folder = os.path.join(directory, f"class{label}")
        os.makedirs(folder, exist_ok=True)
        a, b, c = rng.uniform(0.5, 4, 3)
        image = np.stack(
            [np.sin(a * grid[:, None] + label) + np.cos(b * grid[None, :]), np.sin(c * grid)[:, None] + grid[None, :],
             np.outer(grid, grid) * a], -1,
        )  # fmt: skip
        image = ((image - image.min()) / (np.ptp(image) + 1e-6) * 255).astype("uint8")
        encoded = tf.io.encode_jpeg(image) if fmt == "jpg" else tf.io.encode_png(image)
        tf.io.write_file(os.path.join(folder, f"{index}.{fmt}"), encoded)


def throughput(sides, count, rounds, batch):
    import keras

    import keras_famous
    from keras_famous import training
    from keras_famous.training import data

    rows = []
    for side in sides:
        with tempfile.TemporaryDirectory() as root:
            write_images(root, count, side=max(side, 96) + 32)  # stored larger than trained: resized as photos are
            folder = training.read_folder(root, test_fraction=0.0)
            paths, labels = folder.train
            decoded = np.stack([data.decode(path, (side, side), 3).numpy() for path in paths])
            model = keras_famous.ResNet18(
                variant="torchvision", input_shape=(side, side, 3), classes=4, include_preprocessing="torch"
            )
            model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", jit_compile=False)
            sources = {
                "files": lambda: data.training_batches(paths, labels, batch, size=(side, side), channels=3, seed=0),
                "memory": lambda: data.array_batches(decoded, labels, batch, seed=0),
            }
            times = {name: [] for name in sources}
            model.fit(sources["memory"](), epochs=1, verbose=0, shuffle=False)  # trace the step once
            for _ in range(rounds):
                for name, make in sources.items():  # turns: files, memory, files, memory, ...
                    dataset = make()
                    start = time.perf_counter()
                    model.fit(dataset, epochs=1, verbose=0, shuffle=False)
                    times[name].append(time.perf_counter() - start)
            per_second = {name: len(paths) / float(np.median(values)) for name, values in times.items()}
            rows.append(
                {"side": side, "images": len(paths), **{f"{k}_images_per_s": round(v, 1) for k, v in per_second.items()},
                 "files_over_memory": round(per_second["files"] / per_second["memory"], 3)}
            )  # fmt: skip
            keras.backend.clear_session()
    return rows


MEMORY_CHILD = r"""
import os, sys, json
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras, keras_famous
from keras_famous import training
from keras_famous.training import data
folder = training.read_folder(sys.argv[1], test_fraction=0.0)
model = keras_famous.LeNet5(variant="modern", input_shape=(32, 32, 3), classes=4)
model.compile("adam", "sparse_categorical_crossentropy")
model.fit(data.training_batches(*folder.train, 64, size=(32, 32), channels=3, seed=0, augment=True), epochs=1, verbose=0, shuffle=False)
# VmHWM, this address space's peak: ru_maxrss survives exec, so a child of a large parent would report the parent's
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({"images": len(folder.train[0]), "peak_rss_mb": round(peak / 1024, 1)}))
"""


def memory(counts):
    rows = []
    for count in counts:
        with tempfile.TemporaryDirectory() as root:
            write_images(root, count, side=40, fmt="png")
            result = subprocess.run([sys.executable, "-c", MEMORY_CHILD, root], capture_output=True, text=True)
            if result.returncode:
                raise RuntimeError(result.stderr[-2000:])
            rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
    rows.append({"peak_ratio": round(rows[-1]["peak_rss_mb"] / rows[0]["peak_rss_mb"], 3)})
    return rows


def demo_task(epochs, head_epochs, fine_tune_epochs):
    import keras

    from keras_famous import datasets

    def folder(root, digits):
        (x_train, y_train), (x_test, y_test) = datasets.digits_32x32(pixels=True)
        for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
            for index in np.flatnonzero(np.isin(y, digits)):
                path = os.path.join(root, split, f"digit{y[index]}")
                os.makedirs(path, exist_ok=True)
                keras.utils.save_img(os.path.join(path, f"{index}.png"), np.repeat(x[index], 3, -1), scale=False)
        return root

    def train(*argv):
        command = [sys.executable, "-m", "keras_famous", "train", "ResNet18", "--variant", "torchvision", *argv]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError(result.stderr[-3000:])
        return result.stdout

    with tempfile.TemporaryDirectory() as root:
        first, second = (
            folder(os.path.join(root, "zero_to_four"), range(5)),
            folder(os.path.join(root, "five"), range(5, 10)),
        )
        base = os.path.join(root, "base.keras")
        common = ["--image-size", "32", "--batch", "32", "--no-augment"]
        train("--dataset", first, "--epochs", str(epochs), "--output", base, *common)
        out = train("--dataset", second, "--weights", base, "--epochs", str(head_epochs), "--fine-tune-epochs",
                    str(fine_tune_epochs), "--output", os.path.join(root, "tuned.keras"), *common)  # fmt: skip
    head = float(out.split("head only: test accuracy ")[1].split(";")[0])
    final = float(out.split("test accuracy ")[-1].split(" ")[0])
    return {"head_only_accuracy": head, "two_phase_accuracy": final, "head_epochs": head_epochs,
            "fine_tune_epochs": fine_tune_epochs, "pretrain_epochs": epochs}  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sides", type=int, nargs="+", default=[64, 160])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--memory-counts", type=int, nargs=2, default=[2000, 20000])
    parser.add_argument("--skip", nargs="*", default=[], choices=("throughput", "memory", "demo"))
    args = parser.parse_args()
    print(f"CPU: {cpu_features()}")
    if "throughput" not in args.skip:
        for row in throughput(args.sides, args.images, args.rounds, args.batch):
            print("throughput", json.dumps(row), flush=True)
    if "memory" not in args.skip:
        for row in memory(args.memory_counts):
            print("memory", json.dumps(row), flush=True)
    if "demo" not in args.skip:
        print("demo", json.dumps(demo_task(epochs=5, head_epochs=3, fine_tune_epochs=3)), flush=True)
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
