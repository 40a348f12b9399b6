"""The parameter autoencoder: a 4-layer strided 1-D conv encoder to a small latent, and its mirror.

The latent goes through tanh, which keeps it at a small, fixed scale: the latent noise σ of training
is then a fraction of the latent's range, and the DDPM sees latents of a known size.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _block(conv: nn.Module, channels: int) -> nn.Sequential:
    return nn.Sequential(conv, nn.InstanceNorm1d(channels, affine=True), nn.LeakyReLU(0.2))


class ParamAutoencoder(nn.Module):
    def __init__(self, d: int, latent_dim: int, channels: list[int]):
        super().__init__()
        self.d, self.latent_dim, self.channels = d, latent_dim, list(channels)
        # Four stride-2 layers; at least 2 positions remain for InstanceNorm however small d is.
        self.length = max(32, math.ceil(d / 16) * 16)
        c1, c2, c3, c4 = channels
        self.encoder = nn.Sequential(
            _block(nn.Conv1d(1, c1, 3, stride=2, padding=1), c1),
            _block(nn.Conv1d(c1, c2, 3, stride=2, padding=1), c2),
            _block(nn.Conv1d(c2, c3, 3, stride=2, padding=1), c3),
            _block(nn.Conv1d(c3, c4, 3, stride=2, padding=1), c4),
        )
        flat = c4 * self.length // 16
        self.to_latent = nn.Linear(flat, latent_dim)
        self.from_latent = nn.Linear(latent_dim, flat)
        self.decoder = nn.Sequential(
            _block(nn.ConvTranspose1d(c4, c3, 4, stride=2, padding=1), c3),
            _block(nn.ConvTranspose1d(c3, c2, 4, stride=2, padding=1), c2),
            _block(nn.ConvTranspose1d(c2, c1, 4, stride=2, padding=1), c1),
            _block(nn.ConvTranspose1d(c1, c1, 4, stride=2, padding=1), c1),
        )
        self.out = nn.Conv1d(c1, 1, 3, padding=1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.pad(x, (0, self.length - self.d)).unsqueeze(1)
        return torch.tanh(self.to_latent(self.encoder(x).flatten(1)))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        h = self.from_latent(z).view(len(z), self.channels[3], self.length // 16)
        return self.out(self.decoder(h)).squeeze(1)[:, : self.d]

    def forward(self, x: torch.Tensor, input_noise: float = 0.0, latent_noise: float = 0.0) -> torch.Tensor:
        z = self.encode(x + input_noise * torch.randn_like(x))
        return self.decode(z + latent_noise * torch.randn_like(z))

    def spec(self) -> dict:
        return {"d": self.d, "latent_dim": self.latent_dim, "channels": self.channels}
