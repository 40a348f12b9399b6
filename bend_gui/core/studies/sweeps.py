"""Accuracy against m and against k (BEND section 4.5, Figure 5): two named studies of the project, run by
the study mechanism (study.run_study), on any executor, with a file per point.

- over m: the study `m`, a grid over `generate.m` times seeds. Each point samples its own m members from
  the project's trained generator (or its configured baseline generator) with the point's seed, and
  evaluates them. The points are NOT nested: m = 10 and m = 20 of one seed are separate draws (an earlier
  version sampled max(m) once per seed and bagged its first m members), so nothing guarantees that a
  larger ensemble contains the smaller one, and a sweep evaluates the sum of its m values per seed
  instead of their maximum. (Measured on the demo, DDIM: the
  sampler draws its noise row by row, so one seed's first members still come out alike; the m = 5, 10,
  20, 50 x seeds 0, 1 kept every sBEND, soft vote, median, min and max; the means moved by at most 0.001
  points, one test image of one member, from float rounding.) With m = [generate] m
  and seed = the project's seed a point gives the project's own results.
- over k: the study `k`, a grid over `collect.k` (and `generate.m`, the members per point) times seeds.
  Each point trains a fresh autoencoder + DDPM, with the project's [autoencoder] and [diffusion] settings,
  on k of the project's snapshots: the first k of one seeded permutation per seed (point.snapshot_draw;
  nested over k for one seed). With k = all snapshots and seed = [run] seed = [generate] seed the point
  reproduces the project's own generator and results exactly.

The originals (orig_mean, orig_median) are the snapshots the generator saw: all of them over m, the drawn
k over k. The points live in `studies/m/` and `studies/k/` (store.py): a cancelled, failed or killed sweep
keeps every finished point, and sweeping again computes only the missing ones. When the saved study was
made from other upstream outputs (a rerun stage, other settings), it is kept under a new name,
`studies/<m|k>-<time>`, and the sweep starts anew. Sweeps saved by earlier versions (`sweeps/m.csv`,
`sweeps/k.csv`) are left on disk and shown read-only until a sweep over the same axis is made.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import ProjectError
from ..events import CancelFlag, Event, Message, Metric, Progress, relay
from ..fileio import read_csv, read_json
from ..project import artifacts as A
from ..project.folder import STAGE_TITLES, Project
from ..results.report import pct_pm
from ..settings.config import ProjectConfig
from . import inputs as I
from . import store, study
from .grid import Grid, make_grid
from .point import POINT_STEP

OVER = ("m", "k")
KEY = {"m": "generate.m", "k": "collect.k"}      # the settings key each sweep goes over
STAGE = {"m": "sweep_m", "k": "sweep_k"}         # the `stage` of the sweeps' events
SERIES = "points"                                # Metric(STAGE[over], SERIES, x, row): one finished point
# What the plots show: the ensemble rules, the generated members and the originals (accuracy fractions).
QUANTITIES = ("sbend", "abend_mean", "soft", "gen_mean", "gen_median", "orig_mean", "orig_median")
QUANTITY_LABELS = {"sbend": "sBEND", "abend_mean": "aBEND", "soft": "soft vote", "gen_mean": "gen mean",
                   "gen_median": "gen median", "orig_mean": "orig mean", "orig_median": "orig median"}
LEGACY_FOLDER = "sweeps"                         # where versions before the studies kept m.csv and k.csv


def _check_over(over: str) -> None:
    if over not in OVER:
        raise ProjectError(f"a sweep goes over m or k, not {over!r}")


def sweep_dir(project: Project) -> Path:
    """The folder the sweeps' studies live in (studies/)."""
    return store.study_root(project)


def legacy_path(project: Project, over: str) -> Path:
    _check_over(over)
    return A.study_dir(project, LEGACY_FOLDER) / f"{over}.csv"


def sweep_path(project: Project, over: str) -> Path:
    """The table the sweep's rows come from: the study's table.csv, or an older version's CSV while only
    that exists."""
    _check_over(over)
    table = store.study_dir(project, over) / "table.csv"
    return legacy_path(project, over) if _definition(project, over) is None and legacy_path(
        project, over).exists() else table


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
    return I.needed_stages(cfg, Grid({KEY[over]: []}, [0]))[-1]


