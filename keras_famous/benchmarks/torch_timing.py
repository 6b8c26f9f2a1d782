"""Times a torchvision / timm model on PyTorch CPU for `keras_famous.benchmarks`: the worker
`LIBRARY MODEL BATCH SIDE WARMUP REPEATS [--checkpoint PATH]`, printing one JSON line (latencies in ms,
peak resident memory). It runs in its own process started by `launch.command`:
timm must not be imported into a process that imported TensorFlow, and this file imports neither
TensorFlow nor any keras_famous module that does.

The model runs as PyTorch users run it fast on CPU: `eval()`, `torch.inference_mode()`, channels-last
memory format (oneDNN's preferred layout), random weights (speed does not depend on their values).
With `--checkpoint`, the random state dict is also saved there as safetensors (for conversion timing).
"""

import json
import sys

from .timing import peak_resident_mb, time_calls


def build(library, model_name):
    if library == "timm":
        import timm

        return timm.create_model(model_name, pretrained=False)
    import torchvision

    options = {"aux_logits": False, "init_weights": False} if model_name in ("googlenet", "inception_v3") else {}
    return torchvision.models.get_model(model_name, weights=None, **options)


def main(argv):
    import torch

    library, model_name = argv[0], argv[1]
    batch, side, warmup, repeats = (int(value) for value in argv[2:6])
    model = build(library, model_name).eval().to(memory_format=torch.channels_last)
    if "--checkpoint" in argv:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, argv[argv.index("--checkpoint") + 1])
    images = torch.randn(batch, 3, side, side).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        latencies = time_calls(lambda: model(images), warmup, repeats)
    print(
        json.dumps({"latencies_ms": latencies, "peak_mem_mb": peak_resident_mb(), "threads": torch.get_num_threads()})
    )


if __name__ == "__main__":
    main(sys.argv[1:])
