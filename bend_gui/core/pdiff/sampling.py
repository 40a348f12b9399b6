"""A trained p-diff generator: noise → latents → decoder → new subsets. Built from the saved dicts of the
autoencoder and diffusion stages (the project layer reads them) or from modules trained in memory."""

from __future__ import annotations

import time
from typing import Callable, Iterator

import torch

from ..events import CancelFlag, Progress
from .autoencoder import ParamAutoencoder
from .ddpm import Denoiser, Schedule, sample_iter
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

    def sampling(self, m: int, *, sampler: str, steps: int, decode_noise: float, seed: int,
                 chunk: int | None = None, cancel: CancelFlag | None = None, stage: str = "generate",
                 every: float = 0.1, eta: float = 0.0) -> Iterator[Progress]:
        """Generator: m new subsets (m × d, on the CPU), returned; `chunk` members at a time (all at once when
        None), so the activations of sampling and decoding stay bounded however large m is. The random numbers
        are drawn chunk after chunk, so a given chunk size always gives the same members. Yields Progress
        over all chunks' denoising steps (about every `every` seconds, and at the end) and checks `cancel`
        between steps. `eta` is DDIM's η (see ddpm.sample_iter)."""
        chunk = max(1, min(chunk or m, m))
        g = torch.Generator().manual_seed(seed)
        out = torch.empty((m, self.ae.d))
        n_chunks = -(-m // chunk)
        last = time.monotonic()
        with torch.no_grad():
            for c, start in enumerate(range(0, m, chunk)):
                n = min(chunk, m - start)
                it = sample_iter(self.denoiser, self.schedule, n, self.latent_mean.numel(), sampler=sampler,
                                 steps=steps, generator=g, device=self.device, eta=eta)
                while True:
                    try:
                        i, total = next(it)
                    except StopIteration as stop:
                        z = stop.value
                        break
                    if cancel is not None:
                        cancel.check()
                    done = c * total + i
                    if time.monotonic() - last >= every or done == n_chunks * total:
                        last = time.monotonic()
                        yield Progress(stage, done, n_chunks * total, f"{sampler.upper()} step {i}/{total}"
                                       + (f" · chunk {c + 1}/{n_chunks}" if n_chunks > 1 else ""))
                z = z * self.latent_std + self.latent_mean
                if decode_noise:
                    z = z + decode_noise * torch.randn(z.shape, generator=g).to(self.device)
                out[start:start + n] = self.norm.decode(self.ae.decode(z)).cpu()
        return out

    def sample(self, m: int, *, sampler: str, steps: int, decode_noise: float, seed: int,
               on_step: Callable[[int, int], None] | None = None, chunk: int | None = None,
               eta: float = 0.0) -> torch.Tensor:
        """`sampling` run to its end (m × d on the CPU); on_step(done, total) after every denoising step."""
        it = self.sampling(m, sampler=sampler, steps=steps, decode_noise=decode_noise, seed=seed, chunk=chunk,
                           every=0.0, eta=eta)
        while True:
            try:
                ev = next(it)
            except StopIteration as stop:
                return stop.value
            if on_step:
                on_step(ev.done, ev.total)
