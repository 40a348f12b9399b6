"""Novelty of generated members: are they new classifiers or copies of the snapshots they were fitted on?

Definitions (the same words are printed under the report's table):

- Normalised parameter space: a subset vector minus the snapshots' mean vector, each tensor (bn3.weight, ...)
  divided by the standard deviation of that tensor's residuals over the k snapshots: the 'residual'
  normalisation of the autoencoder. One unit is the snapshots' typical spread in that tensor.
- Distance: the Euclidean distance in that space divided by √d, so it reads as an RMS difference per
  coordinate in units of spread, comparable across subsets of different d.
- nn: each member's distance to its nearest snapshot. Beside it, the reference: each snapshot's distance
  to its nearest *other* snapshot (leave-one-out), loo.
- Copy share: the share of members whose nn is ≤ the median of the snapshots' loo distances, i.e. members
  at least as close to some snapshot as a typical snapshot is to its nearest neighbour. A member equal to
  a snapshot has nn = 0 and always counts; a member far from all snapshots does not.
- Largest IoU: each member's largest IoU of wrong predictions (|W₁ ∩ W₂| / |W₁ ∪ W₂| on the test set) with
  any snapshot; beside it each snapshot's largest IoU with any other snapshot. 1 means some snapshot makes
  exactly the same mistakes.

Summaries are median, 10th and 90th percentile over the members (nn, IoU) and the share (copies).
"""

from __future__ import annotations

import numpy as np
import torch

from ..ml.subset import Subset
from ..pdiff.normalize import Normalizer


def normalised(vectors: torch.Tensor, norm: Normalizer) -> torch.Tensor:
    return norm.encode(vectors.double().cpu())


def nearest_distances(a: torch.Tensor, b: torch.Tensor, *, exclude_self: bool = False) -> np.ndarray:
    """For each row of `a`, its smallest Euclidean distance to a row of `b` divided by √d; with
    `exclude_self` (a is b) the diagonal is left out (leave-one-out). In float64, so a copy gives 0 up to
    rounding."""
    d = a.shape[1]
    out = np.empty(len(a))
    for s in range(0, len(a), 256):  # bounded memory: 256 × k distances at a time
        block = torch.cdist(a[s:s + 256], b)
        if exclude_self:
            idx = torch.arange(s, min(s + 256, len(a)))
            block[idx - s, idx] = float("inf")
        out[s:s + len(block)] = (block.min(1).values / d ** 0.5).numpy()
    return out


def largest_iou(preds: np.ndarray, ref: np.ndarray, y: np.ndarray, *, exclude_self: bool = False) -> np.ndarray:
    """For each member (row of `preds`), its largest IoU of wrong predictions with a member of `ref`
    (1 for two members that are never wrong, as in metrics.iou_matrix)."""
    w1 = (np.asarray(preds) != y[None, :]).astype(np.float32)
    w2 = (np.asarray(ref) != y[None, :]).astype(np.float32)
    inter = w1 @ w2.T
    union = w1.sum(1)[:, None] + w2.sum(1)[None, :] - inter
    iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    if exclude_self:
        np.fill_diagonal(iou, -np.inf)
    return iou.max(1)


def _summary(x: np.ndarray) -> dict:
    return {"median": float(np.median(x)), "p10": float(np.percentile(x, 10)), "p90": float(np.percentile(x, 90)),
            "min": float(x.min()), "max": float(x.max())}


class Reference:
    """The snapshots as the reference of novelty: their normalisation, their leave-one-out nn distances and
    largest IoUs, and the copy threshold (the median loo distance). Needs k ≥ 2 (the pipeline's minimum)."""

    def __init__(self, snapshots: torch.Tensor, snapshot_preds: np.ndarray, y: np.ndarray, subset: Subset):
        self.norm = Normalizer.fit(snapshots.float().cpu(), subset, "residual")
        self.points = normalised(snapshots, self.norm)
        self.preds, self.y = np.asarray(snapshot_preds), np.asarray(y)
        self.loo = nearest_distances(self.points, self.points, exclude_self=True)
        self.loo_iou = largest_iou(self.preds, self.preds, self.y, exclude_self=True)
        self.threshold = float(np.median(self.loo))

    def members(self, vectors: torch.Tensor, preds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each member's nn distance, largest IoU with a snapshot, and whether it counts as a copy."""
        nn = nearest_distances(normalised(vectors, self.norm), self.points)
        return nn, largest_iou(preds, self.preds, self.y), nn <= self.threshold


def novelty(snapshots: torch.Tensor, snapshot_preds: np.ndarray, sets: dict[str, tuple[torch.Tensor, np.ndarray]],
            y: np.ndarray, subset: Subset) -> dict:
    """The novelty block of metrics.json: the snapshots' own leave-one-out reference and, for each named
    set of members (vectors m × d, test predictions m × n), its nn distances, largest IoUs and copy share."""
    ref = Reference(snapshots, snapshot_preds, y, subset)
    out = {"snapshots": {"loo_distance": _summary(ref.loo), "largest_iou": _summary(ref.loo_iou)},
           "copy_threshold": ref.threshold, "sets": {}}
    for name, (vectors, preds) in sets.items():
        nn, iou, copy = ref.members(vectors, preds)
        out["sets"][name] = {"nn_distance": _summary(nn), "largest_iou": _summary(iou),
                             "copy_share": float(copy.mean()), "m": len(nn)}
    return out
