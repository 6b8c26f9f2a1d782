"""Every torchvision / timm variant: the reference's parameter count and published accuracy are the
registry's, and a random-initialised reference mapped into ours gives the same logits."""

import numpy as np
import pytest
import safetensors.numpy
import timm
import torch
import torchvision

from keras_famous import registry
from keras_famous.convert import state_dict as tv_convert
from conftest import infer, assert_close_to_magnitude, random_images

TORCH_MODELS = [
    (spec.name, variant, ref)
    for spec in registry.SPECS.values()
    for variant, variant_spec in spec.variants.items()
    for ref in variant_spec.references
    if ref.library in ("torchvision", "timm")
]
RESNET_NAMES = registry.get_spec("ResNet18").variants["torchvision"].torch_names
SLOW = {
    "vgg13",
    "vgg13_bn",
    "vgg19",
    "vgg19_bn",
    "resnet101",
    "resnet152",
    "wide_resnet101_2",
    "resnext101_32x4d",
    "wide_resnet50_2",
    "densenet169",
    "densenet201",
}


def _params(cases):
    return [
        pytest.param(*case, marks=[pytest.mark.slow] if case[2].model in SLOW else [], id=case[2].model)
        for case in cases
    ]


def reference_model(ref):
    torch.manual_seed(0)
    if ref.library == "timm":
        return timm.create_model(ref.model, pretrained=False)
    if ref.model == "googlenet":  # the inference layout: no auxiliary heads, no input transform
        return torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=True)
    if ref.model == "inception_v3":  # with the auxiliary head its checkpoint holds, no input transform
        return torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=True)
    return getattr(torchvision.models, ref.model)(weights=None)


def _headless_tap(model_name):
    """(reference module, pooling): the classifier whose input our headless model with pooling="avg" must
    give, or for the flattening tops (AlexNet, VGG) the `features` map our pooling=None model must give."""
    if model_name.startswith(("vgg", "alexnet")):
        return "features", None
    if model_name.startswith(("densenet", "squeezenet")):
        return "classifier", "avg"  # SqueezeNet's classifier (conv10) reads the 13x13 map: averaged here
    return ("last_linear" if model_name == "inception_v4" else "fc"), "avg"


def randomize_batch_norm(module, seed=0):
    generator = torch.Generator().manual_seed(seed)
    for sub in module.modules():
        if isinstance(sub, torch.nn.BatchNorm2d):
            with torch.no_grad():
                sub.weight.copy_(torch.rand(sub.weight.shape, generator=generator) + 0.5)
                sub.bias.copy_(torch.rand(sub.bias.shape, generator=generator) - 0.5)
                sub.running_mean.copy_(torch.rand(sub.running_mean.shape, generator=generator) * 0.2 - 0.1)
                sub.running_var.copy_(torch.rand(sub.running_var.shape, generator=generator) + 0.5)


def test_every_torch_reference_is_covered():
    assert {ref.model for _, _, ref in TORCH_MODELS} == {
        "alexnet",
        "vgg11",
        "vgg11_bn",
        "vgg13",
        "vgg13_bn",
        "vgg16",
        "vgg16_bn",
        "vgg19",
        "vgg19_bn",
        "resnet18",
        "resnet34",
        "resnet50",
        "resnet101",
        "resnet152",
        "resnext50_32x4d",
        "resnext101_32x4d",
        "wide_resnet50_2",
        "wide_resnet101_2",
        "densenet121",
        "densenet169",
        "densenet201",
        "squeezenet1_0",
        "squeezenet1_1",
        "googlenet",
        "inception_v3",
        "inception_v4",
    }


def test_torchvision_published_accuracy_and_macs():
    """The registry's top-1/top-5 are torchvision's own metadata, and our graph-counted multiply-adds
    agree with torchvision's published GFLOPS (they count multiply-adds) within 1%."""
    for name, variant, ref in TORCH_MODELS:
        if ref.library != "torchvision":
            continue
        meta = torchvision.models.get_model_weights(ref.model).IMAGENET1K_V1.meta
        assert ref.top1 == pytest.approx(meta["_metrics"]["ImageNet-1K"]["acc@1"] / 100, abs=1e-6), ref.model
        assert ref.top5 == pytest.approx(meta["_metrics"]["ImageNet-1K"]["acc@5"] / 100, abs=1e-6), ref.model
        assert meta["num_params"] == ref.trainable_params, ref.model
        info = registry.model_info(name, variant)
        assert info.macs / 1e9 == pytest.approx(meta["_ops"], rel=0.01), ref.model


