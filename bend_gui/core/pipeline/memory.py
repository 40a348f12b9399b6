"""Will a stage fit in memory? Rough estimates of its largest allocations against what is available, so a
size that cannot fit fails before the stage starts, with the setting to lower, instead of being killed by
the kernel's OOM killer without a word.

`BEND_MEMORY_LIMIT_GB` caps what the estimate believes is available (for tests, and for batch systems whose
job quota the machine's free memory does not show).

The activation cache is not part of these estimates: it is sized when it is built, from the memory free then
(`cache_limits`), so it can shrink to nothing but never make a run fail.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

from ..errors import MemoryLimitError
from ..ml.subset_size import size_warning
from ..pdiff.autoencoder import ParamAutoencoder
from ..settings.config import ProjectConfig

ENV_LIMIT = "BEND_MEMORY_LIMIT_GB"
FLOAT = 4  # bytes of a float32
CACHE_SHARE = 0.5  # of the memory free when the activation cache is built; the rest is the stages' own
UNKNOWN_CACHE_BYTES = 4 * 2**30  # where free memory cannot be read: the fixed limit of earlier versions
SAMPLE_CHUNK_BYTES = 512 * 2**20  # activations per sampling chunk: a constant, so results do not depend
                                  # on the machine's free memory


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup_headroom() -> int | None:
    """A container's or job's cgroup (v2) limit minus its use: MemAvailable does not see it."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(0, int(limit) - int(Path("/sys/fs/cgroup/memory.current").read_text()))
    except (OSError, ValueError):
        return None


def available(device: torch.device) -> tuple[int | None, str]:
    """(bytes available on `device`, words for where), or None bytes when nothing can be read."""
    if device.type == "cuda":
        found, where = torch.cuda.mem_get_info(device)[0], "free GPU memory"
    else:
        found = [v for v in (_meminfo_available(), _cgroup_headroom()) if v is not None]
        found, where = (min(found) if found else None), "available memory"
    cap = os.environ.get(ENV_LIMIT)
    if cap:
        capped = int(float(cap) * 2**30)
        if found is None or capped < found:
            found, where = capped, f"{ENV_LIMIT} = {cap}"
    return found, where


def cache_limits(cfg: ProjectConfig, device: torch.device) -> tuple[int, int]:
    """(bytes the activation cache may take on `device`, bytes it may take in the computer's memory when it
    does not fit there; 0 when the device is the CPU): a share of what is free now, at most [run]
    cache_limit_gb when that is set (0 = no cap)."""
    cap = cfg.run.cache_limit_gb * 2**30 if cfg.run.cache_limit_gb > 0 else math.inf

    def budget(dev: torch.device) -> int:
        have, _ = available(dev)
        return int(min(cap, CACHE_SHARE * have if have is not None else UNKNOWN_CACHE_BYTES))
    return budget(device), (budget(torch.device("cpu")) if device.type != "cpu" else 0)


# What to lower when a stage runs out of memory while it runs (the estimates above missed it).
OOM_SETTINGS = {
    "base": lambda c: f"[base] batch_size (now {c.base.batch_size})",
    "collect": lambda c: f"[collect] batch_size (now {c.collect.batch_size}) or [run] cache_limit_gb "
                         f"({_cache_now(c)})",
    "autoencoder": lambda c: f"[autoencoder] batch_size (now {c.autoencoder.batch_size}), channels or the subset",
    "diffusion": lambda c: f"[diffusion] batch_size (now {c.diffusion.batch_size}) or channels",
    "generate": lambda c: f"[generate] m (now {c.generate.m:,}) or baselines",
    "evaluate": lambda c: f"[evaluate] batch_size (now {c.evaluate.batch_size}) or [run] cache_limit_gb "
                          f"({_cache_now(c)})",
}


def _cache_now(cfg: ProjectConfig) -> str:
    g = cfg.run.cache_limit_gb
    return f"now {g:g} GiB" if g > 0 else "now 0 = sized from free memory; a small cap such as 1 leaves more"


def out_of_memory_message(stage: str, cfg: ProjectConfig, device: torch.device, e: BaseException) -> str:
    """One line for an out-of-memory failure inside `stage`: where, and the setting to lower."""
    detail = str(e).splitlines()[0] if str(e) else type(e).__name__
    lower = OOM_SETTINGS.get(stage, lambda c: "the batch size")(cfg)
    return (f"{stage}: out of memory on {device} ({detail[:200]}); lower {lower}. Outputs already on disk are "
            f"unchanged")


def autoencoder_params(d: int, cfg: ProjectConfig) -> int:
    """Exact, without allocating: the autoencoder built on the meta device."""
    a = cfg.autoencoder
    with torch.device("meta"):
        ae = ParamAutoencoder(d, a.latent_dim, a.channels)
    return sum(p.numel() for p in ae.parameters())


