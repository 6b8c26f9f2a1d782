"""keras_famous: the famous convolutional networks as Keras 3 applications.

Names load when first used (PEP 562): `import keras_famous` imports neither Keras nor TensorFlow, so the command
line starts at once and the PyTorch and LiteRT benchmark workers run without them; `keras_famous.ResNet50` (any
builder, capitalized as the families name them) imports the models.
"""

import importlib

__version__ = "0.1.0"

_MODULES = ("models", "layers", "datasets", "export", "inference", "precision", "preprocessing", "training", "transfer")
_FUNCTIONS = {
    "without_auxiliary_heads": "applications",
    "get_model": "registry",
    "list_models": "registry",
    "model_info": "registry",
    "ModelInfo": "registry",
    "preprocess_input": "imagenet_utils",
    "decode_predictions": "imagenet_utils",
}


def _builders():
    return importlib.import_module(".models", __name__).__all__


def __getattr__(name):
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _FUNCTIONS:
        value = getattr(importlib.import_module(f".{_FUNCTIONS[name]}", __name__), name)
    elif name == "__all__":
        value = [*_builders(), *_FUNCTIONS, *_MODULES]
    elif name[:1].isupper() and name in _builders():  # the builders are capitalized: other names never load Keras
        value = getattr(importlib.import_module(".models", __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *__getattr__("__all__")})