def readiness(project: Project, over: str, cfg: ProjectConfig | None = None) -> str:
    """'' when the sweep can run, else why not (in words a user can act on)."""
    cfg = cfg or project.load_config()
    need = needed_stage(cfg, over)
    states = {st.stage: st.state for st in project.stage_states(cfg)}
    for stage in I.needed_stages(cfg, Grid({KEY[over]: []}, [0])):
        if states[stage] != "done":
            return (f"the sweep over {over} needs stage {STAGE_TITLES[need]} done, and {STAGE_TITLES[stage]} "
                    f"is {states[stage]}: run the pipeline until {need} first (bend run {project.root} --until {need})")
    return ""


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


# --- the grid of a sweep -------------------------------------------------------------------------------

def _definition(project: Project, over: str) -> dict | None:
    """The saved study's definition when it is a sweep over `over` (a grid over its key, for k possibly
    with generate.m), else None (none saved, unreadable, or a study over other keys)."""
    try:
        d = store.load_definition(project, over)
    except ProjectError:
        return None
    if not isinstance(d, dict) or "grid" not in d or "upstream" not in d:
        return None
    keys = list(d["grid"].get("keys", {}))
    return d if keys and keys[0] == KEY[over] and set(keys) <= {KEY[over], "generate.m"} else None


def sweep_grid(project: Project, over: str, values, seeds, m: int | None = None,
               cfg: ProjectConfig | None = None) -> Grid:
    """The study grid of a sweep (values and seeds checked). Over k every point bags m members (default
    [generate] m), so generate.m is a key of the grid too, unless a saved study `k` over collect.k alone
    already holds points made with that m."""
    cfg = cfg or project.load_config()
    values, seeds = check_request(project, over, values, seeds, m)
    keys: dict[str, list] = {KEY[over]: values}
    if over == "k":
        m = int(m) if m is not None else cfg.generate.m
        saved = _definition(project, "k")
        if not (saved and list(saved["grid"]["keys"]) == ["collect.k"] and m == cfg.generate.m):
            keys["generate.m"] = [m]
    return make_grid(cfg, keys, seeds)


def _make_room(project: Project, over: str, grid: Grid, cfg: ProjectConfig) -> Iterator[Event]:
    """Generator: when the saved study `over` holds points that cannot be mixed with this sweep's (made from
    other upstream outputs, or over other keys), it is renamed to `<over>-<time>` (kept, and listed
    among the studies) so the sweep starts anew."""
    folder = store.study_dir(project, over)
    if not any((folder / "points").glob("*.json")):
        return
    try:
        saved = store.load_definition(project, over)
    except ProjectError:
        saved = None
    why = []
    if not saved or "grid" not in saved or "upstream" not in saved:
        why = ["its definition study.json is missing or unreadable"]
    elif list(saved["grid"]["keys"]) != list(grid.keys):
        why = [f"it sweeps {', '.join(saved['grid']['keys'])}"]
    else:
        with store.briefly_locked(project, f"sweep over {over}: reading the project"):
            why = I.differences(saved["upstream"], I.upstream(project, cfg, grid))
    if not why:
        return
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    target, n = folder.with_name(f"{over}-{stamp}"), 1
    while target.exists():
        n += 1
        target = folder.with_name(f"{over}-{stamp}-{n}")
    with store.study_lock(project, over):  # refused while another window or command drives it
        folder.rename(target)
    yield Message(STAGE[over], f"the saved sweep over {over} was made from other inputs ({'; '.join(why[:3])}"
                               f"{'; …' if len(why) > 3 else ''}): kept as study {target.name}; this sweep starts "
                               f"anew in {folder}")


# --- running -------------------------------------------------------------------------------------------

def sweep_m(project: Project, ms, seeds, cancel: CancelFlag | None = None, executor=None) -> Iterator[Event]:
    """Generator: the study `m` over generate.m × seeds; one Metric('sweep_m', 'points', m, row) per
    finished (m, seed), seed by seed, m ascending (saved points first); returns the done rows in that order."""
    return (yield from _sweep(project, "m", ms, seeds, None, cancel, executor))