def _activations_per_vector(d: int, cfg: ProjectConfig) -> int:
    """Floats the autoencoder's conv layers produce for one d-vector (encoder and decoder, each block's conv,
    norm and activation outputs)."""
    c1, c2, c3, c4 = cfg.autoencoder.channels
    length = max(32, math.ceil(d / 16) * 16)
    per_position = c1 / 2 + c2 / 4 + c3 / 8 + c4 / 16 + c3 / 8 + c2 / 4 + c1 / 2 + c1
    return int(3 * length * per_position + 2 * length)


def sample_bytes_per_member(d: int, cfg: ProjectConfig) -> int:
    """Peak activations of sampling and decoding one member without gradients (two layers alive at once)."""
    c1 = cfg.autoencoder.channels[0]
    length = max(32, math.ceil(d / 16) * 16)
    denoiser = 4 * cfg.autoencoder.latent_dim * sum(cfg.diffusion.channels)
    return FLOAT * (2 * c1 * length + 2 * length + denoiser)


def sample_chunk(d: int, cfg: ProjectConfig, m: int | None = None) -> int:
    """Members sampled and decoded at once (of m, by default [generate] m): memory stays bounded however
    large m is, and below the chunk the members are exactly those of one batch."""
    return max(1, min(m or cfg.generate.m, SAMPLE_CHUNK_BYTES // sample_bytes_per_member(d, cfg)))


def _sets(cfg: ProjectConfig) -> int:
    """Member sets of m each: the generator's and each baseline beside it."""
    g = cfg.generate
    return 1 + len([b for b in g.baselines if b != g.generator])


def estimate(stage: str, cfg: ProjectConfig, d: int, cache_bytes: int = 0) -> tuple[int, str, str]:
    """(bytes, what they hold, the setting to lower) of `stage`'s largest allocations; 0 bytes where the
    stage holds nothing that grows with the settings."""
    k, m = cfg.collect.k, cfg.generate.m
    if stage == "collect":
        return (k * d * FLOAT + cache_bytes, f"{k} snapshots of d = {d:,} numbers",
                f"[collect] k (now {k}) or the subset")
    if stage == "autoencoder":
        a = cfg.autoencoder
        params = autoencoder_params(d, cfg)
        # weights, gradients and AdamW's two moments; the activations kept for backward;
        # the snapshots, their normalised copy and the reconstruction tests' copy
        need = (16 * params + FLOAT * min(a.batch_size, k) * _activations_per_vector(d, cfg)
                + 3 * k * d * FLOAT)
        return (need, f"the autoencoder for d = {d:,} ({params:,} parameters, batch {min(a.batch_size, k)})",
                ("the subset (fewer layers, e.g. BatchNorm ones), [autoencoder] latent_dim "
                 f"(now {a.latent_dim}), channels or batch_size"))
    if stage == "diffusion":
        need = FLOAT * (autoencoder_params(d, cfg) + 2 * k * d + k * _activations_per_vector(d, cfg))
        return need, f"encoding {k} snapshots of d = {d:,}", f"[collect] k (now {k}) or the subset"
    if stage == "generate":
        chunk = sample_chunk(d, cfg)
        need = FLOAT * (_sets(cfg) + 1) * m * d + 2 * k * d * FLOAT + chunk * sample_bytes_per_member(d, cfg)
        return (need, f"{_sets(cfg)} sets of m = {m:,} members of d = {d:,} numbers",
                f"[generate] m (now {m:,}) or [generate] baselines")
    if stage == "evaluate":
        need = FLOAT * (_sets(cfg) * m + k) * d + cache_bytes + 8 * (m + k) ** 2
        return (need, f"{_sets(cfg) * m + k:,} members of d = {d:,} numbers",
                f"[generate] m (now {m:,}) or [generate] baselines")
    return 0, "", ""


def check(stage: str, cfg: ProjectConfig, d: int, device: torch.device, cache_bytes: int = 0) -> None:
    """MemoryLimitError when `stage`'s estimate exceeds the memory available; silent when unknown."""
    need, what, lower = estimate(stage, cfg, d, cache_bytes)
    if not need:
        return
    # The generators train on the device; snapshots and members are gathered in the computer's memory.
    have, where = available(device if stage in ("autoencoder", "diffusion") else torch.device("cpu"))
    if have is not None and need > have:
        advice = f" {size_warning(d)}" if stage == "autoencoder" and size_warning(d) else ""
        raise MemoryLimitError(f"{stage}: needs about {_gib(need)} for {what}, but only {_gib(have)} is "
                               f"available ({where}); lower {lower}.{advice}")


def _gib(n: int) -> str:
    return f"{n / 2**30:,.{2 if n < 10 * 2**30 else 1}f} GiB"
