"""Side-by-side speed of keras_famous and the engines users would pick instead, in one run.

`run(models, batches, engines)` times every engine on random images at the model's input size (speed
does not depend on weight values, so every engine runs random weights), each engine in its own
subprocess: a fresh process gives each its own peak memory and keeps PyTorch/timm away from TensorFlow.
Latency is per call of one batch, measured after `warmup` calls (XLA compiles there) over `repeats`
calls, pooled over `rounds` runs of every engine taking turns: the median, and the spread as the
interquartile range (a record keeps every timed call in `latencies_ms`). `ratio_to_keras_famous` is the
engine's images/s over the "keras_famous" engine's (above 1: faster than our default path). GFLOP/s
counts two FLOPs per multiply-add of the registry's graph count, next to a matmul peak measured in the
same run.

What users pay on every start is timed apart: `build` (graphs, weights) and `creation` (the predictor).

Engines (`ENGINES`): our default inference path (`inference.predictor`: BatchNormalization folded, run on
the engine it measured fastest when created; the record's note says which), `model.predict`, eager calls,
`tf.function` with and without XLA, keras.applications' same network (tf.function, and XLA),
torchvision/timm on PyTorch CPU, our TFLite export (float32, float16, int8) under the LiteRT interpreter
(XNNPACK), and our ONNX export under ONNX Runtime (its idle threads not spinning).

With `rounds` > 1 the engines take turns in a balanced order (Williams' Latin square): over the rounds each
engine runs right after each other engine, so none always inherits the same predecessor's after-effects
(a warm or cold cache, a CPU clock raised or lowered).

Every engine's worker is a module run in a fresh process (`launch.command`): the TensorFlow ones as
`python -m keras_famous.benchmarks.bench --worker ...`, PyTorch (`torch_timing`) and LiteRT
(`litert_timing`) in processes that hold no TensorFlow.
"""

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from . import launch
from .timing import peak_resident_mb, time_calls

WORKER = "keras_famous.benchmarks.bench"

ENGINES = {
    "keras_famous": "default inference path: inference.predictor (BatchNormalization folded, fastest float32 engine)",
    "keras_famous/openvino": "inference.predictor with engine='openvino' (float32; pip install keras-famous[openvino])",
    "keras_famous/bfloat16": "inference.predictor with precision='bfloat16' (OpenVINO; CPUs with AVX512_BF16 or AMX)",
    "keras_famous/int8": "inference.predictor with precision='int8' (the faster of LiteRT and ONNX Runtime QDQ)",
    "keras_famous/predict": "model.predict (Keras' default; no XLA on a CPU-only machine)",
    "keras_famous/eager": "model(x) called eagerly",
    "keras_famous/function": "tf.function(model)",
    "keras_famous/xla": "tf.function(model, jit_compile=True)",
    "keras.applications": "keras.applications' same network, tf.function",
    "keras.applications/xla": "keras.applications' same network, tf.function with jit_compile",
    "torch": "torchvision / timm on PyTorch CPU (eval, inference_mode, channels_last)",
    "tflite/float32": "our TFLite export under LiteRT (XNNPACK)",
    "tflite/float16": "our float16-weight TFLite export under LiteRT",
    "tflite/int8": "our full-integer int8 TFLite export under LiteRT",
    "onnxruntime": "our ONNX export under ONNX Runtime (pip install keras-famous[onnx]; idle threads not spinning)",
}
RECORD_KEYS = (
    "engine",
    "images_per_s",
    "latency_ms_median",
    "latency_ms_spread",
    "peak_mem_mb",
    "ratio_to_keras_famous",
)


@dataclass
class Record:
    model: str
    batch: int
    engine: str
    images_per_s: Optional[float] = None
    latency_ms_median: Optional[float] = None
    latency_ms_spread: Optional[float] = None
    peak_mem_mb: Optional[float] = None
    ratio_to_keras_famous: Optional[float] = None
    gflops_per_s: Optional[float] = None
    timed_calls: int = 0
    note: str = ""
    chosen_engine: Optional[str] = None  # "keras_famous": the engine inference.predictor chose for this batch
    latencies_ms: List[float] = field(default_factory=list)  # every timed call, pooled over the rounds


