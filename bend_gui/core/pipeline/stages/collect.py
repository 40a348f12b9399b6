"""Stage 1: freeze all but the subset, keep training the subset, and save it k times.

Only the tail (from the first layer holding subset parameters) runs: the frozen prefix's activations are
cached once. Snapshots are taken every epoch (BEND) or every N iterations (p-diff v3). Each snapshot's
test accuracy is measured as it is saved: these are the "original" models of the paper's Table 3.
Losses are summed on the device and read back once per snapshot and once per [run] log_every steps
(steps.csv); on a GPU the steps run under the [run] fast-path settings (bf16 autocast, TF32).
"""

from __future__ import annotations

import time
from typing import Iterator

import torch
import torch.nn.functional as F

from ...errors import Cancelled
from ...events import Event, Message, Progress
from ...ml import finite
from ...ml.fastpath import FastPath
from ...ml.subset import freeze_outside, get_vector, set_vector, split_model
from ...ml.training import epoch_permutation, make_optimizer, steps_per_epoch
from ...project import artifacts as A
from ..context import Checkpoint, Curve, StageContext
from ..steplog import StepLog
from .common import features_accuracy

STAGE = "collect"


def run(ctx: StageContext) -> Iterator[Event]:
    cfg, c, dev = ctx.cfg, ctx.cfg.collect, ctx.device
    data = yield from ctx.data()
    model = ctx.network_copy()  # trained here; the shared base network stays as the base stage left it
    subset = ctx.subset()
    _, tail, cut = split_model(model, subset)
    start_vec = get_vector(model, subset)
    yield Message(STAGE, f"subset: {len(subset.names)} tensors, d = {subset.d:,}; only the layers from "
                         f"{cut} on run per step")
    train_f = yield from ctx.features("train", STAGE)
    test_f = yield from ctx.features("test", STAGE)

    trainable = freeze_outside(model, subset)
    opt = make_optimizer(c.optimizer, trainable, c.lr, c.momentum, c.weight_decay)
    n = len(train_f)
    spe = steps_per_epoch(n, c.batch_size)
    every = spe if c.save_every == "epoch" else int(c.save_every)
    total = c.k * every
    ckpt = Checkpoint(ctx.project, STAGE, ctx.project.fingerprint(STAGE, cfg))
    snaps_curve = Curve(ctx.project, STAGE, "snapshots")
    loss_curve = Curve(ctx.project, STAGE, "curve")
    steps = StepLog(ctx.project, STAGE, cfg.run.log_every)
    fast = FastPath.for_device(cfg.run, dev)
    # float64 on the device: the same sums the Python floats of per-step reads gave
    acc_dtype = torch.float32 if dev.type == "mps" else torch.float64
    it, snapshots, elapsed = 0, [], 0.0
    loss_sum, loss_n = torch.zeros((), dtype=acc_dtype, device=dev), 0  # since the last snapshot
    hint = f"subset training diverged: try a lower [collect] lr (now {c.lr:g})"

    def restore(state: dict) -> None:
        nonlocal it, snapshots, elapsed
        set_vector(model, subset, state["vector"])
        opt.load_state_dict(state["optimizer"])
        it, snapshots, elapsed = state["iteration"], list(state["snapshots"]), state["elapsed"]
        snaps_curve.rows, loss_curve.rows = list(state["snapshots_curve"]), list(state["curve"])
        steps.curve.rows = list(state.get("steps", []))

    set_vector(model, subset, start_vec)
    if ckpt.restore(restore):
        yield Message(STAGE, f"resumed with {len(snapshots)} of {c.k} snapshots")

    start_acc = features_accuracy(tail, test_f, data.test_y, cfg.evaluate.batch_size)

    def checkpoint_state() -> dict:
        return {"vector": get_vector(model, subset), "optimizer": opt.state_dict(), "iteration": it,
                "snapshots": snapshots, "elapsed": elapsed + time.perf_counter() - t0,
                "snapshots_curve": snaps_curve.rows, "curve": loss_curve.rows, "steps": steps.curve.rows}

    t0 = time.perf_counter()
    perm_epoch, perm = -1, None
    try:
        while len(snapshots) < c.k:
            ctx.cancel.check()
            epoch, step = divmod(it, spe)
            if epoch != perm_epoch:
                perm_epoch, perm = epoch, epoch_permutation(n, ctx.seed(STAGE), epoch)
            idx = perm[step * c.batch_size:(step + 1) * c.batch_size]
            with fast.autocast():
                logits = tail(train_f.get(idx))
                loss = F.cross_entropy(logits, data.train_y[idx].to(dev, non_blocking=True))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            it += 1
            loss_sum += loss.detach().to(acc_dtype)
            loss_n += 1
            steps.add(loss)
            if steps.due(it):
                yield steps.point(it, opt.param_groups[0]["lr"], f"between iterations {it - cfg.run.log_every + 1} "
                                  f"and {it}, before snapshot {len(snapshots) + 1} of {c.k}", hint)
            if it % every == 0:
                train_loss = float(loss_sum) / loss_n  # one read-back per snapshot
                finite.check_loss(train_loss, STAGE, f"in the iterations before snapshot {len(snapshots) + 1} "
                                                     f"of {c.k} (up to iteration {it})", hint)
                vec = get_vector(model, subset)
                # One check per snapshot: the last step's update can break the weights after a finite loss.
                finite.check_tensor(vec, STAGE, f"snapshot {len(snapshots) + 1} of {c.k} (iteration {it})", hint)
                snapshots.append(vec)
                acc = features_accuracy(tail, test_f, data.test_y, cfg.evaluate.batch_size)
                loss_sum.zero_()
                loss_n = 0
                yield loss_curve.add("iteration", it, train_loss=train_loss)
                yield snaps_curve.add("index", len(snapshots), iteration=it, epoch=it / spe, test_acc=acc,
                                      train_loss=train_loss)
                ckpt.maybe_save(checkpoint_state)
            if it % 10 == 0 or it % every == 0:
                yield Progress(STAGE, it, total, f"snapshot {len(snapshots)}/{c.k}")
    except Cancelled:
        ckpt.save(checkpoint_state())
        snaps_curve.flush()
        loss_curve.flush()
        steps.flush()
        raise

    seconds = elapsed + time.perf_counter() - t0
    accs = torch.tensor([r["test_acc"] for r in snaps_curve.rows])
    A.SNAPSHOTS.save(ctx.project, {
        "subset": subset.to_dict(), "snapshots": torch.stack(snapshots), "base_vector": start_vec,
        "test_acc": accs, "iterations": torch.tensor([int(r["iteration"]) for r in snaps_curve.rows])})
    snaps_curve.flush()
    loss_curve.flush()
    steps.flush()
    ckpt.clear()
    yield Message(STAGE, f"{c.k} snapshots: test accuracy {accs.min():.4f}–{accs.max():.4f} "
                         f"(mean {accs.mean():.4f}); base model {start_acc:.4f}")
    return {"k": c.k, "d": subset.d, "iterations": it, "epochs": it / spe, "compute_seconds": seconds,
            "acc_min": float(accs.min()), "acc_max": float(accs.max()), "acc_mean": float(accs.mean()),
            "acc_std": float(accs.std()) if len(accs) > 1 else 0.0, "base_acc": start_acc}
