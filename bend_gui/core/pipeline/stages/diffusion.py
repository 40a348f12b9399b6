"""Stage 3: a DDPM on the autoencoder's latents of the snapshots (ε-prediction, BEND eq. 9).

The snapshots are encoded once, without gradients, and standardised (per-dimension mean, one overall
std) so the diffusion sees unit-scale data; sampling undoes it. Training stops at [diffusion] steps or
earlier when its loss stops falling (pdiff/stopping.py); the loss streams to diffusion/steps.csv.
"""

from __future__ import annotations

import time
from typing import Iterator

from ...errors import Cancelled
from ...events import Event, Message, Progress
from ...pdiff.training import DiffusionTrainer, stop_note, train_steps
from ...project import artifacts as A
from ..context import Checkpoint, Curve, StageContext

STAGE = "diffusion"


def run(ctx: StageContext) -> Iterator[Event]:
    cfg, c, dev = ctx.cfg, ctx.cfg.diffusion, ctx.device
    snaps = A.snapshot_matrix(ctx.project)
    ae, norm = A.load_autoencoder(ctx.project, dev)
    tr = DiffusionTrainer(ae, norm, snaps, c, dev, ctx.seed(STAGE))
    yield Message(STAGE, f"denoiser: {tr.params:,} parameters on {tr.k} latents of size {tr.dim}; "
                         f"T = {c.timesteps}")
    ckpt = Checkpoint(ctx.project, STAGE, ctx.project.fingerprint(STAGE, cfg))
    steps = Curve(ctx.project, STAGE, "steps")
    elapsed = 0.0

    def restore(state: dict) -> None:
        nonlocal elapsed
        tr.restore(state)
        elapsed, steps.rows = state["elapsed"], list(state["steps"])

    if ckpt.restore(restore):
        yield Message(STAGE, f"resumed at step {tr.step}")

    def checkpoint_state() -> dict:
        return {**tr.state(), "elapsed": elapsed + time.perf_counter() - t0, "steps": steps.rows}

    def after_step(step: int) -> Iterator[Event]:
        steps.maybe_flush()
        ckpt.maybe_save(checkpoint_state)
        return iter(())

    t0 = time.perf_counter()
    try:
        stopped = yield from train_steps(
            tr, c.steps, ctx.cancel, log_every=cfg.run.log_every,
            record=lambda step, loss, lr: steps.add("step", step, loss=loss, lr=lr),
            progress=lambda step, loss: Progress(STAGE, step, c.steps, f"loss {loss:.4g}"),
            after_step=after_step)
    except Cancelled:
        ckpt.save(checkpoint_state())
        steps.flush()
        raise
    seconds = elapsed + time.perf_counter() - t0
    A.STAGE_OUTPUTS[STAGE].save(ctx.project, tr.saved())
    steps.flush()
    ckpt.clear()
    note = stop_note("DDPM", stopped, c.steps, c.patience)
    if note:
        yield Message(STAGE, note)
    return {"compute_seconds": seconds, "steps": stopped,
            "final_loss": steps.rows[-1]["loss"] if steps.rows else None}
