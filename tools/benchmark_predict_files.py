"""`keras-famous predict` over a folder of JPEGs against the same predictor on the same images held in memory:
does reading and decoding files (in threads, beside the engine) keep up with the engine?

    python tools/benchmark_predict_files.py --model ResNet50 --images 512 --rounds 2

It writes `--images` random JPEGs of camera-like sizes (some 500 x 375) into a temporary folder, decodes them once
into memory (the model's input), builds one predictor, and then times, taking turns `--rounds` times, (a)
`inference.predict_files` over the folder (a fresh CSV each time) and (b) the predictor called batch by batch on
the in-memory images; it prints the CPU and both throughputs and their ratio (the target: at least 0.8).
Random weights: speed does not depend on them.
"""

import argparse
import os
import tempfile
import time

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="ResNet50")
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    from keras_famous import inference, machine
    from keras_famous.inference import batches, sources

    print(machine.cpu_summary(), flush=True)
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    with tempfile.TemporaryDirectory(prefix="keras_famous-predict-bench-") as folder:
        for index in range(args.images):
            height, width = (375, 500) if index % 2 else (500, 375)
            smooth = tf.image.resize(rng.uniform(0, 255, (height // 8, width // 8, 3)), (height, width))
            pixels = tf.cast(tf.clip_by_value(smooth + rng.normal(0, 8, (height, width, 3)), 0, 255), tf.uint8)
            tf.io.write_file(os.path.join(folder, f"photo{index:05d}.jpg"), tf.io.encode_jpeg(pixels, quality=90))
        source = sources.resolve(args.model, weights=None)
        paths = sources.list_inputs([folder])
        decode = batches.Decoder(source)
        images = np.stack([decode(path)[0] for path in paths])
        predict = inference.predictor(source.model, batch_size=args.batch, verbose=False)
        print(f"{args.model}: predictor on {predict.engines}; {len(paths)} JPEGs", flush=True)
        files, memory = [], []
        for round_index in range(args.rounds):
            output = os.path.join(folder, f"out{round_index}.csv")
            start = time.perf_counter()
            inference.predict_files(source.model, [folder], output, batch_size=args.batch, verbose=False)
            files.append(len(paths) / (time.perf_counter() - start))
            start = time.perf_counter()
            for offset in range(0, len(images), args.batch):
                predict(images[offset : offset + args.batch])
            memory.append(len(images) / (time.perf_counter() - start))
            print(
                f"  round {round_index + 1}: files {files[-1]:.1f} images/s, memory {memory[-1]:.1f} images/s",
                flush=True,
            )
    ratio = np.median(files) / np.median(memory)
    print(
        f"predict_files over JPEGs / the predictor on images in memory: {ratio:.3f} (medians of {args.rounds} rounds)"
    )


if __name__ == "__main__":
    main()
