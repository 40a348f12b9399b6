"""Stage 1: freeze all but the subset, keep training the subset, and save it k times.

Only the tail (from the first layer holding subset parameters) runs: the frozen prefix's activations are
cached once. Snapshots are taken every epoch (BEND) or every N iterations (p-diff v3). Each snapshot's
test accuracy is measured as it is saved: these are the "original" models of the paper's Table 3.
The loop itself (`Collector`) needs no project: a study point that recollects with its own settings runs
the very same loop on inputs shipped to it (studies/point.py), without checkpoints or files.
Losses are summed on the device and read back once per snapshot and once per [run] log_every steps
(steps.csv); on a GPU the steps run under the [run] fast-path settings (bf16 autocast, TF32).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import Cancelled
from ...events import CancelFlag, Event, Message, Progress
from ...ml import finite
from ...ml.fastpath import FastPath
from ...ml.features import Features
from ...ml.subset import Subset, freeze_outside, get_vector, set_vector, split_model
from ...ml.training import epoch_permutation, make_optimizer, steps_per_epoch
from ...project import artifacts as A
from ...project.folder import Project
from ...settings.config import ProjectConfig
from ..context import Checkpoint, Curve, StageContext
from ..steplog import StepLog
from .common import features_accuracy

STAGE = "collect"


class Collector:
    """Stage 1's loop: trains `model`'s subset (in place) on the train activations and keeps k snapshots,
    each with its test accuracy (when `measure`). Its curves belong to `project` (None: never written)."""

    def __init__(self, model: nn.Module, subset: Subset, train_f: Features, train_y: torch.Tensor,
                 test_f: Features, test_y: torch.Tensor, cfg: ProjectConfig, device: torch.device, seed: int,
                 project: Project | None = None, measure: bool = True):
        c = cfg.collect
        self.model, self.subset, self.cfg, self.device, self.seed = model, subset, cfg, device, seed
        self.train_f, self.train_y, self.test_f, self.test_y, self.measure = train_f, train_y, test_f, test_y, measure
        _, self.tail, self.cut = split_model(model, subset)
        self.start_vec = get_vector(model, subset)
        self.opt = make_optimizer(c.optimizer, freeze_outside(model, subset), c.lr, c.momentum, c.weight_decay)
        self.spe = steps_per_epoch(len(train_f), c.batch_size)
        self.every = self.spe if c.save_every == "epoch" else int(c.save_every)
        self.total = c.k * self.every
        self.snaps_curve = Curve(project, STAGE, "snapshots")
        self.loss_curve = Curve(project, STAGE, "curve")
        self.steps = StepLog(project, STAGE, cfg.run.log_every)
        self.it, self.snapshots, self.elapsed = 0, [], 0.0
        self._t0 = time.perf_counter()
        set_vector(model, subset, self.start_vec)

    def accuracy(self) -> float:
        """The test accuracy of the subset as it is now."""
        return features_accuracy(self.tail, self.test_f, self.test_y, self.cfg.evaluate.batch_size)

    def restore(self, state: dict) -> None:
        set_vector(self.model, self.subset, state["vector"])
        self.opt.load_state_dict(state["optimizer"])
        self.it, self.snapshots, self.elapsed = state["iteration"], list(state["snapshots"]), state["elapsed"]
        self.snaps_curve.rows, self.loss_curve.rows = list(state["snapshots_curve"]), list(state["curve"])
        self.steps.curve.rows = list(state.get("steps", []))

    def state(self) -> dict:
        return {"vector": get_vector(self.model, self.subset), "optimizer": self.opt.state_dict(),
                "iteration": self.it, "snapshots": self.snapshots, "elapsed": self.seconds, "snapshots_curve": self.snaps_curve.rows, "curve": self.loss_curve.rows,
                "steps": self.steps.curve.rows}

    @property
    def seconds(self) -> float:
        """Training time so far, resumed runs' included."""
        return self.elapsed + time.perf_counter() - self._t0

    def flush(self) -> None:
        self.snaps_curve.flush()
        self.loss_curve.flush()
        self.steps.flush()

    def run(self, cancel: CancelFlag, after_snapshot: Callable[[], None] = lambda: None) -> Iterator[Event]:
        """Generator: trains until k snapshots are kept, yielding the curves' points and progress."""
        cfg, c, dev = self.cfg, self.cfg.collect, self.device
        fast = FastPath.for_device(cfg.run, dev)
        # float64 on the device: the same sums the Python floats of per-step reads gave
        acc_dtype = torch.float32 if dev.type == "mps" else torch.float64
        loss_sum, loss_n = torch.zeros((), dtype=acc_dtype, device=dev), 0  # since the last snapshot
        hint = f"subset training diverged: try a lower [collect] lr (now {c.lr:g})"
        n, spe, every, total = len(self.train_f), self.spe, self.every, self.total
        steps, opt = self.steps, self.opt
        self._t0 = time.perf_counter()
        perm_epoch, perm = -1, None
        while len(self.snapshots) < c.k:
            cancel.check()
            epoch, step = divmod(self.it, spe)
            if epoch != perm_epoch:
                perm_epoch, perm = epoch, epoch_permutation(n, self.seed, epoch)
            idx = perm[step * c.batch_size:(step + 1) * c.batch_size]
            with fast.autocast():
                logits = self.tail(self.train_f.get(idx))
                loss = F.cross_entropy(logits, self.train_y[idx].to(dev, non_blocking=True))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            self.it += 1
            it = self.it
            loss_sum += loss.detach().to(acc_dtype)
            loss_n += 1
            steps.add(loss)
            if steps.due(it):
                yield steps.point(it, opt.param_groups[0]["lr"], f"between iterations {it - cfg.run.log_every + 1} "
                                  f"and {it}, before snapshot {len(self.snapshots) + 1} of {c.k}", hint)
            if it % every == 0:
                train_loss = float(loss_sum) / loss_n  # one read-back per snapshot
                finite.check_loss(train_loss, STAGE, f"in the iterations before snapshot {len(self.snapshots) + 1} "
                                                     f"of {c.k} (up to iteration {it})", hint)
                vec = get_vector(self.model, self.subset)
                # One check per snapshot: the last step's update can break the weights after a finite loss.
                finite.check_tensor(vec, STAGE, f"snapshot {len(self.snapshots) + 1} of {c.k} (iteration {it})", hint)
                self.snapshots.append(vec)
                acc = self.accuracy() if self.measure else None
                loss_sum.zero_()
                loss_n = 0
                yield self.loss_curve.add("iteration", it, train_loss=train_loss)
                yield self.snaps_curve.add("index", len(self.snapshots), iteration=it, epoch=it / spe, test_acc=acc,
                                           train_loss=train_loss)
                after_snapshot()
            if it % 10 == 0 or it % every == 0:
                yield Progress(STAGE, it, total, f"snapshot {len(self.snapshots)}/{c.k}")


