"""How the benchmark and reference workers start: each a module of this package run in a fresh Python process
(`python -m keras_famous.benchmarks.<worker> ...`). `import keras_famous` loads neither Keras nor TensorFlow
(its names load when first used), so a worker imports only what its module does: the PyTorch, timm, ONNX Runtime
and LiteRT workers run without TensorFlow (timm crashes in a process that imported it, and a peak-memory reading
would count its 600 MB)."""

import sys


def command(module, *args):
    """The argv that runs `module` (a keras_famous module with a `__main__` block) with `args`."""
    return [sys.executable, "-m", module, *(str(arg) for arg in args)]
