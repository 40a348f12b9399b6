"""Stage 3: a DDPM on the autoencoder's latents of the snapshots (ε-prediction, BEND eq. 9).

The snapshots are encoded once, without gradients, and standardised (per-dimension mean, one overall
std) so the diffusion sees unit-scale data; sampling undoes it.
"""

from __future__ import annotations

import time
from typing import Iterator

import torch
import torch.nn.functional as F

from ..context import Checkpoint, Curve, StageContext
from ..errors import Cancelled
from ..events import Event, Message, Progress
from ..fileio import load_tensors, save_tensors
from ..pdiff.ddpm import EMA, Denoiser, Schedule
from ..pdiff.sampling import load_autoencoder

STAGE = "diffusion"


def run(ctx: StageContext) -> Iterator[Event]:
    cfg, c, dev = ctx.cfg, ctx.cfg.diffusion, ctx.device
    snaps = load_tensors(ctx.project.dir("collect") / "snapshots.pt")["snapshots"].float()
    ae, norm = load_autoencoder(ctx.project, dev)
    with torch.no_grad():
        z = ae.encode(norm.encode(snaps).to(dev))
    z_mean = z.mean(0)
    z_std = float((z - z_mean).std().clamp_min(1e-6))
    z0 = (z - z_mean) / z_std
    k, dim = z0.shape
    torch.manual_seed(ctx.seed(3))
    sched = Schedule(c.timesteps, c.beta_start, c.beta_end)
    model = Denoiser(dim, c.channels).to(dev)
    ema = EMA(model, c.ema_decay)
    opt = torch.optim.AdamW(model.parameters(), lr=c.lr)
    yield Message(STAGE, f"denoiser: {sum(p.numel() for p in model.parameters()):,} parameters on {k} latents "
                         f"of size {dim}; T = {c.timesteps}")
    ckpt = Checkpoint(ctx.project, STAGE, ctx.project.fingerprint(STAGE, cfg))
    curve = Curve(ctx.project, STAGE, "curve")
    g = torch.Generator().manual_seed(ctx.seed(3))
    step, elapsed, losses = 0, 0.0, []
    state = ckpt.load()
    if state:
        model.load_state_dict(state["model"])
        ema.model.load_state_dict(state["ema"])
        ema.step = state["step"]
        opt.load_state_dict(state["optimizer"])
        g.set_state(state["rng"])
        step, elapsed, curve.rows = state["step"], state["elapsed"], list(state["curve"])
        yield Message(STAGE, f"resumed at step {step}")

    def checkpoint_state() -> dict:
        return {"model": model.state_dict(), "ema": ema.model.state_dict(), "optimizer": opt.state_dict(),
                "rng": g.get_state(), "step": step, "elapsed": elapsed + time.perf_counter() - t0,
                "curve": curve.rows}

    t0 = time.perf_counter()
    model.train()
    try:
        while step < c.steps:
            ctx.cancel.check()
            idx = torch.randint(0, k, (min(c.batch_size, k),), generator=g)
            t = torch.randint(0, sched.T, (len(idx),), generator=g)
            eps = torch.randn((len(idx), dim), generator=g)
            x0, t, eps = z0[idx.to(dev)], t.to(dev), eps.to(dev)
            loss = F.mse_loss(model(sched.q_sample(x0, t, eps), t), eps)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            ema.update(model)
            step += 1
            losses.append(loss.item())
            if step % 10 == 0 or step == c.steps:
                yield curve.add("step", step, loss=sum(losses) / len(losses))
                losses = []
                yield Progress(STAGE, step, c.steps, f"loss {curve.rows[-1]['loss']:.4g}")
            ckpt.maybe_save(checkpoint_state)
    except Cancelled:
        ckpt.save(checkpoint_state())
        curve.flush()
        raise
    seconds = elapsed + time.perf_counter() - t0
    save_tensors(ctx.project.dir(STAGE) / "model.pt", {
        "spec": model.spec(), "ema_state_dict": {k_: v.cpu() for k_, v in ema.model.state_dict().items()},
        "schedule": {"timesteps": c.timesteps, "beta_start": c.beta_start, "beta_end": c.beta_end},
        "latent_mean": z_mean.cpu(), "latent_std": z_std})
    curve.flush()
    ckpt.clear()
    return {"compute_seconds": seconds, "final_loss": curve.rows[-1]["loss"] if curve.rows else None}
