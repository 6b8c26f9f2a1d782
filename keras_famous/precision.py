"""Mixed precision: pick the dtype policy for the hardware at hand.

The builders keep the classifier (and its softmax) in float32 under every policy, so outputs are
float32 and losses are computed in float32: `FLOAT32_LAYERS` names those layers (LeNet-5's RBF output
is its "predictions"). Every other layer - LeNet-5's subsampling, AlexNet's LRN, the inception and
residual branches - computes in the policy's dtype; the tests build every model under mixed_float16,
mixed_bfloat16 and bfloat16 and find its logits within 1%, 6% and 15% of the float32 model's largest
logit, so nothing else needs float32.
"""

import logging

import keras

POLICIES = ("auto", "float32", "mixed_float16", "mixed_bfloat16", "bfloat16")
# the classifier (Dense or Activation "predictions" in every model) and include_preprocessing's input scaling
FLOAT32_LAYERS = ("predictions", "preprocessing")
logger = logging.getLogger(__name__)


def _devices():
    import tensorflow as tf

    return {device.device_type for device in tf.config.list_logical_devices()}


def choose_policy(request="auto", devices=None):
    """The policy name for `request`: "auto" means mixed_float16 on a CUDA GPU, mixed_bfloat16 on a
    TPU, float32 otherwise (float16 on CPU is slower than float32); other names pass through."""
    if request not in POLICIES:
        raise ValueError(f"`request` must be one of {POLICIES}; received {request!r}.")
    if request != "auto":
        return request
    devices = _devices() if devices is None else set(devices)
    if "GPU" in devices:
        return "mixed_float16"
    if "TPU" in devices:
        return "mixed_bfloat16"
    return "float32"


def use_mixed_precision(request="auto"):
    """Sets Keras' global dtype policy (for models built afterwards) and returns its name, saying why."""
    policy = choose_policy(request)
    keras.config.set_dtype_policy(policy)
    reason = "requested" if request != "auto" else f"auto on {', '.join(sorted(_devices()))}"
    logger.warning("keras_famous: dtype policy %s (%s)", policy, reason)
    return policy