def run(ctx: StageContext) -> Iterator[Event]:
    cfg, c = ctx.cfg, ctx.cfg.collect
    data = yield from ctx.data()
    model = ctx.network_copy()  # trained here; the shared base network stays as the base stage left it
    subset = ctx.subset()
    _, _, cut = split_model(model, subset)
    yield Message(STAGE, f"subset: {len(subset.names)} tensors, d = {subset.d:,}; only the layers from "
                         f"{cut} on run per step")
    train_f = yield from ctx.features("train", STAGE)
    test_f = yield from ctx.features("test", STAGE)
    col = Collector(model, subset, train_f, data.train_y, test_f, data.test_y, cfg, ctx.device, ctx.seed(STAGE),
                    ctx.project)
    start_acc = col.accuracy()  # before a resume moves the subset away from the base network's
    ckpt = Checkpoint(ctx.project, STAGE, ctx.project.fingerprint(STAGE, cfg))
    if ckpt.restore(col.restore):
        yield Message(STAGE, f"resumed with {len(col.snapshots)} of {c.k} snapshots")
    try:
        yield from col.run(ctx.cancel, lambda: ckpt.maybe_save(col.state))
    except Cancelled:
        ckpt.save(col.state())
        col.flush()
        raise

    seconds = col.seconds
    rows = col.snaps_curve.rows
    accs = torch.tensor([r["test_acc"] for r in rows])
    A.SNAPSHOTS.save(ctx.project, {
        "subset": subset.to_dict(), "snapshots": torch.stack(col.snapshots), "base_vector": col.start_vec,
        "test_acc": accs, "iterations": torch.tensor([int(r["iteration"]) for r in rows])})
    col.flush()
    ckpt.clear()
    yield Message(STAGE, f"{c.k} snapshots: test accuracy {accs.min():.4f}–{accs.max():.4f} "
                         f"(mean {accs.mean():.4f}); base model {start_acc:.4f}")
    return {"k": c.k, "d": subset.d, "iterations": col.it, "epochs": col.it / col.spe, "compute_seconds": seconds,
            "acc_min": float(accs.min()), "acc_max": float(accs.max()), "acc_mean": float(accs.mean()),
            "acc_std": float(accs.std()) if len(accs) > 1 else 0.0, "base_acc": start_acc}
