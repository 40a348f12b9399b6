"""A trained p-diff generator, loaded from a project: noise → latents → decoder → new subsets."""

from __future__ import annotations

from typing import Callable

import torch

from ..fileio import load_tensors
from ..project.folder import Project
from .autoencoder import ParamAutoencoder
from .ddpm import Denoiser, Schedule, sample
from .normalize import Normalizer


def load_autoencoder(project: Project, device: torch.device) -> tuple[ParamAutoencoder, Normalizer]:
    saved = load_tensors(project.dir("autoencoder") / "model.pt")
    spec = saved["spec"]
    ae = ParamAutoencoder(spec["d"], spec["latent_dim"], spec["channels"])
    ae.load_state_dict(saved["state_dict"])
    return ae.to(device).eval(), Normalizer.from_dict(saved["normalizer"])


class DiffusionGenerator:
    """Loaded from a project's autoencoder and diffusion stages, or built from modules trained in memory
    (`from_modules`, what the k-sweep does)."""

    def __init__(self, project: Project, device: torch.device):
        ae, norm = load_autoencoder(project, device)
        saved = load_tensors(project.dir("diffusion") / "model.pt")
        spec = saved["spec"]
        denoiser = Denoiser(spec["latent_dim"], spec["channels"], spec["t_dim"])
        denoiser.load_state_dict(saved["ema_state_dict"])
        s = saved["schedule"]
        self._attach(ae, norm, denoiser, Schedule(s["timesteps"], s["beta_start"], s["beta_end"]),
                     saved["latent_mean"], float(saved["latent_std"]), device)

    @classmethod
    def from_modules(cls, ae: ParamAutoencoder, norm: Normalizer, denoiser: Denoiser, schedule: Schedule,
                     latent_mean: torch.Tensor, latent_std: float, device: torch.device) -> "DiffusionGenerator":
        gen = cls.__new__(cls)
        gen._attach(ae, norm, denoiser, schedule, latent_mean, latent_std, device)
        return gen

    def _attach(self, ae, norm, denoiser, schedule, latent_mean, latent_std, device) -> None:
        self.device = device
        self.ae, self.norm = ae.to(device).eval(), norm
        self.denoiser = denoiser.to(device).eval()
        self.schedule = schedule
        self.latent_mean = latent_mean.to(device)
        self.latent_std = float(latent_std)

    @torch.no_grad()
    def sample(self, m: int, *, sampler: str, steps: int, decode_noise: float, seed: int,
               on_step: Callable[[int, int], None] | None = None) -> torch.Tensor:
        """m new subsets (m × d, on the CPU)."""
        g = torch.Generator().manual_seed(seed)
        z = sample(self.denoiser, self.schedule, m, self.latent_mean.numel(), sampler=sampler, steps=steps,
                   generator=g, device=self.device, on_step=on_step)
        z = z * self.latent_std + self.latent_mean
        if decode_noise:
            z = z + decode_noise * torch.randn(z.shape, generator=g).to(self.device)
        return self.norm.decode(self.ae.decode(z)).cpu()
