"""Layer ablation (BEND Table 5): several parameter subsets of one network, compared in one table.

The variants are the study named `ablation` (study.py), a grid over `subset.layers` whose values are the
variants' layer lists and whose one seed is the project's [run] seed; it lives in `studies/ablation/`
like every study (its definition, one file per point, the table). A point recollects snapshots of its own
subset from the project's trained base network, trains its generator, samples and evaluates: the very
numbers of a project run with that subset (tests/core/test_ablation.py), and every variant bags the same
trained network. Adding or removing a variant rewrites the study's grid; Run variants computes only
the points without a file. When the project's base is rerun or its settings change, the saved points
are stale (the study's upstream differs): they stay visible, marked, until Run variants keeps them as
the study `ablation-<time>` and computes the variants anew.

Earlier versions made each variant a child project in `ablation/<slug>/`. Those folders are left on disk,
untouched; their layer lists are taken into the study's grid the first time it is read, so a researcher
finds the same variants (their numbers are computed again, as points, by Run variants).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, ProjectError
from ..events import CancelFlag, Event, Message, Metric, Progress, relay
from ..fileio import read_json
from ..pipeline import preflight
from ..project import artifacts as A
from ..project.folder import STAGE_TITLES, Project
from ..settings import config as C
from . import inputs as I
from . import store, study
from .grid import Grid, Point, make_grid
from .point import POINT_STEP

STAGE = "ablation"          # the `stage` of run_variants' own events
SERIES = "variants"         # Metric(STAGE, SERIES, index, row) when a variant finishes
NAME = "ablation"           # the study's name: studies/ablation/
KEY = "subset.layers"       # the one key its grid sweeps
ROW_KEYS = ("sbend", "abend_mean", "abend_std", "orig_mean", "gen_mean", "potential")


def ablation_dir(project: Project) -> Path:
    """The study's folder, studies/ablation/."""
    return store.study_dir(project, NAME)


def legacy_dir(project: Project) -> Path:
    """Where earlier versions kept the variants as child projects (left untouched)."""
    return A.study_dir(project, "ablation")


def _legacy_layers(project: Project) -> list[list[str]]:
    """The layer lists of an earlier version's child projects: its index first, then folders it missed."""
    root = legacy_dir(project)
    if not root.is_dir():
        return []
    out: list[list[str]] = []
    try:
        index = read_json(root / "variants.json").get("variants", []) if (root / "variants.json").exists() else []
    except (ProjectError, AttributeError):
        index = []
    slugs = [e["slug"] for e in index if isinstance(e, dict) and "slug" in e]
    slugs += [d.name for d in sorted(root.iterdir()) if d.name not in slugs]
    for slug in slugs:
        path = root / slug / "project.toml"
        if path.is_file():
            try:
                layers = C.load(path).subset.layers
            except ConfigError:
                continue
            if layers not in out:
                out.append(list(layers))
    return out


def _definition(project: Project) -> dict | None:
    try:
        d = store.load_definition(project, NAME)
    except ProjectError:
        return None
    return d if isinstance(d, dict) and isinstance(d.get("grid"), dict) else None


def variant_layers(project: Project) -> list[list[str]]:
    """The variants' layer lists in the order they were added: the study's grid, or, before it has one,
    those of an earlier version's child projects."""
    d = _definition(project)
    if d is not None:
        return [list(v) for v in d["grid"].get("keys", {}).get(KEY, [])]
    return _legacy_layers(project)


def _grid(cfg: C.ProjectConfig, layers: list[list[str]]) -> Grid:
    return Grid({KEY: [list(v) for v in layers]}, [cfg.run.seed])


def _save_layers(project: Project, cfg: C.ProjectConfig, layers: list[list[str]]) -> None:
    """The study's definition with this grid, keeping what a run recorded (upstream, level, created)."""
    d = _definition(project) or {"name": NAME, "created": dt.datetime.now().isoformat(timespec="seconds")}
    grid = _grid(cfg, layers)
    d.update({"name": NAME, "grid": grid.to_dict(), "level": "collect",
              "updated": dt.datetime.now().isoformat(timespec="seconds")})
    store.save_definition(project, NAME, d)


def slug_for(layers: list[str]) -> str:
    """A folder name that reads as the layers: ['bn3', 'bn4'] → 'bn3+bn4', 'layer4.1.bn*' → 'layer4.1.bn_'."""
    text = "+".join(re.sub(r"[^A-Za-z0-9._-]", "_", p) for p in layers)
    return text[:80].strip(".") or "variant"


@dataclass
class Variant:
    slug: str
    layers: list[str]
    d: int


