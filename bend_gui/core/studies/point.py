"""One study point, computed from shipped inputs only: no project folder, no files, no lock.

This is what a Ray worker runs. `inputs` (see inputs.py) holds the base network's state, the subset, the
k snapshots and their test predictions, the cached test activations and labels, and (for points that keep
the project's generator) the trained autoencoder and DDPM. A point that recollects gets the images and
labels instead of the snapshots and activations: its subset may end the frozen prefix elsewhere, so it
builds its own activations, runs the collect stage's loop with its own settings and seed, and tests its
own snapshots (the "original" columns). A point rebuilds the network from the state, reruns what its
level needs with its own settings and seed, and returns its row: Table 3's columns and the diversity of
its members.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator

import numpy as np
import torch

from ..events import CancelFlag, Event, Progress, relay
from ..ml import finite
from ..ml.backbones import build_model
from ..ml.device import resolve_device
from ..ml.features import Features
from ..ml.members import evaluate_members
from ..ml.subset import Subset, resolve
from ..pdiff.baselines import baseline
from ..pdiff.sampling import DiffusionGenerator
from ..pdiff.training import train_autoencoder, train_diffusion
from ..pipeline.context import stage_seed, tail_inputs
from ..pipeline.memory import sample_chunk
from ..pipeline.stages.collect import Collector
from ..results import metrics as M
from ..settings import config as C

STAGE = "study"
POINT_STEP = "point"   # the `step` of a point's own progress (training steps, members evaluated)
ROW_COLUMNS = ("sbend", "abend_mean", "abend_std", "soft", "gen_max", "gen_mean", "gen_median", "gen_min",
               "orig_max", "orig_mean", "orig_median", "potential")
DIVERSITY_COLUMNS = ("d_i_gen", "d_i_orig", "d_o", "disagree_gen", "disagree_orig", "iou_gen")


def snapshot_draw(n_snapshots: int, k: int, seed: int) -> torch.Tensor:
    """Which k snapshots a point trains on: the first k of a seeded permutation, in snapshot order; for
    one seed a smaller k's draw is part of a larger one's, and k = all gives every snapshot in order."""
    perm = torch.randperm(n_snapshots, generator=torch.Generator().manual_seed(seed))
    return perm[:k].sort().values


def _network(base: dict, device: torch.device) -> torch.nn.Module:
    with torch.random.fork_rng(devices=[]):  # its random init is overwritten; keep the caller's RNG as is
        net = build_model(base["backbone"], base["in_channels"], base["num_classes"])
    net.load_state_dict(base["state_dict"])
    return net.to(device).eval()


def point_job(inputs: dict, cfg_dict: dict, level: str, seed: int, cancel: CancelFlag | None = None,
              label: str = "") -> Iterator[Event]:
    """Generator: yields Progress (stage 'study', `point=label`), returns the point's row (fractions; d_i
    per eq. 14 over all m members and over the k snapshots; disagreement = mean pairwise share of test
    images two members label differently)."""
    cancel = cancel or CancelFlag()
    cfg = C.from_dict(cfg_dict)
    threads = torch.get_num_threads()
    device = resolve_device(cfg.run)  # sets [run] threads when given: equal threads, equal numbers
    try:
        t0 = time.perf_counter()
        net = _network(inputs["base"], device)
        y = inputs["y"].long()
        g = cfg.generate

        def relabel(ev: Event) -> Event | None:
            return Progress(STAGE, ev.done, ev.total, ev.text, step=POINT_STEP, point=label) if isinstance(ev, Progress) else None
        batching = cfg.evaluate.member_batching
        if level == "collect":
            subset, snaps, feats = yield from relay(_recollect(inputs, net, cfg, device, cancel, seed), relabel)
            # The snapshots first, as the evaluate stage does: their batching ('auto' decides) is the members'.
            out = yield from relay(evaluate_members(net, subset, snaps, feats, y, batch_size=cfg.evaluate.batch_size,
                                                    batching=batching, cancel=cancel, stage=STAGE,
                                                    label="snapshots"), relabel)
            orig, batching = out.preds.numpy().astype(np.int64), out.batching
        else:
            subset = Subset.from_dict(inputs["subset"])
            snaps = inputs["snapshots"].float()
            orig = inputs["orig_preds"].numpy().astype(np.int64)
            if cfg.collect.k < len(snaps):  # collect.k swept: the generator sees k of the snapshots (Figure 5a)
                idx = snapshot_draw(len(snaps), cfg.collect.k, seed)
                snaps, orig = snaps[idx], orig[idx.numpy()]
            feats_t = inputs["test_features"]
            feats = Features(None, feats_t, None, None, device, feats_t)
        gen = None
        if g.generator == "diffusion":
            if level == "generate":
                gen = DiffusionGenerator.from_saved(inputs["autoencoder"], inputs["diffusion"], device)
            else:
                ae, norm = yield from relay(train_autoencoder(snaps, subset, cfg.autoencoder, device, cancel,
                                                              stage_seed(seed, "autoencoder"), stage=STAGE), relabel)
                gen = yield from relay(train_diffusion(ae, norm, snaps, cfg.diffusion, device, cancel,
                                                       stage_seed(seed, "diffusion"), stage=STAGE), relabel)
        cancel.check()
        if gen is not None:
            members = gen.sample(g.m, sampler=g.sampler, steps=g.sampling_steps, decode_noise=g.decode_noise,
                                 seed=seed, on_step=lambda i, n: cancel.check(), eta=g.ddim_eta,
                                 chunk=sample_chunk(subset.d, cfg, g.m))
        else:
            members = baseline(g.generator, snaps, g.m, seed, subset, noise_sigma=g.noise_sigma,
                               average_size=g.average_size, gaussian_scale=g.gaussian_scale)
        finite.check_rows(members, STAGE, "generated member", "lower the point's noise or retrain its generator")
        out = yield from relay(evaluate_members(net, subset, members, feats, y, batch_size=cfg.evaluate.batch_size,
                                                batching=batching, cancel=cancel,
                                                stage=STAGE, label="members"), relabel)
        preds = out.preds.numpy().astype(np.int64)
        y_np = y.numpy()
        t3 = M.table3_row(preds, orig, y_np, out.mean_probs.numpy(), repeats=cfg.evaluate.abend_repeats, seed=seed)
        div = M.diversity_block(preds, orig, y_np, int(inputs["num_classes"]), seed)
        row = {c: float(t3[c]) for c in ROW_COLUMNS} | {"m": int(t3["m"]), "k": int(t3["k"])}
        row |= {c: float(div[c]) for c in DIVERSITY_COLUMNS}
        row["d_i"] = M.diversity_within(preds, int(inputs["num_classes"]))
        row["seconds"] = time.perf_counter() - t0
        return row
    finally:
        torch.set_num_threads(threads)


def _recollect(inputs: dict, net: torch.nn.Module, cfg: C.ProjectConfig, device: torch.device,
               cancel: CancelFlag, seed: int) -> Iterator[Event]:
    """Generator returning (subset, k snapshots, test activations): the collect stage of a project with
    the point's settings and seed (its loop, its seed, its activations), on the shipped images."""
    data = inputs["data"]
    subset = resolve(net, cfg.subset.layers, inputs["base"]["backbone"])
    train_f = yield from tail_inputs(net, subset, data["train_x"], data["mean"], data["std"], cfg, device, cancel,
                                     STAGE, "train")
    test_f = yield from tail_inputs(net, subset, data["test_x"], data["mean"], data["std"], cfg, device, cancel,
                                    STAGE, "test")
    # A copy is trained (as the stage trains ctx.network_copy()); `net` stays the base network for testing.
    col = Collector(copy.deepcopy(net), subset, train_f, data["train_y"], test_f, inputs["y"], cfg, device,
                    stage_seed(seed, "collect"), measure=False)
    yield from col.run(cancel)
    return subset, torch.stack(col.snapshots), test_f


def compute_point(inputs: dict, cfg_dict: dict, level: str, seed: int) -> dict:
    """The row of one point, without events (what a remote worker calls)."""
    gen = point_job(inputs, cfg_dict, level, seed)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value
