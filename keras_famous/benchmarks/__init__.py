"""Benchmarking and reference-running code, apart from the runtime: nothing outside this package and
`keras_famous.cli` imports it.

- `bench`: the engines `keras-famous bench` times and their workers (`run`);
- `build`, `creation`: start-up costs (building and loading weights; creating `inference.predictor`);
- `report`: the machine, the Markdown table and plot; `command`: the `keras-famous bench` flags and run;
- `timing`: the timing loop and peak-memory reading every worker shares;
- `torch_timing`, `litert_timing`: the PyTorch and LiteRT timing workers;
- `reference`, `reference_runner`: run a weights file's source framework beside the converted model
  (`keras-famous convert`'s comparison);
- `launch`: how the workers start (each a module in a fresh process; PyTorch and LiteRT without TensorFlow).

The modules here import TensorFlow only inside the functions that need it, so the PyTorch and LiteRT
workers never load it (`import keras_famous` loads nothing heavy: see `launch`).
"""

from .bench import (
    ENGINES,
    RECORD_KEYS,
    Record,
    balanced_orders,
    input_side,
    keras_callable,
    peers,
    run,
    tflite_conv_peaks,
)
from .build import BuildRecord, build_markdown, build_times
from .command import add_arguments, main, main_from_args
from .creation import CreationRecord, creation_markdown, creation_times
from .report import machine, markdown, plot, write_text
from .timing import cpu_info, cpu_summary, peak_resident_mb, time_calls

__all__ = [
    "ENGINES",
    "RECORD_KEYS",
    "BuildRecord",
    "CreationRecord",
    "creation_markdown",
    "creation_times",
    "Record",
    "add_arguments",
    "balanced_orders",
    "build_markdown",
    "build_times",
    "input_side",
    "keras_callable",
    "machine",
    "main",
    "main_from_args",
    "markdown",
    "peers",
    "plot",
    "run",
    "tflite_conv_peaks",
    "write_text",
    "cpu_info",
    "cpu_summary",
    "peak_resident_mb",
    "time_calls",
]