def peers(name):
    """The networks `name` is timed against: (the keras.applications function name, or None; (library,
    model) of its torchvision/timm reference, or None), from the registry's references of all its variants,
    the default variant's first. E.g. peers("ResNet50") == ("ResNet50", ("torchvision", "resnet50"))."""
    from .. import registry

    spec = registry.get_spec(name)
    default, _ = spec.variant(None)
    variants = [spec.variants[default]] + [v for key, v in spec.variants.items() if key != default]
    references = [ref for variant in variants for ref in variant.references]
    keras_name = next((ref.model for ref in references if ref.library == "keras.applications"), None)
    torch_ref = next(((ref.library, ref.model) for ref in references if ref.library in ("torchvision", "timm")), None)
    return keras_name, torch_ref


def input_side(name, input_size=None):
    """The input side the engines run `name` at: `input_size`, else the model's default."""
    from .. import registry

    return input_size or registry.get_spec(name).input_shape[0]


def _summary(latencies_ms, batch):
    latencies = np.asarray(latencies_ms, dtype="float64")
    median = float(np.median(latencies))
    spread = float(np.percentile(latencies, 75) - np.percentile(latencies, 25))
    return {"latency_ms_median": median, "latency_ms_spread": spread, "images_per_s": batch * 1000.0 / median}


# ---------------------------------------------------------------------------------------------------
# workers: each engine's timing, run in a fresh process


def keras_callable(engine, name, side, batch=1):
    """(call, model) of a TensorFlow `engine` (a key of ENGINES starting with "keras") on `name` at
    `side` x `side`, random weights: `call(images)` runs one batch and returns numpy, as the bench times it.
    "keras_famous" is `inference.predictor`, which measures its engines at batch 1 and `batch`."""
    import keras
    import tensorflow as tf

    from .. import inference, registry

    spec = registry.get_spec(name)
    shape = (side, side, spec.input_shape[2])
    if engine.startswith("keras.applications"):
        keras_name, _ = peers(name)
        model = getattr(keras.applications, keras_name)(weights=None, input_shape=shape)
    else:
        model = registry.build_variant(name, None, input_shape=shape)
    if engine == "keras_famous":
        return inference.predictor(model, batch_size=batch, verbose=False), model
    if engine == "keras_famous/openvino":
        return inference.predictor(model, engine="openvino", batch_size=batch, verbose=False), model
    if engine in ("keras_famous/bfloat16", "keras_famous/int8"):
        # random weights: top-1 agreement on their outputs says nothing (the tests prove the guard), so it is
        # not asked for here; the calibration images are random too, which times int8 all the same
        calibration = np.random.default_rng(1).uniform(-1, 1, (40, *shape)).astype("float32")  # as the bench feeds
        precision = engine.split("/")[1]
        return inference.predictor(
            model, precision=precision, calibration=calibration, min_agreement=0, batch_size=batch, verbose=False
        ), model
    if engine == "keras_famous/predict":
        return (lambda x: model.predict(x, batch_size=len(x), verbose=0)), model
    if engine == "keras_famous/eager":
        return (lambda x: model(x, training=False).numpy()), model
    function = tf.function(lambda x: model(x, training=False), jit_compile=engine.endswith("xla"))
    return (lambda x: function(tf.convert_to_tensor(x)).numpy()), model


def _export_tflite(engine, name, side, path):
    """Writes our TFLite (or, for "onnxruntime", ONNX) export for `engine` to `path`; returns the graph's
    multiply-adds."""
    from .. import analysis, export, registry

    channels = registry.get_spec(name).input_shape[2]
    model = registry.build_variant(name, None, input_shape=(side, side, channels))
    if engine == "onnxruntime":
        export.export(model, path, format="onnx", verify=False)
        return analysis.macs(model)
    quantize = {"tflite/float32": None, "tflite/float16": "float16", "tflite/int8": "int8"}[engine]
    calibration = np.random.default_rng(1).uniform(-1, 1, (8, side, side, channels)).astype("float32")
    # random weights: int8 top-1 agreement on random logits says nothing; the tests prove parity
    export.export(model, path, format="tflite", quantize=quantize, representative_data=calibration, verify=False)
    return analysis.macs(model)


def _export_conv_stack(directory, side=56, channels=256, depth=3):
    """Writes `depth` 3x3 convolutions (`channels` -> `channels` on a `side` x `side` map: ResNet's 56 x 56
    stage) as float32.tflite and int8.tflite in `directory`; returns their multiply-adds."""
    import keras

    from .. import analysis, export

    inputs = keras.Input((side, side, channels))
    x = inputs
    for _ in range(depth):
        x = keras.layers.Conv2D(channels, 3, padding="same", activation="relu")(x)
    model = keras.Model(inputs, x)
    calibration = np.random.default_rng(1).uniform(-1, 1, (4, side, side, channels)).astype("float32")
    for quantize, file in ((None, "float32.tflite"), ("int8", "int8.tflite")):
        path = os.path.join(directory, file)
        export.export(model, path, format="tflite", quantize=quantize, representative_data=calibration, verify=False)
    return analysis.macs(model)


