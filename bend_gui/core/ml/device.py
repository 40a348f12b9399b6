"""Choosing where to compute, and saying so in words.

`[run] device` is one of auto, cpu, cuda, cuda:N or mps. A device that was asked for by name and is not
there is a ConfigError (one line, exit code 2), never a silent run on the CPU.
"""

from __future__ import annotations

import re

import torch

from ..errors import ConfigError
from ..settings.config import RunConfig

_CUDA_N = re.compile(r"cuda:(\d+)")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def resolve_device(run: RunConfig) -> torch.device:
    if run.threads:
        torch.set_num_threads(run.threads)
    name = run.device
    if name == "cpu":
        return torch.device("cpu")
    if name == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if name == "mps":
        if not _mps_available():
            raise ConfigError('[run] device = "mps" but torch sees no Apple GPU (MPS); use "auto" or "cpu"')
        return torch.device("mps")
    index = 0 if name == "cuda" else int(_CUDA_N.fullmatch(name).group(1))  # validated by RunConfig
    if not torch.cuda.is_available():
        raise ConfigError(f'[run] device = "{name}" but torch sees no GPU; use "auto" or "cpu"')
    count = torch.cuda.device_count()
    if index >= count:
        raise ConfigError(f'[run] device = "{name}" but torch sees {count} GPU{"s" if count != 1 else ""} '
                          f'(cuda:0{f" to cuda:{count - 1}" if count > 1 else ""}); choose one of them')
    return torch.device("cuda", index)


def describe_device(device: torch.device | None = None) -> str:
    device = device or (torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu"))
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"GPU: {props.name} ({props.total_memory / 2**30:.0f} GiB)"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({torch.get_num_threads()} threads)"
