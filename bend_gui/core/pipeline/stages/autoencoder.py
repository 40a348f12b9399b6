"""Stage 2: the p-diff parameter autoencoder on the k normalised snapshots.

Noise on the input and on the latent while training (the latent σ trades accuracy for diversity).
Every eval_every steps all k snapshots are reconstructed and tested as classifiers: the reconstruction
accuracy says whether the decoder's outputs are still working networks. Those tests are not counted in
the stage's training time (t_ate of eq. 10).
"""

from __future__ import annotations

import time
from typing import Iterator

import torch

from ...errors import Cancelled
from ...events import Event, Message, Progress
from ...ml.members import evaluate_members
from ...ml.subset import Subset
from ...pdiff.training import AutoencoderTrainer, train_steps
from ...project import artifacts as A
from ...results.metrics import member_accuracies
from ..context import Checkpoint, Curve, StageContext

STAGE = "autoencoder"


def reconstruction_accuracy(ctx: StageContext, trainer: AutoencoderTrainer, snaps: torch.Tensor, subset: Subset,
                            rows: torch.Tensor) -> Iterator[Event]:
    """Generator returning the test accuracies of the reconstructed snapshots `rows`."""
    data = yield from ctx.data()
    feats = yield from ctx.features("test", STAGE)
    vecs = trainer.reconstruct(snaps[rows])
    out = yield from evaluate_members(ctx.base_network(), subset, vecs, feats, data.test_y,
                                      batch_size=ctx.cfg.evaluate.batch_size,
                                      batching=ctx.cfg.evaluate.member_batching,
                                      cancel=ctx.cancel, stage=STAGE, label="reconstruction accuracy")
    return member_accuracies(out.preds.numpy(), data.test_y.numpy())


def run(ctx: StageContext) -> Iterator[Event]:
    cfg, a, dev = ctx.cfg, ctx.cfg.autoencoder, ctx.device
    saved = A.SNAPSHOTS.load(ctx.project)
    snaps, subset = saved["snapshots"].float(), Subset.from_dict(saved["subset"])
    k, d = snaps.shape
    tr = AutoencoderTrainer(snaps, subset, a, dev, ctx.seed(STAGE))
    yield Message(STAGE, f"autoencoder: d = {d:,} → latent {a.latent_dim}, {tr.params:,} parameters; "
                         f"{k} snapshots, normalisation '{a.normalize}'")
    ckpt = Checkpoint(ctx.project, STAGE, ctx.project.fingerprint(STAGE, cfg))
    curve = Curve(ctx.project, STAGE, "curve")
    recon = Curve(ctx.project, STAGE, "reconstruction")
    elapsed, testing = 0.0, 0.0  # seconds in total, and of those in reconstruction tests

    def restore(state: dict) -> None:
        nonlocal elapsed, testing
        tr.restore(state)
        elapsed, testing = state["elapsed"], state["testing"]
        curve.rows, recon.rows = list(state["curve"]), list(state["recon"])
        torch.set_rng_state(state["torch_rng"])

    if ckpt.restore(restore):
        yield Message(STAGE, f"resumed at step {tr.step}")

    def checkpoint_state() -> dict:
        return {**tr.state(), "elapsed": elapsed + time.perf_counter() - t0, "testing": testing,
                "curve": curve.rows, "recon": recon.rows, "torch_rng": torch.get_rng_state()}

    orig_acc = saved["test_acc"].float()

    def after_step(step: int) -> Iterator[Event]:
        nonlocal testing
        if a.eval_every and step % a.eval_every == 0 and step < a.steps:
            t_test = time.perf_counter()
            accs = yield from reconstruction_accuracy(ctx, tr, snaps, subset, torch.arange(k))
            testing += time.perf_counter() - t_test
            yield recon.add("step", step, recon_acc_mean=accs.mean(), recon_acc_min=accs.min(),
                            orig_acc_mean=float(orig_acc.mean()), snapshots=k)
        ckpt.maybe_save(checkpoint_state)

    t0 = time.perf_counter()
    try:
        yield from train_steps(tr, a.steps, ctx.cancel,
                               record=lambda step, loss: curve.add("step", step, loss=loss),
                               progress=lambda step, loss: Progress(STAGE, step, a.steps, f"loss {loss:.4g}"),
                               after_step=after_step)
    except Cancelled:
        ckpt.save(checkpoint_state())
        curve.flush()
        recon.flush()
        raise
    seconds = elapsed + time.perf_counter() - t0 - testing
    accs = yield from reconstruction_accuracy(ctx, tr, snaps, subset, torch.arange(k))
    yield recon.add("step", tr.step, recon_acc_mean=accs.mean(), recon_acc_min=accs.min(),
                    orig_acc_mean=float(orig_acc.mean()), snapshots=k)
    mse = tr.mse()
    A.STAGE_OUTPUTS[STAGE].save(ctx.project, {
        "spec": tr.ae.spec(), "state_dict": {k_: v.cpu() for k_, v in tr.ae.state_dict().items()},
        "normalizer": tr.norm.to_dict(), "recon_acc": torch.tensor(accs)})
    curve.flush()
    recon.flush()
    ckpt.clear()
    yield Message(STAGE, f"reconstructed snapshots: test accuracy mean {accs.mean():.4f} "
                         f"(originals {orig_acc.mean():.4f}); reconstruction MSE {mse:.3g}")
    return {"compute_seconds": seconds, "recon_acc_mean": float(accs.mean()), "recon_acc_min": float(accs.min()),
            "orig_acc_mean": float(orig_acc.mean()), "recon_mse": mse, "params": tr.params}
