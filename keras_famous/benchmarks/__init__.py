"""Benchmarking and reference-running code, apart from the runtime: nothing outside this package and
`keras_famous.cli` imports it.

- `bench`: the `keras-famous bench` engine (`run`, `build_times`, `main`), re-exported here;
- `timing`: the timing loop and peak-memory reading every worker shares;
- `torch_timing`, `litert_timing`: the PyTorch and LiteRT timing workers;
- `reference`, `reference_runner`: run a weights file's source framework beside the converted model
  (`keras-famous convert`'s comparison);
- `launch`: how the workers start (each a module in a fresh process; PyTorch and LiteRT without TensorFlow).

The modules here import TensorFlow only inside the functions that need it, so the PyTorch and LiteRT
workers, started without `keras_famous/__init__.py` (see `launch`), never load it.
"""

from .bench import (
    ENGINES,
    RECORD_KEYS,
    BuildRecord,
    Record,
    add_arguments,
    balanced_orders,
    build_markdown,
    build_times,
    input_side,
    keras_callable,
    machine,
    main,
    main_from_args,
    markdown,
    peers,
    plot,
    run,
    tflite_conv_peaks,
    write_text,
)
from .timing import cpu_info, cpu_summary, peak_resident_mb, time_calls

__all__ = [
    "ENGINES",
    "RECORD_KEYS",
    "BuildRecord",
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
