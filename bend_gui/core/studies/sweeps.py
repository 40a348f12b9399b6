"""Accuracy against m and against k (BEND section 4.5, Figure 5), as jobs whose points arrive one by one.

- over m: the project's trained generator (or its configured baseline generator) makes max(m) members
  once per seed; they are evaluated once through the cached tail, and each m uses the first m of them
  (nested), so a larger ensemble contains every smaller one of the same seed.
- over k: for each point a fresh autoencoder + DDPM is trained, with the project's [autoencoder] and
  [diffusion] settings, on k of the project's snapshots (the first k of one seeded permutation per seed:
  nested too), then m members are generated and evaluated. With k = all snapshots and seed = [run] seed
  = [generate] seed the point reproduces the project's own generator and results exactly.

The originals (orig_mean, orig_median) are the snapshots the generator saw: all of them over m, the
drawn k over k. Each point is a row of `sweeps/<m|k>.csv` (one row per (x, seed)); `sweeps/<m|k>.json`
says which generator and settings made it. A cancelled sweep writes the points it finished. A k-sweep
keeps the saved points that were made with the same settings, and reuses those it is asked for again
(so rerunning a cancelled sweep, or adding a seed, trains only what is missing); a sweep over m
replaces the saved one (it is cheap and its points are reproducible from their seeds).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from ..errors import Cancelled, ProjectError
from ..events import CACHE_STEP, CancelFlag, Event, Message, Metric, Progress, relay
from ..fileio import json_safe, read_csv, read_json, write_csv, write_json
from ..ml.device import resolve_device
from ..ml.members import MemberOutputs, evaluate_members
from ..ml.subset import Subset
from ..pdiff.baselines import baseline
from ..pdiff.sampling import DiffusionGenerator
from ..pdiff.training import train_autoencoder, train_diffusion
from ..pipeline import preflight
from ..pipeline.context import StageContext, stage_seed
from ..pipeline.memory import sample_chunk
from ..project import artifacts as A
from ..project.folder import STAGE_TITLES, STAGES, Project
from ..results import metrics as M
from ..results.report import pct_pm
from ..settings.config import ProjectConfig

OVER = ("m", "k")
STAGE = {"m": "sweep_m", "k": "sweep_k"}       # the `stage` of the sweeps' events
SERIES = "points"                               # Metric(STAGE[over], SERIES, x, row): one finished point
# What the plots show: the ensemble rules, the generated members and the originals (accuracy fractions).
QUANTITIES = ("sbend", "abend_mean", "soft", "gen_mean", "gen_median", "orig_mean", "orig_median")
QUANTITY_LABELS = {"sbend": "sBEND", "abend_mean": "aBEND", "soft": "soft vote", "gen_mean": "gen mean",
                   "gen_median": "gen median", "orig_mean": "orig mean", "orig_median": "orig median"}
ROW_COLUMNS = ("sbend", "abend_mean", "abend_std", "soft", "gen_max", "gen_mean", "gen_median", "gen_min",
               "orig_max", "orig_mean", "orig_median", "potential")
EVAL_UNITS = 50             # a k-point's evaluation counted as this many training steps in its progress


def sweep_dir(project: Project) -> Path:
    return A.study_dir(project, "sweeps")


def sweep_path(project: Project, over: str) -> Path:
    _check_over(over)
    return sweep_dir(project) / f"{over}.csv"


def info_path(project: Project, over: str) -> Path:
    _check_over(over)
    return sweep_dir(project) / f"{over}.json"


def _check_over(over: str) -> None:
    if over not in OVER:
        raise ProjectError(f"a sweep goes over m or k, not {over!r}")


def parse_values(text: str, what: str, *, lo: int = 0) -> list[int]:
    """'5, 10, 20' → [5, 10, 20] (sorted, duplicates dropped), or a ProjectError naming the bad item."""
    out = set()
    for part in str(text).replace(";", ",").replace(" ", ",").split(","):
        if not part.strip():
            continue
        try:
            v = int(part)
        except ValueError:
            raise ProjectError(f"{what}: {part.strip()!r} is not a whole number") from None
        if v < lo:
            raise ProjectError(f"{what}: {v} is below {lo}" + (" (a generator needs at least 2 snapshots)"
                                                           if lo == 2 else ""))
        out.add(v)
    if not out:
        raise ProjectError(f"{what}: give at least one number, e.g. 0, 1, 2")
    return sorted(out)


def _values(values, what: str, lo: int, hi: int | None = None, hi_why: str = "") -> list[int]:
    vals = parse_values(",".join(str(v) for v in values), what, lo=lo)
    if hi is not None and vals[-1] > hi:
        raise ProjectError(f"{what}: {vals[-1]} is above {hi}{hi_why}")
    return vals


# --- what a sweep needs --------------------------------------------------------------------------------

def needed_stage(cfg: ProjectConfig, over: str) -> str:
    """The last stage a sweep reads: the trained diffusion generator over m, the snapshots over k
    (and over m when the project's generator is a baseline)."""
    _check_over(over)
    return "diffusion" if over == "m" and cfg.generate.generator == "diffusion" else "collect"


def readiness(project: Project, over: str, cfg: ProjectConfig | None = None) -> str:
    """'' when the sweep can run, else why not (in words a user can act on)."""
    cfg = cfg or project.load_config()
    need = needed_stage(cfg, over)
    for st in project.stage_states(cfg)[:STAGES.index(need) + 1]:
        if st.state != "done":
            return (f"the sweep over {over} needs stage {STAGE_TITLES[need]} done, and {STAGE_TITLES[st.stage]} "
                    f"is {st.state}: run the pipeline until {need} first (bend run {project.root} --until {need})")
    return ""


@dataclass
class _Setup:
    ctx: StageContext
    subset: Subset
    snaps: torch.Tensor          # (K, d) the project's snapshots
    y: np.ndarray                # (n,) test labels
    orig_preds: np.ndarray       # (K, n) the snapshots' test predictions
    feats: object
    batching: str


def _setup(project: Project, cfg: ProjectConfig, device: torch.device, cancel: CancelFlag,
           stage: str) -> Iterator[Event]:
    """Generator returning what every point needs: data, cached test activations, the snapshots and their
    test predictions (from results/predictions.pt when the evaluate stage is done, else evaluated here)."""
    ctx = StageContext(project, cfg, device, cancel)
    data = yield from ctx.data()
    feats = yield from ctx.features("test", stage)
    saved = A.SNAPSHOTS.load(project)
    snaps, subset = saved["snapshots"].float(), Subset.from_dict(saved["subset"])
    y = data.test_y.numpy().astype(np.int64)
    batching = cfg.evaluate.member_batching
    orig = None
    if project.state("evaluate").state == "done":
        pred_file = A.PREDICTIONS.load(project)
        o = pred_file["preds"]["original"]
        if tuple(o.shape) == (len(snaps), len(y)) and torch.equal(pred_file["y"].long(), data.test_y.long()):
            orig = o.numpy().astype(np.int64)
            yield Message(stage, f"originals: predictions of the {len(snaps)} snapshots from results/predictions.pt")
    if orig is None:
        out = yield from evaluate_members(ctx.base_network(), subset, snaps, feats, data.test_y,
                                          batch_size=cfg.evaluate.batch_size, batching=batching, cancel=cancel,
                                          stage=stage, label=f"{len(snaps)} snapshots (originals)")
        orig = out.preds.numpy().astype(np.int64)
        batching = out.batching
    return _Setup(ctx, subset, snaps, y, orig, feats, batching)


def _evaluate(setup: _Setup, vectors: torch.Tensor, cancel: CancelFlag, stage: str,
              on_progress: Callable[[Progress], Progress]) -> Iterator[Event]:
    """Generator returning the MemberOutputs of `vectors`, its progress re-labelled for the sweep."""
    cfg = setup.ctx.cfg
    gen = evaluate_members(setup.ctx.base_network(), setup.subset, vectors, setup.feats,
                           torch.from_numpy(setup.y), batch_size=cfg.evaluate.batch_size,
                           batching=setup.batching, cancel=cancel, stage=stage, label="members")
    out = yield from _relay(gen, on_progress)
    setup.batching = out.batching  # 'auto' measures once per sweep
    return out


def _relay(gen, on_progress: Callable[[Progress], Progress | None]) -> Iterator[Event]:
    """Runs a nested job: its progress re-labelled (the activation cache's kept), its curve points dropped
    (they belong to the trainings inside one point, not to the project's curves), messages kept; returns its
    result."""
    def relabel(ev: Event) -> Event | None:
        if isinstance(ev, Progress) and ev.step != CACHE_STEP:
            return on_progress(ev)
        return None if isinstance(ev, Metric) else ev
    return (yield from relay(gen, relabel))


def point_row(gen_preds: np.ndarray, mean_probs: np.ndarray, orig_preds: np.ndarray, y: np.ndarray, *,
              repeats: int, seed: int) -> dict:
    """Table 3's columns for one ensemble (fractions); aBEND's draws seeded by `seed`."""
    row = M.table3_row(gen_preds, orig_preds, y, mean_probs, repeats=repeats, seed=seed)
    return {c: float(row[c]) for c in ROW_COLUMNS} | {"m": int(row["m"]), "k": int(row["k"])}


# --- saving and loading --------------------------------------------------------------------------------

def _columns(over: str) -> list[str]:
    head = ["m", "seed", "k"] if over == "m" else ["k", "seed", "m"]
    return head + list(ROW_COLUMNS) + ["seconds"]


def _sort_key(over: str):
    return lambda r: (float(r[over]), float(r["seed"]))


def _write(project: Project, over: str, rows: list[dict], info: dict) -> None:
    rows = sorted(rows, key=_sort_key(over))
    write_csv(sweep_path(project, over), _columns(over), rows)
    write_json(info_path(project, over), json_safe({**info, "points": len(rows),
                                                    "written": dt.datetime.now().isoformat(timespec="seconds")}))


def load_sweep(project: Project, over: str) -> list[dict]:
    """The saved sweep's rows (one per (x, seed), values as floats); [] when there is none."""
    path = sweep_path(project, over)
    if not path.exists():
        return []
    _, rows = read_csv(path)
    return [r for r in rows if over in r and "seed" in r]


def sweep_info(project: Project, over: str) -> dict | None:
    """The saved sweep's settings, with `current` saying whether the project's generator still matches."""
    path = info_path(project, over)
    if not path.exists():
        return None
    info = read_json(path)
    try:
        cfg = project.load_config()
        info["current"] = info.get("fingerprint") == fingerprint(project, cfg, over, m=info.get("m"))
    except Exception:  # noqa: BLE001 - an invalid project.toml makes every result stale, not unreadable
        info["current"] = False
    return info


def aggregate(rows: list[dict], over: str) -> list[dict]:
    """Mean and std over seeds for each x (std with ddof = 0, as aBEND's ± is elsewhere in the app):
    {over: x, 'seeds': n, '<q>_mean': ..., '<q>_std': ...} for every quantity in QUANTITIES."""
    by_x: dict[float, list[dict]] = {}
    for r in rows:
        by_x.setdefault(float(r[over]), []).append(r)
    out = []
    for x in sorted(by_x):
        group = by_x[x]
        agg = {over: int(x) if float(x).is_integer() else x, "seeds": len(group)}
        for q in QUANTITIES:
            vals = np.array([float(r[q]) for r in group if q in r])
            agg[f"{q}_mean"] = float(vals.mean()) if len(vals) else float("nan")
            agg[f"{q}_std"] = float(vals.std()) if len(vals) else float("nan")
        out.append(agg)
    return out


def format_summary(rows: list[dict], over: str) -> str:
    """The CLI's table: mean ± std over seeds (accuracy in %) for each x."""
    agg = aggregate(rows, over)
    widths = {q: max(len(QUANTITY_LABELS[q]), 15) for q in QUANTITIES}
    lines = [f"{over:>6}{'seeds':>7}" + "".join(f"{QUANTITY_LABELS[q]:>{widths[q] + 2}}" for q in QUANTITIES)]
    for a in agg:
        cells = [pct_pm(a[f"{q}_mean"], a[f"{q}_std"]) for q in QUANTITIES]
        lines.append(f"{a[over]:>6}{a['seeds']:>7}" + "".join(f"{c:>{widths[q] + 2}}" for c, q in zip(cells, QUANTITIES)))
    return "\n".join(lines)


def fingerprint(project: Project, cfg: ProjectConfig, over: str, m: int | None = None) -> str:
    """What a sweep's points depend on besides x and seed: the generator (its run, or the settings that
    train it), the sampling, the snapshots and aBEND's repeats. Equal fingerprints → reusable points."""
    stages = project.manifest()["stages"]
    g = cfg.generate
    parts = {"over": over, "collect": stages.get("collect", {}).get("run_id"), "generator": g.generator,
             "sampling": [g.sampler, g.sampling_steps, g.decode_noise, g.noise_sigma, g.average_size],
             "abend_repeats": cfg.evaluate.abend_repeats, "data": dataclasses.asdict(cfg.data)}
    if over == "m" and g.generator == "diffusion":
        parts["diffusion"] = stages.get("diffusion", {}).get("run_id")
    if over == "k":
        parts["m"] = m
        parts["autoencoder"] = dataclasses.asdict(cfg.autoencoder)
        parts["diffusion"] = dataclasses.asdict(cfg.diffusion)
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _describe(cfg: ProjectConfig) -> str:
    g = cfg.generate
    if g.generator != "diffusion":
        return f"{g.generator} baseline"
    return f"diffusion ({g.sampler.upper()}, {g.sampling_steps if g.sampler == 'ddim' else cfg.diffusion.timesteps} steps)"


def snapshot_count(project: Project, cfg: ProjectConfig | None = None) -> int:
    """How many snapshots the collect stage saved (the largest k)."""
    info = project.manifest()["stages"].get("collect", {}).get("info", {})
    return int(info.get("k", (cfg or project.load_config()).collect.k))


def check_request(project: Project, over: str, values, seeds, m: int | None = None) -> tuple[list[int], list[int]]:
    """The sorted values and seeds of a sweep, or a ProjectError saying what is wrong with them."""
    _check_over(over)
    seeds = _values(seeds, "seeds", 0)
    if over == "m":
        return _values(values, "m values", 1), seeds
    n = snapshot_count(project)
    ks = _values(values, "k values", 2, n, f" (the project has {n} snapshots)")
    if m is not None and int(m) < 1:
        raise ProjectError("m: the number of generated members must be at least 1")
    return ks, seeds


def default_values(project: Project, over: str) -> list[int]:
    """Sensible values for a first sweep: fractions of the project's m (over m) or of its k (over k)."""
    cfg = project.load_config()
    top = cfg.generate.m if over == "m" else snapshot_count(project, cfg)
    fractions = (0.05, 0.1, 0.2, 0.5, 1.0) if over == "m" else (0.05, 0.25, 1.0)
    lo = 1 if over == "m" else 2
    return sorted({max(lo, int(round(top * f))) for f in fractions})


def k_point_seconds(project: Project) -> float | None:
    """About how long one k-point takes: the project's own autoencoder + DDPM training time (it depends on
    the steps, not on k) plus its generation and evaluation; None before those stages ran."""
    info = {s: e.get("info", {}) for s, e in project.manifest()["stages"].items() if e.get("state") == "done"}
    if "autoencoder" not in info or "diffusion" not in info:
        return None
    return float(info["autoencoder"].get("compute_seconds", 0.0) + info["diffusion"].get("compute_seconds", 0.0)
                 + project.manifest()["stages"].get("generate", {}).get("seconds", 0.0))


def _start(project: Project, over: str) -> tuple[ProjectConfig, torch.device]:
    cfg = project.load_config()
    why = readiness(project, over, cfg)
    if why:
        raise ProjectError(why)
    preflight.check(cfg, need_data=True)
    return cfg, resolve_device(cfg.run)


def _sample(cfg: ProjectConfig, gen: DiffusionGenerator | None, snaps: torch.Tensor, subset: Subset, m: int,
            seed: int, cancel: CancelFlag) -> torch.Tensor:
    g = cfg.generate
    if gen is not None:
        return gen.sample(m, sampler=g.sampler, steps=g.sampling_steps, decode_noise=g.decode_noise, seed=seed,
                          on_step=lambda i, n: cancel.check(), chunk=sample_chunk(subset.d, cfg, m))
    return baseline(g.generator, snaps, m, seed, subset, noise_sigma=g.noise_sigma, average_size=g.average_size)


# --- the sweeps ----------------------------------------------------------------------------------------

def sweep_m(project: Project, ms, seeds, cancel: CancelFlag | None = None) -> Iterator[Event]:
    """Generator: one Metric('sweep_m', 'points', m, row) per (seed, m), seed by seed, m ascending; writes
    sweeps/m.csv (replacing an earlier m-sweep) when done or cancelled; returns the rows."""
    cancel = cancel or CancelFlag()
    ms, seeds = check_request(project, "m", ms, seeds)
    cfg, device = _start(project, "m")
    stage, top = STAGE["m"], ms[-1]
    info = {"over": "m", "values": ms, "seeds": seeds, "generator": cfg.generate.generator,
            "describe": _describe(cfg), "fingerprint": fingerprint(project, cfg, "m"), "m": None}
    rows: list[dict] = []
    with project.lock("sweep over m"):
        t_start = time.perf_counter()
        try:
            setup = yield from _setup(project, cfg, device, cancel, stage)
            info.update(k=len(setup.snaps), n_test=len(setup.y))
            gen = A.load_generator(project, device) if cfg.generate.generator == "diffusion" else None
            yield Message(stage, f"{_describe(cfg)}: {top} members per seed, evaluated once; m = "
                                 f"{', '.join(map(str, ms))} use the first m of them")
            total = len(seeds) * top
            for si, seed in enumerate(seeds):
                cancel.check()
                t0 = time.perf_counter()
                members = _sample(cfg, gen, setup.snaps, setup.subset, top, seed, cancel)
                preds, prob_sum, prev = [], None, 0
                for m in ms:
                    base_done = si * top + prev

                    def relabel(ev: Progress, base_done=base_done, lo=prev, m=m, seed=seed) -> Progress:
                        done = base_done + round((m - lo) * ev.done / max(ev.total, 1))
                        return Progress(stage, done, total, f"seed {seed} · evaluating members {lo + 1}–{m}",
                                        point=f"m = {m}, seed {seed}")
                    out: MemberOutputs = yield from _evaluate(setup, members[prev:m], cancel, stage, relabel)
                    preds.append(out.preds.numpy().astype(np.int64))
                    part = out.mean_probs.double() * (m - prev)
                    prob_sum = part if prob_sum is None else prob_sum + part
                    prev = m
                    row = point_row(np.concatenate(preds), (prob_sum / m).numpy(), setup.orig_preds, setup.y,
                                    repeats=cfg.evaluate.abend_repeats, seed=seed)
                    row |= {"m": m, "seed": seed, "seconds": time.perf_counter() - t0}
                    rows.append(row)
                    yield Metric(stage, SERIES, float(m), row, point=f"m = {m}, seed {seed}")
                    yield Progress(stage, si * top + m, total, f"seed {seed}: m = {m} done",
                                   point=f"m = {m}, seed {seed}")
        except Cancelled:
            if rows:  # an early cancel keeps the previous sweep
                _write(project, "m", rows, {**info, "state": "cancelled", "seconds": time.perf_counter() - t_start})
            raise
        _write(project, "m", rows, {**info, "state": "done", "seconds": time.perf_counter() - t_start})
    yield Message(stage, f"sweep over m: {len(rows)} points written to {sweep_path(project, 'm')}")
    return rows


def snapshot_draw(n_snapshots: int, k: int, seed: int) -> torch.Tensor:
    """Which k snapshots a point trains on: the first k of a seeded permutation, in snapshot order; for
    one seed a smaller k's draw is part of a larger one's, and k = all gives every snapshot in order."""
    perm = torch.randperm(n_snapshots, generator=torch.Generator().manual_seed(seed))
    return perm[:k].sort().values


def sweep_k(project: Project, ks, seeds, m: int | None = None, cancel: CancelFlag | None = None,
            reuse: bool = True) -> Iterator[Event]:
    """Generator: one Metric('sweep_k', 'points', k, row) per (seed, k), seed by seed, k ascending, each
    after training a fresh generator on k snapshots; writes sweeps/k.csv when done or cancelled: this
    sweep's points, plus (with `reuse`) the saved points made with the same settings, which are reused
    rather than retrained when asked for again. Returns the rows."""
    cancel = cancel or CancelFlag()
    cfg, device = _start(project, "k")
    ks, seeds = check_request(project, "k", ks, seeds, m)
    m = int(m or cfg.generate.m)
    stage = STAGE["k"]
    fp = fingerprint(project, cfg, "k", m=m)
    info = {"over": "k", "values": ks, "seeds": seeds, "m": m, "generator": cfg.generate.generator,
            "describe": _describe(cfg), "fingerprint": fp}
    saved = {}
    old_info = sweep_info(project, "k")
    if reuse and old_info and old_info.get("fingerprint") == fp:
        saved = {(int(r["k"]), int(r["seed"])): r for r in load_sweep(project, "k")}
    diffusion = cfg.generate.generator == "diffusion"
    per_point = (cfg.autoencoder.steps + cfg.diffusion.steps if diffusion else 0) + EVAL_UNITS
    points = [(seed, k) for seed in seeds for k in ks]
    total = len(points) * per_point
    # Saved points outside this sweep stay in the file (each cost a training): announced first, so a
    # view that starts empty ends showing what the file holds.
    rows: list[dict] = [r for key, r in saved.items() if (key[1], key[0]) not in points]
    info["values"] = sorted(set(ks) | {int(r["k"]) for r in rows})
    info["seeds"] = sorted(set(seeds) | {int(r["seed"]) for r in rows})
    with project.lock("sweep over k"):
        t_start = time.perf_counter()
        try:
            for r in rows:
                yield Metric(stage, SERIES, float(r["k"]), r)
            setup = yield from _setup(project, cfg, device, cancel, stage)
            info.update(n_snapshots=len(setup.snaps), n_test=len(setup.y))
            yield Message(stage, f"{len(points)} points (k = {', '.join(map(str, ks))}; seeds "
                                 f"{', '.join(map(str, seeds))}); each trains {_describe(cfg)} on k snapshots "
                                 f"and evaluates m = {m} members")
            for i, (seed, k) in enumerate(points):
                cancel.check()
                point = f"k = {k}, seed {seed}"
                where = f"point {i + 1}/{len(points)} · {point}"
                if (k, seed) in saved:
                    row = dict(saved[(k, seed)])
                    rows.append(row)
                    yield Message(stage, f"{where}: reused from the saved sweep", point=point)
                    yield Metric(stage, SERIES, float(k), row, point=point)
                    yield Progress(stage, (i + 1) * per_point, total, f"{where}: reused", point=point)
                    continue
                t0 = time.perf_counter()
                idx = snapshot_draw(len(setup.snaps), k, seed)
                sub = setup.snaps[idx]
                offset = [i * per_point]

                def relabel(ev: Progress, what: str = "") -> Progress:
                    return Progress(stage, offset[0] + ev.done, total, f"{where} · {what} {ev.done}/{ev.total}",
                                    point=point)
                gen = None
                if diffusion:
                    ae, norm = yield from _relay(
                        train_autoencoder(sub, setup.subset, cfg.autoencoder, device, cancel,
                                          stage_seed(seed, "autoencoder"), stage=stage),
                        lambda ev: relabel(ev, "AE step"))
                    offset[0] += cfg.autoencoder.steps
                    gen = yield from _relay(
                        train_diffusion(ae, norm, sub, cfg.diffusion, device, cancel, stage_seed(seed, "diffusion"),
                                        stage=stage),
                        lambda ev: relabel(ev, "DDPM step"))
                    offset[0] += cfg.diffusion.steps
                members = _sample(cfg, gen, sub, setup.subset, m, seed, cancel)

                def eval_progress(ev: Progress) -> Progress:
                    done = offset[0] + round(EVAL_UNITS * ev.done / max(ev.total, 1))
                    return Progress(stage, done, total, f"{where} · evaluating {m} members", point=point)
                out = yield from _evaluate(setup, members, cancel, stage, eval_progress)
                row = point_row(out.preds.numpy().astype(np.int64), out.mean_probs.numpy(),
                                setup.orig_preds[idx.numpy()], setup.y, repeats=cfg.evaluate.abend_repeats,
                                seed=seed)
                row |= {"k": k, "seed": seed, "m": m, "seconds": time.perf_counter() - t0}
                rows.append(row)
                yield Metric(stage, SERIES, float(k), row, point=point)
                yield Progress(stage, (i + 1) * per_point, total,
                               f"{where}: sBEND {100 * row['sbend']:.2f}% in {row['seconds']:.0f} s", point=point)
        except Cancelled:
            if rows:  # an early cancel keeps the previous sweep
                _write(project, "k", rows, {**info, "state": "cancelled", "seconds": time.perf_counter() - t_start})
            raise
        _write(project, "k", rows, {**info, "state": "done", "seconds": time.perf_counter() - t_start})
    yield Message(stage, f"sweep over k: {len(rows)} points written to {sweep_path(project, 'k')}")
    return rows