def variants(project: Project) -> list[Variant]:
    """The project's variants, in the order they were added."""
    cfg = project.load_config()
    return [Variant(slug_for(v), v, subset_d(variant_config(cfg, v))) for v in variant_layers(project)]


def variant_config(parent_cfg: C.ProjectConfig, layers: list[str]) -> C.ProjectConfig:
    """The parent's settings with another subset (what a variant's project.toml must hold)."""
    cfg = parent_cfg.copy()
    cfg.subset.layers = list(layers)
    cfg.name = f"{parent_cfg.name} · {', '.join(layers)}"
    return cfg.validate()


def _clean_layers(layers) -> list[str]:
    if isinstance(layers, str):
        layers = layers.replace(",", " ").split()
    out = []
    for p in layers:
        p = str(p).strip()
        if p and p not in out:
            out.append(p)
    if not out:
        raise ConfigError("[subset] layers is empty: name at least one module, e.g. \"bn4\"")
    return out


def subset_d(cfg: C.ProjectConfig) -> int:
    """The subset's size d for these settings (the network is built, not trained). Remembered per
    backbone, data and layers: Table 5 is re-read whenever a stage's state changes, in the GUI thread,
    and building a ResNet-50 (or walking an image folder) each time would stall it."""
    cfg.validate()
    d = cfg.data
    return _subset_d(cfg.model.backbone, d.dataset, d.root, d.image_size, tuple(cfg.subset.layers))


@functools.lru_cache(maxsize=64)
def _subset_d(backbone: str, dataset: str, root: str, image_size: int, layers: tuple[str, ...]) -> int:
    cfg = C.ProjectConfig()
    cfg.model.backbone = backbone
    cfg.data.dataset, cfg.data.root, cfg.data.image_size = dataset, root, image_size
    cfg.subset.layers = list(layers)
    return preflight.check(cfg, need_data=False).d


def candidate_modules(project: Project) -> list:
    """The network's modules that hold parameters of their own (what a subset can name), with their
    parameter counts (backbones.ModuleInfo), in the network's order."""
    from ..ml.backbones import build_model, list_modules
    from ..ml.data import dataset_info

    cfg = project.load_config()
    info = dataset_info(cfg.data)
    model = build_model(cfg.model.backbone, info.channels, max(info.num_classes, 2))
    return [m for m in list_modules(model) if m.own_params]


def own_modules(project: Project) -> list[str]:
    """The modules holding the project's own subset's parameters."""
    subset = preflight.check(project.load_config(), need_data=False)
    return sorted({n.rsplit(".", 1)[0] for n in subset.names})


def preview(project: Project, layers) -> tuple[int, int]:
    """(d, number of tensors) of a subset of the project's network, or a ConfigError naming the bad pattern."""
    subset = preflight.check(variant_config(project.load_config(), _clean_layers(layers)), need_data=False)
    return subset.d, len(subset.names)


def add_variant(project: Project, layers) -> Variant:
    """Add a subset to the study's grid (validated against the network; refuses a subset whose parameters
    equal the project's own or another variant's). Nothing is computed until Run variants."""
    layers = _clean_layers(layers)
    parent_cfg = project.load_config()
    subset = preflight.check(variant_config(parent_cfg, layers), need_data=False)
    names = set(subset.names)
    if names == set(preflight.check(parent_cfg, need_data=False).names):
        raise ProjectError(f"{', '.join(layers)}: that is the project's own subset "
                           f"({', '.join(parent_cfg.subset.layers)}); it is already the first row")
    have = variant_layers(project)
    for other in have:
        if names == set(preflight.check(variant_config(parent_cfg, other), need_data=False).names):
            raise ProjectError(f"{', '.join(layers)}: the variant {slug_for(other)} already holds these parameters")
    # A running job refuses it, naming itself; so does a running Run variants (the study's lock).
    with project.lock("adding an ablation variant"), store.study_lock(project, NAME):
        _save_layers(project, parent_cfg, have + [layers])
    return Variant(slug_for(layers), layers, subset.d)


def remove_variant(project: Project, slug: str) -> None:
    """Take a variant out of the study's grid and delete its point's file (refused while the study runs)."""
    have = variant_layers(project)
    match = [v for v in have if slug_for(v) == slug]
    if not match:
        raise ProjectError(f"no variant {slug!r} in the study {ablation_dir(project)}")
    cfg = project.load_config()
    rest = [v for v in have if v is not match[0]]
    try:
        with store.study_lock(project, NAME):
            _save_layers(project, cfg, rest)
            for p in _grid(cfg, [match[0]]).points():
                store.point_path(project, NAME, p).unlink(missing_ok=True)
            store.write_table(project, NAME, _grid(cfg, rest))
    except ProjectError as e:
        if "already running" not in str(e):
            raise
        raise ProjectError(f"variant {slug} is busy (Run variants is computing the study {NAME})") from None


