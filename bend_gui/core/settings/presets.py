"""Pipeline presets: named recipes for the pipeline's settings (base training to evaluation).

A preset owns the sections of PRESET_SECTIONS: applying one resets them to their defaults and then sets
the preset's values, so the result does not depend on what was there before. The model, data, subset
and run sections (the user's choice of experiment and machine) are left as they are. The wizard offers
these; the CLI can apply them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from . import config as C

PRESET_SECTIONS = ("base", "collect", "autoencoder", "diffusion", "generate", "evaluate")


@dataclass(frozen=True)
class Preset:
    name: str
    description: str  # one line, shown in the wizard
    values: dict[str, dict[str, Any]] = field(default_factory=dict)  # section -> key -> value


BEND_PAPER = Preset(
    "BEND paper: a snapshot per epoch, k=200, m=100",
    "The paper's CIFAR-10 recipe: 100 base epochs, 200 epochs of subset training at lr 0.01 (a snapshot "
    "each), a p-diff v1-sized generator (30,000 AE + 30,000 DDPM steps): hours on a GPU; on a CPU the "
    "generator alone takes 9-14 hours.",
    {
        # The paper gives only the epoch count; cosine decay and crop+flip are the usual CIFAR practice.
        "base": {"epochs": 100, "lr": 0.1, "schedule": "cosine", "augment": True},
        "collect": {"k": 200, "save_every": "epoch", "lr": 0.01},
        # p-diff v1: full-batch steps over the k snapshots, 30,000 of each (design notes).
        "autoencoder": {"steps": 30_000, "batch_size": 200, "eval_every": 5_000},
        "diffusion": {"steps": 30_000, "batch_size": 200},
        "generate": {"m": 100},
    },
)

PDIFF_V3 = Preset(
    "p-diff v3: snapshots within one epoch",
    "One fine-tuning epoch at a large constant lr (0.1), a snapshot every 2 iterations (k=200); "
    "per-tensor normalisation, 500 AE and 2,000 DDPM steps at batch 50; minutes on a GPU.",
    {
        "collect": {"k": 200, "save_every": 2, "lr": 0.1},
        "autoencoder": {"steps": 500, "batch_size": 50, "normalize": "tensor"},
        "diffusion": {"steps": 2_000, "batch_size": 50},
        "generate": {"m": 100},
    },
)

# Must stay equal to the pipeline sections of settings/project_templates/fashion-mnist-demo/project.toml (a test checks).
CPU_DEMO = Preset(
    "CPU demo",
    "The embedded demo's recipe, sized for 2 CPU cores: 4 base epochs, k=200 snapshots every 25 "
    "iterations at lr 0.1, a small autoencoder and denoiser, m=100; minutes on Fashion-MNIST.",
    {
        "base": {"epochs": 4, "batch_size": 128, "lr": 0.1, "schedule": "onecycle"},
        "collect": {"k": 200, "save_every": 25, "lr": 0.1, "batch_size": 128},
        "autoencoder": {"steps": 300, "patience": 50, "channels": [16, 32, 32, 16], "normalize": "residual",
                        "eval_every": 0, "eval_snapshots": 20},
        "diffusion": {"steps": 500, "patience": 100, "channels": [32, 64]},
        "generate": {"m": 100},
    },
)

PRESETS: dict[str, Preset] = {p.name: p for p in (BEND_PAPER, PDIFF_V3, CPU_DEMO)}


def apply_preset(cfg: C.ProjectConfig, name: str) -> C.ProjectConfig:
    """A validated copy of `cfg` whose pipeline sections are the preset's."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
    out = cfg.copy()
    for section in PRESET_SECTIONS:
        setattr(out, section, C.SECTIONS[section]())
    assignments = [(s, k, v) for s, values in PRESETS[name].values.items() for k, v in values.items()]
    return C.with_values(out, assignments)
