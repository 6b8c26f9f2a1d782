"""torchvision state dicts -> keras_famous models (timm's reuse these maps where its names are torchvision's).

Name maps are data: (regular expression on the PyTorch module path, Keras layer name template).
A template field `{name+1}` adds 1 to the captured integer (PyTorch counts from 0, Keras' names
from 1 and the ResNet stages from conv2).
"""

import re

import numpy as np

from ..models import inception, squeezenet, vgg
from . import layout
from .assign import assign

RESNET_RULES = (
    (r"conv1", "conv1_conv"),
    (r"bn1", "conv1_bn"),
    (r"layer(?P<stage>\d+)\.(?P<block>\d+)\.conv(?P<k>\d)", "conv{stage+1}_block{block+1}_{k}_conv"),
    (r"layer(?P<stage>\d+)\.(?P<block>\d+)\.bn(?P<k>\d)", "conv{stage+1}_block{block+1}_{k}_bn"),
    (r"layer(?P<stage>\d+)\.(?P<block>\d+)\.downsample\.0", "conv{stage+1}_block{block+1}_0_conv"),
    (r"layer(?P<stage>\d+)\.(?P<block>\d+)\.downsample\.1", "conv{stage+1}_block{block+1}_0_bn"),
    (r"fc", "predictions"),
)

ALEXNET_RULES = (
    (r"features\.0", "conv1"),
    (r"features\.3", "conv2"),
    (r"features\.6", "conv3"),
    (r"features\.8", "conv4"),
    (r"features\.10", "conv5"),
    (r"classifier\.1", "fc6"),
    (r"classifier\.4", "fc7"),
    (r"classifier\.6", "predictions"),
)

# The released DenseNet files (densenet121-a639ec97.pth, ...) spell a dense layer's modules "norm.1", "conv.1",
# "norm.2", "conv.2"; torchvision rewrites them to "norm1" ... on load (`_load_state_dict`, densenet.py).
DENSENET_RULES = (
    (r"features\.conv0", "conv1_conv"),
    (r"features\.norm0", "conv1_bn"),
    (r"features\.denseblock(?P<block>\d+)\.denselayer(?P<layer>\d+)\.norm\.?1", "conv{block+1}_block{layer}_0_bn"),
    (r"features\.denseblock(?P<block>\d+)\.denselayer(?P<layer>\d+)\.conv\.?1", "conv{block+1}_block{layer}_1_conv"),
    (r"features\.denseblock(?P<block>\d+)\.denselayer(?P<layer>\d+)\.norm\.?2", "conv{block+1}_block{layer}_1_bn"),
    (r"features\.denseblock(?P<block>\d+)\.denselayer(?P<layer>\d+)\.conv\.?2", "conv{block+1}_block{layer}_2_conv"),
    (r"features\.transition(?P<index>\d+)\.norm", "pool{index+1}_bn"),
    (r"features\.transition(?P<index>\d+)\.conv", "pool{index+1}_conv"),
    (r"features\.norm5", "bn"),
    (r"classifier", "predictions"),
)

GOOGLENET_RULES = (
    (r"conv1\.conv", "conv1"), (r"conv1\.bn", "conv1_bn"),
    (r"conv2\.conv", "conv2_reduce"), (r"conv2\.bn", "conv2_reduce_bn"),
    (r"conv3\.conv", "conv2"), (r"conv3\.bn", "conv2_bn"),
    (r"inception(?P<m>\w+)\.branch1\.conv", "inception_{m}_1x1"),
    (r"inception(?P<m>\w+)\.branch1\.bn", "inception_{m}_1x1_bn"),
    (r"inception(?P<m>\w+)\.branch2\.0\.conv", "inception_{m}_3x3_reduce"),
    (r"inception(?P<m>\w+)\.branch2\.0\.bn", "inception_{m}_3x3_reduce_bn"),
    (r"inception(?P<m>\w+)\.branch2\.1\.conv", "inception_{m}_3x3"),
    (r"inception(?P<m>\w+)\.branch2\.1\.bn", "inception_{m}_3x3_bn"),
    (r"inception(?P<m>\w+)\.branch3\.0\.conv", "inception_{m}_5x5_reduce"),
    (r"inception(?P<m>\w+)\.branch3\.0\.bn", "inception_{m}_5x5_reduce_bn"),
    (r"inception(?P<m>\w+)\.branch3\.1\.conv", "inception_{m}_5x5"),
    (r"inception(?P<m>\w+)\.branch3\.1\.bn", "inception_{m}_5x5_bn"),
    (r"inception(?P<m>\w+)\.branch4\.1\.conv", "inception_{m}_pool_proj"),
    (r"inception(?P<m>\w+)\.branch4\.1\.bn", "inception_{m}_pool_proj_bn"),
    (r"aux(?P<i>\d)\.conv\.conv", "aux{i}_conv"), (r"aux(?P<i>\d)\.conv\.bn", "aux{i}_conv_bn"),
    (r"aux(?P<i>\d)\.fc1", "aux{i}_fc"), (r"aux(?P<i>\d)\.fc2", "aux{i}_predictions"),
    (r"fc", "predictions"),
)  # fmt: skip

VGG_CLASSIFIER_RULES = ((r"classifier\.0", "fc1"), (r"classifier\.3", "fc2"), (r"classifier\.6", "predictions"))