# --- running and the table -----------------------------------------------------------------------------

def run_blocker(base_state: str, has_variants: bool) -> str:
    """Why Run variants cannot start, or '': the variants reuse the project's trained base network."""
    if base_state != "done":
        return f"the variants share the project's base model: run stage 0 first (it is {base_state})"
    return "" if has_variants else "add a subset first"


def _stale(project: Project, cfg: C.ProjectConfig, grid: Grid) -> list[str]:
    """How the saved points' upstream differs from the project's now ([] when they match or none saved)."""
    d = _definition(project)
    if d is None or "upstream" not in d or not store.saved_points(project, NAME, grid):
        return []
    return I.differences(d["upstream"], I.upstream(project, cfg, grid))


def _keep_stale(project: Project, cfg: C.ProjectConfig, layers: list[list[str]], why: list[str]) -> Iterator[Event]:
    """Generator: the stale study kept as `ablation-<time>`, a fresh definition with the same variants."""
    folder = ablation_dir(project)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    target, n = folder.with_name(f"{NAME}-{stamp}"), 1
    while target.exists():
        n += 1
        target = folder.with_name(f"{NAME}-{stamp}-{n}")
    with store.study_lock(project, NAME):
        folder.rename(target)
    _save_layers(project, cfg, layers)
    yield Message(STAGE, f"the variants' saved points were made from other inputs ({'; '.join(why[:3])}"
                         f"{'; …' if len(why) > 3 else ''}): kept as study {target.name}; computing them anew")


def run_variants(project: Project, cancel: CancelFlag | None = None, executor=None) -> Iterator[Event]:
    """Generator: the study `ablation`, one point per variant (the saved ones are reused), on `executor`
    (default: here, one at a time); yields Metric('ablation', 'variants', i, row) as each finishes, with i
    its index among the variants; returns Table 5's rows. The project's base must be done."""
    cancel = cancel or CancelFlag()
    state = project.state("base")
    if state.state != "done":
        raise ProjectError(f"the variants share the project's base model, and stage {STAGE_TITLES['base']} is "
                           f"{state.state}: run it first (bend run {project.root} --until base)")
    legacy = _definition(project) is None and _legacy_layers(project)
    layers = variant_layers(project)
    if not layers:
        raise ProjectError("no variants yet: add a subset first (Add subset…, or bend ablation DIR --add LAYERS)")
    cfg = project.load_config()
    with project.lock("ablation variants"):  # a busy project is refused now, not waited for
        pass
    if legacy:
        _save_layers(project, cfg, layers)
        yield Message(STAGE, f"the variants an earlier version kept as child projects in {legacy_dir(project)} "
                             f"stay there untouched; their subsets are now points of the study {NAME}, computed anew")
    why = _stale(project, cfg, _grid(cfg, layers))
    if why:
        yield from _keep_stale(project, cfg, layers, why)
    grid = make_grid(cfg, {KEY: layers}, [cfg.run.seed])
    slug_of = {p.label: slug_for(p.as_dict()[KEY]) for p in grid.points()}
    index = {slug_for(v): i for i, v in enumerate(layers)}
    started: dict[str, int] = {}

    def translate(ev: Event) -> Event | None:
        """The study's events as the ablation's: its stage, its points named by their variant."""
        slug = slug_of.get(getattr(ev, "point", ""), "")
        if isinstance(ev, Metric):
            if ev.series == study.STATE_SERIES:
                if ev.values.get("state") == "running":
                    started[slug] = len(started) + 1
                return None
            if ev.series == study.SERIES and ev.values.get("state") in ("done", "failed"):
                row = _variant_row(project, cfg, ev.values["values"][KEY], ev.values, "")
                return Metric(STAGE, SERIES, float(index[slug]), row, point=slug)
            return None
        tag = f"variant {started.get(slug, '?')}/{len(layers)} {slug}" if slug else ""
        if isinstance(ev, Progress):
            text = f"{tag} · {ev.text}" if slug and ev.step == POINT_STEP else ev.text
            return Progress(STAGE, ev.done, ev.total, text, step=ev.step, point=slug)
        if isinstance(ev, Message):
            return Message(STAGE, ev.text.replace(ev.point, tag) if slug else ev.text, point=slug)
        return ev

    try:
        yield from relay(study.run_study(project, NAME, grid, executor, cancel), translate)
    finally:
        _save_layers(project, cfg, layers)  # run_study saved the grid it ran; the study keeps every variant
    yield Message(STAGE, f"{len(layers)} variant(s) up to date, in {ablation_dir(project)}")
    return table5(project)


