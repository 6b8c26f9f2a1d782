"""Auxiliary classifiers: extra outputs for training, stripped for inference."""

import keras
import numpy as np
import pytest

import keras_famous
from conftest import infer, random_images


@pytest.mark.parametrize("variant", ["original", "torchvision"])
def test_googlenet_aux_heads_train_and_strip(variant):
    model = keras_famous.GoogLeNet(variant=variant, aux_logits=True, classes=5, input_shape=(224, 224, 3))
    assert len(model.outputs) == 3
    images = random_images((224, 224, 3), batch=2)
    labels = np.array([1, 3])
    # Sec. 5: the auxiliary losses are added with weight 0.3.
    model.compile(
        optimizer=keras.optimizers.SGD(0.01), loss=["sparse_categorical_crossentropy"] * 3, loss_weights=[1.0, 0.3, 0.3]
    )
    history = model.fit(images, (labels, labels, labels), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])

    inference = keras_famous.without_auxiliary_heads(model)
    assert len(inference.outputs) == 1
    assert not any(layer.name.startswith("aux") for layer in inference.layers)
    main = infer(model, images)[0]
    np.testing.assert_array_equal(infer(inference, images), main)
    assert inference.count_params() == keras_famous.GoogLeNet(variant=variant, classes=5).count_params()


def test_aux_heads_need_the_top():
    with pytest.raises(ValueError, match="aux_logits"):
        keras_famous.GoogLeNet(aux_logits=True, include_top=False)


def test_inception_v3_aux_head_trains_and_strips():
    model = keras_famous.InceptionV3(aux_logits=True, classes=4)
    assert len(model.outputs) == 2
    assert model.get_layer("aux_pool").output.shape[1:3] == (5, 5)  # 17x17 -> 5x5 (Fig. 8)
    images = random_images((299, 299, 3), batch=2)
    labels = np.array([0, 3])
    model.compile(
        optimizer=keras.optimizers.SGD(0.01), loss=["sparse_categorical_crossentropy"] * 2, loss_weights=[1.0, 0.4]
    )
    assert np.isfinite(model.fit(images, (labels, labels), epochs=1, verbose=0).history["loss"][0])
    inference = keras_famous.without_auxiliary_heads(model)
    np.testing.assert_array_equal(infer(inference, images), infer(model, images)[0])
    # Without the head the graph is keras.applications' again.
    assert inference.count_params() == keras_famous.InceptionV3(classes=4).count_params()


def test_inception_v3_aux_head_needs_the_top():
    with pytest.raises(ValueError, match="aux_logits"):
        keras_famous.InceptionV3(aux_logits=True, include_top=False)


@pytest.mark.parametrize("builder,too_small,smallest", [("GoogLeNet", 64, 65), ("InceptionV3", 298, 299)])
def test_aux_heads_name_their_minimum_input(builder, too_small, smallest):
    build = getattr(keras_famous, builder)
    with pytest.raises(ValueError, match=f"`input_shape` of at least {smallest}x{smallest}"):
        build(aux_logits=True, input_shape=(too_small, too_small, 3), classes=3)
    model = build(aux_logits=True, input_shape=(smallest, smallest, 3), classes=3)
    outputs = model.predict(random_images((smallest, smallest, 3), batch=1), verbose=0)
    assert all(output.shape == (1, 3) for output in outputs)
