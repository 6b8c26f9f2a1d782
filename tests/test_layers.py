"""The custom layers: each checked against an independent formula."""

import numpy as np
import pytest
import tensorflow as tf

from keras_famous import layers
from keras_famous.models import lenet


def test_lrn_matches_tensorflow():
    x = np.random.default_rng(0).normal(size=(2, 5, 5, 16)).astype("float32") * 3
    ours = layers.LocalResponseNormalization(depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75)(x)
    reference = tf.nn.local_response_normalization(x, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75)
    np.testing.assert_allclose(np.asarray(ours), reference.numpy(), rtol=1e-6)


def test_c3_connection_table_is_the_papers():
    """Table I: 6 maps see 3 contiguous inputs, 6 see 4 contiguous, 3 see 4 discontinuous, 1 sees all."""
    sizes = [len(c) for c in lenet.C3_CONNECTIONS]
    assert sizes == [3] * 6 + [4] * 9 + [6] and sum(sizes) == 60
    table = np.zeros((6, 16), dtype=int)
    for output_map, inputs in enumerate(lenet.C3_CONNECTIONS):
        table[list(inputs), output_map] = 1
    # Row 0 of the paper's Table I: input map 0 feeds maps 0, 4, 5, 6, 9, 10, 11, 12, 14, 15.
    assert list(np.flatnonzero(table[0])) == [0, 4, 5, 6, 9, 10, 11, 12, 14, 15]
    assert table.sum(axis=1).tolist() == [10, 10, 10, 10, 10, 10]


def test_partial_conv_equals_masked_dense_convolution():
    layer = layers.PartialConv2D(lenet.C3_CONNECTIONS, kernel_size=5)
    x = np.random.default_rng(1).normal(size=(2, 14, 14, 6)).astype("float32")
    out = np.asarray(layer(x))
    assert layer.count_params() == 1516
    kernel = np.asarray(layer.dense_kernel())
    mask = np.zeros((6, 16), dtype=bool)
    for j, inputs in enumerate(lenet.C3_CONNECTIONS):
        mask[list(inputs), j] = True
    assert np.all(kernel[:, :, ~mask] == 0) and np.count_nonzero(kernel[:, :, mask]) == 1500
    reference = tf.nn.conv2d(x, kernel, 1, "VALID").numpy() + np.asarray(layer.bias)
    np.testing.assert_allclose(out, reference, rtol=1e-5, atol=1e-5)


def test_trainable_subsampling_formula():
    layer = layers.TrainableSubsampling(activation=None)
    x = np.random.default_rng(2).normal(size=(1, 4, 4, 3)).astype("float32")
    layer.build(x.shape)
    layer.coefficient.assign(np.array([1.0, 2.0, -0.5], dtype="float32"))
    layer.bias.assign(np.array([0.0, 1.0, 0.5], dtype="float32"))
    window_sum = x.reshape(1, 2, 2, 2, 2, 3).sum(axis=(2, 4))
    expected = window_sum * np.array([1.0, 2.0, -0.5]) + np.array([0.0, 1.0, 0.5])
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-5, atol=1e-5)


def test_rbf_scores_are_negative_squared_distances():
    prototypes = lenet.rbf_prototypes(10)
    assert prototypes.shape == (10, 84) and set(np.unique(prototypes)) == {-1.0, 1.0}
    assert len({tuple(p) for p in prototypes}) == 10
    layer = layers.EuclideanRBF(prototypes)
    x = np.random.default_rng(3).normal(size=(4, 84)).astype("float32")
    expected = -((x[:, None, :] - prototypes[None]) ** 2).sum(-1)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-4)
    assert layer.trainable_weights == [] and layer.count_params() == 840
    # The prototype of each digit is its own nearest prototype.
    assert np.argmax(np.asarray(layer(prototypes.astype("float32"))), axis=1).tolist() == list(range(10))


def test_lecun_tanh_constants():
    assert float(layers.lecun_tanh(np.float32(1.0))) == pytest.approx(1.0, abs=2e-4)  # f(1) = 1, App. A
    assert float(layers.lecun_tanh(np.float32(-1.0))) == pytest.approx(-1.0, abs=2e-4)


@pytest.mark.parametrize("side", [5, 6, 7, 16])
def test_unpadded_average_pooling_divides_by_the_real_pixels(side):
    """Each window's sum over its in-image pixels / their count (an explicit loop), which is what
    TensorFlow's "same" average pooling computes; the torch backend's is checked in test_backends."""
    x = np.random.default_rng(side).uniform(size=(2, side, side, 3)).astype("float32")
    ours = np.asarray(layers.UnpaddedAveragePooling2D(3, strides=2, padding="same")(x))
    before = max(3 - (side % 2 or 2), 0) // 2
    out = -(-side // 2)
    expected = np.zeros((2, out, out, 3), "float32")
    for i in range(out):
        for j in range(out):
            rows = slice(max(2 * i - before, 0), min(2 * i - before + 3, side))
            cols = slice(max(2 * j - before, 0), min(2 * j - before + 3, side))
            expected[:, i, j] = x[:, rows, cols].mean(axis=(1, 2))
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ours, tf.nn.avg_pool2d(x, 3, 2, "SAME").numpy(), rtol=1e-6, atol=1e-7)
