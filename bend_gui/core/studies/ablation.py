"""Layer ablation (BEND Table 5): several parameter subsets of one network, compared in one project.

Each variant is a child project in `ablation/<slug>/` whose project.toml equals the parent's except
`[subset] layers`. Its base stage is the parent's: base/model.pt and base/curve.csv are copied and the
manifest entry is written with the fingerprint the child computes (the [model], [data], [base] sections
and the seed are the parent's, so it matches) and the parent's run id, so the child's pipeline skips
base and every variant bags the very same trained network. When the parent's base is rerun (new run id
or different file) or the parent's other settings change, the variants are stale until
`run_variants` copies the new base and settings and reruns them.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..errors import ConfigError, ProjectBusyError, ProjectError
from ..events import CancelFlag, Event, Message, Metric, Progress, StageFinished, StageStarted, relay
from ..fileio import atomic_write_bytes, read_json, write_json
from ..pipeline import preflight
from ..pipeline import runner as pipeline
from ..project import artifacts as A
from ..project.folder import STAGE_TITLES, Project
from ..settings import config as C

STAGE = "ablation"          # the `stage` of run_variants' own events
SERIES = "variants"         # Metric(STAGE, SERIES, index, row) when a variant finishes
BASE_FILES = (A.BASE_MODEL, A.BASE_CURVE)
ROW_KEYS = ("sbend", "abend_mean", "abend_std", "orig_mean", "gen_mean", "potential")


def ablation_dir(project: Project) -> Path:
    return A.study_dir(project, "ablation")


def _index_path(project: Project) -> Path:
    return ablation_dir(project) / "variants.json"


def _read_index(project: Project) -> list[dict]:
    path = _index_path(project)
    entries = read_json(path).get("variants", []) if path.exists() else []
    known = {e["slug"] for e in entries}
    # A child folder the index does not list (copied in by hand) still counts, after the listed ones.
    if ablation_dir(project).is_dir():
        for d in sorted(ablation_dir(project).iterdir()):
            if d.name not in known and (d / "project.toml").is_file():
                try:
                    layers = C.load(d / "project.toml").subset.layers
                except ConfigError:
                    continue
                entries.append({"slug": d.name, "layers": layers})
    return [e for e in entries if (ablation_dir(project) / e["slug"] / "project.toml").is_file()]


def _write_index(project: Project, entries: list[dict]) -> None:
    write_json(_index_path(project), {"variants": entries})


def slug_for(layers: list[str]) -> str:
    """A folder name that reads as the layers: ['bn3', 'bn4'] → 'bn3+bn4', 'layer4.1.bn*' → 'layer4.1.bn_'."""
    text = "+".join(re.sub(r"[^A-Za-z0-9._-]", "_", p) for p in layers)
    return text[:80].strip(".") or "variant"


@dataclass
class Variant:
    slug: str
    layers: list[str]
    d: int | None
    project: Project


def variants(project: Project) -> list[Variant]:
    """The project's variants, in the order they were added."""
    return [Variant(e["slug"], list(e["layers"]), e.get("d"), Project.open(ablation_dir(project) / e["slug"]))
            for e in _read_index(project)]


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


def add_variant(project: Project, layers) -> Project:
    """Create the child project of a subset (validated against the network; refuses a subset whose
    parameters equal the project's own or another variant's). The parent's base is copied in when done."""
    layers = _clean_layers(layers)
    parent_cfg = project.load_config()
    cfg = variant_config(parent_cfg, layers)
    subset = preflight.check(cfg, need_data=False)
    names = set(subset.names)
    if names == set(preflight.check(parent_cfg, need_data=False).names):
        raise ProjectError(f"{', '.join(layers)}: that is the project's own subset "
                           f"({', '.join(parent_cfg.subset.layers)}); it is already the first row")
    entries = _read_index(project)
    for e in entries:
        other = variant_config(parent_cfg, e["layers"])
        if names == set(preflight.check(other, need_data=False).names):
            raise ProjectError(f"{', '.join(layers)}: the variant {e['slug']} already holds these parameters")
    with project.lock("adding an ablation variant"):  # a running job refuses it, naming itself
        slug, n = slug_for(layers), 2
        while (ablation_dir(project) / slug).exists():
            slug, n = f"{slug_for(layers)}-{n}", n + 1
        child = Project.create(ablation_dir(project) / slug, cfg)
        entries.append({"slug": slug, "layers": layers, "d": subset.d,
                         "added": dt.datetime.now().isoformat(timespec="seconds")})
        _write_index(project, entries)
        if project.state("base").state == "done":
            copy_base(project, child)
    return child


