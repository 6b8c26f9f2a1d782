"""Accuracy of class scores, computed one way everywhere (evaluation, export checks, the demo, tools).

Ties go to the lower class id and NaN counts as the highest score, as with `argmax`: a label is in the
top k when fewer than k classes score higher than it, or the same with a lower id.
"""

import numpy as np


def _top_k_hits(scores, labels, k):
    """Boolean per sample: its label is among its k best classes."""
    if np.issubdtype(scores.dtype, np.floating) and np.isnan(scores).any():
        scores = np.where(np.isnan(scores), np.inf, scores)
    rows = np.arange(len(scores))
    own = scores[rows, labels][:, None]
    lower_id = np.arange(scores.shape[1])[None, :] < labels[:, None]
    rank = np.sum((scores > own) | ((scores == own) & lower_id), axis=1)
    return rank < k


def top_k_accuracy(scores, labels, k=1):
    """The fraction of samples whose label is among the `k` highest of their scores.

    scores: (samples, classes); labels: (samples,) integer class ids in [0, classes)."""
    scores = np.asarray(scores)
    if scores.ndim != 2 or len(scores) == 0:
        raise ValueError(f"`scores` must be a non-empty 2-D array (samples, classes); received shape {scores.shape}.")
    labels = np.asarray(labels)
    if labels.shape != (len(scores),):
        raise ValueError(
            f"`labels` must have shape ({len(scores)},), one class id per row of `scores`; "
            f"received shape {labels.shape}."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"`labels` must be integer class ids; received dtype {labels.dtype}.")
    if labels.min() < 0 or labels.max() >= scores.shape[1]:
        raise ValueError(
            f"`labels` must be class ids in [0, {scores.shape[1]}); received ids from {labels.min()} to {labels.max()}."
        )
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"`k` must be a positive integer; received k={k!r}.")
    return float(np.mean(_top_k_hits(scores, labels, k)))


def top1_agreement(a, b):
    """The fraction of samples whose best class is the same in `a` and `b`: (samples, ...) score arrays
    of the same shape, flattened per sample."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"`a` and `b` must have the same shape; received {a.shape} and {b.shape}.")
    if a.ndim == 0 or len(a) == 0:
        raise ValueError(f"`a` and `b` must be non-empty arrays (samples, ...); received shape {a.shape}.")
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    return float(np.mean(a.argmax(1) == b.argmax(1)))


def relative_difference(actual, expected):
    """max |actual - expected| / max |expected|: a difference relative to the output's magnitude."""
    difference = float(np.max(np.abs(np.asarray(actual) - np.asarray(expected))))
    return difference / max(float(np.max(np.abs(expected))), 1e-12)
