"""Running the networks for inference: the lighter graph, the engines, the engine cache and whole folders.

rewrite       `inference_model`: BatchNormalization folded, dropout and auxiliary heads removed
engines       one class per engine (TensorFlow, XLA, LiteRT, ONNX Runtime, OpenVINO, JAX, torch)
conversion    the engines' files made here or in a child process (tf2onnx's memory returns when it exits)
cache         the engine cache under KERAS_FAMOUS_HOME/engines: converted files and measured choices
predictor     `predictor(model)`: the fastest engine of this machine, checked against the Keras model
"""

from .engines import ENGINES
from .jobs import predict_files
from .predictor import VERIFY_TOLERANCE, Predictor, predictor
from .rewrite import inference_model

__all__ = ["ENGINES", "VERIFY_TOLERANCE", "Predictor", "inference_model", "predict_files", "predictor"]
