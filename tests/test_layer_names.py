"""Layer names never depend on the session: a file saved from one build loads into a later build of the
same model in the same process (a notebook), and keras.applications' legacy files, whose Keras 2.0 names
count from 1, load by the order of the layers with weights, as Keras loads them."""

import re

import keras
import numpy as np
import pytest
import tf_keras

import keras_famous
from keras_famous import registry
from conftest import (
    EXPORTED_MODELS,
    advance_name_counters,
    assert_close_to_magnitude,
    build_small,
    infer,
    random_images,
)

# keras.applications' layouts whose keras.applications builders leave layers unnamed, at small inputs
UNNAMED_IN_KERAS = {"InceptionV3": (75, 75, 3), "Xception": (71, 71, 3), "InceptionResNetV2": (75, 75, 3)}


@pytest.mark.parametrize("name", UNNAMED_IN_KERAS)
def test_weights_saved_from_an_earlier_build_load_into_a_later_one(name, tmp_path):
    builder, shape = getattr(keras_famous, name), UNNAMED_IN_KERAS[name]
    first = builder(include_top=False, input_shape=shape)
    images = random_images(shape)
    expected = infer(first, images)
    first.save_weights(tmp_path / "first.weights.h5")
    first.save(tmp_path / "first.keras")
    advance_name_counters(keras)
    for file_name in ("first.weights.h5", "first.keras"):
        again = builder(include_top=False, input_shape=shape, weights=str(tmp_path / file_name))
        assert [layer.name for layer in again.layers] == [layer.name for layer in first.layers]
        np.testing.assert_array_equal(infer(again, images), expected)


@pytest.mark.parametrize("name", UNNAMED_IN_KERAS)
def test_keras_2_numbered_legacy_files_load_by_order(name, tmp_path):
    """The released inception_v3/xception/inception_resnet_v2 `_notop.h5` files were written by Keras 2.0:
    tf_keras with its name counters advanced writes the same names (conv2d_1 is the first convolution)."""
    shape = UNNAMED_IN_KERAS[name]
    tf_keras.backend.clear_session()
    advance_name_counters(tf_keras)
    reference = getattr(tf_keras.applications, name)(weights=None, include_top=False, input_shape=shape)
    rng = np.random.default_rng(3)
    reference.set_weights(
        [
            rng.uniform(0.5, 1.5, w.shape).astype("float32") if "variance" in w.name else w.numpy()
            for w in reference.weights
        ]
    )
    images = random_images(shape)
    expected = infer(reference, images)
    reference.save_weights(tmp_path / "numbered.h5")
    del reference
    tf_keras.backend.clear_session()
    ours = getattr(keras_famous, name)(include_top=False, input_shape=shape, weights=str(tmp_path / "numbered.h5"))
    assert_close_to_magnitude(infer(ours, images), expected, 1e-5)


def test_legacy_file_of_another_network_names_the_position_and_both_layers(tmp_path):
    tf_keras.backend.clear_session()
    advance_name_counters(tf_keras)
    tf_keras.applications.InceptionV3(weights=None, include_top=False, input_shape=(75, 75, 3)).save_weights(
        tmp_path / "v3.h5"
    )
    tf_keras.backend.clear_session()
    model = keras_famous.InceptionResNetV2(include_top=False, input_shape=(75, 75, 3))
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match="does not match this model") as error:
        registry.load_weights(model, tmp_path / "v3.h5", "InceptionResNetV2", "keras")
    message = str(error.value)
    assert "by order" in message and "our 'conv2d_" in message and "the file's 'conv2d_" in message
    assert re.search(r"the file has 188 layers with weights, this model \d+", message)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_keras_3_file_written_in_a_busy_session_loads_by_structure(tmp_path):
    """keras.applications' Xception saved by a Keras 3 session that had built other layers first: its unnamed
    layers are "conv2d_1".. there, "conv2d".. here, so Keras' own loader matches the file by the model's structure."""
    advance_name_counters(keras)
    reference = keras.applications.Xception(weights=None, include_top=False, input_shape=(71, 71, 3))
    assert "conv2d" not in {layer.name for layer in reference.layers}
    images = random_images((71, 71, 3))
    expected = infer(reference, images)
    reference.save_weights(tmp_path / "busy.weights.h5")
    ours = keras_famous.Xception(include_top=False, input_shape=(71, 71, 3), weights=str(tmp_path / "busy.weights.h5"))
    np.testing.assert_array_equal(infer(ours, images), expected)


# ----------------------------------------------------------------------------- the user's layers before ours
def _small_shape(name):
    return build_small(name).input_shape[1:]


# The weights load into our part alone: proven where names collide (the fresh-session families) and on ResNet
WEIGHTS_CHECKED = {"ResNet18", "InceptionV3", "InceptionResNetV2", "Xception"}


@pytest.mark.parametrize("name", EXPORTED_MODELS)
def test_notop_custom_input_tensor(name, tmp_path):
    """keras.applications' applications_test case: a user's auto-named Conv2D ("conv2d") before the model.
    Our fresh-session names ("conv2d", ...) move aside; the weights load into our part alone."""
    side, _, channels = _small_shape(name)
    weights = None
    if name in WEIGHTS_CHECKED:
        plain = registry.build_variant(name, None, include_top=False, input_shape=(side, side, channels))
        plain.save_weights(tmp_path / "plain.weights.h5")
        weights = str(tmp_path / "plain.weights.h5")
    inputs = keras.Input((2 * side, 2 * side, 4))
    user_conv = keras.layers.Conv2D(channels, 2, strides=2)
    model = registry.build_variant(name, None, include_top=False, input_tensor=user_conv(inputs), weights=weights)
    names = [layer.name for layer in model.layers]
    assert len(set(names)) == len(names) and user_conv.name == "conv2d" and model.inputs[0] is inputs
    assert len(model.output.shape) == 4 and model.get_layer("conv2d") is user_conv
    if weights:
        assert model.output.shape[-1] == plain.output.shape[-1]
        images = random_images((2 * side, 2 * side, 4))
        expected = infer(plain, infer(user_conv, images))
        np.testing.assert_allclose(infer(model, images), expected, rtol=1e-5, atol=1e-5)


def test_user_layers_named_as_ours_keep_their_names_and_ours_stay_deterministic(tmp_path):
    def build():
        inputs = keras.Input((64, 64, 3), name="images")  # unnamed, the session would number it
        x = keras.layers.Conv2D(3, 1, name="conv1_conv")(inputs)  # ResNet's own first convolution's name
        x = keras.layers.Rescaling(1.0, name="conv2d")(x)  # Inception-v3's first fresh-session name
        resnet = keras_famous.ResNet18(include_top=False, input_tensor=x, pooling="avg")
        return keras.Model(inputs, keras.layers.Dense(3, name="predictions")(resnet.output))

    first = build()
    images = random_images((64, 64, 3))
    expected = infer(first, images)
    first.save_weights(tmp_path / "first.weights.h5")
    advance_name_counters(keras)  # a later build in the same session
    again = build()
    assert [layer.name for layer in again.layers] == [layer.name for layer in first.layers]
    assert again.get_layer("conv1_conv").kernel.shape == (1, 1, 3, 3)  # the user's, untouched
    assert again.get_layer("conv1_conv_1").kernel.shape == (7, 7, 3, 64)  # ours, moved aside
    again.load_weights(tmp_path / "first.weights.h5")
    np.testing.assert_array_equal(infer(again, images), expected)
