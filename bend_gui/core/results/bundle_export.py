"""Writing a project's ensemble as a `.pt` bundle (the format and the loader are `bundle`, which must
not depend on project code; this half reads the project folder)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..fileio import save_tensors
from ..project import artifacts as A
from ..project.folder import Project, refuse_inside_project
from .bundle import FORMAT, FORMAT_VERSION, RULES, BundleError


def export(project: Project, out: Path, *, members: str = "generated", rule: str = "sbend") -> dict:
    """Write the bundle; returns a short summary."""
    from ... import __version__

    if rule not in RULES:
        raise BundleError(f"--rule {rule!r}: allowed: {', '.join(RULES)}")
    if members not in ("generated", "original"):
        raise BundleError(f"--members {members!r}: allowed: generated, original")
    out = Path(out)
    refuse_inside_project(out, "the bundle")
    note = project.require_last_good("generate" if members == "generated" else "collect")
    base = A.BASE_MODEL.load(project)
    snaps = A.SNAPSHOTS.load(project)
    if members == "generated":
        gen = A.MEMBERS.load(project)
        vectors, source = gen["members"], gen["generator"]
    else:
        vectors, source = snaps["snapshots"], "snapshots"
    metrics = A.METRICS.load(project) if _evaluated(project, note) else {}
    bundle = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "backbone": {"name": base["backbone"], "in_channels": base["in_channels"],
                     "num_classes": base["num_classes"], "image_size": base["image_size"]},
        "normalization": {"mean": base["mean"], "std": base["std"]},
        "classes": base["classes"],
        "frozen_state": base["state_dict"],
        "subset": snaps["subset"],
        "members": vectors.float().contiguous(),
        "members_source": source,
        "rule": rule,
        "metrics": _strip_none(metrics),
        "provenance": {"app": "BEND Studio", "app_version": __version__, "project": project.name,
                       "created": dt.datetime.now().isoformat(timespec="seconds"),
                       "dataset": base["dataset"], "config_toml": project.config_path.read_text(),
                       **({"note": note} if note else {})},
    }
    save_tensors(out, bundle)
    return {"path": str(out), "members": len(vectors), "source": source, "rule": rule,
            "d": int(vectors.shape[1]), "bytes": out.stat().st_size, "note": note}


def _evaluated(project: Project, note: str) -> bool:
    """Whether results/ holds the metrics of these very members: evaluate is done, or (when the members
    are a last good run's) evaluate's last good run was made from them."""
    if project.state("evaluate").state == "done":
        return True
    ev, gen = project.last_good("evaluate"), project.last_good("generate")
    return bool(note and ev and gen and ev.get("upstream") == gen.get("run_id"))


def _strip_none(x):
    # None is not among the types weights_only loading accepts in every torch version; drop it.
    if isinstance(x, dict):
        return {k: _strip_none(v) for k, v in x.items() if v is not None}
    if isinstance(x, list):
        return [_strip_none(v) for v in x if v is not None]
    return x
