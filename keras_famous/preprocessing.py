"""Input scaling per weights source: the mode a checkpoint was trained with.

    caffe   RGB -> BGR, minus the ImageNet mean pixel (VGG, ResNet v1 and ResNeXt of keras.applications)
    torch   / 255, minus the ImageNet mean, divided by its std (torchvision, DenseNet of keras.applications)
    tf      / 127.5 - 1, to [-1, 1] (Inception-v3/v4, Inception-ResNet-v2, Xception, ResNet v2)
    digits  / 255 to LeNet-5's [-0.1, 1.175] range (keras_famous.datasets)

Images come in as RGB (or grayscale) values in [0, 255], channels last.
"""

import numpy as np

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype="float32")
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype="float32")
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype="float32")
MODES = ("caffe", "torch", "tf", "digits")

# keras.applications' modes by model. torchvision's are "torch", except the two whose checkpoints were
# ported from TensorFlow: their `transform_input=True` turns torch-normalised input back into "tf" scaling,
# which our graphs (without that transform) take directly. timm's Inception-v4 is "tf" too.
TF_PORTED = {("GoogLeNet", "torchvision"), ("InceptionV3", "torchvision"), ("InceptionV4", "timm")}
KERAS_MODES = {
    "VGG16": "caffe", "VGG19": "caffe", "ResNet50": "caffe", "ResNet101": "caffe", "ResNet152": "caffe",
    "ResNeXt50": "caffe", "ResNeXt101": "caffe", "ResNet50V2": "tf", "ResNet101V2": "tf", "ResNet152V2": "tf",
    "InceptionV3": "tf", "InceptionResNetV2": "tf", "Xception": "tf",
    "DenseNet121": "torch", "DenseNet169": "torch", "DenseNet201": "torch",
}  # fmt: skip


def preprocess_input(images, mode):
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


def mode_for(model_name, variant, dataset="imagenet"):
    """The preprocessing mode of the pretrained weights of `model_name`/`variant`."""
    if dataset == "digits":
        return "digits"
    if (model_name, variant) in TF_PORTED:
        return "tf"
    if model_name in KERAS_MODES and variant in ("keras", "plain"):
        return KERAS_MODES[model_name]
    if variant in ("torchvision", "bn", "plain") or model_name in ("AlexNet", "GoogLeNet") or model_name.startswith("SqueezeNet"):
        return "torch"  # VGG11/13 "plain" come from torchvision only
    raise ValueError(f"No pretrained preprocessing is known for {model_name} variant {variant!r}.")
