"""Inference-time rewrites of a built model: the same function, a lighter graph.

`inference_model(model)` rebuilds a Functional model layer by layer with
- BatchNormalization folded into the convolution before it (Conv2D, DepthwiseConv2D, SeparableConv2D
  whose output feeds only that BN): W' = W * gamma / sqrt(var + eps), b' = (b - mean) * gamma / sqrt(var + eps)
  + beta, per output channel, computed in float64;
- Dropout removed (the identity at inference) and auxiliary classifiers dropped (the first output kept);
- optionally (`split_grouped=True`) each grouped Conv2D replaced by `groups` ordinary convolutions and a
  concatenation, for runtimes without grouped convolution (TFLite's GPU delegate, older interpreters;
  the LiteRT CPU interpreter runs grouped CONV_2D natively, so export does not split by default).
Nested Functional models (a `transfer.classifier` backbone) are rewritten recursively. The result
computes what the original computes in inference mode, to float rounding (tested per family).
"""

import math
import os
import statistics
import time
import warnings

import keras
import numpy as np

from . import artifacts, graph
from .applications import check_positive_int
from .layers import ChannelSlice
from .litert import TFLiteModel
from .metrics import relative_difference
from .onnx_runtime import ONNXModel

FOLDABLE = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)


def _nodes(model):
    """{id(layer): the node that calls it in `model`} (a nested model may also be called elsewhere)."""
    nodes = {}
    for node in graph.nodes(model):
        if id(node.operation) in nodes:
            raise ValueError(
                f"inference_model needs each layer called once; {node.operation.name!r} is "
                "called more than once in this model."
            )
        nodes[id(node.operation)] = node
    return nodes


def _arguments(node):
    return keras.tree.flatten(node.arguments.args) + keras.tree.flatten(node.arguments.kwargs)


def _consumers(nodes):
    counts = {}
    for node in nodes.values():
        for tensor in _arguments(node):
            if isinstance(tensor, keras.KerasTensor):
                counts[id(graph.producer(tensor))] = counts.get(id(graph.producer(tensor)), 0) + 1
    return counts


def _foldable_pairs(model, nodes):
    """{id(conv): bn} for each convolution whose only consumer is a BatchNormalization on the channels axis."""
    consumers = _consumers(nodes)
    pairs = {}
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization) or layer.axis not in (-1, 3):
            continue
        source = graph.producer(nodes[id(layer)].arguments.args[0])
        linear = getattr(source, "activation", None) in (None, keras.activations.linear)
        if isinstance(source, FOLDABLE) and linear and consumers.get(id(source)) == 1:
            pairs[id(source)] = layer
    return pairs


def _bn_scale_shift(bn):
    gamma = np.asarray(bn.gamma, "float64") if bn.scale else 1.0
    beta = np.asarray(bn.beta, "float64") if bn.center else 0.0
    mean, variance = np.asarray(bn.moving_mean, "float64"), np.asarray(bn.moving_variance, "float64")
    scale = gamma / np.sqrt(variance + bn.epsilon)
    return scale, beta - mean * scale


def _folded(conv, bn):
    """The config (now with a bias) and weights of a convolution computing bn(conv(x))."""
    config = dict(conv.get_config(), use_bias=True)
    scale, shift = _bn_scale_shift(bn)
    weights = [np.asarray(w, "float64") for w in conv.get_weights()]
    bias = weights.pop() if conv.use_bias else 0.0
    if isinstance(conv, keras.layers.SeparableConv2D):
        depthwise, pointwise = weights
        weights = [depthwise, pointwise * scale]
    elif isinstance(conv, keras.layers.DepthwiseConv2D):
        kernel = weights[0]
        weights = [kernel * scale.reshape(kernel.shape[2], kernel.shape[3])]
    else:
        weights = [weights[0] * scale]
    weights.append(bias * scale + shift)
    return config, [w.astype(conv.variable_dtype) for w in weights]