def tflite_conv_peaks(repeats=10, timeout=900):
    """LiteRT's best float32 and int8 GFLOP/s on a stack of 3x3 convolutions, and their ratio: the most
    int8 can gain over float32 on this CPU (about 1 without int8 dot-product instructions such as
    AVX-512 VNNI or Arm's dotprod, which compute four int8 multiply-adds where float32 computes one)."""
    peaks = {}
    with tempfile.TemporaryDirectory() as directory:
        macs = _subprocess_json(
            launch.command(WORKER, "--export-conv", directory), "tflite", "a 3x3 convolution stack", timeout
        )["macs"]
        for kind in ("float32", "int8"):
            command = _litert_command(os.path.join(directory, f"{kind}.tflite"), 1, 2, repeats)
            timed = _subprocess_json(command, f"tflite/{kind}", "a 3x3 convolution stack", timeout)
            peaks[kind] = 2 * macs / (min(timed["latencies_ms"]) / 1000) / 1e9
    peaks["int8_over_float32"] = peaks["int8"] / peaks["float32"]
    return peaks


def _worker(engine, name, batch, side, warmup, repeats):
    if engine == "matmul":
        return {"gflops": _matmul_peak()}
    from .. import analysis, registry

    channels = registry.get_spec(name).input_shape[2]
    images = np.random.default_rng(0).uniform(-1, 1, (batch, side, side, channels)).astype("float32")
    call, model = keras_callable(engine, name, side, batch)
    latencies = time_calls(lambda: call(images), warmup, repeats)
    macs = analysis.macs(model)  # the network as built (before any inference rewrite)
    peak_mb = peak_resident_mb()
    chosen = call.engine_for(batch) if hasattr(call, "engine_for") else None
    return {"latencies_ms": latencies, "peak_mem_mb": peak_mb, "macs": macs, "chosen": chosen}


def _matmul_peak(n=2048, repeats=10):
    """The machine's float32 GFLOP/s on an n x n matmul (TensorFlow, all cores), best of `repeats`."""
    import tensorflow as tf

    a = tf.random.uniform((n, n))
    b = tf.random.uniform((n, n))
    matmul = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    matmul()
    best = min(time_calls(lambda: matmul().numpy(), 1, repeats))
    return 2 * n**3 / (best / 1000) / 1e9


def _litert_command(path, batch, warmup, repeats):
    return launch.command("keras_famous.benchmarks.litert_timing", path, batch, warmup, repeats)


def torch_command(library, model_name, batch, side, warmup, repeats, *options):
    return launch.command(
        "keras_famous.benchmarks.torch_timing",
        library,
        model_name,
        batch,
        side,
        warmup,
        repeats,
        *options,
    )


def run_worker(engine, name, batch, side, warmup, repeats, timeout):
    if engine.startswith("tflite/") or engine == "onnxruntime":  # exported by TensorFlow, timed without it
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "model.onnx" if engine == "onnxruntime" else "model.tflite")
            macs = _subprocess_json(
                launch.command(WORKER, "--export", engine, name, side, path), engine, name, timeout
            )["macs"]
            if engine == "onnxruntime":
                command = launch.command("keras_famous.benchmarks.onnx_timing", path, batch, warmup, repeats)
            else:
                command = _litert_command(path, batch, warmup, repeats)
            timed = _subprocess_json(command, engine, name, timeout)
        return {**timed, "macs": macs}
    if engine == "torch":
        _, (library, model_name) = peers(name)
        command = torch_command(library, model_name, batch, side, warmup, repeats)
    else:
        command = launch.command(WORKER, "--worker", engine, name, batch, side, warmup, repeats)
    return _subprocess_json(command, engine, name, timeout)


def _subprocess_json(command, engine, name, timeout):
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # a level already set (the CLI's, the user's) is inherited
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"engine {engine} on {name} failed: {' | '.join(tail)}")
    return json.loads(lines[-1])


# ---------------------------------------------------------------------------------------------------
# the side-by-side run


