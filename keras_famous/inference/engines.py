"""The engines a predictor can run the inference graph on, one class each behind one interface:

    Engine.installed()           whether its runtime is importable here
    Engine.version()             the runtime's version (part of the engine cache's key)
    engine.convert(fast, dir)    writes the engine's files (`files`) for the inference graph `fast` into `dir`
                                 (TFLite, ONNX, OpenVINO IR; nothing for the engines that run `fast` itself)
    engine.load(fast, dir)       makes the engine ready from those files (or from `fast`)
    engine(images)               -> numpy, float32 batch in; safe to call from several threads
    engine.describe()            one line: what runs, with how many threads

Converting is the costly step (tf2onnx peaks at some 80 times the weights), which is why it is separate: the
predictor runs it in a child process or serves it from the engine cache, then loads here.
"""

import importlib.metadata
import importlib.util
import os
import threading

import keras

from .. import artifacts
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

    def __init__(self, threads):
        self.threads = threads

    @classmethod
    def installed(cls):
        return all(_version(distribution) is not None for distribution in cls.distributions)

    @classmethod
    def version(cls):
        return " ".join(f"{distribution}=={_version(distribution)}" for distribution in cls.distributions)

    def convert(self, fast, directory):
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
        with artifacts.quiet_logger("tensorflow"):  # a new shape retraces: TensorFlow warns of it, as if a bug
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

    def convert(self, fast, directory):
        with open(os.path.join(directory, self.files[0]), "wb") as out:
            out.write(artifacts.float32_tflite_bytes(fast))

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

    def convert(self, fast, directory):
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

    def convert(self, fast, directory):
        import openvino
        import tensorflow as tf

        spec = tf.TensorSpec((None, *fast.input_shape[1:]), tf.float32, name=artifacts.INPUT_NAME)
        function = tf.function(lambda images: fast(images, training=False), input_signature=[spec])
        with artifacts.quiet_logger("tensorflow"):
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
    for engine in (TensorFlowEngine, XLAEngine, LiteRTEngine, ONNXRuntimeEngine, OpenVINOEngine, JAXEngine, TorchEngine)
}
ENGINES = {name: engine.description for name, engine in ENGINE_CLASSES.items()}


def available_on(backend):
    """The engines that run on the Keras `backend`, installed or not."""
    return tuple(name for name, engine in ENGINE_CLASSES.items() if engine.backend == backend)


def require(name):
    """ImportError with the pip command when engine `name`'s runtime is missing."""
    engine = ENGINE_CLASSES[name]
    if not engine.installed():
        extra = {"onnxruntime": "onnx", "openvino": "openvino"}.get(name, name)
        missing = [d for d in engine.distributions if importlib.util.find_spec(d.replace("-", "_")) is None]
        raise ImportError(
            f"engine={name!r} needs {', '.join(missing) or 'its runtime'}: pip install 'keras-famous[{extra}]'."
        )
