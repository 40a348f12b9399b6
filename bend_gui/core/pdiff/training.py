"""Training the p-diff generator on a given snapshot matrix, one step at a time.

The pipeline's stages (with their checkpoints, curves and reconstruction tests) and the k-sweep (one
fresh autoencoder + DDPM per point, nothing written) share these trainers, so both train exactly alike.
"""

from __future__ import annotations

from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from ..events import CancelFlag, Event, Metric, Progress
from ..ml import finite
from ..ml.subset import Subset
from ..settings.config import AutoencoderConfig, DiffusionConfig
from .autoencoder import ParamAutoencoder
from .ddpm import EMA, Denoiser, Schedule
from .normalize import Normalizer
from .sampling import DiffusionGenerator
from .stopping import LossTracker


class AutoencoderTrainer:
    """The parameter autoencoder on the k normalised snapshots (noise on input and latent, MSE, AdamW)."""

    stage = "autoencoder"

    def __init__(self, snaps: torch.Tensor, subset: Subset, cfg: AutoencoderConfig, device: torch.device,
                 seed: int):
        self.cfg, self.device = cfg, device
        # Snapshots of a diverged collect run (projects older than this check) would train on NaN.
        finite.check_rows(snaps, self.stage, "snapshot", "the collect stage diverged: rerun it with a lower "
                          "[collect] lr (bend run --force collect)")
        self.norm = Normalizer.fit(snaps, subset, cfg.normalize)
        self.x_all = self.norm.encode(snaps).to(device)
        finite.check_rows(self.x_all, self.stage, "normalised snapshot", f"normalisation '{cfg.normalize}' made "
                          f"it non-finite; try the other [autoencoder] normalize")
        torch.manual_seed(seed)
        self.ae = ParamAutoencoder(subset.d, cfg.latent_dim, cfg.channels).to(device)
        self.opt = adamw(self.ae.parameters(), cfg.lr, cfg.weight_decay, device)
        self.g = torch.Generator().manual_seed(seed)
        self.step = 0
        self.tracker = LossTracker(cfg.patience, cfg.min_delta)
        self.ae.train()

    @property
    def params(self) -> int:
        return sum(p.numel() for p in self.ae.parameters())

    @property
    def hint(self) -> str:
        return f"the training diverged: try a lower [autoencoder] lr (now {self.cfg.lr:g})"

    def check_outputs(self) -> None:
        """The weights and the reconstructions finite, before anything is saved."""
        finite.check_state(self.ae.state_dict(), self.stage, "the trained weights", self.hint)
        was_training = self.ae.training
        self.ae.eval()
        with torch.no_grad():
            finite.check_rows(self.ae.decode(self.ae.encode(self.x_all)), self.stage, "reconstructed snapshot",
                              self.hint)
        self.ae.train(was_training)

    def train_step(self) -> torch.Tensor:
        """One step; its loss stays on the device (train_steps reads it only at log points)."""
        k = len(self.x_all)
        idx = torch.randint(0, k, (min(self.cfg.batch_size, k),), generator=self.g)
        batch = self.x_all[idx.to(self.device)]
        loss = F.mse_loss(self.ae(batch, self.cfg.input_noise, self.cfg.latent_noise), batch)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.step += 1
        return loss

    @torch.no_grad()
    def reconstruct(self, snaps: torch.Tensor) -> torch.Tensor:
        """The snapshots through encoder and decoder (no noise), de-normalised, on the CPU."""
        was_training = self.ae.training
        self.ae.eval()
        out = self.norm.decode(self.ae.decode(self.ae.encode(self.norm.encode(snaps).to(self.device)))).cpu()
        self.ae.train(was_training)
        return out

    @torch.no_grad()
    def mse(self) -> float:
        self.ae.eval()
        return float(F.mse_loss(self.ae.decode(self.ae.encode(self.x_all)), self.x_all))

    def state(self) -> dict:
        return {"model": self.ae.state_dict(), "optimizer": self.opt.state_dict(), "rng": self.g.get_state(),
                "step": self.step, "tracker": self.tracker.state()}

    def restore(self, state: dict) -> None:
        self.ae.load_state_dict(state["model"])
        load_optimizer(self.opt, state["optimizer"])
        self.g.set_state(state["rng"])
        self.step = state["step"]
        self.tracker.restore(state["tracker"])


