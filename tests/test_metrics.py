"""keras_famous.metrics: top-k accuracy and top-1 agreement, ties broken as argmax breaks them."""

import numpy as np
import pytest

from keras_famous.metrics import top1_agreement, top_k_accuracy


def test_top1_is_argmax_also_with_ties():
    scores = np.random.default_rng(0).integers(0, 3, size=(500, 4))  # many ties
    labels = np.random.default_rng(1).integers(0, 4, size=500)
    assert top_k_accuracy(scores, labels) == np.mean(scores.argmax(1) == labels)
    assert top_k_accuracy([[1.0, 1.0]], [0]) == 1.0 and top_k_accuracy([[1.0, 1.0]], [1]) == 0.0
    assert top_k_accuracy([[0.0, np.nan, 5.0]], [1]) == 1.0  # NaN wins, as in argmax


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_top_k_counts_the_k_best_classes(k):
    rng = np.random.default_rng(k)
    scores = rng.integers(0, 4, size=(300, 6))
    labels = rng.integers(0, 6, size=300)
    best = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # ties: the lower class id first
    assert top_k_accuracy(scores, labels, k=k) == np.mean((best == labels[:, None]).any(axis=1))


def test_small_examples():
    scores = np.array([[0.1, 0.5, 0.4], [0.6, 0.3, 0.1], [0.2, 0.3, 0.5], [0.3, 0.3, 0.4]])
    labels = np.array([2, 0, 1, 1])
    assert top_k_accuracy(scores, labels, k=1) == 0.25
    assert top_k_accuracy(scores, labels, k=2) == 0.75  # the last: 0.3 ties with class 0, which ranks first
    assert top_k_accuracy(scores, labels, k=3) == top_k_accuracy(scores, labels, k=10) == 1.0


def test_shape_and_value_errors_name_the_argument():
    scores = np.zeros((4, 3))
    with pytest.raises(ValueError, match="`scores`"):
        top_k_accuracy(np.zeros(3), [0, 1, 2])
    with pytest.raises(ValueError, match="`scores`"):
        top_k_accuracy(np.zeros((0, 3)), [])
    with pytest.raises(ValueError, match=r"`labels` must have shape \(4,\)"):
        top_k_accuracy(scores, [0, 1, 2])
    with pytest.raises(ValueError, match=r"`labels` must have shape \(4,\)"):
        top_k_accuracy(scores, np.zeros((4, 3), int))  # one-hot labels
    with pytest.raises(ValueError, match="`labels` must be integer"):
        top_k_accuracy(scores, [0.0, 1.0, 2.0, 1.0])
    with pytest.raises(ValueError, match=r"`labels` must be class ids in \[0, 3\)"):
        top_k_accuracy(scores, [0, 1, 3, 1])
    for k in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="`k`"):
            top_k_accuracy(scores, [0, 1, 2, 1], k=k)


def test_top1_agreement():
    a = np.array([[0.1, 0.9], [0.8, 0.2], [0.5, 0.5]])
    b = np.array([[0.2, 0.7], [0.1, 0.9], [0.4, 0.4]])
    assert top1_agreement(a, b) == pytest.approx(2 / 3)
    assert top1_agreement(a[:, None, None, :], b[:, None, None, :]) == pytest.approx(2 / 3)  # flattened per sample
    with pytest.raises(ValueError, match="`a` and `b` must have the same shape"):
        top1_agreement(a, b[:2])
    with pytest.raises(ValueError, match="`a` and `b`"):
        top1_agreement(np.zeros((0, 2)), np.zeros((0, 2)))
