"""DDPM in the autoencoder's latent space: linear β schedule, ε-prediction (BEND eq. 9), a 1-D conv
U-Net denoiser conditioned per sample on its own timestep, EMA weights, and DDPM or DDIM sampling."""

from __future__ import annotations

import copy
import math
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn


class Schedule:
    """Linear β from beta_start to beta_end, given for T = 1000 and scaled by 1000/T (the improved-DDPM
    convention): the forward process then ends near pure noise for any T. Unscaled, T = 50 would leave
    ᾱ_T = 0.60, so sampling would start from the wrong distribution."""

    def __init__(self, timesteps: int, beta_start: float, beta_end: float):
        self.T = timesteps
        scale = 1000.0 / timesteps
        self.betas = torch.linspace(beta_start * scale, min(beta_end * scale, 0.999), timesteps,
                                    dtype=torch.float64).clamp(max=0.999)
        self.alphas = 1.0 - self.betas
        self.alpha_bar = torch.cumprod(self.alphas, 0)

    def q_sample(self, z0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        ab = self.alpha_bar.to(z0.device)[t].float().view(-1, 1)
        return ab.sqrt() * z0 + (1 - ab).sqrt() * eps


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(10_000) * torch.arange(half, device=t.device) / half)
    args = t.float().view(-1, 1) * freqs.view(1, -1)
    return torch.cat([args.sin(), args.cos()], dim=1)


def _groups(c: int) -> int:
    return math.gcd(c, 8)


class ResBlock1d(nn.Module):
    def __init__(self, c_in: int, c_out: int, t_dim: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(_groups(c_in), c_in), nn.Conv1d(c_in, c_out, 3, padding=1)
        self.time = nn.Linear(t_dim, c_out)
        self.norm2, self.conv2 = nn.GroupNorm(_groups(c_out), c_out), nn.Conv1d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time(temb).unsqueeze(-1)  # each sample gets its own timestep
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class Denoiser(nn.Module):
    """Predicts the noise ε in a noised latent (B, D) at timesteps t (B,)."""

    def __init__(self, latent_dim: int, channels: list[int], t_dim: int = 64):
        super().__init__()
        self.latent_dim, self.channels, self.t_dim = latent_dim, list(channels), t_dim
        self.length = math.ceil(latent_dim / 2 ** (len(channels) - 1)) * 2 ** (len(channels) - 1)
        self.time_mlp = nn.Sequential(nn.Linear(t_dim, t_dim * 2), nn.SiLU(), nn.Linear(t_dim * 2, t_dim))
        self.inp = nn.Conv1d(1, channels[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        c_prev = channels[0]
        for i, c in enumerate(channels):
            self.down.append(ResBlock1d(c_prev, c, t_dim))
            self.downsample.append(nn.Conv1d(c, c, 3, stride=2, padding=1) if i < len(channels) - 1
                                   else nn.Identity())
            c_prev = c
        self.mid = ResBlock1d(c_prev, c_prev, t_dim)
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i, c in reversed(list(enumerate(channels))):
            self.up.append(ResBlock1d(c_prev + c, c, t_dim))
            self.upsample.append(nn.Upsample(scale_factor=2, mode="nearest") if i > 0 else nn.Identity())
            c_prev = c
        self.out = nn.Sequential(nn.GroupNorm(_groups(c_prev), c_prev), nn.SiLU(), nn.Conv1d(c_prev, 1, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        temb = self.time_mlp(timestep_embedding(t, self.t_dim))
        h = self.inp(F.pad(x, (0, self.length - self.latent_dim)).unsqueeze(1))
        skips = []
        for block, down in zip(self.down, self.downsample):
            h = block(h, temb)
            skips.append(h)
            h = down(h)
        h = self.mid(h, temb)
        for block, up in zip(self.up, self.upsample):
            h = block(torch.cat([h, skips.pop()], 1), temb)
            h = up(h)
        return self.out(h).squeeze(1)[:, : self.latent_dim]

    def spec(self) -> dict:
        return {"latent_dim": self.latent_dim, "channels": self.channels, "t_dim": self.t_dim}


class EMA:
    """Exponential moving average of weights, warmed up so that short runs do not sample near-initial
    weights: the decay is min(decay, (1 + step) / (10 + step))."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay, self.step = decay, 0
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.step += 1
        d = min(self.decay, (1 + self.step) / (10 + self.step))
        # One fused call over all tensors: a Python loop of lerps cost ~2 % of a small denoiser's step.
        torch._foreach_lerp_(list(self.model.parameters()), [p.detach() for p in model.parameters()], 1 - d)
        for e, b in zip(self.model.buffers(), model.buffers()):
            e.copy_(b)


def sampling_steps(sched: Schedule, sampler: str, steps: int) -> list[int]:
    """The timesteps a sampler visits, from T - 1 down to 0: all of them for DDPM, an evenly spaced
    subsequence of `steps` for DDIM."""
    if sampler == "ddpm":
        return list(range(sched.T - 1, -1, -1))
    steps = max(1, min(steps, sched.T))
    return torch.linspace(sched.T - 1, 0, steps).round().long().unique_consecutive().tolist()


@torch.no_grad()
def sample_iter(model: nn.Module, sched: Schedule, n: int, dim: int, *, sampler: str, steps: int,
                generator: torch.Generator, device: torch.device, eta: float = 0.0) -> Iterator[tuple[int, int]]:
    """Generator: draws n latents (in the standardised latent space the DDPM was trained in), yielding
    (steps done, steps in all) after each denoising step and returning the latents. The caller owns the
    loop, so it can report progress or stop between steps. `eta` is DDIM's η (Song et al. 2021, eq. 16):
    0 = deterministic; 1 = as much fresh noise per step as DDPM's posterior; DDPM ignores it."""
    model.eval()
    x = torch.randn(n, dim, generator=generator).to(device)
    ab = sched.alpha_bar.to(device)
    ts = sampling_steps(sched, sampler, steps)
    for i, t in enumerate(ts):
        eps = model(x, torch.full((n,), t, device=device, dtype=torch.long))
        if sampler == "ddpm":  # ancestral step
            a, b = float(sched.alphas[t]), float(sched.betas[t])
            mean = (x - b / math.sqrt(1 - float(ab[t])) * eps) / math.sqrt(a)
            noise = torch.randn(n, dim, generator=generator).to(device) if t > 0 else 0.0
            x = mean + math.sqrt(b) * noise
        else:  # DDIM
            a_t = float(ab[t])
            x0 = (x - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
            a_prev = float(ab[ts[i + 1]]) if i + 1 < len(ts) else 1.0
            sigma = eta * math.sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)) if eta else 0.0
            x = math.sqrt(a_prev) * x0 + math.sqrt(max(0.0, 1 - a_prev - sigma ** 2)) * eps
            if sigma > 0:  # η = 0 draws nothing, so its latents are exactly the deterministic sampler's
                x = x + sigma * torch.randn(n, dim, generator=generator).to(device)
        yield i + 1, len(ts)
    return x


def sample(model: nn.Module, sched: Schedule, n: int, dim: int, *, sampler: str, steps: int,
           generator: torch.Generator, device: torch.device,
           on_step: Callable[[int, int], None] | None = None, eta: float = 0.0) -> torch.Tensor:
    """`sample_iter` run to its end, calling on_step(done, total) after each step."""
    it = sample_iter(model, sched, n, dim, sampler=sampler, steps=steps, generator=generator, device=device,
                     eta=eta)
    while True:
        try:
            done, total = next(it)
        except StopIteration as stop:
            return stop.value
        if on_step:
            on_step(done, total)