def _split_grouped(config, weights, x):
    """`groups` ordinary convolutions over channel slices of `x`, concatenated: a grouped Conv2D."""
    groups, name = config["groups"], config["name"]
    kernel, *bias = weights
    per_in, per_out = kernel.shape[2], config["filters"] // groups
    outputs = []
    for g in range(groups):
        piece = ChannelSlice(g * per_in, (g + 1) * per_in, name=f"{name}_slice{g}")(x)
        layer = keras.layers.Conv2D.from_config(dict(config, groups=1, filters=per_out, name=f"{name}_g{g}"))
        outputs.append(layer(piece))
        out_channels = slice(g * per_out, (g + 1) * per_out)
        layer.set_weights([kernel[..., out_channels]] + [b[out_channels] for b in bias])
    return keras.layers.Concatenate(axis=-1, name=f"{name}_concat")(outputs)


def inference_model(model, *, fold_batchnorm=True, drop_dropout=True, drop_auxiliary=True, split_grouped=False):
    """The inference form of `model` (see the module docstring); `model` itself is not changed."""
    if not isinstance(model, keras.Model) or not graph.is_functional(model) or not model.layers:
        raise ValueError("inference_model expects a built Keras Functional model.")
    nodes = _nodes(model)
    pairs = _foldable_pairs(model, nodes) if fold_batchnorm else {}
    folded_bn = {id(bn) for bn in pairs.values()}
    new = {}  # id(original KerasTensor) -> new tensor

    def mapped(structure):
        return keras.tree.map_structure(lambda t: new[id(t)] if isinstance(t, keras.KerasTensor) else t, structure)

    inputs = [keras.Input(batch_shape=t.shape, dtype=t.dtype, name=graph.producer(t).name) for t in model.inputs]
    new.update({id(old): fresh for old, fresh in zip(model.inputs, inputs)})
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        node = nodes[id(layer)]
        args, kwargs = mapped(node.arguments.args), mapped(node.arguments.kwargs)
        kwargs.pop("training", None)
        if (drop_dropout and isinstance(layer, keras.layers.Dropout)) or id(layer) in folded_bn:
            output = args[0]
        elif isinstance(layer, keras.Model):
            output = inference_model(
                layer,
                fold_batchnorm=fold_batchnorm,
                drop_dropout=drop_dropout,
                drop_auxiliary=drop_auxiliary,
                split_grouped=split_grouped,
            )(*args, **kwargs)
        else:
            config, weights = (
                _folded(layer, pairs[id(layer)]) if id(layer) in pairs else (layer.get_config(), layer.get_weights())
            )
            if split_grouped and type(layer) is keras.layers.Conv2D and layer.groups > 1:
                output = _split_grouped(config, weights, args[0])
            else:
                clone = layer.__class__.from_config(config)
                output = clone(*args, **kwargs)
                clone.set_weights(weights)
        for old, fresh in zip(keras.tree.flatten(node.outputs), keras.tree.flatten(output)):
            new[id(old)] = fresh
    outputs = [new[id(t)] for t in model.outputs]
    if drop_auxiliary or len(outputs) == 1:
        outputs = outputs[0]
    return keras.Model(inputs[0] if len(inputs) == 1 else inputs, outputs, name=model.name)


ENGINES = {
    "tensorflow": "tf.function of the inference graph",
    "xla": "tf.function of the inference graph, compiled with XLA (jit_compile)",
    "litert": "LiteRT (XNNPACK) on an in-memory float32 TFLite of the inference graph",
    "onnxruntime": "ONNX Runtime on an in-memory ONNX model of the inference graph (pip install keras-famous[onnx])",
    "jax": "the model compiled with jit_compile, on the JAX backend",
    "torch": "the model compiled with jit_compile, on the torch backend",
}
VERIFY_TOLERANCE = 1e-4  # max |engine - keras| / max |keras|, as export's float32 check


