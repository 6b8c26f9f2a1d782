"""Registry records: plain data that each family module declares beside its builders.

They live in their own dependency-free module so that `models/*` can declare them and `registry`
can collect them without an import cycle (registry -> models -> blocks -> layers).
"""

from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional, Tuple


@dataclass(frozen=True)
class Reference:
    """An independent implementation (or the paper) that a variant must match.

    `library` is "keras.applications", "keras-applications", "torchvision", "timm" or "paper";
    `model` is the name there (e.g. "ResNet50", "resnext50_32x4d"). `params` is the total count the
    source reports (weights plus BatchNormalization statistics, as Keras counts), `trainable_params`
    the count of PyTorch's `parameters()` (what torchvision and timm report).
    """

    library: str
    model: str
    params: Optional[int] = None
    trainable_params: Optional[int] = None
    top1: Optional[float] = None
    top5: Optional[float] = None
    accuracy_source: Optional[str] = None


@dataclass(frozen=True)
class Variant:
    """One way of drawing a network: the builder keyword arguments and the references it matches."""

    kwargs: Mapping[str, object] = field(default_factory=dict)
    references: Tuple[Reference, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Callable
    family: str
    paper: str
    year: int
    input_shape: Tuple[int, int, int]
    variants: Mapping[str, Variant]
    default_variant: str

    def variant(self, variant=None):
        key = self.default_variant if variant is None else variant
        if key not in self.variants:
            raise ValueError(
                f"Unknown `variant` {variant!r} for {self.name}; choose one of {sorted(self.variants)}."
            )
        return key, self.variants[key]
