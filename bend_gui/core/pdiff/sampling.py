"""A trained p-diff generator: noise → latents → decoder → new subsets. Built from the saved dicts of the
autoencoder and diffusion stages (the project layer reads them) or from modules trained in memory."""

from __future__ import annotations

from typing import Callable

import torch

from .autoencoder import ParamAutoencoder
from .ddpm import Denoiser, Schedule, sample
from .normalize import Normalizer


def autoencoder_from_saved(saved: dict, device: torch.device) -> tuple[ParamAutoencoder, Normalizer]:
    """The autoencoder (eval mode, on `device`) and its normaliser from the autoencoder stage's saved dict."""
    spec = saved["spec"]
    ae = ParamAutoencoder(spec["d"], spec["latent_dim"], spec["channels"])
    ae.load_state_dict(saved["state_dict"])
    return ae.to(device).eval(), Normalizer.from_dict(saved["normalizer"])


class DiffusionGenerator:
    """Built from the two stages' saved dicts (`from_saved`) or from modules trained in memory
    (`from_modules`, what the k-sweep does)."""

    @classmethod
    def from_saved(cls, ae_saved: dict, diffusion_saved: dict, device: torch.device) -> "DiffusionGenerator":
        ae, norm = autoencoder_from_saved(ae_saved, device)
        spec = diffusion_saved["spec"]
        denoiser = Denoiser(spec["latent_dim"], spec["channels"], spec["t_dim"])
        denoiser.load_state_dict(diffusion_saved["ema_state_dict"])
        s = diffusion_saved["schedule"]
        return cls.from_modules(ae, norm, denoiser, Schedule(s["timesteps"], s["beta_start"], s["beta_end"]),
                                diffusion_saved["latent_mean"], float(diffusion_saved["latent_std"]), device)

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
               on_step: Callable[[int, int], None] | None = None, chunk: int | None = None) -> torch.Tensor:
        """m new subsets (m × d, on the CPU), `chunk` members at a time (all at once when None): the
        activations of sampling and decoding then stay bounded however large m is. The random numbers are
        drawn chunk after chunk, so a given chunk size always gives the same members."""
        chunk = max(1, min(chunk or m, m))
        g = torch.Generator().manual_seed(seed)
        out = torch.empty((m, self.ae.d))
        n_chunks = -(-m // chunk)
        for c, start in enumerate(range(0, m, chunk)):
            n = min(chunk, m - start)
            step = None if on_step is None else (lambda i, total, c=c: on_step(c * total + i, n_chunks * total))
            z = sample(self.denoiser, self.schedule, n, self.latent_mean.numel(), sampler=sampler, steps=steps,
                       generator=g, device=self.device, on_step=step)
            z = z * self.latent_std + self.latent_mean
            if decode_noise:
                z = z + decode_noise * torch.randn(z.shape, generator=g).to(self.device)
            out[start:start + n] = self.norm.decode(self.ae.decode(z)).cpu()
        return out
