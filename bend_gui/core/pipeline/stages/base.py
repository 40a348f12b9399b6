"""Stage 0: train the whole backbone on the dataset (or start from a local pretrained file).

Resumable mid-epoch: each epoch's shuffle is a function of (seed, epoch), and a cancel or a periodic
checkpoint stores the weights, the optimiser, the schedule and the position in the epoch.

On a GPU the dataset sits on the device when it fits (indexing and augmentation run there), else in pinned
memory; the epoch's loss and accuracy are summed on the device and read once per epoch, and the step loss once
per [run] log_every steps (steps.csv). On the CPU the arithmetic is the same as before, bit for bit.
"""

from __future__ import annotations

import time
from typing import Iterator

import torch
import torch.nn.functional as F

from ...errors import Cancelled
from ...events import Event, Message, Progress
from ...ml import finite
from ...ml.backbones import build_model, count_params, load_pretrained
from ...ml.data import normalize, place
from ...ml.fastpath import FastPath
from ...ml.training import (
    augment,
    epoch_permutation,
    evaluate,
    make_optimizer,
    make_schedule,
    steps_per_epoch,
)
from ...project import artifacts as A
from .. import memory
from ..context import Checkpoint, Curve, StageContext
from ..steplog import StepLog

STAGE = "base"


def run(ctx: StageContext) -> Iterator[Event]:
    cfg, b, dev = ctx.cfg, ctx.cfg.base, ctx.device
    data = yield from ctx.data()
    torch.manual_seed(ctx.seed(STAGE))
    model = build_model(cfg.model.backbone, data.channels, data.num_classes)
    if cfg.model.pretrained:
        skipped = load_pretrained(model, cfg.model.pretrained)
        yield Message(STAGE, f"started from {cfg.model.pretrained}"
                             + (f" ({len(skipped)} tensors kept their fresh values)" if skipped else ""))
    fast = FastPath.for_device(cfg.run, dev)
    model = fast.model(model.to(dev))
    step_model = fast.compiled(model)
    yield Message(STAGE, f"{cfg.model.backbone}: {count_params(model):,} parameters, on {dev}")
    (train_x, train_y, test_x), where = place((data.train_x, data.train_y, data.test_x), dev,
                                              memory.available(dev)[0])
    yield Message(STAGE, f"training data {where}")
    # float64 sums reproduce the Python-float arithmetic this stage used before it summed on the device
    acc_dtype = torch.float32 if dev.type == "mps" else torch.float64

    n = len(data.train_x)
    spe = steps_per_epoch(n, b.batch_size)
    total = b.epochs * spe
    opt = make_optimizer(b.optimizer, model.parameters(), b.lr, b.momentum, b.weight_decay)
    sched = make_schedule(b.schedule, opt, b.lr, total)
    ckpt = Checkpoint(ctx.project, STAGE, ctx.project.fingerprint(STAGE, cfg))
    curve = Curve(ctx.project, STAGE, "curve")
    steps = StepLog(ctx.project, STAGE, cfg.run.log_every)
    epoch, step_in_epoch, elapsed, sums = 0, 0, 0.0, [0.0, 0, 0]  # loss sum, correct, seen
    train_secs = 0.0  # time in training steps only: t_orge of eq. 11 excludes the per-epoch test pass
    aug_gen = torch.Generator()
    hint = f"the training diverged: try a lower [base] lr (now {b.lr:g})"

    def restore(state: dict) -> None:
        nonlocal epoch, step_in_epoch, elapsed, sums, train_secs
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["schedule"])
        epoch, step_in_epoch, elapsed = state["epoch"], state["step"], state["elapsed"]
        sums, train_secs = list(state["sums"]), state["train_seconds"]
        curve.rows, steps.curve.rows = list(state["curve"]), list(state.get("steps", []))
        aug_gen.set_state(state["aug_rng"])

    if ckpt.restore(restore):
        yield Message(STAGE, f"resumed at epoch {epoch + 1}, step {step_in_epoch}")

    def snapshot() -> dict:
        return {"model": model.state_dict(), "optimizer": opt.state_dict(), "schedule": sched.state_dict(),
                "epoch": epoch, "step": step_in_epoch, "elapsed": elapsed + time.perf_counter() - t0,
                "sums": [float(loss_sum), int(correct), seen], "curve": curve.rows, "steps": steps.curve.rows,
                "aug_rng": aug_gen.get_state(),
                "train_seconds": train_secs + time.perf_counter() - t_steps}

    def test_pass(text: str):
        return evaluate(model, test_x, data.test_y, data.mean, data.std, dev, fast=fast, cancel=ctx.cancel,
                        stage=STAGE, text=text)

    loss_sum = torch.tensor(sums[0], dtype=acc_dtype, device=dev)
    correct = torch.tensor(sums[1], dtype=torch.int64, device=dev)
    seen = sums[2]
    last_loss = ""
    t0 = t_steps = time.perf_counter()
    try:
        while epoch < b.epochs:
            perm = epoch_permutation(n, ctx.seed(STAGE), epoch)
            if train_x.device != perm.device:
                perm = perm.to(train_x.device)
            if step_in_epoch == 0:  # mid-epoch, the restored state continues the epoch's draws
                aug_gen.manual_seed(ctx.seed(STAGE) * 7919 + epoch)
            step_model.train()
            t_epoch = t_steps = time.perf_counter()
            while step_in_epoch < spe:
                ctx.cancel.check()
                idx = perm[step_in_epoch * b.batch_size:(step_in_epoch + 1) * b.batch_size]
                x = train_x[idx]
                if x.device != dev:  # pinned host memory: the copy overlaps the previous step's work
                    x = x.pin_memory() if dev.type == "cuda" else x
                    x = x.to(dev, non_blocking=True)
                if b.augment:
                    x = augment(x, aug_gen)  # its draws on the CPU generator, the gather where x is
                x = fast.inputs(normalize(x, data.mean, data.std))
                y = train_y[idx].to(dev, non_blocking=True)
                with fast.autocast():
                    logits = step_model(x)
                    loss = F.cross_entropy(logits, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                loss_sum += loss.detach().to(acc_dtype) * len(y)
                correct += (logits.argmax(1) == y).sum()
                seen += len(y)
                steps.add(loss)
                step_in_epoch += 1
                done = epoch * spe + step_in_epoch
                if steps.due(done):
                    point = steps.point(done, opt.param_groups[0]["lr"],
                                        f"between steps {done - cfg.run.log_every + 1} and {done} (epoch "
                                        f"{epoch + 1})", hint)
                    last_loss = f" · loss {point.values['loss']:.4f}"
                    yield point
                    ckpt.maybe_save(snapshot)  # only after the guard: a checkpoint never holds NaN weights
                if step_in_epoch % 10 == 0 or step_in_epoch == spe:
                    yield Progress(STAGE, done, total, f"epoch {epoch + 1}/{b.epochs}{last_loss}")
            train_secs += time.perf_counter() - t_steps
            t_steps = time.perf_counter()
            sums = [float(loss_sum), int(correct), seen]  # the epoch's one read-back
            finite.check_loss(sums[0], STAGE, f"in epoch {epoch + 1}", hint)
            test_loss, test_acc = yield from test_pass(f"epoch {epoch + 1}: test set")
            yield curve.add("epoch", epoch + 1, train_loss=sums[0] / sums[2], train_acc=sums[1] / sums[2],
                            test_loss=test_loss, test_acc=test_acc, lr=opt.param_groups[0]["lr"],
                            seconds=time.perf_counter() - t_epoch, step=(epoch + 1) * spe)
            epoch, step_in_epoch = epoch + 1, 0
            loss_sum.zero_()
            correct.zero_()
            seen = 0
            curve.flush()
            steps.flush()
            ckpt.save(snapshot())
    except Cancelled:
        ckpt.save(snapshot())
        curve.flush()
        steps.flush()
        raise

    test_loss, test_acc = yield from test_pass("final test evaluation")
    seconds = elapsed + time.perf_counter() - t0
    finite.check_state(model.state_dict(), STAGE, "the trained weights", hint)  # BatchNorm statistics too
    A.STAGE_OUTPUTS[STAGE].save(ctx.project, {
        "backbone": cfg.model.backbone, "in_channels": data.channels, "num_classes": data.num_classes,
        "image_size": data.image_size, "mean": list(data.mean), "std": list(data.std),
        "classes": list(data.classes), "dataset": data.name,
        "state_dict": {k: v.cpu() for k, v in model.state_dict().items()}})
    curve.flush()
    steps.flush()
    ckpt.clear()
    yield Message(STAGE, f"base model: test accuracy {test_acc:.4f}")
    return {"test_acc": test_acc, "test_loss": test_loss, "epochs": b.epochs, "compute_seconds": seconds,
            "seconds_per_epoch": (seconds / b.epochs) if b.epochs else 0.0,
            "train_seconds_per_epoch": (train_secs / b.epochs) if b.epochs else 0.0}
