"""One module per network family; each declares its builders (`__all__`) and a `SPECS` tuple for the registry.

Adding a model: its family file (builder, stage table, name map, preprocessing, references) and the weights
manifest. Adding a family: its file, and its name in the import below.
"""

from . import (
    alexnet,
    densenet,
    googlenet,
    inception_resnet_v2,
    inception_v3,
    inception_v4,
    lenet,
    nin,
    resnet,
    squeezenet,
    vgg,
    xception,
)
from .alexnet import *  # noqa: F403
from .densenet import *  # noqa: F403
from .googlenet import *  # noqa: F403
from .inception_resnet_v2 import *  # noqa: F403
from .inception_v3 import *  # noqa: F403
from .inception_v4 import *  # noqa: F403
from .lenet import *  # noqa: F403
from .nin import *  # noqa: F403
from .resnet import *  # noqa: F403
from .squeezenet import *  # noqa: F403
from .vgg import *  # noqa: F403
from .xception import *  # noqa: F403

# catalog order: by year, then as the families list their models
FAMILIES = (lenet, alexnet, nin, vgg, googlenet, resnet, inception_v3, inception_v4, inception_resnet_v2, xception,
            densenet, squeezenet)  # fmt: skip
__all__ = [name for family in FAMILIES for name in family.__all__]