class DiffusionTrainer:
    """A DDPM on the autoencoder's latents of the snapshots (ε-prediction, BEND eq. 9).

    The snapshots are encoded once, without gradients, and standardised (per-dimension mean, one overall
    std) so the diffusion sees unit-scale data; sampling undoes it.
    """

    stage = "diffusion"

    def __init__(self, ae: ParamAutoencoder, norm: Normalizer, snaps: torch.Tensor, cfg: DiffusionConfig,
                 device: torch.device, seed: int):
        self.cfg, self.device, self.ae, self.norm = cfg, device, ae, norm
        ae.eval()
        with torch.no_grad():
            z = ae.encode(norm.encode(snaps).to(device))
        finite.check_rows(z, self.stage, "latent of snapshot", "the autoencoder's weights are broken: rerun "
                          "stage 2 (bend run --force autoencoder), with a lower [autoencoder] lr if it fails")
        self.z_mean = z.mean(0)
        self.z_std = float((z - self.z_mean).std().clamp_min(1e-6))
        self.z0 = (z - self.z_mean) / self.z_std
        torch.manual_seed(seed)
        self.schedule = Schedule(cfg.timesteps, cfg.beta_start, cfg.beta_end)
        self.model = Denoiser(self.dim, cfg.channels).to(device)
        self.ema = EMA(self.model, cfg.ema_decay)
        self.opt = adamw(self.model.parameters(), cfg.lr, 0.01, device)
        self.g = torch.Generator().manual_seed(seed)
        self.step = 0
        self.tracker = LossTracker(cfg.patience, cfg.min_delta)
        self.model.train()

    @property
    def k(self) -> int:
        return self.z0.shape[0]

    @property
    def dim(self) -> int:
        return self.z0.shape[1]

    @property
    def params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def hint(self) -> str:
        return f"the training diverged: try a lower [diffusion] lr (now {self.cfg.lr:g})"

    def check_outputs(self) -> None:
        """The weights sampling uses (EMA) and the training weights finite, before anything is saved."""
        finite.check_state(self.ema.model.state_dict(), self.stage, "the averaged (EMA) weights", self.hint)
        finite.check_state(self.model.state_dict(), self.stage, "the trained weights", self.hint)

    def train_step(self) -> torch.Tensor:
        """One step; its loss stays on the device (train_steps reads it only at log points)."""
        idx = torch.randint(0, self.k, (min(self.cfg.batch_size, self.k),), generator=self.g)
        t = torch.randint(0, self.schedule.T, (len(idx),), generator=self.g)
        eps = torch.randn((len(idx), self.dim), generator=self.g)
        x0, t, eps = self.z0[idx.to(self.device)], t.to(self.device), eps.to(self.device)
        loss = F.mse_loss(self.model(self.schedule.q_sample(x0, t, eps), t), eps)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.ema.update(self.model)
        self.step += 1
        return loss

    def state(self) -> dict:
        return {"model": self.model.state_dict(), "ema": self.ema.model.state_dict(),
                "optimizer": self.opt.state_dict(), "rng": self.g.get_state(), "step": self.step,
                "tracker": self.tracker.state()}

    def restore(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.ema.model.load_state_dict(state["ema"])
        self.ema.step = state["step"]
        load_optimizer(self.opt, state["optimizer"])
        self.g.set_state(state["rng"])
        self.step = state["step"]
        self.tracker.restore(state["tracker"])

    def saved(self) -> dict:
        """What the diffusion stage writes to diffusion/model.pt (sampling uses the EMA weights)."""
        return {"spec": self.model.spec(),
                "ema_state_dict": {k: v.cpu() for k, v in self.ema.model.state_dict().items()},
                "schedule": {"timesteps": self.cfg.timesteps, "beta_start": self.cfg.beta_start,
                             "beta_end": self.cfg.beta_end},
                "latent_mean": self.z_mean.cpu(), "latent_std": self.z_std}

    def generator(self) -> DiffusionGenerator:
        """The trained generator in memory (EMA weights), as if loaded from a project."""
        return DiffusionGenerator.from_modules(self.ae, self.norm, self.ema.model, self.schedule, self.z_mean,
                                               self.z_std, self.device)


def train_steps(trainer, total: int, cancel: CancelFlag, *, log_every: int,
                record: Callable[[int, float, float], Event | None], progress: Callable[[int, float], Event],
                after_step: Callable[[int], Iterator[Event]] | None = None) -> Iterator[Event]:
    """Generator: step `trainer` until its step count reaches `total` or its stopping rule fires (see
    stopping.py). Every `log_every` steps (and at the last step) it reads the mean loss since the last read,
    the only host sync, and yields `record(step, loss, lr)` (unless None) and `progress(step, loss)`; an
    early stop yields progress at `total`, so a bar ends full. `after_step(step)` runs after every step (the
    stage's reconstruction tests and checkpoints). A non-finite loss stops it with the trainer's hint; at the
    end the trainer checks its outputs. Returns the step it stopped at."""
    tr = trainer.tracker
    while trainer.step < total:
        cancel.check()
        tr.add(trainer.train_step())
        step = trainer.step
        stop = False
        if tr.window_done():
            mean, stop = tr.take_window(step)
            finite.check_loss(mean, trainer.stage, f"by step {step}", trainer.hint)
        if step % log_every == 0 or step == total or stop:
            loss = tr.take_log()
            finite.check_loss(loss, trainer.stage, f"by step {step}", trainer.hint)
            ev = record(step, loss, trainer.opt.param_groups[0]["lr"])
            if ev is not None:
                yield ev
            yield progress(total if stop else step, loss)
        if after_step is not None:
            yield from after_step(step)
        if stop:
            break
    trainer.check_outputs()
    return trainer.step


def adamw(params, lr: float, weight_decay: float, device: torch.device) -> torch.optim.AdamW:
    """AdamW with its fused kernel where torch has one: on these small models the per-tensor update loop
    was about a fifth of a denoiser step on the CPU."""
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=device.type in ("cpu", "cuda"))


