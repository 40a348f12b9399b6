"""Stage 5: every original and generated member on the test set; bagging rules and the paper's metrics.

Writes results/metrics.json (Table 3 row, baselines, diversity, calibration, efficiency),
results/predictions.pt (each set's predictions and mean probabilities), results/members.csv and
results/iou.pt (IoU of wrong predictions over generated and original members).

Progress: the member sets (snapshots, generated members, each baseline) make one bar, weighted by their
number of members, so it neither restarts per set nor loses its ETA; the metrics after it are a sub-step.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from ...events import METRICS_STEP, Event, Message, Progress, relay
from ...fileio import json_safe
from ...ml.members import evaluate_members
from ...project import artifacts as A
from ...results import metrics as M
from ...results.novelty import novelty
from ..context import StageContext

STAGE = "evaluate"


def run(ctx: StageContext) -> Iterator[Event]:
    cfg, e = ctx.cfg, ctx.cfg.evaluate
    data = yield from ctx.data()
    feats = yield from ctx.features("test", STAGE)
    model, subset = ctx.base_network(), ctx.subset()
    snaps = A.snapshot_matrix(ctx.project)
    gen = A.MEMBERS.load(ctx.project)
    sets = {"original": snaps, "generated": gen["members"].float(), **{k: v.float() for k, v in gen["baselines"].items()}}
    batching = e.member_batching
    outs = {}
    total_members, before = sum(len(v) for v in sets.values()), 0
    for i, (name, vecs) in enumerate(sets.items()):
        job = evaluate_members(model, subset, vecs, feats, data.test_y, batch_size=e.batch_size,
                               batching=batching, cancel=ctx.cancel, stage=STAGE, label=name)
        outs[name] = yield from relay(job, _one_bar(before, len(vecs), total_members, f"set {i + 1}/{len(sets)}"))
        batching = outs[name].batching  # 'auto' decides once, on the first set
        before += len(vecs)
    yield Progress(STAGE, 0, 1, "metrics: Table 3, baselines, diversity, calibration", step=METRICS_STEP)
    y = data.test_y.numpy()
    C = data.num_classes
    preds = {k: v.preds.numpy().astype(np.int64) for k, v in outs.items()}
    seed = cfg.run.seed
    row = M.table3_row(preds["generated"], preds["original"], y, outs["generated"].mean_probs.numpy(),
                       repeats=e.abend_repeats, seed=seed)
    baselines = {}
    for name in gen["baselines"]:
        b = M.table3_row(preds[name], preds["original"], y, outs[name].mean_probs.numpy(),
                         repeats=e.abend_repeats, seed=seed)
        b["d_i"] = M.diversity_within(preds[name], C)
        b["iou_within"] = M._mean_offdiag(M.iou_matrix(preds[name], y))
        baselines[name] = b
    diversity = M.diversity_block(preds["generated"], preds["original"], y, C, seed)
    calibration = {name: M.calibration(preds[name], outs[name].mean_probs.numpy(), y, C, e.ece_bins, seed)
                   for name in outs}
    for name, o in outs.items():
        correct = preds[name] == y[None, :]
        calibration[name]["members"] = {
            "nll_mean": float(o.nll.mean()),
            "ece_mean": float(np.mean([M.ece(o.confidence[i].float().numpy(), correct[i], e.ece_bins)
                                       for i in range(len(correct))]))}
    eff = _efficiency(ctx, len(snaps))
    # Named as in Table 3: the generator's own name for the generated set, then each baseline.
    members = {gen["generator"] if n == "generated" else n: (v, preds[n]) for n, v in sets.items() if n != "original"}
    gen_info = ctx.project.manifest()["stages"].get("generate", {}).get("info", {})
    metrics = {**{k: v for k, v in row.items()}, "generator": gen["generator"], "sampler": gen_info.get("sampler"),
               "n_test": int(len(y)),
               "num_classes": C, "efficiency": eff, "diversity": diversity, "baselines": baselines,
               "calibration": calibration, "member_batching": batching,
               "novelty": novelty(snaps, preds["original"], members, y, subset)}
    A.METRICS.save(ctx.project, json_safe(metrics))
    A.PREDICTIONS.save(ctx.project, {
        "y": data.test_y.clone(), "classes": list(data.classes),
        "preds": {k: v.preds for k, v in outs.items()},
        "mean_probs": {k: v.mean_probs.half() for k, v in outs.items()},
        "nll": {k: v.nll for k, v in outs.items()}})
    both = np.concatenate([preds["generated"], preds["original"]])
    A.IOU.save(ctx.project, {"matrix": torch.from_numpy(M.iou_matrix(both, y)).float(),
                             "generated": len(preds["generated"]), "original": len(preds["original"])})
    rows = [{"set": name, "index": i, "accuracy": float(a), "nll": float(outs[name].nll[i])}
            for name in outs for i, a in enumerate(M.member_accuracies(preds[name], y))]
    A.MEMBERS_CSV.save_rows(ctx.project, ["set", "index", "accuracy", "nll"], rows)
    yield Progress(STAGE, 1, 1, "metrics written", step=METRICS_STEP)
    yield Message(STAGE, f"sBEND {row['sbend']:.4f} · aBEND {row['abend_mean']:.4f} ± {row['abend_std']:.4f} · "
                         f"members mean {row['gen_mean']:.4f} · snapshots mean {row['orig_mean']:.4f}")
    return {"sbend": row["sbend"], "abend_mean": row["abend_mean"], "gen_mean": row["gen_mean"],
            "orig_mean": row["orig_mean"]}


def _one_bar(before: int, members: int, total_members: int, where: str):
    """Maps one set's batch progress (done of n batches) onto the bar of all sets: each member-batch is a
    unit, so a set of 100 members weighs 20 times one of 5. Sub-steps (a cache) pass unchanged."""
    def transform(ev):
        if not isinstance(ev, Progress) or ev.step or ev.total <= 0:
            return ev
        return Progress(STAGE, before * ev.total + members * ev.done, total_members * ev.total,
                        f"{where} · {ev.text}", point=ev.point)
    return transform


def _efficiency(ctx: StageContext, k: int) -> dict:
    info = {s: v.get("info", {}) for s, v in ctx.project.manifest()["stages"].items()}
    base, col = info.get("base", {}), info.get("collect", {})
    return M.efficiency(t_orge=float(base.get("train_seconds_per_epoch", base.get("seconds_per_epoch", 0.0))),
                        k_pre=int(base.get("epochs", 0)), collect_epochs=col.get("epochs"),
                        t_org=float(base.get("compute_seconds", 0.0)) + float(col.get("compute_seconds", 0.0)),
                        t_ate=float(info.get("autoencoder", {}).get("compute_seconds", 0.0)),
                        t_ddpm=float(info.get("diffusion", {}).get("compute_seconds", 0.0)),
                        t_sgen=float(info.get("generate", {}).get("seconds_per_member", 0.0)), k=k)

