"""keras_famous: the famous convolutional networks as Keras 3 applications."""

from . import models
from .models import *  # noqa: F403  (every family's builders: ResNet50, VGG16, ...)
from . import layers
from .applications import without_auxiliary_heads
from .registry import ModelInfo, get_model, list_models, model_info
from .imagenet_utils import decode_predictions, preprocess_input
from . import datasets, export, inference, precision, preprocessing, training, transfer

__version__ = "0.1.0"

__all__ = [
    *models.__all__,
    "without_auxiliary_heads",
    "get_model",
    "list_models",
    "model_info",
    "ModelInfo",
    "preprocess_input",
    "decode_predictions",
    "layers",
    "datasets",
    "export",
    "inference",
    "precision",
    "training",
    "preprocessing",
    "transfer",
]
