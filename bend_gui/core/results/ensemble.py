"""Bagging rules over the members' predictions (BEND section 3.3).

`preds` is an (m, n) integer array: member i's predicted class for sample j.
"""

from __future__ import annotations

import numpy as np


def vote_counts(preds: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """(n, C) how many members voted for each class."""
    preds = np.asarray(preds)
    c = int(num_classes or preds.max() + 1)
    m, n = preds.shape
    flat = (np.arange(n)[None, :] * c + preds).ravel()
    return np.bincount(flat, minlength=n * c).reshape(n, c).astype(np.int32)


def sbend(preds: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """Algorithm 1: the most frequent class per sample; a tie goes to the smallest class index
    (what numpy.unique followed by argmax gives)."""
    return vote_counts(preds, num_classes).argmax(1)


def abend(preds: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Algorithm 2: per sample, a class drawn with probability count/m among the predicted classes.

    Drawing one member uniformly and taking its vote has exactly that distribution.
    """
    preds = np.asarray(preds)
    m, n = preds.shape
    pick = rng.integers(0, m, n)
    return preds[pick, np.arange(n)]


def soft_vote(mean_probs: np.ndarray) -> np.ndarray:
    """The class of highest mean probability."""
    return np.asarray(mean_probs).argmax(1)


def potential(preds: np.ndarray, y: np.ndarray) -> float:
    """Oracle accuracy: a sample counts as correct when any member is right (Table 3's upper bound)."""
    return float((np.asarray(preds) == np.asarray(y)[None, :]).any(0).mean())


def accuracy(labels: np.ndarray, y: np.ndarray) -> float:
    return float((np.asarray(labels) == np.asarray(y)).mean())
