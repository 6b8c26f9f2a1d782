"""Top-1 / top-5 of a catalog model on an ImageNet-format validation directory.

    python tools/evaluate_imagenet.py --model ResNet50 --data /data/imagenet/val [--variant keras]
        [--weights imagenet] [--preprocess auto] [--batch 32] [--limit N]

DIR holds one sub-directory per class (the WordNet ids: n01440764, ...); the class index is the
sorted order of their names, which is the index order of the ImageNet-1k checkpoints. Each image is
centre-cropped to a square and resized to the model's input size (Keras' table protocol uses a
similar single centre crop), then scaled with the mode the weights were trained with
(`keras_famous.preprocessing`). Prints the counts, top-1 and top-5.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_famous import imagenet_utils, preprocessing, registry  # noqa: E402
from keras_famous.metrics import top_k_accuracy  # noqa: E402


def evaluate(model, data_dir, mode, batch_size=32, limit=None):
    """(images, top-1, top-5) of `model` on the class folders of `data_dir`."""
    size = tuple(model.input_shape[1:3])
    color_mode = "grayscale" if model.input_shape[-1] == 1 else "rgb"
    dataset = keras.utils.image_dataset_from_directory(
        data_dir,
        labels="inferred",
        label_mode="int",
        image_size=size,
        batch_size=batch_size,
        shuffle=False,
        color_mode=color_mode,
        crop_to_aspect_ratio=True,
        verbose=False,
    )
    seen = top1 = top5 = 0
    for images, labels in dataset:
        labels = np.asarray(labels)
        scores = model.predict(preprocessing.scale(np.asarray(images), mode), verbose=0)
        top1 += top_k_accuracy(scores, labels, k=1) * len(labels)
        top5 += top_k_accuracy(scores, labels, k=5) * len(labels)
        seen += len(labels)
        if limit and seen >= limit:
            break
    return seen, top1 / max(seen, 1), top5 / max(seen, 1)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--variant", default=None)
    parser.add_argument("--weights", default="imagenet", help="'imagenet', another manifest dataset, or a file")
    parser.add_argument("--data", required=True, help="directory of class sub-directories")
    parser.add_argument("--preprocess", default="auto", choices=("auto", *preprocessing.MODES))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--limit", type=int, default=None, help="stop after about N images")
    args = parser.parse_args(argv)
    spec = registry.get_spec(args.model)
    variant, _ = spec.variant(args.variant)
    mode = imagenet_utils.preprocessing_mode(spec.name, variant) if args.preprocess == "auto" else args.preprocess
    model = registry.build_variant(spec.name, variant, weights=args.weights)
    seen, top1, top5 = evaluate(model, args.data, mode, args.batch, args.limit)
    print(
        f"{spec.name} ({variant}, weights={args.weights}, preprocess={mode}): {seen} images, "
        f"top-1 {top1:.4f}, top-5 {top5:.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
