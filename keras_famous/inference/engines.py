"""The engines a predictor can run the inference graph on, one class each behind one interface:

    Engine.installed()           whether its runtime is importable here
    Engine.version()             the runtime's version (part of the engine cache's key)
    engine.convert(fast, dir, calibration)
                                 writes the engine's files (`files`) for the inference graph `fast` into `dir`
                                 (TFLite, ONNX, OpenVINO IR; nothing for the engines that run `fast` itself);
                                 an int8 engine calibrates its ranges on `calibration` (typical inputs)
    engine.load(fast, dir)       makes the engine ready from those files (or from `fast`)
    engine(images)               -> numpy, float32 batch in; safe to call from several threads
    engine.describe()            one line: what runs, with how many threads

Each engine computes at one precision `tier`: "float32" (checked against the Keras model to 1e-4), or
"bfloat16" and "int8" (checked by top-1 agreement on held-out images: `guard`).

Converting is the costly step (tf2onnx peaks at some 80 times the weights), which is why it is separate: the
predictor runs it in a child process or serves it from the engine cache, then loads here.
"""

import importlib.metadata
import importlib.util
import os
import sys
import threading

import keras

from ..arguments import setting
from .. import artifacts, machine
from ..quiet import quiet
from ..litert import TFLiteModel
from ..onnx_runtime import ONNXModel


_DISTRIBUTION_NAMES = {"tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tf-nightly")}


def _version(distribution):
    for name in _DISTRIBUTION_NAMES.get(distribution, (distribution,)):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


class Engine:
    name = ""
    description = ""
    files = ()  # what `convert` writes, and the cache keeps
    backend = "tensorflow"  # the Keras backend it runs under
    distributions = ("tensorflow",)  # whose versions make `version()`
    compiles_per_shape = False  # each new input shape costs a compilation: the predictor pads to few shapes
    tier = "float32"
    calibrated = False  # its files depend on the calibration images (int8)
    artifact = None  # another engine whose files it shares (the cache keeps them once)

    def __init__(self, threads):
        self.threads = threads

    @classmethod
    def installed(cls):
        return all(_version(distribution) is not None for distribution in cls.distributions)

    @classmethod
    def version(cls):
        return " ".join(f"{distribution}=={_version(distribution)}" for distribution in cls.distributions)

    def convert(self, fast, directory, calibration=None):
        """Writes `files` into `directory` (nothing for an engine that runs the Keras graph itself)."""

    def load(self, fast, directory):
        raise NotImplementedError

    def __call__(self, images):
        raise NotImplementedError

    def describe(self):
        return f"{self.name} ({self.description}, {self.threads} threads)"


class TensorFlowEngine(Engine):
    name = "tensorflow"
    description = "tf.function of the inference graph"
    jit_compile = False

    def load(self, fast, directory):
        import tensorflow as tf

        self._function = tf.function(
            lambda x: fast(x, training=False), jit_compile=self.jit_compile, reduce_retracing=True
        )
        self._convert = tf.convert_to_tensor

    def __call__(self, images):
        with quiet("tensorflow"):  # a new shape retraces: TensorFlow warns of it, as if a bug
            outputs = self._function(self._convert(images))
        return keras.tree.map_structure(lambda tensor: tensor.numpy(), outputs)

    def describe(self):  # TensorFlow's thread pools are fixed when it starts: `threads` does not reach them
        return f"{self.name} ({self.description}, TensorFlow's own thread pools)"


class XLAEngine(TensorFlowEngine):
    name = "xla"
    description = "tf.function of the inference graph, compiled with XLA (jit_compile)"
    jit_compile = True
    compiles_per_shape = True


class LiteRTEngine(Engine):
    name = "litert"
    description = "LiteRT (XNNPACK) on a float32 TFLite of the inference graph"
    files = ("model.tflite",)
    distributions = ("tensorflow", "ai-edge-litert")

    def convert(self, fast, directory, calibration=None):
        with open(os.path.join(directory, self.files[0]), "wb") as out:
            out.write(artifacts.tflite_bytes_of(fast))

    def load(self, fast, directory):
        with open(os.path.join(directory, self.files[0]), "rb") as handle:
            self._runner = TFLiteModel(handle.read(), num_threads=self.threads)

    def __call__(self, images):
        return self._runner(images, batch_size=len(images))


class ONNXRuntimeEngine(Engine):
    name = "onnxruntime"
    description = "ONNX Runtime on an ONNX model of the inference graph (pip install keras-famous[onnx])"
    files = ("model.onnx",)
    distributions = ("tf2onnx", "onnx", "onnxruntime")

    def convert(self, fast, directory, calibration=None):
        artifacts.write_onnx(fast, os.path.join(directory, self.files[0]))

    def load(self, fast, directory):
        with open(os.path.join(directory, self.files[0]), "rb") as handle:
            self._runner = ONNXModel(handle.read(), num_threads=self.threads)

    def __call__(self, images):
        return self._runner(images)


