"""Small training helpers shared by the stages: optimisers, schedules, augmentation, batched accuracy."""

from __future__ import annotations

from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ..events import TEST_STEP, CancelFlag, Progress
from .data import normalize
from .fastpath import FastPath


def make_optimizer(name: str, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0):
    params = list(params)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                               nesterov=momentum > 0)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def make_schedule(name: str, optimizer, lr: float, total_steps: int):
    total_steps = max(1, total_steps)
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps)
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random crop with 4 pixels of zero padding and a random horizontal flip, on a uint8 batch."""
    n, _, h, w = x.shape
    padded = F.pad(x, (4, 4, 4, 4))
    dx = torch.randint(0, 9, (n,), generator=generator)
    dy = torch.randint(0, 9, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    rows = (dy.view(n, 1) + torch.arange(h).view(1, h)).to(x.device)
    cols = (dx.view(n, 1) + torch.arange(w).view(1, w)).to(x.device)
    cols = torch.where(flip.to(x.device).view(n, 1), cols.flip(1), cols)
    idx_n = torch.arange(n, device=x.device).view(n, 1, 1)
    out = padded.permute(0, 2, 3, 1)[idx_n, rows.view(n, h, 1), cols.view(n, 1, w)]
    return out.permute(0, 3, 1, 2).contiguous()


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The shuffle of one epoch, reproducible from (seed, epoch) so a resumed run sees the same batches."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))


def steps_per_epoch(n: int, batch_size: int) -> int:
    # Drop the last partial batch (a batch of one breaks BatchNorm in train mode); keep at least one.
    return max(1, n // batch_size) if n >= batch_size else 1


@torch.no_grad()
def predict(model: nn.Module, batches) -> torch.Tensor:
    """Logits of every batch of an iterable, concatenated on the CPU."""
    return torch.cat([model(b).float().cpu() for b in batches])


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float((logits.argmax(1) == y.to(logits.device)).float().mean())


def loss_and_accuracy(logits: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    y = y.to(logits.device)
    return float(F.cross_entropy(logits, y)), accuracy(logits, y)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, mean, std, device: torch.device, *,
             fast: FastPath, cancel: CancelFlag, stage: str, text: str, batch_size: int = 1000
             ) -> Iterator[Progress]:
    """Generator: the test-set pass as the TEST_STEP sub-step, returning (loss, accuracy). The logits stay on
    the device and the two numbers are read back once; on the CPU this is exactly `predict` followed by
    `loss_and_accuracy`."""
    model.eval()
    n_batches = (len(x) + batch_size - 1) // batch_size
    parts = []
    with torch.no_grad():
        for b, i in enumerate(range(0, len(x), batch_size)):
            cancel.check()
            with fast.autocast():
                out = model(fast.inputs(normalize(x[i:i + batch_size].to(device, non_blocking=True), mean, std)))
            parts.append(out.float())
            yield Progress(stage, b + 1, n_batches, text, step=TEST_STEP)
        logits, y = torch.cat(parts), y.to(device)
        loss, acc = F.cross_entropy(logits, y), (logits.argmax(1) == y).float().mean()
    return float(loss), float(acc)
