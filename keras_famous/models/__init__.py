"""One module per family; each declares its builders and a `SPECS` tuple for the registry."""

from . import alexnet, densenet, googlenet, inception, lenet, nin, resnet, squeezenet, vgg, xception

FAMILIES = (lenet, alexnet, nin, vgg, googlenet, resnet, inception, xception, densenet, squeezenet)
