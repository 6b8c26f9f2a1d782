"""How the benchmark and reference workers start: each in a fresh Python process, as a module.

Workers that need TensorFlow start as `python -m keras_famous.benchmarks.bench --worker ...`. Workers
that must hold no TensorFlow (PyTorch, timm, LiteRT) cannot start with `-m`: it runs
`keras_famous/__init__.py` first, which imports TensorFlow, and timm crashes in a process that imported
TensorFlow; a PyTorch or LiteRT engine's peak memory would also count TensorFlow's (some 600 MB).
Importing torch and timm first avoids the crash, not the rest. So `command(..., tensorflow=False)` starts
them with a `python -c` of three lines that registers the `keras_famous` package found but not executed
(its submodules import as usual, its `__init__` never runs) and then runs the module as `-m` would
(`runpy.run_module`: `__name__ == "__main__"`, relative imports). Nothing is added to sys.path.
"""

import sys

_WITHOUT_PACKAGE_INIT = "; ".join((
    "import importlib.util, runpy, sys",
    "sys.modules['keras_famous'] = importlib.util.module_from_spec(importlib.util.find_spec('keras_famous'))",
    "runpy.run_module(sys.argv.pop(1), run_name='__main__', alter_sys=True)",
))  # fmt: skip


def command(module, *args, tensorflow=True):
    """The argv that runs `module` (a keras_famous module with a `__main__` block) with `args`; with
    `tensorflow=False` without `keras_famous/__init__.py`, so the process imports only what `module` does."""
    args = [str(arg) for arg in args]
    if tensorflow:
        return [sys.executable, "-m", module, *args]
    return [sys.executable, "-c", _WITHOUT_PACKAGE_INIT, module, *args]