def remove_variant(project: Project, slug: str) -> None:
    """Delete a variant's folder (refused while a job runs in it)."""
    entries = _read_index(project)
    if slug not in {e["slug"] for e in entries}:
        raise ProjectError(f"no variant {slug!r} in {ablation_dir(project)}")
    child = Project.open(ablation_dir(project) / slug)
    holder = child.lock_holder()
    if holder:
        raise ProjectBusyError(f"variant {slug} is busy ({holder.get('what', 'a job')} is running there, "
                               f"pid {holder.get('pid', '?')})")
    shutil.rmtree(child.root)
    _write_index(project, [e for e in entries if e["slug"] != slug])


# --- the shared base -----------------------------------------------------------------------------------

def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def copy_base(parent: Project, child: Project) -> None:
    """Give the child the parent's trained base: its files, and a manifest entry the child's pipeline
    accepts as done (the child's own fingerprint, the parent's run id and timings)."""
    parent.require_done("base")
    src = parent.manifest()["stages"]["base"]
    for artifact in BASE_FILES:
        if artifact.exists(parent):
            atomic_write_bytes(artifact.path(child), artifact.path(parent).read_bytes())
    child.record_copied_stage("base", {
        "state": "done", "fingerprint": child.fingerprint("base"), "run_id": src["run_id"],
        "seconds": src.get("seconds", 0.0), "finished": src.get("finished", ""), "info": src.get("info", {}),
        "copied_from": {"run_id": src["run_id"], "sha256": _file_hash(A.BASE_MODEL.path(parent))}})


def base_problem(parent: Project, child: Project) -> str:
    """'' when the child's base is the parent's current one, else what differs."""
    if parent.state("base").state != "done":
        return f"the project's base model is {parent.state('base').state}"
    entry = child.manifest()["stages"].get("base", {})
    src = parent.manifest()["stages"]["base"]
    if entry.get("state") != "done" or not A.BASE_MODEL.exists(child):
        return "the project's base model is not copied in yet"
    if entry.get("run_id") != src.get("run_id") or \
            entry.get("copied_from", {}).get("sha256") != _file_hash(A.BASE_MODEL.path(parent)):
        return "the project's base model was retrained since this variant ran"
    return ""


def _result_settings(cfg: C.ProjectConfig) -> dict:
    """The settings results depend on: every section but [run], of which only the seed counts."""
    d = C.to_dict(cfg)
    return {s: d[s] for s in C.SECTIONS if s != "run"} | {"seed": cfg.run.seed}


def settings_problem(parent_cfg: C.ProjectConfig, child: Project, layers: list[str]) -> str:
    """'' when the child's settings are the parent's with its own layers."""
    try:
        if _result_settings(child.load_config()) != _result_settings(variant_config(parent_cfg, layers)):
            return "the project's settings changed since this variant ran"
    except ConfigError as e:
        return f"its project.toml is invalid ({e})"
    return ""


def sync_variant(parent: Project, v: Variant) -> None:
    """Bring a variant up to date with the parent: settings (its own layers kept) and base."""
    parent_cfg = parent.load_config()
    want = variant_config(parent_cfg, v.layers)
    try:
        same = C.dumps(v.project.load_config()) == C.dumps(want)
    except ConfigError:
        same = False
    if not same:
        v.project.save_config(want)
    if base_problem(parent, v.project):
        copy_base(parent, v.project)


# --- running and the table -----------------------------------------------------------------------------