def unavailable(name, engine):
    keras_name, torch_ref = peers(name)
    if engine.startswith("keras.applications") and keras_name is None:
        return "keras.applications has no such network"
    if engine == "torch":
        if torch_ref is None:
            return "neither torchvision nor timm has it"
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            return "PyTorch is not installed (pip install keras-famous[test])"
    if engine in ("keras_famous/openvino", "keras_famous/bfloat16"):
        import importlib.util

        if importlib.util.find_spec("openvino") is None:
            return "OpenVINO is not installed (pip install keras-famous[openvino])"
        if engine.endswith("bfloat16"):
            from ..machine import BFLOAT16, cpu_flags

            if not (cpu_flags() or set()) & set(BFLOAT16):
                return "this CPU has neither AVX512_BF16 nor AMX"
    if engine == "onnxruntime":
        from ..artifacts import onnx_available

        if not onnx_available():
            return "ONNX export / ONNX Runtime not installed (pip install keras-famous[onnx])"
    return ""


def balanced_orders(count, rounds):
    """The engine order of each round: the rows of Williams' Latin square (0, 1, n-1, 2, n-2, ... shifted by the
    round), so that over `count` rounds (2 * `count` when it is odd) each engine runs right after each other one."""
    first, low, high = [0], 1, count - 1
    while len(first) < count:
        first.append(low)
        low += 1
        if len(first) < count:
            first.append(high)
            high -= 1
    rows = [[(index + shift) % count for index in first] for shift in range(count)]
    if count % 2:
        rows += [row[::-1] for row in rows]
    return [rows[r % len(rows)] for r in range(rounds)]


def run(
    models, batches=(1,), engines=None, warmup=3, repeats=20, input_size=None, timeout=1800, progress=print, rounds=1
):
    """Records (see `Record`) of every engine on every model and batch size, one subprocess each.

    With `rounds` > 1 every engine runs `rounds` times, the engines taking turns (ours, theirs, ...,
    ours, theirs, ...), and each record pools the timed calls of its rounds: a machine whose speed drifts
    by some percent between processes (a shared VM's neighbours) then slows every engine alike.
    """
    from .. import registry

    engines = list(engines or ENGINES)
    unknown = [engine for engine in engines if engine not in ENGINES]
    if unknown:
        raise ValueError(f"Unknown `engines` {unknown}; choose from {', '.join(ENGINES)}.")
    if rounds < 1:
        raise ValueError(f"`rounds` must be a positive integer; received {rounds!r}.")
    names = [registry.get_spec(name).name for name in models]
    records = []
    for name in names:
        side = input_side(name, input_size)
        for batch in batches:
            if batch < 1:
                raise ValueError(f"`batches` must be positive integers; received {batch!r}.")
            group = [
                Record(model=name, batch=batch, engine=engine, note=unavailable(name, engine)) for engine in engines
            ]
            latencies, macs = {}, None
            for round_index, order in enumerate(balanced_orders(len(group), rounds)):
                for record in (group[index] for index in order):
                    if record.note:
                        continue
                    progress(f"  {name} batch {batch}: {record.engine} (round {round_index + 1} of {rounds}) ...")
                    result = run_worker(record.engine, name, batch, side, warmup, repeats, timeout)
                    latencies.setdefault(record.engine, []).extend(result["latencies_ms"])
                    record.peak_mem_mb = max(record.peak_mem_mb or 0, result["peak_mem_mb"])
                    macs = result.get("macs", macs)
                    if result.get("chosen"):
                        record.chosen_engine = result["chosen"]
            for record in group:
                if not record.note:
                    for key, value in _summary(latencies[record.engine], batch).items():
                        setattr(record, key, value)
                    record.timed_calls = len(latencies[record.engine])
                    record.latencies_ms = latencies[record.engine]
            base = next((r for r in group if r.engine == "keras_famous" and r.images_per_s), None)
            for record in group:
                if record.images_per_s:
                    record.ratio_to_keras_famous = record.images_per_s / base.images_per_s if base else None
                    record.gflops_per_s = 2 * macs * record.images_per_s / 1e9 if macs else None
            records.extend(group)
    return records


def worker_main(argv=None):
    """The workers' entry point (`python -m keras_famous.benchmarks.bench --worker ...`)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--export":
        engine, name, side, path = argv[1], argv[2], int(argv[3]), argv[4]
        print(json.dumps({"macs": _export_tflite(engine, name, side, path)}))
        return
    if argv and argv[0] == "--export-conv":
        print(json.dumps({"macs": _export_conv_stack(argv[1])}))
        return
    if argv and argv[0] == "--worker":
        engine, name = argv[1], argv[2]
        batch, side, warmup, repeats = (int(value) for value in argv[3:7])
        print(json.dumps(_worker(engine, name, batch, side, warmup, repeats)))
        return
    raise SystemExit("usage: python -m keras_famous.benchmarks.bench --worker|--export|--export-conv ...")


if __name__ == "__main__":
    worker_main()