def sweep_k(project: Project, ks, seeds, m: int | None = None, cancel: CancelFlag | None = None,
            executor=None) -> Iterator[Event]:
    """Generator: the study `k` over collect.k × seeds, m members per point (default [generate] m); one
    Metric('sweep_k', 'points', k, row) per finished (k, seed), seed by seed, k ascending (saved points
    first, reused rather than retrained); returns the done rows in that order."""
    return (yield from _sweep(project, "k", ks, seeds, m, cancel, executor))


def _sweep(project: Project, over: str, values, seeds, m: int | None, cancel: CancelFlag | None,
           executor) -> Iterator[Event]:
    cancel = cancel or CancelFlag()
    cfg = project.load_config()
    grid = sweep_grid(project, over, values, seeds, m, cfg)
    why = readiness(project, over, cfg)
    if why:
        raise ProjectError(why)
    with project.lock(f"sweep over {over}"):  # a busy project is refused now, not waited for
        pass
    stage = STAGE[over]
    yield from _make_room(project, over, grid, cfg)
    if legacy_path(project, over).exists():
        yield Message(stage, f"the sweep over {over} saved by an earlier version stays in "
                             f"{legacy_path(project, over)}; this one is the study {store.study_dir(project, over)}")
    points = grid.points()
    by_label = {p.label: p for p in points}
    started: dict[str, int] = {}

    def short(p) -> str:
        return f"{over} = {p.as_dict()[KEY[over]]}, seed {p.seed}"

    def translate(ev: Event) -> Event | None:
        """The study's events as the sweep's: its stage, its points named by x and seed."""
        p = by_label.get(getattr(ev, "point", ""))
        where = short(p) if p else ""
        if isinstance(ev, Metric):
            if ev.series == study.STATE_SERIES:
                if ev.values.get("state") == "running":
                    started[ev.values["key"]] = len(started) + 1
                return None
            if ev.series == study.SERIES and ev.values.get("state") == "done":
                row = _row(ev.values, over)
                return Metric(stage, SERIES, float(row[over]), row, point=where)
            return None
        if isinstance(ev, Progress):
            text = ev.text
            if p is not None and ev.step == POINT_STEP:
                text = f"point {started.get(p.key, '?')}/{len(points)} · {where} · {ev.text}"
            elif p is not None and not ev.step:
                text = f"{ev.text} · {where} finished"
            return Progress(stage, ev.done, ev.total, text, step=ev.step, point=where)
        if isinstance(ev, Message):
            return Message(stage, ev.text.replace(p.label, where) if p else ev.text, point=where)
        return ev

    records = yield from relay(study.run_study(project, over, grid, executor, cancel), translate)
    rows = [_row(r, over) for r in records if r["state"] == "done"]
    failed = len(records) - len(rows)
    yield Message(stage, f"sweep over {over}: {len(rows)} points done" + (f", {failed} failed" if failed else "")
                  + f", in {store.study_dir(project, over)}")
    return rows


# --- reading -------------------------------------------------------------------------------------------

def _row(rec: dict, over: str) -> dict:
    """A done point's record as a sweep row: the x column ('m' or 'k'), 'seed', then the point's numbers
    (Table 3's columns as fractions, m, k, diversity, seconds)."""
    x = rec["values"][KEY[over]]
    return {over: x, "seed": rec["seed"], **{c: v for c, v in rec["row"].items() if c != over}}


def _records(project: Project, over: str) -> tuple[dict, Grid, list[dict]] | None:
    d = _definition(project, over)
    if d is None:
        return None
    grid = Grid.from_dict(d["grid"])
    return d, grid, store.saved_points(project, over, grid)


def _use_legacy(project: Project, over: str, found) -> bool:
    """An older version's CSV is shown while no study point of the same sweep exists."""
    return (found is None or not found[2]) and legacy_path(project, over).exists()


