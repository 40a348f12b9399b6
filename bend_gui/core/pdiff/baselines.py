"""Baseline generators: honest comparisons for the diffusion generator ("is diffusion better than noise?").

Each takes the k × d snapshot matrix and returns m × d members, seeded.
"""

from __future__ import annotations

import torch

from ..ml.subset import Subset


def from_snapshots(snaps: torch.Tensor, m: int, g: torch.Generator) -> torch.Tensor:
    """m of the raw snapshots: without replacement when m ≤ k."""
    k = len(snaps)
    idx = torch.randperm(k, generator=g)[:m] if m <= k else torch.randint(0, k, (m,), generator=g)
    return snaps[idx].clone()


def noised(snaps: torch.Tensor, m: int, g: torch.Generator, subset: Subset, sigma: float) -> torch.Tensor:
    """Random snapshots plus Gaussian noise; σ is relative to each tensor's spread (the std of its numbers
    in the mean snapshot), so a BN weight near 1 and a bias near 0 are disturbed in proportion."""
    base = from_snapshots(snaps, m, g)
    centre = snaps.mean(0)
    spread = torch.cat([centre[s:s + n].std().clamp_min(1e-8).expand(n) if n > 1 else centre[s:s + n].abs()
                        for s, n in zip(_starts(subset), subset.sizes)])
    return base + sigma * spread * torch.randn(base.shape, generator=g)


def averaged(snaps: torch.Tensor, m: int, g: torch.Generator, size: int) -> torch.Tensor:
    """Each member the mean of `size` snapshots drawn without replacement."""
    size = min(size, len(snaps))
    return torch.stack([snaps[torch.randperm(len(snaps), generator=g)[:size]].mean(0) for _ in range(m)])


def gaussian(snaps: torch.Tensor, m: int, g: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    """Independent per-coordinate Gaussians fitted to the snapshots, their std times `scale` (0 = every
    member the mean snapshot; 1 = the fit)."""
    mu, sd = snaps.mean(0), snaps.std(0) if len(snaps) > 1 else torch.zeros(snaps.shape[1])
    return mu + (sd * scale) * torch.randn((m, snaps.shape[1]), generator=g)


def baseline(name: str, snaps: torch.Tensor, m: int, seed: int, subset: Subset, *, noise_sigma: float,
             average_size: int, gaussian_scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if name == "snapshots":
        return from_snapshots(snaps, m, g)
    if name == "noise":
        return noised(snaps, m, g, subset, noise_sigma)
    if name == "average":
        return averaged(snaps, m, g, average_size)
    if name == "gaussian":
        return gaussian(snaps, m, g, gaussian_scale)
    raise ValueError(f"unknown baseline {name!r}")


def _starts(subset: Subset) -> list[int]:
    out, s = [], 0
    for n in subset.sizes:
        out.append(s)
        s += n
    return out
