"""One module per family; each declares its builders and a `SPECS` tuple for the registry."""

from . import alexnet, lenet, resnet, vgg

FAMILIES = (lenet, alexnet, vgg, resnet)
