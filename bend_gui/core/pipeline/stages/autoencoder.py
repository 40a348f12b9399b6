"""Stage 2: the p-diff parameter autoencoder on the k normalised snapshots.

Noise on the input and on the latent while training (the latent σ trades accuracy for diversity).
Training stops at [autoencoder] steps or earlier when its loss stops falling (pdiff/stopping.py). Then
(and every eval_every steps if set) `eval_snapshots` of the snapshots, evenly spaced, are reconstructed and
tested as classifiers: the reconstruction accuracy says whether the decoder's outputs are still working
networks, compared with the same snapshots' own accuracy. Those tests are not counted in the stage's
training time (t_ate of eq. 10). The stage's bar counts the training steps, then the final test's batches,
so it never goes back.
"""

from __future__ import annotations

import time
from typing import Iterator

import torch

from ...errors import Cancelled
from ...events import Event, Message, Progress, relay
from ...ml.members import evaluate_members
from ...ml.subset import Subset
from ...pdiff.training import AutoencoderTrainer, stop_note, train_steps
from ...project import artifacts as A
from ...results.metrics import member_accuracies
from ..context import Checkpoint, Curve, StageContext

STAGE = "autoencoder"


def tested_rows(k: int, n: int) -> torch.Tensor:
    """The indices of the snapshots the reconstruction test uses: n evenly spaced over the k (all if n = 0)."""
    if n <= 0 or n >= k:
        return torch.arange(k)
    return torch.linspace(0, k - 1, n).round().long().unique()


def reconstruction_accuracy(ctx: StageContext, trainer: AutoencoderTrainer, snaps: torch.Tensor, subset: Subset,
                            rows: torch.Tensor, progress) -> Iterator[Event]:
    """Generator returning the test accuracies of the reconstructed snapshots `rows`; the member evaluation's
    progress goes through `progress(done, total)`, which makes the stage's own event."""
    data = yield from ctx.data()
    feats = yield from ctx.features("test", STAGE)
    vecs = trainer.reconstruct(snaps[rows])
    out = yield from relay(
        evaluate_members(ctx.base_network(), subset, vecs, feats, data.test_y, batch_size=ctx.cfg.evaluate.batch_size,
                         batching=ctx.cfg.evaluate.member_batching, cancel=ctx.cancel, stage=STAGE,
                         label="reconstruction accuracy"),
        lambda ev: progress(ev.done, ev.total) if isinstance(ev, Progress) else ev)
    return member_accuracies(out.preds.numpy(), data.test_y.numpy())


def run(ctx: StageContext) -> Iterator[Event]:
    cfg, a, dev = ctx.cfg, ctx.cfg.autoencoder, ctx.device
    saved = A.SNAPSHOTS.load(ctx.project)
    snaps, subset = saved["snapshots"].float(), Subset.from_dict(saved["subset"])
    k, d = snaps.shape
    tr = AutoencoderTrainer(snaps, subset, a, dev, ctx.seed(STAGE))
    rows = tested_rows(k, a.eval_snapshots)
    yield Message(STAGE, f"autoencoder: d = {d:,} → latent {a.latent_dim}, {tr.params:,} parameters; "
                         f"{k} snapshots, normalisation '{a.normalize}'")
    # The test activations first: their sub-step bar comes before the stage's own, not in the middle of it.
    feats = yield from ctx.features("test", STAGE)
    test_batches = -(-len(feats) // cfg.evaluate.batch_size)
    total = a.steps + test_batches  # training steps, then the final reconstruction test's batches
    ckpt = Checkpoint(ctx.project, STAGE, ctx.project.fingerprint(STAGE, cfg))
    steps = Curve(ctx.project, STAGE, "steps")
    recon = Curve(ctx.project, STAGE, "reconstruction")
    elapsed, testing = 0.0, 0.0  # seconds in total, and of those in reconstruction tests

    def restore(state: dict) -> None:
        nonlocal elapsed, testing
        tr.restore(state)
        elapsed, testing = state["elapsed"], state["testing"]
        steps.rows, recon.rows = list(state["steps"]), list(state["recon"])
        torch.set_rng_state(state["torch_rng"])

    if ckpt.restore(restore):
        yield Message(STAGE, f"resumed at step {tr.step}")

    def checkpoint_state() -> dict:
        return {**tr.state(), "elapsed": elapsed + time.perf_counter() - t0, "testing": testing,
                "steps": steps.rows, "recon": recon.rows, "torch_rng": torch.get_rng_state()}

    orig_acc = saved["test_acc"].float()
    orig_mean = float(orig_acc[rows].mean())

    def test(step: int, progress) -> Iterator[Event]:
        accs = yield from reconstruction_accuracy(ctx, tr, snaps, subset, rows, progress)
        yield recon.add("step", step, recon_acc_mean=accs.mean(), recon_acc_min=accs.min(),
                        orig_acc_mean=orig_mean, snapshots=len(rows))
        return accs

    def after_step(step: int) -> Iterator[Event]:
        nonlocal testing
        steps.maybe_flush()
        if a.eval_every and step % a.eval_every == 0 and step < a.steps:
            t_test = time.perf_counter()
            # The bar stays at this step while it tests; only the text says so.
            yield from test(step, lambda done, n: Progress(STAGE, step, total, f"testing reconstructions {done}/{n}"))
            testing += time.perf_counter() - t_test
        ckpt.maybe_save(checkpoint_state)

    t0 = time.perf_counter()
    try:
        stopped = yield from train_steps(
            tr, a.steps, ctx.cancel, log_every=cfg.run.log_every,
            record=lambda step, loss, lr: steps.add("step", step, loss=loss, lr=lr),
            progress=lambda step, loss: Progress(STAGE, step, total, f"loss {loss:.4g}"),
            after_step=after_step)
    except Cancelled:
        ckpt.save(checkpoint_state())
        steps.flush()
        recon.flush()
        raise
    seconds = elapsed + time.perf_counter() - t0 - testing
    steps.flush()
    note = stop_note("autoencoder", stopped, a.steps, a.patience)
    if note:
        yield Message(STAGE, note)
    accs = yield from test(stopped, lambda done, n: Progress(STAGE, a.steps + done, total,
                                                             f"testing {len(rows)} reconstructed snapshots"))
    mse = tr.mse()
    A.STAGE_OUTPUTS[STAGE].save(ctx.project, {
        "spec": tr.ae.spec(), "state_dict": {k_: v.cpu() for k_, v in tr.ae.state_dict().items()},
        "normalizer": tr.norm.to_dict(), "recon_acc": torch.tensor(accs), "recon_rows": rows})
    recon.flush()
    ckpt.clear()
    yield Message(STAGE, f"reconstructed snapshots ({len(rows)} of {k}): test accuracy mean {accs.mean():.4f} "
                         f"(the same originals {orig_mean:.4f}); reconstruction MSE {mse:.3g}")
    return {"compute_seconds": seconds, "steps": stopped, "recon_acc_mean": float(accs.mean()),
            "recon_acc_min": float(accs.min()), "orig_acc_mean": orig_mean, "recon_snapshots": len(rows),
            "recon_mse": mse, "params": tr.params}