def _threads():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _engine_call(name, fast):
    """`images -> numpy` running `fast` (the inference graph) on engine `name`."""
    if name in ("jax", "torch"):
        fast.compile(jit_compile=True)
        return fast.predict_on_batch
    if name in ("tensorflow", "xla"):
        import tensorflow as tf

        function = tf.function(lambda x: fast(x, training=False), jit_compile=name == "xla", reduce_retracing=True)

        def call(images):
            with artifacts.quiet_logger(
                "tensorflow"
            ):  # a new batch size retraces: TensorFlow warns of it, as if it were a bug
                return keras.tree.map_structure(lambda t: t.numpy(), function(tf.convert_to_tensor(images)))

        return call
    if name == "litert":
        runner = TFLiteModel(artifacts.float32_tflite_bytes(fast), num_threads=_threads())
        return lambda images: runner(images, batch_size=len(images))
    runner = ONNXModel(artifacts.onnx_bytes(fast), num_threads=_threads())
    return runner


class Predictor:
    """A callable `images -> numpy outputs` (see `predictor`). `engine` is the engine that runs single images,
    `engines` the engine per measured batch size, `timings_ms` the median call time of every engine measured."""

    def __init__(self, model, calls, engines, timings_ms, batch_size):
        self.model = model
        self._calls = calls
        self.engines = engines
        self.engine = engines[min(engines)]
        self.timings_ms = timings_ms
        self.batch_size = batch_size

    def engine_for(self, count):
        """The engine measured at the batch size nearest `count` (in ratio)."""
        sizes = sorted(self.engines)
        return self.engines[min(sizes, key=lambda size: abs(math.log(count / size)))]

    def _check(self, images):
        """A batch of the model's input shape, or a ValueError saying which shape (one image: `images[None]`)."""
        expected = tuple(self.model.input_shape)
        fits = images.ndim == len(expected) and all(
            want is None or want == got for want, got in zip(expected[1:], images.shape[1:])
        )
        if not fits:
            wanted = "(N, " + ", ".join("any" if side is None else str(side) for side in expected[1:]) + ")"
            hint = " (one image: pass images[None])" if images.ndim == len(expected) - 1 else ""
            raise ValueError(
                f"The predictor of {self.model.name} takes a batch of images of shape {wanted}; received an array of "
                f"shape {images.shape}{hint}."
            )
        if len(images) == 0:
            raise ValueError("The predictor needs at least one image; received an empty batch.")

    def __call__(self, images):
        images = np.asarray(images, dtype="float32")
        self._check(images)
        parts = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            parts.append(self._calls[self.engine_for(len(chunk))](chunk))
        if len(parts) == 1:
            return parts[0]
        return keras.tree.map_structure(lambda *chunks: np.concatenate(chunks), *parts)

    def __repr__(self):
        return f"Predictor({self.model.name!r}, engines={self.engines})"


def _main(outputs):
    outputs = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
    return np.asarray(keras.ops.convert_to_numpy(outputs), dtype="float32")


def _candidates(engine, outputs):
    backend = keras.backend.backend()
    available = ("tensorflow", "xla", "litert", "onnxruntime") if backend == "tensorflow" else (backend,)
    if outputs > 1:  # optimize=False on a model with auxiliary heads: the exported runtimes keep one output
        available = tuple(name for name in available if name not in ("litert", "onnxruntime"))
    if engine == "auto":
        return [name for name in available if name != "onnxruntime" or artifacts.onnx_available()]
    if engine not in available:
        raise ValueError(
            f"`engine` must be 'auto' or one of {available} on the {backend} backend; received engine={engine!r}."
        )
    if engine == "onnxruntime":
        artifacts.require_onnx()
    return [engine]


def _measure(calls, images, expected, repeats, timings, log):
    """Median ms per engine at this batch, the engines taking turns; an engine whose outputs differ from the
    Keras model's is dropped with a warning."""
    for name in list(calls):
        try:
            actual = _main(calls[name](images))  # the warm-up call: compiles, and is checked
            error = relative_difference(actual, expected)
            problem = None if error <= VERIFY_TOLERANCE else f"differs from the Keras model by {error:.3g}"
        except Exception as exc:  # noqa: BLE001 (any engine failure means: do not use this engine)
            problem = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        if problem:
            warnings.warn(f"predictor: engine {name!r} {problem}; it is not used.", stacklevel=3)
            del calls[name]
    times = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call(images)
            times[name].append(1000 * (time.perf_counter() - start))
    medians = {name: statistics.median(values) for name, values in times.items()}
    timings[len(images)] = medians
    log(f"  batch {len(images)}: " + ", ".join(f"{name} {ms:.1f} ms" for name, ms in medians.items()))
    return min(medians, key=medians.get)


