"""Project templates: the folders under the repository's `projects/`, each with a `project.toml`."""

from __future__ import annotations

import os
from pathlib import Path

from . import config as C
from .errors import ConfigError

_REPO_PROJECTS = Path(__file__).resolve().parents[2] / "projects"
DEMO = "fashion-mnist-demo"


def template_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("BEND_TEMPLATES", "").split(os.pathsep) if p]
    return [*extra, _REPO_PROJECTS]


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