def load_optimizer(opt: torch.optim.Optimizer, state: dict) -> None:
    """Load a checkpointed optimizer state, keeping this optimizer's kernel choice (a saved state would set
    its own, so a resumed run could compute differently from an uninterrupted one)."""
    fused = [g.get("fused") for g in opt.param_groups]
    opt.load_state_dict(state)
    for g, f in zip(opt.param_groups, fused):
        g["fused"] = f


def stop_note(stage_label: str, stopped: int, total: int, patience: int) -> str:
    """The message of a run the stopping rule ended early, or "" for one that ran all its steps."""
    if stopped >= total:
        return ""
    return (f"{stage_label}: stopped at step {stopped} of {total}: the training loss fell by less than the "
            f"set min_delta for {patience} steps")


def train_autoencoder(snaps: torch.Tensor, subset: Subset, cfg: AutoencoderConfig, device: torch.device,
                      cancel: CancelFlag, seed: int, *, stage: str = "autoencoder", series: str = "steps",
                      label: str = "", log_every: int = 10) -> Iterator[Event]:
    """Generator: trains a fresh autoencoder on `snaps` for at most cfg.steps steps, yielding Progress and
    Metric(stage, series, step, {step, loss, lr}); returns (autoencoder in eval mode, normalizer)."""
    tr = AutoencoderTrainer(snaps, subset, cfg, device, seed)
    yield from train_steps(
        tr, cfg.steps, cancel, log_every=log_every,
        record=lambda s, loss, lr: Metric(stage, series, float(s), {"step": s, "loss": loss, "lr": lr}),
        progress=lambda s, loss: Progress(stage, s, cfg.steps, f"{label}autoencoder loss {loss:.4g}"))
    tr.ae.eval()
    return tr.ae, tr.norm


def train_diffusion(ae: ParamAutoencoder, norm: Normalizer, snaps: torch.Tensor, cfg: DiffusionConfig,
                    device: torch.device, cancel: CancelFlag, seed: int, *, stage: str = "diffusion",
                    series: str = "steps", label: str = "", log_every: int = 10) -> Iterator[Event]:
    """Generator: trains a fresh latent DDPM on the autoencoder's latents of `snaps` for at most cfg.steps
    steps, yielding Progress and Metric(stage, series, step, {step, loss, lr}); returns a DiffusionGenerator."""
    tr = DiffusionTrainer(ae, norm, snaps, cfg, device, seed)
    yield from train_steps(
        tr, cfg.steps, cancel, log_every=log_every,
        record=lambda s, loss, lr: Metric(stage, series, float(s), {"step": s, "loss": loss, "lr": lr}),
        progress=lambda s, loss: Progress(stage, s, cfg.steps, f"{label}DDPM loss {loss:.4g}"))
    return tr.generator()
