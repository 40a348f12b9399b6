"""Checks that need no training: run before a project is created or a run starts, so a bad backbone,
subset or dataset fails at once with one clear message and nothing on disk is touched."""

from __future__ import annotations

from ..errors import DataError
from ..ml.backbones import build_model, get_backbone
from ..ml.data import dataset_info
from ..ml.subset import Subset, resolve
from ..settings.config import ProjectConfig


def check(cfg: ProjectConfig, *, need_data: bool = True) -> Subset:
    """Validate the config, the backbone, the subset and (optionally) the dataset; return the subset."""
    cfg.validate()
    get_backbone(cfg.model.backbone)
    info = dataset_info(cfg.data)
    if need_data and not info.available:
        raise DataError(info.message)
    model = build_model(cfg.model.backbone, info.channels, max(info.num_classes, 2))
    return resolve(model, cfg.subset.layers, cfg.model.backbone)
