"""Stage 3: a DDPM on the autoencoder's latents of the snapshots (ε-prediction, BEND eq. 9).

The snapshots are encoded once, without gradients, and standardised (per-dimension mean, one overall
std) so the diffusion sees unit-scale data; sampling undoes it.
"""

from __future__ import annotations

import time
from typing import Iterator

from ...errors import Cancelled
from ...events import Event, Message, Progress
from ...pdiff.training import DiffusionTrainer, train_steps
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
    curve = Curve(ctx.project, STAGE, "curve")
    elapsed = 0.0

    def restore(state: dict) -> None:
        nonlocal elapsed
        tr.restore(state)
        elapsed, curve.rows = state["elapsed"], list(state["curve"])

    if ckpt.restore(restore):
        yield Message(STAGE, f"resumed at step {tr.step}")

    def checkpoint_state() -> dict:
        return {**tr.state(), "elapsed": elapsed + time.perf_counter() - t0, "curve": curve.rows}

    def after_step(step: int) -> Iterator[Event]:
        ckpt.maybe_save(checkpoint_state)
        return iter(())

    t0 = time.perf_counter()
    try:
        yield from train_steps(tr, c.steps, ctx.cancel,
                               record=lambda step, loss: curve.add("step", step, loss=loss),
                               progress=lambda step, loss: Progress(STAGE, step, c.steps, f"loss {loss:.4g}"),
                               after_step=after_step)
    except Cancelled:
        ckpt.save(checkpoint_state())
        curve.flush()
        raise
    seconds = elapsed + time.perf_counter() - t0
    A.STAGE_OUTPUTS[STAGE].save(ctx.project, tr.saved())
    curve.flush()
    ckpt.clear()
    return {"compute_seconds": seconds, "final_loss": curve.rows[-1]["loss"] if curve.rows else None}
