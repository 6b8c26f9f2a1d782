"""TFLite deployment: export a model to float32, float16 and int8 TFLite, verified with LiteRT.

    python examples/deploy_tflite.py [--model LeNet5 --weights digits] [--output-dir tflite]

The model is built with `include_preprocessing=True`, so each file takes raw pixels in [0, 255] (grayscale
for LeNet-5, RGB otherwise) and scales them itself as the weights expect: the app needs no preprocessing code.
Each export folds BatchNormalization into the convolutions, writes atomically, then runs the file in
the LiteRT interpreter against the Keras model and fails beyond its tolerance. int8 is calibrated on
representative inputs, raw pixels too (here the digits' training split, for LeNet-5; pass --representative
X.npy for another model) and takes and returns int8 tensors (`export.TFLiteModel` converts for you).
"""

import argparse
import os
import time

import numpy as np

from keras_famous import datasets, export, registry


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="LeNet5")
    parser.add_argument("--weights", default="digits")
    parser.add_argument(
        "--representative", default=None, help=".npy of typical images, pixels in [0, 255] (default: the digits)"
    )
    parser.add_argument("--output-dir", default="tflite")
    args = parser.parse_args()

    model = registry.get_model(args.model, weights=args.weights, include_preprocessing=True)
    if args.representative:
        representative = np.load(args.representative)
    else:
        (digits, _), _ = datasets.digits_32x32()  # scaled for LeNet-5: back to the pixels of a scan
        representative = np.clip((digits + 0.1) / 1.275 * 255.0, 0.0, 255.0)
    os.makedirs(args.output_dir, exist_ok=True)
    for quantize in (None, "float16", "int8"):
        path = os.path.join(args.output_dir, f"{args.model.lower()}_{quantize or 'float32'}.tflite")
        report = export.export(
            model, path, format="tflite", quantize=quantize, representative_data=representative[:200], overwrite=True
        )
        runner = export.TFLiteModel(path)
        runner(representative[:1])
        start = time.perf_counter()
        runner(representative[:100])
        latency = (time.perf_counter() - start) * 10  # ms per image, batch 1
        print(
            f"{path}: {report.size_bytes / 1e6:.2f} MB, max |diff| vs Keras {report.max_abs_difference:.2g}, "
            f"top-1 agreement {report.top1_agreement:.0%}, {latency:.2f} ms/image"
        )


if __name__ == "__main__":
    main()
