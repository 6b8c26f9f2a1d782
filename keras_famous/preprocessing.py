"""Input scaling per weights source: the mode a checkpoint was trained with.

    caffe   RGB -> BGR, minus the ImageNet mean pixel (VGG, ResNet v1 and ResNeXt of keras.applications)
    torch   / 255, minus the ImageNet mean, divided by its std (torchvision, DenseNet of keras.applications)
    tf      / 127.5 - 1, to [-1, 1] (Inception-v3/v4, Inception-ResNet-v2, Xception, ResNet v2)
    digits  / 255 to LeNet-5's [-0.1, 1.175] range (keras_famous.datasets)

Images come in as RGB (or grayscale) values in [0, 255], channels last. Which mode a model's weights
use is declared by its family (`Variant.preprocessing`); `keras_famous.preprocess_input(images, model)`
looks it up.
"""

import numpy as np

from .spec import PREPROCESSING_MODES as MODES

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype="float32")
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype="float32")
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype="float32")


def scale(images, mode):
    """`images` (..., H, W, C) in [0, 255] -> the float32 input of weights trained with `mode`."""
    if mode not in MODES:
        raise ValueError(f"Unknown preprocessing `mode` {mode!r}; choose one of {MODES}.")
    x = np.asarray(images, dtype="float32")
    if mode == "caffe":
        return x[..., ::-1] - CAFFE_MEAN_BGR
    if mode == "torch":
        return (x / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    if mode == "tf":
        return x / 127.5 - 1.0
    return x / 255.0 * 1.275 - 0.1