def _relay(slug: str, i: int, n: int, gen) -> Iterator[Event]:
    """A child's pipeline events, re-labelled so they do not look like the parent's own stages (the
    monitors and the pipeline panel listen to those): stages become messages, progress and messages are
    the ablation's, with the variant as their point, and training curve points are dropped."""
    tag = f"variant {i + 1}/{n} {slug}"

    def relabel(ev: Event) -> Event | None:
        if isinstance(ev, StageStarted):
            return Message(STAGE, f"{tag}: {STAGE_TITLES[ev.stage]}" + (" (resumed)" if ev.resumed else ""),
                           point=slug)
        if isinstance(ev, StageFinished):
            note = "up to date" if ev.skipped else f"done in {ev.seconds:.1f} s"
            return Message(STAGE, f"{tag}: {STAGE_TITLES[ev.stage]} {note}", point=slug)
        if isinstance(ev, Progress):
            return Progress(STAGE, ev.done, ev.total, f"{tag} · {ev.stage}: {ev.text}", step=ev.step, point=slug)
        if isinstance(ev, Message):
            return Message(STAGE, f"{tag} · {ev.text}", point=slug)
        return None
    return (yield from relay(gen, relabel))


def run_blocker(base_state: str, has_variants: bool) -> str:
    """Why Run variants cannot start, or '': the variants reuse the project's trained base network."""
    if base_state != "done":
        return f"the variants share the project's base model: run stage 0 first (it is {base_state})"
    return "" if has_variants else "add a subset first"


def run_variants(project: Project, cancel: CancelFlag | None = None, only: list[str] | None = None
                 ) -> Iterator[Event]:
    """Generator: runs each variant's pipeline in turn (the ones already done are skipped), after giving
    it the parent's current settings and base; yields Metric('ablation', 'variants', i, row) as each
    finishes; returns Table 5's rows. The parent's base must be done."""
    cancel = cancel or CancelFlag()
    state = project.state("base")
    if state.state != "done":
        raise ProjectError(f"the variants share the project's base model, and stage {STAGE_TITLES['base']} is "
                           f"{state.state}: run it first (bend run {project.root} --until base)")
    todo = [v for v in variants(project) if only is None or v.slug in only]
    if not todo:
        raise ProjectError("no variants yet: add a subset first (Add subset…, or bend ablation DIR --add LAYERS)")
    with project.lock("ablation variants"):
        for i, v in enumerate(todo):
            cancel.check()
            sync_variant(project, v)
            if all(s.state == "done" for s in v.project.stage_states()):
                yield Message(STAGE, f"variant {i + 1}/{len(todo)} {v.slug}: up to date", point=v.slug)
                continue
            yield from _relay(v.slug, i, len(todo), pipeline.run(v.project, cancel=cancel, what="ablation"))
            row = next(r for r in table5(project) if r["slug"] == v.slug)
            yield Metric(STAGE, SERIES, float(i), row, point=v.slug)
    yield Message(STAGE, f"{len(todo)} variant(s) up to date")
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
    std, orig (the snapshots' mean), gen (the members' mean), potential, state and its detail."""
    parent_cfg = project.load_config()
    rows = []
    own_d = project.manifest()["stages"].get("collect", {}).get("info", {}).get("d")
    st, detail = _state(project)
    rows.append(_row("project", parent_cfg.subset.layers, own_d if own_d is not None else subset_d(parent_cfg),
                     _metrics(project), st, detail, project.root))
    for v in variants(project):
        problem = base_problem(project, v.project) or settings_problem(parent_cfg, v.project, v.layers)
        st, detail = _state(v.project)
        if problem and st != "not run":
            st, detail = "stale", f"{problem}; Run variants brings it up to date"
        elif problem:
            detail = problem
        holder = v.project.lock_holder()
        if holder:
            st, detail = "running", f"{holder.get('what', 'a job')} (pid {holder.get('pid')})"
        d = v.d if v.d is not None else subset_d(variant_config(parent_cfg, v.layers))
        rows.append(_row(v.slug, v.layers, d, _metrics(v.project), st, detail, v.project.root))
    return rows


def _row(slug: str, layers: list[str], d: int, metrics: dict | None, state: str, detail: str, root: Path) -> dict:
    row = {"slug": slug, "layers": list(layers), "d": int(d), "state": state, "detail": detail, "path": str(root)}
    for k in ROW_KEYS:
        row[k] = float(metrics[k]) if metrics and metrics.get(k) is not None else None
    row["m"] = metrics.get("m") if metrics else None
    row["k"] = metrics.get("k") if metrics else None
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

