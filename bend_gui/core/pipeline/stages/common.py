"""Helpers the stages share."""

from __future__ import annotations

import torch
from torch import nn

from ...ml.features import Features
from ...ml.training import accuracy


@torch.no_grad()
def features_accuracy(tail: nn.Module, feats: Features, y: torch.Tensor, batch_size: int) -> float:
    tail.eval()
    logits = torch.cat([tail(b).float().cpu() for b in feats.batches(batch_size)])
    return accuracy(logits, y)
