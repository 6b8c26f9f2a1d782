"""Trains LeNet-5 (the paper's variant) on scikit-learn's handwritten digits and ships the weights.

    python tools/train_lenet_digits.py [--epochs 60]

Writes keras_famous/weights/lenet5_digits.h5 (by-name layout, atomically), records its file hash in
keras_famous/weights/manifest.json and prints its accuracy on the fixed test split: copy that into the
digits Reference in keras_famous/models/lenet.py (accuracy is the family's data). tests/test_weights.py
checks that the shipped file still scores what lenet.py says.
"""

import argparse
import hashlib
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

import keras_famous  # noqa: E402
from keras_famous import datasets  # noqa: E402
from keras_famous.convert import keras_h5  # noqa: E402
from keras_famous.files import atomic_file  # noqa: E402
from keras_famous.metrics import top_k_accuracy  # noqa: E402

WEIGHTS_DIR = os.path.join(os.path.dirname(keras_famous.__file__), "weights")
FILE_NAME = "lenet5_digits.h5"


def evaluate(model, x, y):
    scores = model.predict(x, verbose=0)
    return top_k_accuracy(scores, y, k=1), top_k_accuracy(scores, y, k=5)


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=60)
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = datasets.digits_32x32()
    model = keras_famous.LeNet5()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=args.epochs, verbose=2)
    top1, top5 = evaluate(model, x_test, y_test)
    print(f"test top-1 {top1:.4f}, top-5 {top5:.4f} on {len(y_test)} images")

    target = os.path.join(WEIGHTS_DIR, FILE_NAME)
    keras_h5.write_legacy_h5(target, {layer.name: layer.get_weights() for layer in model.layers if layer.weights})
    with open(target, "rb") as handle:
        sha256 = hashlib.sha256(handle.read()).hexdigest()
    manifest_path = os.path.join(WEIGHTS_DIR, "manifest.json")
    with open(manifest_path) as handle:
        manifest = json.load(handle)
    entry = {
        "model": "LeNet5",
        "variant": "original",
        "dataset": "digits",
        "source": "keras_famous",
        "source_model": "LeNet5 trained by tools/train_lenet_digits.py",
        "format": "keras_h5",
        "converter": "keras_h5",
        "files": {"top": {"url": f"package:{FILE_NAME}", "hash": {"sha256": sha256}}},
    }
    manifest["entries"] = [e for e in manifest["entries"] if e.get("dataset", "imagenet") != "digits"] + [entry]
    with atomic_file(manifest_path, "w") as handle:
        json.dump(manifest, handle, indent=1)
        handle.write("\n")
    print(
        f"wrote {target} and its manifest entry; in keras_famous/models/lenet.py's digits Reference set "
        f"top1={round(top1, 6)}, top5={round(top5, 6)}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