class OpenVINOEngine(Engine):
    """The inference graph's tf.function converted by OpenVINO (no SavedModel on disk) and compiled for the CPU at
    float32: OpenVINO's default on CPUs with AVX512_BF16 or AMX computes in bfloat16, some 1e-2 off."""

    name = "openvino"
    description = "OpenVINO at float32 on an OpenVINO IR of the inference graph (pip install keras-famous[openvino])"
    files = ("model.xml", "model.bin")
    distributions = ("tensorflow", "openvino")
    precision = "f32"

    def convert(self, fast, directory, calibration=None):
        import openvino
        import tensorflow as tf

        spec = tf.TensorSpec((None, *fast.input_shape[1:]), tf.float32, name=artifacts.INPUT_NAME)
        function = tf.function(lambda images: fast(images, training=False), input_signature=[spec])
        with quiet("tensorflow"):
            converted = openvino.convert_model(function)
        openvino.save_model(converted, os.path.join(directory, self.files[0]), compress_to_fp16=False)

    def load(self, fast, directory):
        import openvino

        core = openvino.Core()
        model = core.read_model(os.path.join(directory, self.files[0]))
        config = {"INFERENCE_PRECISION_HINT": self.precision, "INFERENCE_NUM_THREADS": int(self.threads)}
        self._compiled = core.compile_model(model, "CPU", config)
        self._requests = threading.local()  # an infer request holds its tensors: one per calling thread

    def __call__(self, images):
        request = getattr(self._requests, "request", None)
        if request is None:
            request = self._requests.request = self._compiled.create_infer_request()
        request.infer({0: images})
        return request.get_output_tensor(0).data.copy()


class LiteRTInt8Engine(LiteRTEngine):
    """Full-integer TFLite (int8 weights and activations, ranges from the calibration images) on LiteRT."""

    name = "litert-int8"
    description = "LiteRT (XNNPACK) on a full-integer int8 TFLite, calibrated on the calibration images"
    tier = "int8"
    calibrated = True

    def convert(self, fast, directory, calibration=None):
        with open(os.path.join(directory, self.files[0]), "wb") as out:
            out.write(artifacts.tflite_bytes_of(fast, quantize="int8", representative_data=calibration))


class _CalibrationReader:
    """ONNX Runtime's calibration data reader over an array of images, one image per read."""

    def __init__(self, name, images):
        self._items = iter([{name: image[None]} for image in images])

    def get_next(self):
        return next(self._items, None)


class ONNXRuntimeInt8Engine(ONNXRuntimeEngine):
    """ONNX Runtime on a QDQ model: int8 weights per channel and uint8 activations, ranges from calibration."""

    name = "onnxruntime-int8"
    description = "ONNX Runtime on a QDQ int8 ONNX model, calibrated on the calibration images"
    tier = "int8"
    calibrated = True

    def convert(self, fast, directory, calibration=None):
        search_path = list(sys.path)
        try:
            self._quantize(fast, directory, calibration)
        finally:  # onnxruntime.quantization puts onnxruntime/transformers first on sys.path: its modules shadow others
            sys.path[:] = search_path

    def _quantize(self, fast, directory, calibration):
        from onnxruntime import quantization

        float_model = os.path.join(directory, "float.onnx")
        artifacts.write_onnx(fast, float_model)
        quantization.quantize_static(
            float_model,
            os.path.join(directory, self.files[0]),
            _CalibrationReader(artifacts.INPUT_NAME, calibration),
            quant_format=quantization.QuantFormat.QDQ,
            per_channel=True,
            weight_type=quantization.QuantType.QInt8,
            activation_type=quantization.QuantType.QUInt8,
        )
        os.remove(float_model)


class OpenVINOBFloat16Engine(OpenVINOEngine):
    """The float32 OpenVINO IR compiled to compute in bfloat16 (CPUs with AVX512_BF16 or AMX only)."""

    name = "openvino-bf16"
    description = "OpenVINO computing in bfloat16 (CPUs with AVX512_BF16 or AMX)"
    tier = "bfloat16"
    precision = "bf16"
    artifact = "openvino"

    @classmethod
    def installed(cls):
        return super().installed() and bool(machine.cpu_flags() and machine.cpu_flags() & set(machine.BFLOAT16))


class BackendEngine(Engine):
    """The model compiled with jit_compile, on the JAX or torch backend (the only engine there)."""

    compiles_per_shape = True

    def load(self, fast, directory):
        fast.compile(jit_compile=True)
        self._call = fast.predict_on_batch

    def __call__(self, images):
        return self._call(images)

    def describe(self):
        return f"{self.name} ({self.description})"


class JAXEngine(BackendEngine):
    name = "jax"
    description = "the model compiled with jit_compile, on the JAX backend"
    backend = "jax"
    distributions = ("jax", "keras")


class TorchEngine(BackendEngine):
    name = "torch"
    description = "the model compiled with jit_compile, on the torch backend"
    backend = "torch"
    distributions = ("torch", "keras")


ENGINE_CLASSES = {
    engine.name: engine
    for engine in (
        TensorFlowEngine, XLAEngine, LiteRTEngine, ONNXRuntimeEngine, OpenVINOEngine,
        LiteRTInt8Engine, ONNXRuntimeInt8Engine, OpenVINOBFloat16Engine, JAXEngine, TorchEngine,
    )
}  # fmt: skip
TIERS = ("float32", "bfloat16", "int8")
ENGINES = {name: engine.description for name, engine in ENGINE_CLASSES.items()}


def available_on(backend, tiers=("float32",)):
    """The engines that run on the Keras `backend` at one of `tiers`, installed or not."""
    return tuple(name for name, engine in ENGINE_CLASSES.items() if engine.backend == backend and engine.tier in tiers)


def require(name):
    """ImportError with the pip command when engine `name`'s runtime is missing."""
    engine = ENGINE_CLASSES[name]
    if engine.tier == "bfloat16" and not (machine.cpu_flags() or set()) & set(machine.BFLOAT16):
        raise ValueError(f"{setting('engine', name)} computes in bfloat16, which needs a CPU with AVX512_BF16 or AMX; this one has neither.")  # fmt: skip
    if not engine.installed():
        extra = {"onnxruntime": "onnx", "onnxruntime-int8": "onnx"}.get(name, "openvino")
        missing = [d for d in engine.distributions if importlib.util.find_spec(d.replace("-", "_")) is None]
        raise ImportError(
            f"{setting('engine', name)} needs {', '.join(missing) or 'its runtime'}: pip install 'keras-famous[{extra}]'."
        )
