"""keras_famous: the famous convolutional networks as Keras 3 applications."""

from .models.alexnet import AlexNet, ZFNet
from .models.densenet import DenseNet, DenseNet121, DenseNet169, DenseNet201, DenseNetBC
from .models.googlenet import GoogLeNet
from .models.nin import NiN
from .models.inception import InceptionResNetV2, InceptionV3, InceptionV4
from .models.xception import Xception
from .models.lenet import LeNet5
from .models.squeezenet import SqueezeNet1_0, SqueezeNet1_1
from .models.resnet import (
    ResNet18,
    ResNet34,
    ResNet50,
    ResNet50V2,
    ResNet101,
    ResNet101V2,
    ResNet152,
    ResNet152V2,
    ResNeXt50,
    ResNeXt101,
    WideResNet50_2,
    WideResNet101_2,
)
from .models.vgg import VGG11, VGG13, VGG16, VGG19
from .applications import without_auxiliary_heads
from .registry import ModelInfo, get_model, list_models, model_info
from . import datasets, export, inference, precision, preprocessing, transfer  # noqa: E402  (modules: export.export(...), ...)

__version__ = "0.1.0"

__all__ = [
    "LeNet5", "AlexNet", "ZFNet", "VGG11", "VGG13", "VGG16", "VGG19",
    "ResNet18", "ResNet34", "ResNet50", "ResNet101", "ResNet152",
    "ResNet50V2", "ResNet101V2", "ResNet152V2", "ResNeXt50", "ResNeXt101",
    "WideResNet50_2", "WideResNet101_2", "InceptionV3", "InceptionV4", "Xception", "InceptionResNetV2",
    "DenseNet121", "DenseNet169", "DenseNet201", "DenseNetBC", "DenseNet", "SqueezeNet1_0", "SqueezeNet1_1",
    "GoogLeNet", "NiN", "without_auxiliary_heads",
    "get_model", "list_models", "model_info", "ModelInfo", "datasets", "export", "inference", "precision", "preprocessing", "transfer",
]  # fmt: skip