def load_sweep(project: Project, over: str) -> list[dict]:
    """The saved sweep's done points as rows (x column, 'seed', Table 3's columns as fractions, ...),
    sorted by (x, seed); [] when there is none. Before any study point exists, an older version's
    sweeps/<over>.csv is read instead."""
    _check_over(over)
    found = _records(project, over)
    if _use_legacy(project, over, found):
        _, rows = read_csv(legacy_path(project, over))
        return [r for r in rows if over in r and "seed" in r]
    if found is None:
        return []
    rows = [_row(r, over) for r in found[2] if r["state"] == "done"]
    return sorted(rows, key=lambda r: (float(r[over]), float(r["seed"])))


def failed_points(project: Project, over: str) -> list[dict]:
    """The sweep's failed points: {over: x, 'seed', 'error'}."""
    found = _records(project, over)
    if found is None:
        return []
    return [{over: r["values"][KEY[over]], "seed": r["seed"], "error": r.get("error", "")}
            for r in found[2] if r["state"] == "failed"]


def _describe(settings: dict) -> str:
    g, diff = settings.get("generate", {}), settings.get("diffusion", {})
    if g.get("generator", "diffusion") != "diffusion":
        return f"{g['generator']} baseline"
    sampler = str(g.get("sampler", ""))
    steps = g.get("sampling_steps") if sampler == "ddim" else diff.get("timesteps")
    return f"diffusion ({sampler.upper()}, {steps} steps)"


def _n_test(project: Project) -> int | None:
    """The test set's size, from the evaluate stage's metrics (None before it ran)."""
    try:
        if project.state("evaluate").state == "done":
            return int(A.METRICS.load(project)["n_test"])
    except (ProjectError, KeyError, OSError, ValueError):
        pass
    return None


def sweep_info(project: Project, over: str) -> dict | None:
    """What the saved sweep was made with: values, seeds, m (over k), the snapshots, the generator, its
    state ('done', 'failed' when some point failed, 'cancelled' when points are missing), and `current`:
    whether the project's outputs and settings still match its points. None when there is no sweep."""
    _check_over(over)
    found = _records(project, over)
    if _use_legacy(project, over, found):
        return _legacy_info(project, over)
    if found is None:
        return None
    d, grid, records = found
    settings = d["upstream"]["settings"]
    done = [r for r in records if r["state"] == "done"]
    failed = [r for r in records if r["state"] == "failed"]
    total = len(grid.points())
    info = {"over": over, "study": over, "folder": str(store.study_dir(project, over)),
            "values": list(grid.keys[KEY[over]]), "seeds": list(grid.seeds),
            "m": (grid.keys["generate.m"][0] if "generate.m" in grid.keys else settings["generate"].get("m"))
            if over == "k" else None,
            "generator": settings.get("generate", {}).get("generator"), "describe": _describe(settings),
            "points": len(done), "failed": len(failed), "total": total,
            "state": "cancelled" if len(records) < total else ("failed" if failed else "done"),
            "created": d.get("created"), "written": d.get("updated"), "n_test": _n_test(project)}
    n_snaps = snapshot_count(project)
    if over == "m":
        info["k"] = int(done[0]["row"]["k"]) if done else n_snaps
    else:
        info["n_snapshots"] = n_snaps
    try:
        cfg = project.load_config()
        info["current"] = not I.differences(d["upstream"], I.upstream(project, cfg, grid))
    except Exception:  # noqa: BLE001 - an invalid project.toml makes every result stale, not unreadable
        info["current"] = False
    return info


def _legacy_info(project: Project, over: str) -> dict:
    """An older version's sweeps/<over>.json, marked as such: read-only, not checked against the project."""
    path = legacy_path(project, over).with_suffix(".json")
    try:
        info = read_json(path) if path.exists() else {}
    except ProjectError:
        info = {}
    info = info if isinstance(info, dict) else {}
    where = f"{LEGACY_FOLDER}/{over}.csv"
    return {**info, "over": over, "legacy": True, "current": False,
            # no " · " inside: the plot breaks its subtitle at the first one
            "describe": f"{info.get('describe', 'a sweep')}, read-only from an earlier version ({where})",
            "folder": str(legacy_path(project, over).parent)}


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
