"""Runs a PyTorch reference (torchvision or timm) on saved images: the worker `LIBRARY MODEL CHECKPOINT
IMAGES.npy OUTPUT.npy [--headless]`, writing the outputs to OUTPUT.npy.

It runs in its own process started by `reference.max_abs_difference` through
`launch.command`: timm must not be imported into a process that imported
TensorFlow, and this file imports no TensorFlow and no keras_famous module that does.
"""

import sys

import numpy as np


def build(library, model_name, state):
    if library == "timm":
        import timm

        return timm.create_model(model_name.split(".")[0], pretrained=False)
    import torchvision

    options = {}
    if model_name == "googlenet":
        options = {"aux_logits": any(key.startswith("aux1.") for key in state), "init_weights": False}
    if model_name == "inception_v3":
        options = {"aux_logits": any(key.startswith("AuxLogits.") for key in state), "init_weights": False}
    return torchvision.models.get_model(model_name, weights=None, **options)


def read(path):
    import torch

    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    return state


def main(argv):
    import torch

    library, model_name, checkpoint, images_path, output_path = argv[:5]
    state = read(checkpoint)
    model = build(library, model_name, state)
    model.load_state_dict(state)
    model.eval()
    if "--headless" in argv:
        model.reset_classifier(0) if hasattr(model, "reset_classifier") else setattr(model, "fc", torch.nn.Identity())
    images = torch.from_numpy(np.load(images_path).transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        np.save(output_path, model(images).numpy())


if __name__ == "__main__":
    main(sys.argv[1:])
