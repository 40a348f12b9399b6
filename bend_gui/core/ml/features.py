"""Activations entering the tail: the frozen prefix runs once per image, not once per member.

Every member shares the frozen prefix bit for bit, so its output is computed once and reused by the
collection stage (thousands of subset-training steps) and by evaluation (hundreds of members). The cache is
kept on the device when it fits its budget there, else in the computer's memory (batches copied over), and
when it fits neither, the prefix runs again for every batch: slower, same numbers, and said so.
"""

from __future__ import annotations

from typing import Iterator

import torch
from torch import nn

from ..events import CACHE_STEP, CancelFlag, Progress
from .data import normalize


class Features:
    def __init__(self, prefix: nn.Module, x: torch.Tensor, mean, std, device: torch.device,
                 cached: torch.Tensor | None):
        self.prefix, self.x, self.mean, self.std, self.device = prefix, x, mean, std, device
        self.cached = cached

    def __len__(self) -> int:
        return len(self.x)

    @torch.no_grad()
    def get(self, idx: torch.Tensor | slice) -> torch.Tensor:
        if self.cached is not None:
            if isinstance(idx, torch.Tensor):
                idx = idx.to(self.cached.device)
            return self.cached[idx].to(self.device, non_blocking=True)
        return self.prefix(normalize(self.x[idx].to(self.device, non_blocking=True), self.mean, self.std))

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        for i in range(0, len(self), batch_size):
            yield self.get(slice(i, i + batch_size))


def build_features(prefix: nn.Module, x: torch.Tensor, mean, std, device: torch.device, *, batch_size: int,
                   limit_bytes: float, host_limit_bytes: float = 0, cancel: CancelFlag, stage: str,
                   label: str) -> Iterator[Progress]:
    """Generator: yields progress while caching, returns a Features. The cache goes on `device` when it
    takes at most `limit_bytes`, else in host memory when at most `host_limit_bytes` (a GPU's case)."""
    prefix.eval()
    with torch.no_grad():
        probe = prefix(normalize(x[:2].to(device), mean, std))
    need = len(x) * probe[0].numel() * probe.element_size()
    if need <= limit_bytes:
        store = device
    elif need <= host_limit_bytes:
        store = torch.device("cpu")
    else:
        yield Progress(stage, 1, 1, f"{label}: {need / 2**30:.2f} GiB of activations exceed the cache's memory "
                                    f"budget; the frozen part will run per batch", step=CACHE_STEP)
        return Features(prefix, x, mean, std, device, None)
    out = torch.empty((len(x), *probe.shape[1:]), dtype=probe.dtype, device=store,
                      pin_memory=store.type == "cpu" and device.type == "cuda")
    n_batches = (len(x) + batch_size - 1) // batch_size
    with torch.no_grad():
        for b, i in enumerate(range(0, len(x), batch_size)):
            cancel.check()
            out[i:i + batch_size] = prefix(normalize(x[i:i + batch_size].to(device), mean, std))
            yield Progress(stage, b + 1, n_batches, f"caching {label} activations", step=CACHE_STEP)
    return Features(prefix, x, mean, std, device, out)
