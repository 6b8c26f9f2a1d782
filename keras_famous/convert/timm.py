"""timm state dicts -> keras_famous models: timm's own layouts, and torchvision's names where timm keeps them."""

from ..models import inception
from . import torchvision


def inception_v4_rules():
    """timm's inception_v4: `features.0..2` the stem convolutions, then one index per module."""
    rules = []
    for index, op in enumerate(inception.V4_STEM):
        rules += [(rf"features\.{index}\.conv", op.name), (rf"features\.{index}\.bn", f"{op.name}_bn")]
    for index, (name, branches) in enumerate(inception.V4_MODULES, start=len(inception.V4_STEM)):
        rules += torchvision.conv_bn_rules(f"features.{index}.", f"{name}_", branches)
    return tuple(rules) + ((r"last_linear", "predictions"),)



def rules_for(model_name, variant):
    """The name map of a registry model whose pretrained source is timm."""
    if model_name == "InceptionV4":
        return inception_v4_rules()
    if model_name == "ResNeXt101" and variant == "torchvision":  # timm's resnext101_32x4d: torchvision's names
        return torchvision.RESNET_RULES
    raise ValueError(f"No timm name map for {model_name!r} variant {variant!r}.")