@pytest.mark.parametrize("name,variant,ref", _params(TORCH_MODELS))
def test_logits_match_reference(name, variant, ref, tmp_path):
    reference = reference_model(ref)
    assert sum(p.numel() for p in reference.parameters()) == ref.trainable_params
    randomize_batch_norm(reference)
    reference.eval()

    # The reference's own checkpoint formats, loaded through `weights=` and `convert.load_file`: the
    # converter users run. The .pth is read back with torch.load(weights_only=True).
    pth, safe = tmp_path / f"{ref.model}.pth", tmp_path / f"{ref.model}.safetensors"
    safetensors.numpy.save_file({k: v.detach().numpy() for k, v in reference.state_dict().items()}, str(safe))
    if ref.model not in SLOW:
        torch.save(reference.state_dict(), pth)
    ours = registry.build_variant(
        name, variant, classifier_activation=None, weights=str(safe if ref.model in SLOW else pth)
    )
    assert sum(int(np.prod(w.shape)) for w in ours.trainable_weights) == ref.trainable_params

    size = ours.input_shape[1]
    images = random_images((size, size, 3))
    taps = {}
    if ref.model == "inception_v3":  # eval mode skips AuxLogits: run it on the tapped Mixed_6e output
        reference.Mixed_6e.register_forward_hook(lambda module, inputs, output: taps.update(mixed_6e=output))
    headless_module, pooling = _headless_tap(ref.model)
    getattr(reference, headless_module).register_forward_hook(
        lambda module, inputs, output: taps.update(features=(inputs[0] if pooling else output).detach().numpy())
    )
    with torch.no_grad():
        expected = [reference(torch.from_numpy(images.transpose(0, 3, 1, 2))).numpy()]
        if "mixed_6e" in taps:
            expected.append(reference.AuxLogits(taps["mixed_6e"]).numpy())
    # reading a format does not depend on the architecture (test_weights covers both): the deep siblings read one
    for source in ("safetensors",) if ref.model in SLOW else ("pth", "safetensors"):
        if source == "safetensors":  # start from other weights, so that the second load must do everything
            ours.set_weights([np.zeros_like(w) for w in ours.get_weights()])
            registry.load_weights(ours, safe, name, variant)
        outputs = infer(ours, images)
        outputs = outputs if isinstance(outputs, list) else [outputs]
        assert len(outputs) == len(expected)
        for actual, wanted in zip(outputs, expected):
            assert_close_to_magnitude(actual, wanted, 1e-4)

    # The same checkpoint into the model built without its top: the reference's features before its classifier.
    features = taps["features"]
    features = features.mean(axis=(2, 3)) if features.ndim == 4 and pooling else features
    features = features.transpose(0, 2, 3, 1) if features.ndim == 4 else features
    no_aux = {"aux_logits": False} if "aux_logits" in registry.get_spec(name).variants[variant].kwargs else {}
    headless = registry.build_variant(name, variant, include_top=False, pooling=pooling, weights=str(safe), **no_aux)
    assert_close_to_magnitude(infer(headless, images), features, 1e-4)


def test_wrong_checkpoint_is_refused_and_model_untouched():
    reference = torchvision.models.resnet18(weights=None)
    ours = registry.get_model("ResNet34")
    before = [w.copy() for w in ours.get_weights()]
    state = {key: value.numpy() for key, value in reference.state_dict().items()}
    with pytest.raises(ValueError, match="does not match this model"):
        tv_convert.load_state_dict(ours, state, RESNET_NAMES)
    assert all(np.array_equal(a, b) for a, b in zip(before, ours.get_weights()))


def test_headless_model_loads_without_classifier():
    reference = torchvision.models.resnet18(weights=None)
    randomize_batch_norm(reference)
    reference.eval()
    ours = registry.get_model("ResNet18", include_top=False, pooling="avg")
    state = {key: value.numpy() for key, value in reference.state_dict().items()}
    tv_convert.load_state_dict(ours, state, RESNET_NAMES, head_layers=registry.get_spec("ResNet18").head_layers)
    images = random_images((96, 96, 3))
    reference.fc = torch.nn.Identity()
    with torch.no_grad():
        expected = reference(torch.from_numpy(images.transpose(0, 3, 1, 2))).numpy()
    assert_close_to_magnitude(infer(ours, images), expected, 1e-4)
