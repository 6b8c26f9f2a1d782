"""The bench's outputs: the machine it ran on, the Markdown table, the throughput plot, and the one way the
benchmarks write a text file."""

import datetime
import os
import platform

import numpy as np

from .timing import cpu_info


def machine():
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import keras
    import tensorflow as tf

    versions = {"tensorflow": tf.__version__, "keras": keras.__version__}
    try:
        import ai_edge_litert

        versions["ai-edge-litert"] = getattr(ai_edge_litert, "__version__", "installed")
    except ImportError:
        pass
    features = cpu_info()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cpu_features": features["features"],
        "int8_dot_product": features["int8_dot_product"],
        "python": platform.python_version(),
        **versions,
        "date": datetime.date.today().isoformat(),
    }


def fmt(value, digits=1):
    return "-" if value is None else f"{value:,.{digits}f}"


def markdown(records, peak_gflops=None, machine_info=None, tflite_peaks=None):
    lines = []
    if machine_info:
        lines.append(
            f"Measured {machine_info['date']} on {machine_info['cpu']} ({machine_info['cores']} cores), "
            f"TensorFlow {machine_info['tensorflow']}, Keras {machine_info['keras']}"
            + (f"; matmul peak {peak_gflops:,.0f} GFLOP/s." if peak_gflops else ".")
        )
        if machine_info.get("cpu_features") is not None:
            lines[-1] += f" CPU features: {', '.join(machine_info['cpu_features']) or 'none of note'}."
        if tflite_peaks:
            lines[-1] += (
                f" LiteRT 3x3-convolution peak: float32 {tflite_peaks['float32']:,.0f}, int8 "
                f"{tflite_peaks['int8']:,.0f} GFLOP/s (int8 / float32 = {tflite_peaks['int8_over_float32']:.2f}: "
                "the most int8 can gain on this CPU)."
            )
        lines.append("")
    lines.append(
        "| model | batch | engine | images/s | latency ms (median, IQR) | peak MB | vs keras_famous | GFLOP/s |"
    )
    lines.append("|---|---:|---|---:|---:|---:|---:|---:|")
    for r in records:
        if r.note:
            lines.append(f"| {r.model} | {r.batch} | {r.engine} | - | - | - | - | {r.note} |")
            continue
        share = f" ({100 * r.gflops_per_s / peak_gflops:.0f}%)" if peak_gflops and r.gflops_per_s else ""
        engine = f"{r.engine} ({r.chosen_engine})" if r.chosen_engine else r.engine
        lines.append(
            f"| {r.model} | {r.batch} | {engine} | {fmt(r.images_per_s)} | {fmt(r.latency_ms_median, 2)} "
            f"± {fmt(r.latency_ms_spread, 2)} | {fmt(r.peak_mem_mb, 0)} | {fmt(r.ratio_to_keras_famous, 2)}x "
            f"| {fmt(r.gflops_per_s)}{share} |"
        )
    return "\n".join(lines) + "\n"


def plot(records, path):
    """Images/s per engine, one group of bars per model and batch size."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("The plot needs matplotlib: `pip install keras-famous[demo]`.") from error
    groups = list(dict.fromkeys((r.model, r.batch) for r in records))
    engines = list(dict.fromkeys(r.engine for r in records if r.images_per_s))
    figure, axis = plt.subplots(figsize=(max(6, 1.6 * len(groups) * max(1, len(engines)) / 4), 4))
    width = 0.8 / max(1, len(engines))
    for index, engine in enumerate(engines):
        values = [
            next((r.images_per_s or 0 for r in records if (r.model, r.batch) == g and r.engine == engine), 0)
            for g in groups
        ]
        axis.bar(np.arange(len(groups)) + index * width, values, width, label=engine)
    axis.set_xticks(np.arange(len(groups)) + 0.4 - width / 2)
    axis.set_xticklabels([f"{model}\nbatch {batch}" for model, batch in groups])
    axis.set_ylabel("images / s")
    axis.set_title("Inference throughput per engine (higher is better)")
    axis.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    from ..files import atomic_path

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    try:
        with atomic_path(path, suffix=".png") as tmp:
            figure.savefig(tmp, dpi=110, format="png")
    finally:
        plt.close(figure)


def write_text(path, text):
    """Writes `text` to `path` atomically (the parent directory is created)."""
    from ..files import atomic_file

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_file(path, "w") as handle:
        handle.write(text)
