"""Per-tensor normalisation of the snapshots before the autoencoder sees them.

'tensor' (p-diff v3): each tensor (e.g. bn3.weight) is standardised by the mean and std of all its
numbers over all snapshots. 'residual': the mean snapshot is subtracted first, then each tensor is
scaled by the std of its residuals, so the autoencoder spends its capacity on how the snapshots differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..ml.subset import Subset


@dataclass
class Normalizer:
    mode: str
    shift: torch.Tensor  # (d,)
    scale: torch.Tensor  # (d,)

    @classmethod
    def fit(cls, snapshots: torch.Tensor, subset: Subset, mode: str) -> "Normalizer":
        shift = torch.empty(subset.d)
        scale = torch.empty(subset.d)
        start = 0
        centre = snapshots.mean(0)
        for size in subset.sizes:
            part = snapshots[:, start:start + size]
            if mode == "tensor":
                shift[start:start + size] = part.mean()
                s = part.std() if part.numel() > 1 else part.abs().mean()
            else:
                shift[start:start + size] = centre[start:start + size]
                s = (part - centre[start:start + size]).std() if part.numel() > 1 else torch.tensor(0.0)
            scale[start:start + size] = float(s) if float(s) > 1e-8 else 1.0
            start += size
        return cls(mode, shift, scale)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.shift.to(x.device)) / self.scale.to(x.device)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.scale.to(z.device) + self.shift.to(z.device)

    def to_dict(self) -> dict:
        return {"mode": self.mode, "shift": self.shift, "scale": self.scale}

    @classmethod
    def from_dict(cls, d: dict) -> "Normalizer":
        return cls(d["mode"], d["shift"], d["scale"])
