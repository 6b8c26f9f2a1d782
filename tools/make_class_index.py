"""Writes keras_famous/weights/imagenet_class_index.json: the 1,000 ImageNet-1k classes in training order
(the sorted WordNet ids), as {"0": ["n01440764", "tench"], ...} like Keras' class index file.

Sources, both offline in the test extra: the WordNet ids from timm's `imagenet_synsets.txt` and the
short names from torchvision's ImageNet weights metadata. Run: python tools/make_class_index.py
"""

import json
import os
import sys
from importlib import resources

import timm  # noqa: F401  (import torch and timm before anything that imports TensorFlow)
import torchvision.models

from keras_famous.files import atomic_file

TARGET = os.path.join(os.path.dirname(__file__), "..", "keras_famous", "weights", "imagenet_class_index.json")


def class_index():
    wnids = resources.files("timm").joinpath("data/_info/imagenet_synsets.txt").read_text().split()
    names = torchvision.models.ResNet50_Weights.IMAGENET1K_V1.meta["categories"]
    if len(wnids) != 1000 or len(names) != 1000 or wnids != sorted(wnids):
        raise SystemExit("unexpected class lists: expected 1,000 sorted WordNet ids and 1,000 names")
    return {str(i): [wnid, name] for i, (wnid, name) in enumerate(zip(wnids, names))}


def main():
    entries = [f"{json.dumps(key)}: {json.dumps(value)}" for key, value in class_index().items()]
    text = "{\n" + ",\n".join(entries) + "\n}"
    with atomic_file(TARGET, "w") as handle:
        handle.write(text + "\n")
    print(f"wrote {os.path.normpath(TARGET)}")


if __name__ == "__main__":
    sys.exit(main())
