"""Choosing where to compute, and saying so in words."""

from __future__ import annotations

import torch

from ..errors import ConfigError
from ..settings.config import RunConfig


def resolve_device(run: RunConfig) -> torch.device:
    if run.threads:
        torch.set_num_threads(run.threads)
    if run.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("[run] device = \"cuda\" but torch sees no GPU; use \"auto\" or \"cpu\"")
    if run.device == "cpu" or (run.device == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    return torch.device("cuda")


def describe_device(device: torch.device | None = None) -> str:
    device = device or (torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu"))
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"GPU: {props.name} ({props.total_memory / 2**30:.0f} GiB)"
    return f"CPU ({torch.get_num_threads()} threads)"
