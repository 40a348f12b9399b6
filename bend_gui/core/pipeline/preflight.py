"""Checks that need no training: run before a project is created or a run starts, so a bad backbone,
subset or dataset, or a size that cannot fit in memory, fails at once with one clear message and nothing
on disk is touched."""

from __future__ import annotations

from ..errors import DataError
from ..ml.backbones import build_model, get_backbone
from ..ml.data import dataset_info
from ..ml.device import resolve_device
from ..ml.subset import Subset, resolve
from ..settings.config import ProjectConfig
from . import memory


def check(cfg: ProjectConfig, *, need_data: bool = True, memory_for: tuple[str, ...] = ()) -> Subset:
    """Validate the config, the backbone, the subset and (optionally) the dataset; return the subset.
    `memory_for` names the stages whose memory needs are checked against what is available."""
    cfg.validate()
    get_backbone(cfg.model.backbone)
    info = dataset_info(cfg.data)
    if need_data and not info.available:
        raise DataError(info.message)
    model = build_model(cfg.model.backbone, info.channels, max(info.num_classes, 2))
    subset = resolve(model, cfg.subset.layers, cfg.model.backbone)
    if memory_for:
        device = resolve_device(cfg.run)
        for stage in memory_for:  # the activation cache is sized from free memory when built: not counted
            memory.check(stage, cfg, subset.d, device)
    return subset
