"""Novelty measures on hand-made cases: a copy of a snapshot, a member far from all, the leave-one-out
reference of the snapshots themselves."""

import numpy as np
import pytest
import torch

from bend_gui.core.ml.subset import Subset
from bend_gui.core.results.novelty import Reference, largest_iou, nearest_distances, novelty

SUBSET = Subset(("bn.weight", "bn.bias"), ((3,), (3,)))
Y = np.array([0, 1, 2, 3, 0, 1, 2, 3, 0, 1])


def _snapshots():
    g = torch.Generator().manual_seed(0)
    snaps = torch.cat([1 + 0.1 * torch.randn(6, 3, generator=g), 0.01 * torch.randn(6, 3, generator=g)], 1)
    preds = np.tile(Y, (6, 1))
    for i in range(6):  # snapshot i is wrong on samples i and i + 1 (its own mistakes, half shared)
        preds[i, [i, i + 1]] = (Y[[i, i + 1]] + 1) % 4
    return snaps, preds


def test_a_member_equal_to_a_snapshot_is_a_copy_and_a_far_member_is_not():
    snaps, preds = _snapshots()
    far = snaps.mean(0) + torch.tensor([50.0, -50.0, 50.0, 5.0, -5.0, 5.0])  # ~500 spreads away
    far_preds = Y.copy()
    far_preds[[8, 9]] = (Y[[8, 9]] + 2) % 4  # mistakes no snapshot makes
    members = torch.stack([snaps[2], far])
    mpreds = np.stack([preds[2], far_preds])
    nn, iou, copy = Reference(snaps, preds, Y, SUBSET).members(members, mpreds)
    assert nn[0] == pytest.approx(0.0, abs=1e-6)
    assert iou[0] == 1.0 and copy[0]
    assert nn[1] > 100 and iou[1] == 0.0 and not copy[1]

    block = novelty(snaps, preds, {"diffusion": (members, mpreds)}, Y, SUBSET)
    assert block["sets"]["diffusion"]["copy_share"] == 0.5
    assert block["sets"]["diffusion"]["nn_distance"]["min"] == pytest.approx(0.0, abs=1e-6)
    assert block["sets"]["diffusion"]["largest_iou"]["max"] == 1.0


def test_the_snapshots_reference_leaves_each_snapshot_out():
    snaps, preds = _snapshots()
    ref = Reference(snaps, preds, Y, SUBSET)
    assert (ref.loo > 0).all()  # itself (distance 0) is not its nearest neighbour
    # Snapshot i shares one mistake with i - 1 and i + 1 out of three wrong samples: IoU 1/3.
    assert ref.loo_iou == pytest.approx(np.full(6, 1 / 3))
    assert ref.threshold == pytest.approx(float(np.median(ref.loo)))


def test_distances_are_rms_per_coordinate_and_iou_counts_mistakes_only():
    a = torch.zeros(1, 4, dtype=torch.float64)
    b = torch.tensor([[2.0, 2.0, 2.0, 2.0], [0.0, 0.0, 0.0, 4.0]], dtype=torch.float64)
    assert nearest_distances(a, b)[0] == pytest.approx(2.0)  # ‖(0,0,0,4)‖ / √4 = 2 = ‖(2,2,2,2)‖ / √4
    y = np.array([0, 0, 0, 0])
    assert largest_iou(np.array([[0, 0, 0, 0]]), np.array([[0, 0, 0, 0]]), y)[0] == 1.0  # never wrong, both
    assert largest_iou(np.array([[1, 1, 0, 0]]), np.array([[1, 0, 0, 0], [0, 0, 1, 1]]), y)[0] == 0.5
