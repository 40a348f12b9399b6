"""What a study ships to its points, read from the project once, and the fingerprint of where it came from.

The inputs are plain tensors and dicts (they go through Ray's object store as they are): the base
network's saved state, the subset, the snapshots and their test predictions, the cached test activations
and labels, and the trained generator's saved state when the points keep it. Points that recollect get
the base network's state, the training and test images and labels (what the collect stage reads)
instead: their subset can end the frozen prefix elsewhere, so the project's activations may not apply.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from ..errors import ProjectError
from ..events import CancelFlag, Event, Message
from ..ml.device import resolve_device
from ..ml.members import evaluate_members
from ..ml.subset import Subset
from ..pipeline.context import StageContext
from ..project import artifacts as A
from ..project.folder import STAGE_TITLES, Project
from ..settings import config as C
from .grid import Grid
from .point import STAGE


def needed_stages(cfg: C.ProjectConfig, grid: Grid) -> tuple[str, ...]:
    """The finished stages a study reads: the base network always; the snapshots unless the points
    recollect; the trained generator when its points keep it (sampling keys only) and some point's
    generator is diffusion."""
    if grid.level == "collect":
        return ("base",)
    gens = set(grid.keys.get("generate.generator", [cfg.generate.generator]))
    if grid.level == "generate" and "diffusion" in gens:
        return ("base", "collect", "autoencoder", "diffusion")
    return ("base", "collect")


def readiness(project: Project, grid: Grid, cfg: C.ProjectConfig | None = None) -> str:
    """'' when the study can start, else why not (in words a user can act on)."""
    cfg = cfg or project.load_config()
    need = needed_stages(cfg, grid)
    states = {st.stage: st.state for st in project.stage_states(cfg)}
    for stage in need:
        if states[stage] != "done":
            return (f"this study needs stage {STAGE_TITLES[stage]} done, and it is {states[stage]}: "
                    f"bend run {project.root} --until {need[-1]}")
    return ""


def upstream(project: Project, cfg: C.ProjectConfig, grid: Grid) -> dict:
    """What the points are made from: the run ids of the stages read, and every setting not swept
    (the seed excepted), so a rerun can tell whether its points would mix with the saved ones."""
    stages = project.manifest()["stages"]
    settings = C.to_dict(cfg)
    for key in ("schema_version", "name", "description", "run"):
        settings.pop(key)
    settings["generate"].pop("seed")
    for (section, name), old in C.LATER_KEYS.items():  # as a study saved before the key existed recorded it
        if settings[section].get(name) == old:
            settings[section].pop(name)
    for key in grid.keys:
        section, name = key.split(".", 1)
        settings[section].pop(name, None)
    return {"runs": {s: stages.get(s, {}).get("run_id") for s in needed_stages(cfg, grid)}, "settings": settings}


def differences(old: dict, new: dict) -> list[str]:
    """What differs between two `upstream` records, in words."""
    out = [f"stage {s} was rerun" for s in sorted(set(old["runs"]) | set(new["runs"]))
           if old["runs"].get(s) != new["runs"].get(s)]
    for section in sorted(set(old["settings"]) | set(new["settings"])):
        a, b = old["settings"].get(section, {}), new["settings"].get(section, {})
        out += [f"[{section}] {k}: {a.get(k)!r} → {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    return out


def gather(project: Project, cfg: C.ProjectConfig, grid: Grid, cancel: CancelFlag) -> Iterator[Event]:
    """Generator returning the inputs dict (on the CPU). The test activations are computed here once; the
    snapshots' predictions come from results/predictions.pt when the evaluate stage is done."""
    device = resolve_device(cfg.run)
    ctx = StageContext(project, cfg, device, cancel)
    data = yield from ctx.data()
    base = A.BASE_MODEL.load(project)
    y = data.test_y.long()
    inputs = {"base": {"backbone": base["backbone"], "in_channels": int(base["in_channels"]),
                       "num_classes": int(base["num_classes"]), "state_dict": base["state_dict"]},
              "y": y, "num_classes": int(data.num_classes)}
    if grid.level == "collect":
        inputs["data"] = {"train_x": data.train_x, "train_y": data.train_y, "test_x": data.test_x,
                          "mean": tuple(data.mean), "std": tuple(data.std)}
        return inputs
    feats = yield from ctx.features("test", STAGE)
    if feats.cached is None:
        raise ProjectError(f"the test activations exceed [run] cache_limit_gb = {cfg.run.cache_limit_gb:g}; a "
                           f"study ships them to its points: raise it")
    saved = A.SNAPSHOTS.load(project)
    snaps, subset = saved["snapshots"].float(), Subset.from_dict(saved["subset"])
    too_many = [k for k in grid.keys.get("collect.k", []) if k > len(snaps)]
    if too_many:
        raise ProjectError(f"--grid collect.k={too_many[-1]}: the project has {len(snaps)} snapshots")
    orig = None
    if project.state("evaluate").state == "done":
        pred_file = A.PREDICTIONS.load(project)
        o = pred_file["preds"]["original"]
        if tuple(o.shape) == (len(snaps), len(y)) and torch.equal(pred_file["y"].long(), y):
            orig = o.long()
            yield Message(STAGE, f"originals: predictions of the {len(snaps)} snapshots from results/predictions.pt")
    if orig is None:
        out = yield from evaluate_members(ctx.base_network(), subset, snaps, feats, y,
                                          batch_size=cfg.evaluate.batch_size, batching=cfg.evaluate.member_batching,
                                          cancel=cancel, stage=STAGE, label=f"{len(snaps)} snapshots (originals)")
        orig = out.preds.long()
    inputs |= {"subset": subset.to_dict(), "snapshots": snaps, "orig_preds": orig,
               "test_features": feats.cached.cpu()}
    if "diffusion" in needed_stages(cfg, grid):
        inputs["autoencoder"] = A.AUTOENCODER.load(project)
        inputs["diffusion"] = A.DIFFUSION.load(project)
    return inputs


def inputs_bytes(inputs: dict) -> int:
    """The tensors' size in bytes (what each worker node receives once)."""
    def size(x) -> int:
        if isinstance(x, torch.Tensor):
            return x.numel() * x.element_size()
        if isinstance(x, np.ndarray):
            return x.nbytes
        if isinstance(x, dict):
            return sum(size(v) for v in x.values())
        if isinstance(x, (list, tuple)):
            return sum(size(v) for v in x)
        return 0
    return size(inputs)