def vgg_rules(depth, batch_norm):
    """torchvision numbers `features` by position: conv, [bn], relu per convolution, a pool per block."""
    rules, index = [], 0
    for stage, convs in enumerate(vgg.CONVS_PER_STAGE[depth], start=1):
        for conv in range(1, convs + 1):
            rules.append((rf"features\.{index}", f"block{stage}_conv{conv}"))
            if batch_norm:
                rules.append((rf"features\.{index + 1}", f"block{stage}_conv{conv}_bn"))
            index += 3 if batch_norm else 2
        index += 1
    return tuple(rules) + VGG_CLASSIFIER_RULES


def squeezenet_rules(version):
    """torchvision's `features` index: a conv and its ReLU take two places, a pool or a fire module one."""
    rules, index = [], 0
    table = squeezenet.TABLES[version]
    for op, name in zip(table, squeezenet.layer_names(table)):
        if isinstance(op, squeezenet.Conv):
            rules.append((rf"features\.{index}", name))
        elif isinstance(op, squeezenet.Fire):
            for part in ("squeeze", "expand1x1", "expand3x3"):
                suffix = "squeeze1x1" if part == "squeeze" else part
                rules.append((rf"features\.{index}\.{part}", f"{name}_{suffix}"))
        index += 2 if isinstance(op, squeezenet.Conv) else 1
    return tuple(rules) + ((r"classifier\.1", "conv10"),)


def conv_bn_rules(module_path, prefix, ops):
    """conv and bn of every named convolution in `ops`: "{module_path}.{op.name}.conv" -> our layer."""
    rules = []
    for op in inception.convs(ops):
        keras_layer = inception.layer_name(prefix, op)
        path = re.escape(f"{module_path}{op.name}")
        rules += [(rf"{path}\.conv", keras_layer), (rf"{path}\.bn", f"{keras_layer}_bn")]
    return rules


def inception_v3_rules():
    """torchvision's Inception3: stem BasicConv2ds, Mixed_5b..Mixed_7c, AuxLogits, fc."""
    rules = conv_bn_rules("", "", inception.V3_STEM)
    for name, torchvision_name, branches in inception.V3_MODULES:
        rules += conv_bn_rules(f"{torchvision_name}.", f"{name}_", branches)
    rules += conv_bn_rules("AuxLogits.", "aux_", inception.V3_AUX_CONVS)
    return tuple(rules) + ((r"AuxLogits\.fc", "aux_predictions"), (r"fc", "predictions"))


def rules_for(model_name, variant):
    """The name map of a registry model and variant."""
    if model_name.startswith(("ResNet", "ResNeXt", "WideResNet")):
        return RESNET_RULES
    if model_name == "AlexNet" and variant == "torchvision":
        return ALEXNET_RULES
    if model_name == "GoogLeNet" and variant == "torchvision":
        return GOOGLENET_RULES
    if model_name == "InceptionV3" and variant == "torchvision":
        return inception_v3_rules()
    if model_name.startswith("SqueezeNet"):
        return squeezenet_rules(model_name[len("SqueezeNet"):])
    if model_name.startswith("DenseNet"):
        return DENSENET_RULES
    if model_name.startswith("VGG"):
        return vgg_rules(int(model_name[3:]), variant == "bn")
    raise ValueError(f"No torchvision name map for {model_name!r} variant {variant!r}.")


def _render(template, match):
    def field(m):
        value = match.group(m.group(1))
        return str(int(value) + int(m.group(2))) if m.group(2) else value

    return re.sub(r"\{(\w+)([+-]\d+)?\}", field, template)


def keras_name(module_path, rules):
    for pattern, template in rules:
        match = re.fullmatch(pattern, module_path)
        if match:
            return _render(template, match)
    return None


def group_by_module(state_dict):
    """{"layer1.0.conv1": {"weight": array}, ...}; drops BN's num_batches_tracked counters."""
    modules = {}
    for key, value in state_dict.items():
        module_path, _, param = key.rpartition(".")
        if param == "num_batches_tracked":
            continue
        modules.setdefault(module_path, {})[param] = np.asarray(value, dtype="float32")
    return modules


def named_arrays(model, state_dict, rules):
    """({keras layer name: arrays}, problems) of a PyTorch state dict, through the name map `rules`.

    Modules mapping to a layer this model lacks are passed on by name, so `assign` can skip a
    classifier the model was built without and report anything else.
    """
    layers_by_name = {layer.name: layer for layer in model.layers}
    named, problems = {}, []
    for module_path, params in group_by_module(state_dict).items():
        name = keras_name(module_path, rules)
        if name is None:
            problems.append(f"no Keras layer for PyTorch module {module_path!r}")
        elif name not in layers_by_name:
            named[name] = list(params.values())
        else:
            try:
                named[name] = layout.keras_weights(layers_by_name[name], params)
            except (KeyError, ValueError) as error:
                problems.append(f"PyTorch module {module_path!r} does not fit layer {name!r}: {error}")
    return named, problems


def load_state_dict(model, state_dict, rules, source="The checkpoint"):
    """Copies a PyTorch state dict (numpy arrays) into `model`; on any mismatch raises and leaves it unchanged.
    Classifier tensors are skipped when the model was built with `include_top=False`."""
    named, problems = named_arrays(model, state_dict, rules)
    return assign(model, named, source, problems)
