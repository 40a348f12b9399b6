"""Checks that need no training: run before a project is created or a run starts, so a bad backbone,
subset or dataset, or a size that cannot fit in memory, fails at once with one clear message and nothing
on disk is touched."""

from __future__ import annotations

import torch

from ..errors import DataError
from ..ml.backbones import build_model, get_backbone
from ..ml.data import dataset_info
from ..ml.device import resolve_device
from ..ml.subset import Subset, resolve, split_model
from ..settings.config import ProjectConfig
from . import memory

# (training, test) images of the built-in datasets, for the activation cache's estimate before loading them
DATASET_SIZES = {"fashion-mnist": (60_000, 10_000), "mnist": (60_000, 10_000), "cifar10": (50_000, 10_000),
                 "cifar100": (50_000, 10_000)}


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
        train_b, test_b = _cache_bytes(cfg, model, subset, info.channels, info.image_size)
        for stage in memory_for:
            cache = {"collect": train_b + test_b, "evaluate": test_b}.get(stage, 0)
            memory.check(stage, cfg, subset.d, device, cache)
    return subset


def _cache_bytes(cfg: ProjectConfig, model, subset: Subset, channels: int, size: int) -> tuple[int, int]:
    """Bytes of the cached activations entering the first subset layer, per split (each at most the cache
    limit: above it nothing is cached)."""
    prefix, _, _ = split_model(model, subset)
    with torch.no_grad():
        numel = prefix.eval()(torch.zeros(1, channels, size, size)).numel()
    limit = int(cfg.run.cache_limit_gb * 2**30)
    full = DATASET_SIZES.get(cfg.data.dataset)
    out = []
    for i, n in enumerate((cfg.data.train_size, cfg.data.test_size)):
        n = min(n, full[i]) if n and full else (n or (full[i] if full else 0))
        need = n * numel * memory.FLOAT if n else limit
        out.append(need if need <= limit else 0)  # over the limit the frozen part reruns per batch instead
    return out[0], out[1]