def _metrics(p: Project) -> dict | None:
    if not A.METRICS.exists(p):
        return None
    try:
        return A.METRICS.load(p)
    except ProjectError:
        return None


def _state(p: Project) -> tuple[str, str]:
    """The project's overall state: 'done' when every stage is, else the first unfinished stage's."""
    for s in p.stage_states():
        if s.state != "done":
            word = s.state
            return word, f"{STAGE_TITLES[s.stage]}: {s.state}" + (f" ({s.detail})" if s.detail else "")
    return "done", ""


def table5(project: Project) -> list[dict]:
    """Table 5's rows: the project's own subset first, then each variant: layers, d, sbend, aBEND mean and
    std, orig (the snapshots' mean), gen (the members' mean), potential, m, k, state (done, failed,
    missing, stale or running) and its detail."""
    parent_cfg = project.load_config()
    own_d = project.manifest()["stages"].get("collect", {}).get("info", {}).get("d")
    st, detail = _state(project)
    m = _metrics(project)
    rows = [_row("project", parent_cfg.subset.layers, own_d if own_d is not None else subset_d(parent_cfg),
                 m, m.get("m") if m else None, m.get("k") if m else None, st, detail, project.root)]
    layers = variant_layers(project)
    if not layers:
        return rows
    grid = _grid(parent_cfg, layers)
    why = _stale(project, parent_cfg, grid)
    problem = f"{'; '.join(why[:2])}{'; …' if len(why) > 2 else ''}" if why else ""
    for v in layers:
        rec = store.load_point(project, NAME, _point(parent_cfg, v))
        rows.append(_variant_row(project, parent_cfg, v, rec, problem))
    live = store.read_live(project, NAME)
    if live:
        for row, v in zip(rows[1:], layers):
            state = live.get("points", {}).get(_point(parent_cfg, v).key, {})
            if state:
                row["state"] = "running" if state.get("state") == "running" else "queued"
                row["detail"] = f"on {state['node']}" if state.get("node") else ""
    return rows


def _point(cfg: C.ProjectConfig, layers: list[str]) -> Point:
    return Point(((KEY, list(layers)),), cfg.run.seed)


def _variant_row(project: Project, cfg: C.ProjectConfig, layers: list[str], rec: dict | None, problem: str) -> dict:
    path = store.point_path(project, NAME, _point(cfg, layers))
    d = subset_d(variant_config(cfg, layers))
    if rec is None:
        return _row(slug_for(layers), layers, d, None, None, None, "missing", "not run yet", path)
    row = rec.get("row", {}) if rec["state"] == "done" else None
    if rec["state"] == "failed":
        state, detail = "failed", rec.get("error", "")
    elif problem:
        state, detail = "stale", (f"the project changed since this variant ran ({problem}); "
                                  "Run variants computes it anew")
    else:
        state, detail = "done", ""
    return _row(slug_for(layers), layers, d, row, row.get("m") if row else None, row.get("k") if row else None,
                state, detail, path)


def _row(slug: str, layers: list[str], d: int, numbers: dict | None, m, k, state: str, detail: str,
         root: Path) -> dict:
    row = {"slug": slug, "layers": list(layers), "d": int(d), "state": state, "detail": detail, "path": str(root)}
    for key in ROW_KEYS:
        row[key] = float(numbers[key]) if numbers and numbers.get(key) is not None else None
    row["m"], row["k"] = m, k
    return row


def format_table5(rows: list[dict]) -> str:
    """The CLI's Table 5 (accuracy in %)."""
    from ..results.report import pct, pct_pm

    lines = [f"{'subset':<28}{'d':>8}{'sBEND':>9}{'aBEND':>17}{'orig':>9}{'gen mean':>10}  state"]
    for r in rows:
        name = ", ".join(r["layers"]) + (" (project)" if r["slug"] == "project" else "")
        ab = pct_pm(r["abend_mean"], r["abend_std"]) if r["abend_mean"] is not None else "—"
        lines.append(f"{name:<28}{r['d']:>8,}{pct(r['sbend']):>9}{ab:>17}{pct(r['orig_mean']):>9}"
                     f"{pct(r['gen_mean']):>10}  {r['state']}" + (f" ({r['detail']})" if r["detail"] else ""))
    return "\n".join(lines)

