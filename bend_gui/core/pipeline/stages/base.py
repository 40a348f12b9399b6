"""Stage 0: train the whole backbone on the dataset (or start from a local pretrained file).

Resumable mid-epoch: each epoch's shuffle is a function of (seed, epoch), and a cancel or a periodic
checkpoint stores the weights, the optimiser, the schedule and the position in the epoch.
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
from ...ml.data import normalize
from ...ml.training import (
    augment,
    epoch_permutation,
    loss_and_accuracy,
    make_optimizer,
    make_schedule,
    predict,
    steps_per_epoch,
)
from ...project import artifacts as A
from ..context import Checkpoint, Curve, StageContext

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
    model.to(dev)
    yield Message(STAGE, f"{cfg.model.backbone}: {count_params(model):,} parameters, on {dev}")

    n = len(data.train_x)
    spe = steps_per_epoch(n, b.batch_size)
    total = b.epochs * spe
    opt = make_optimizer(b.optimizer, model.parameters(), b.lr, b.momentum, b.weight_decay)
    sched = make_schedule(b.schedule, opt, b.lr, total)
    ckpt = Checkpoint(ctx.project, STAGE, ctx.project.fingerprint(STAGE, cfg))
    curve = Curve(ctx.project, STAGE, "curve")
    steps = Curve(ctx.project, STAGE, "steps")  # loss and lr every [run] log_every steps, while an epoch runs
    steps_flushed = time.monotonic()
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
        curve.rows = list(state["curve"])
        done = epoch * spe + step_in_epoch
        steps.rows = [r for r in ctx.project.read_curve(STAGE, "steps") if r.get("step", 0) <= done]
        aug_gen.set_state(state["aug_rng"])

    if ckpt.restore(restore):
        yield Message(STAGE, f"resumed at epoch {epoch + 1}, step {step_in_epoch}")

    def snapshot() -> dict:
        return {"model": model.state_dict(), "optimizer": opt.state_dict(), "schedule": sched.state_dict(),
                "epoch": epoch, "step": step_in_epoch, "elapsed": elapsed + time.perf_counter() - t0,
                "sums": sums, "curve": curve.rows, "aug_rng": aug_gen.get_state(),
                "train_seconds": train_secs + time.perf_counter() - t_steps}

    test_x = data.test_x
    t0 = t_steps = time.perf_counter()
    try:
        while epoch < b.epochs:
            perm = epoch_permutation(n, ctx.seed(STAGE), epoch)
            if step_in_epoch == 0:  # mid-epoch, the restored state continues the epoch's draws
                aug_gen.manual_seed(ctx.seed(STAGE) * 7919 + epoch)
            model.train()
            t_epoch = t_steps = time.perf_counter()
            while step_in_epoch < spe:
                ctx.cancel.check()
                idx = perm[step_in_epoch * b.batch_size:(step_in_epoch + 1) * b.batch_size]
                x = data.train_x[idx]
                if b.augment:
                    x = augment(x, aug_gen)
                x = normalize(x.to(dev, non_blocking=True), data.mean, data.std)
                y = data.train_y[idx].to(dev, non_blocking=True)
                logits = model(x)
                loss = F.cross_entropy(logits, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                loss_value = loss.item()
                finite.check_loss(loss_value, STAGE, f"at epoch {epoch + 1}, step {step_in_epoch + 1}", hint)
                sums[0] += loss_value * len(y)
                sums[1] += int((logits.argmax(1) == y).sum())
                sums[2] += len(y)
                step_in_epoch += 1
                done = epoch * spe + step_in_epoch
                if done % cfg.run.log_every == 0:
                    yield steps.add("step", done, loss=loss_value, lr=opt.param_groups[0]["lr"])
                    if time.monotonic() - steps_flushed >= 5.0:  # a reopened or crashed project shows it
                        steps.flush()
                        steps_flushed = time.monotonic()
                if step_in_epoch % 10 == 0 or step_in_epoch == spe:
                    yield Progress(STAGE, done, total, f"epoch {epoch + 1}/{b.epochs} · loss {sums[0] / sums[2]:.4f}")
                ckpt.maybe_save(snapshot)
            train_secs += time.perf_counter() - t_steps
            t_steps = time.perf_counter()
            model.eval()
            logits = predict(model, (normalize(test_x[i:i + 1000].to(dev), data.mean, data.std)
                                     for i in range(0, len(test_x), 1000)))
            test_loss, test_acc = loss_and_accuracy(logits, data.test_y)
            yield curve.add("epoch", epoch + 1, train_loss=sums[0] / sums[2], train_acc=sums[1] / sums[2],
                            test_loss=test_loss, test_acc=test_acc, lr=opt.param_groups[0]["lr"],
                            seconds=time.perf_counter() - t_epoch, step=(epoch + 1) * spe)
            epoch, step_in_epoch, sums = epoch + 1, 0, [0.0, 0, 0]
            curve.flush()
            steps.flush()
            ckpt.save(snapshot())
    except Cancelled:
        ckpt.save(snapshot())
        curve.flush()
        steps.flush()
        raise

    model.eval()
    logits = predict(model, (normalize(test_x[i:i + 1000].to(dev), data.mean, data.std)
                             for i in range(0, len(test_x), 1000)))
    test_loss, test_acc = loss_and_accuracy(logits, data.test_y)
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