def predictor(model, *, engine="auto", optimize=True, batch_size=32, repeats=3, verbose=True):
    """keras_famous' inference path: a `Predictor`, called as `predictor(images)` -> numpy outputs (the main output
    of a model with auxiliary heads is all it returns when `optimize`).

    It runs `model`'s inference form (`inference_model`: BatchNormalization folded, dropout and auxiliary heads
    removed; the model itself when `optimize=False`) on the fastest float32 engine of this machine: with
    `engine="auto"`, on the TensorFlow backend, it builds every engine of ENGINES that is installed (TensorFlow,
    XLA, LiteRT on an in-memory TFLite, ONNX Runtime on an in-memory ONNX model), checks each one's outputs
    against the Keras model on random inputs (within 1e-4 of the output magnitude; an engine that fails or
    differs is dropped with a warning, never an error), and times `repeats` calls of each, the engines taking
    turns, at batch 1 and at `batch_size`. Each call then runs on the engine measured fastest at the batch size
    nearest its own. `engine=` forces one engine (checked the same way, an error if it fails); on the JAX and
    torch backends the engine is the backend's compiled `predict_on_batch`. Any batch size works; inputs larger
    than `batch_size` run in batches of `batch_size`. Choosing costs a conversion per engine and a few calls
    (tens of seconds for a ResNet50 on two cores), so it prints the timings as it measures them unless `verbose=False`."""
    batch_size = check_positive_int(f"predictor({model.name})", "batch_size", batch_size)
    repeats = check_positive_int(f"predictor({model.name})", "repeats", repeats)
    fast = inference_model(model) if optimize else model
    names = _candidates(engine, len(fast.outputs))
    if engine == "auto" and "onnxruntime" in names:
        needed, available = artifacts.onnx_conversion_memory(fast), artifacts.available_memory()
        if available is not None and needed > 0.8 * available:
            names.remove("onnxruntime")
            warnings.warn(
                f"predictor: ONNX Runtime is not tried for {model.name}: converting it with tf2onnx needs about "
                f"{needed / 1e9:.0f} GB, and {available / 1e9:.0f} GB are available (engine='onnxruntime' forces it).",
                stacklevel=2,
            )
    log = print if verbose else (lambda text: None)
    calls = {}
    for name in names:
        try:
            calls[name] = _engine_call(name, fast)
        except Exception as exc:  # noqa: BLE001
            if engine != "auto":
                raise
            warnings.warn(f"predictor: engine {name!r} is not available for {model.name}: {exc}", stacklevel=2)
    shape = tuple(d or 224 for d in model.input_shape[1:])
    rng = np.random.default_rng(0)
    engines, timings = {}, {}
    if len(calls) == 1 and engine != "auto":
        sizes = (1,)  # forced: checked once, no race to run
    else:
        sizes = sorted({1, int(batch_size)})
    log(f"predictor for {model.name}: measuring {', '.join(calls)}")
    for size in sizes:
        images = rng.uniform(-1, 1, (size, *shape)).astype("float32")
        expected = _main(model(images, training=False))
        measured = dict(calls)
        if not measured:
            raise RuntimeError(f"No inference engine could run {model.name}.")
        best = _measure(measured, images, expected, repeats if len(measured) > 1 else 1, timings, log)
        if not measured:
            raise ValueError(f"engine={engine!r} cannot run {model.name} (see the warning above).")
        engines[size] = best
        for name in set(calls) - set(measured):
            del calls[name]
    log(f"predictor for {model.name}: {', '.join(f'batch {size}: {name}' for size, name in engines.items())}")
    used = {name: calls[name] for name in set(engines.values())}
    return Predictor(fast, used, engines, timings, int(batch_size))
