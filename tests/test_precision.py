"""Policy choice, and models built under it computing in that dtype with a float32 classifier."""

import keras
import numpy as np
import pytest

import keras_famous
from keras_famous import precision
from conftest import infer, build_small, random_images


def test_auto_picks_by_device():
    assert precision.choose_policy("auto", {"CPU"}) == "float32"
    assert precision.choose_policy("auto", {"CPU", "GPU"}) == "mixed_float16"
    assert precision.choose_policy("auto", {"CPU", "TPU"}) == "mixed_bfloat16"
    assert precision.choose_policy("mixed_bfloat16", {"CPU"}) == "mixed_bfloat16"
    with pytest.raises(ValueError, match="`request`"):
        precision.choose_policy("half")
    if not precision._devices() - {"CPU"}:  # no GPU or TPU here
        assert precision.use_mixed_precision("auto") == "float32"


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_resnet18_under_mixed_policy_stays_close_and_trains(policy):
    reference = keras_famous.ResNet18(variant="torchvision", input_shape=(64, 64, 3), classes=5)
    images = random_images((64, 64, 3), batch=4)
    expected = _main(reference(images, training=False))  # eager: no graph tracing for a single batch
    assert precision.use_mixed_precision(policy) == policy
    model = keras_famous.ResNet18(variant="torchvision", input_shape=(64, 64, 3), classes=5)
    model.set_weights(reference.get_weights())
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert all(layer.compute_dtype == policy.split("_")[1] for layer in convs)
    assert model.get_layer("predictions").compute_dtype == "float32"
    outputs = infer(model, images)
    assert outputs.dtype == np.float32
    assert np.abs(outputs - expected).max() < (2e-2 if policy == "mixed_float16" else 1e-1)
    optimizer = keras.optimizers.SGD(0.01)  # Keras wraps it in a LossScaleOptimizer under mixed_float16
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    history = model.fit(images, np.arange(4) % 5, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


POLICY_TOLERANCES = {"mixed_float16": 1e-2, "mixed_bfloat16": 6e-2, "bfloat16": 1.5e-1}  # of the logits' magnitude
# One model per family: the others are built from the same layers (test_serialization checks siblings share them).
FAMILIES = ("LeNet5", "AlexNet", "NiN", "VGG11", "GoogLeNet", "ResNet18", "ResNeXt50", "InceptionV3", "Xception",
            "DenseNetBC", "SqueezeNet1_1")  # fmt: skip
EVERY_MODEL = [(name, keras_famous.registry.get_spec(name).default_variant) for name in FAMILIES]


def _main(outputs):
    outputs = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
    return keras.ops.convert_to_numpy(outputs)


@pytest.mark.slow
@pytest.mark.parametrize("name, variant", EVERY_MODEL, ids=[f"{n}-{v}" for n, v in EVERY_MODEL])
def test_every_model_computes_in_the_policy_dtype_with_float32_outputs(name, variant):
    reference = build_small(name, variant, classifier_activation=None)
    weights = reference.get_weights()
    images = random_images(reference.input_shape[1:], batch=2, seed=7)
    expected = _main(reference(images, training=False))  # eager: no graph tracing for a single batch
    scale = np.abs(expected).max()
    for policy in POLICY_TOLERANCES:
        keras.backend.clear_session()
        keras.config.set_dtype_policy(policy)
        model = build_small(name, variant, classifier_activation=None)
        model.set_weights(weights)
        compute = "float16" if policy == "mixed_float16" else "bfloat16"
        for layer in model.layers[1:]:
            wanted = "float32" if layer.name in precision.FLOAT32_LAYERS else compute
            assert layer.compute_dtype == wanted, (policy, layer.name, layer.compute_dtype)
        outputs = _main(model(images, training=False))
        assert outputs.dtype == np.float32 and np.all(np.isfinite(outputs))
        error = np.abs(outputs - expected).max()
        assert error <= POLICY_TOLERANCES[policy] * scale, (policy, error, scale)


TRAINED_UNDER_MIXED_FLOAT16 = [
    ("LeNet5", "original"), ("AlexNet", "original"), ("VGG11", "bn"), ("GoogLeNet", "original"), ("ResNet18", "keras"),
    ("ResNeXt50", "keras"), ("InceptionV3", "keras"), ("Xception", "keras"), ("DenseNetBC", "L100_k12"), ("NiN", "cifar"),
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name, variant", TRAINED_UNDER_MIXED_FLOAT16, ids=[n for n, _ in TRAINED_UNDER_MIXED_FLOAT16])
def test_one_loss_scaled_training_step_per_family(name, variant):
    keras.config.set_dtype_policy("mixed_float16")
    model = build_small(name, variant)
    # dynamic loss scaling from 2**3: the largest gradients of these random-weight models reach ~1e3,
    # so Keras' 2**15 (and even 2**7) overflow float16 and skip each slow float16 step on a CPU until halved
    optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.01), initial_scale=2.0**3)
    # eagerly: the same loss-scaled step, without tracing a train function for four calls
    model.compile(optimizer, loss="sparse_categorical_crossentropy", run_eagerly=True)
    before = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    batch = 4 if name == "InceptionV3" else 2  # Inception-v3's 1x1 final map: batch statistics of 2 overflow
    images, labels = random_images(model.input_shape[1:], batch=batch, seed=1), np.arange(batch) % 10
    for _ in range(4):  # a step whose scaled gradients overflow is skipped (and the scale halved)
        loss = model.train_on_batch(images, labels)
        after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
        assert np.isfinite(loss) and all(np.all(np.isfinite(w)) for w in after)
        if any(not np.array_equal(a, b) for a, b in zip(before, after)):
            break
    else:
        raise AssertionError("four loss-scaled steps left every weight unchanged")
