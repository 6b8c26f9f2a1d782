"""Input scaling per weights source: the mode a checkpoint was trained with.

    caffe   RGB -> BGR, minus the ImageNet mean pixel (VGG, ResNet v1 and ResNeXt of keras.applications)
    torch   / 255, minus the ImageNet mean, divided by its std (torchvision, DenseNet of keras.applications)
    tf      / 127.5 - 1, to [-1, 1] (Inception-v3/v4, Inception-ResNet-v2, Xception, ResNet v2)
    digits  / 255 to LeNet-5's [-0.1, 1.175] range (keras_famous.datasets)

Images come in as RGB (or grayscale) values in [0, 255], channels last. Other channel counts take the
per-channel constants of caffe and torch (`channel_constants`) as a model adapted to them takes its input
kernel (`convert.adapt`): one channel their mean over R, G, B; N channels the RGB constants repeated
(caffe flips each full group of three to BGR). Which mode a model's weights
use is declared by its family (`Variant.preprocessing`); `keras_famous.preprocess_input(images, model)`
looks it up.
"""

import numpy as np

from .spec import PREPROCESSING_MODES as MODES

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype="float32")
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype="float32")
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype="float32")


def channel_constants(mode, channels):
    """(order, mean, std) of the caffe and torch modes for `channels` channels: the scaled image is
    caffe: x[..., order] - mean; torch: (x / 255 - mean) / std."""
    if channels == 1:
        mean = CAFFE_MEAN_BGR.mean(keepdims=True) if mode == "caffe" else IMAGENET_MEAN.mean(keepdims=True)
        return np.arange(1), mean, IMAGENET_STD.mean(keepdims=True)
    index = np.arange(channels)
    in_triples = index < channels - channels % 3
    order = np.where(in_triples, index - index % 3 + 2 - index % 3, index) if mode == "caffe" else index
    mean = (CAFFE_MEAN_BGR if mode == "caffe" else IMAGENET_MEAN)[index % 3]
    return order, mean, IMAGENET_STD[index % 3]


def scale(images, mode):
    """`images` (..., H, W, C) in [0, 255] -> the float32 input of weights trained with `mode`."""
    if mode not in MODES:
        raise ValueError(f"Unknown preprocessing `mode` {mode!r}; choose one of {MODES}.")
    x = np.asarray(images, dtype="float32")
    if mode in ("caffe", "torch"):
        order, mean, std = channel_constants(mode, x.shape[-1])
        return x[..., order] - mean if mode == "caffe" else (x / 255.0 - mean) / std
    if mode == "tf":
        return x / 127.5 - 1.0
    return x / 255.0 * 1.275 - 0.1
