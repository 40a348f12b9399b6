"""Project templates: the folders under `project_templates/` (shipped inside the package, so a regular
`pip install` has them) and under $BEND_TEMPLATES, each with a `project.toml`."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError
from . import config as C

_SHIPPED = Path(__file__).resolve().parent / "project_templates"
DEMO = "fashion-mnist-demo"


def template_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("BEND_TEMPLATES", "").split(os.pathsep) if p]
    return [*extra, _SHIPPED]


def list_templates() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for d in template_dirs():
        if d.is_dir():
            for sub in sorted(d.iterdir()):
                if (sub / "project.toml").is_file():
                    out.setdefault(sub.name, sub / "project.toml")
    return out


def load_template(name: str) -> C.ProjectConfig:
    found = list_templates()
    if name not in found:
        raise ConfigError(f"unknown template {name!r}; templates: {', '.join(found) or '(none found)'}")
    return C.load(found[name])
