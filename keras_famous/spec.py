"""The records a family declares beside its builders: plain data, no keras_famous imports.

A family module owns everything about its variants - the stage table, the input contract, the PyTorch
name map, the preprocessing mode of its weights, the classifier layers, the references and their
published accuracy - and declares it with `declare`. `registry`, `weights`, `convert` and the rest
read these records; none of them knows a family by name.
"""

from dataclasses import dataclass, field
from typing import Callable, FrozenSet, Mapping, Optional, Tuple

from .arguments import named

PREPROCESSING_MODES = ("caffe", "torch", "tf", "digits")


@dataclass(frozen=True)
class InputContract:
    """What a network accepts: its default input shape, the smallest side it can process, and
    whether its top flattens a fixed-size feature map (so pre-trained tops need the default size)."""

    default_shape: Tuple[int, int, int]
    min_size: int
    flatten_top: bool = False


@dataclass(frozen=True)
class Reference:
    """An independent implementation (or the paper) that a variant must match.

    `library` is "keras.applications", "keras-applications", "torchvision", "timm", "caffe" (a Caffe model zoo
    release) or "paper";
    `model` is the name there (e.g. "ResNet50", "resnext50_32x4d"). `params` is the total count the
    source reports (weights plus BatchNormalization statistics, as Keras counts), `trainable_params`
    the count of PyTorch's `parameters()` (what torchvision and timm report). `top1`/`top5` are the
    source's published ImageNet accuracy of its weights, stored here only.
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
    """One way of drawing a network.

    `kwargs`: the builder arguments that select it. `preprocessing`: the input scaling its weights were
    trained with (one of PREPROCESSING_MODES; None when no weights exist for it). `torch_names`: the
    PyTorch name map of its layout, ((regular expression on the module path, Keras layer template), ...)
    - a template field `{name+1}` adds 1 to the captured integer. `caffe_names`: the same for the layer names of the
    Caffe model zoo release of this variant (a `.caffemodel`), ((regular expression on the Caffe layer name, Keras
    layer template), ...).
    """

    kwargs: Mapping[str, object] = field(default_factory=dict)
    references: Tuple[Reference, ...] = ()
    note: str = ""
    preprocessing: Optional[str] = None
    torch_names: Tuple[Tuple[str, str], ...] = ()
    caffe_names: Tuple[Tuple[str, str], ...] = ()

    def __post_init__(self):
        if self.preprocessing is not None and self.preprocessing not in PREPROCESSING_MODES:
            raise ValueError(f"Unknown preprocessing mode {self.preprocessing!r}; one of {PREPROCESSING_MODES}.")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    builder: Callable
    family: str
    paper: str
    year: int
    contract: InputContract
    variants: Mapping[str, Variant]
    head_layers: FrozenSet[str] = frozenset()  # classifier and auxiliary-head layers a headless build lacks

    @property
    def input_shape(self):
        return self.contract.default_shape

    @property
    def default_variant(self):
        return next(iter(self.variants))

    def variant(self, variant=None):
        """(name, Variant) of `variant` (the default when None); ValueError naming the choices."""
        key = self.default_variant if variant is None else variant
        if not isinstance(key, str) or key not in self.variants:
            raise ValueError(
                f"Unknown {named('variant')} {variant!r} for {self.name}; choose one of {tuple(self.variants)}."
            )
        return key, self.variants[key]


def declare(name, builder, *, family, paper, year, contract, variants, head_layers=()):
    """The one way a family declares a model. The first variant is the default; the input shape is the
    contract's default shape."""
    if not variants:
        raise ValueError(f"{name} declares no variant.")
    return ModelSpec(
        name=name,
        builder=builder,
        family=family,
        paper=paper,
        year=year,
        contract=contract,
        variants=dict(variants),
        head_layers=frozenset(head_layers),
    )
