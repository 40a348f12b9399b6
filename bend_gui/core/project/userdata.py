"""The user's own state: recent projects (in the config folder) and the demo project (in the data folder).

Folders come from platformdirs, so they follow each platform's conventions (XDG on Linux).
"""

from __future__ import annotations

import json
from pathlib import Path

import platformdirs

from ..fileio import atomic_write_text
from ..settings.templates import DEMO, load_template
from .folder import Project

MAX_RECENT = 10


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir("bend-studio"))


def projects_dir() -> Path:
    return Path(platformdirs.user_data_dir("bend-studio")) / "projects"


def recent_projects() -> list[Path]:
    """Recent project folders, newest first; folders that are gone are left out."""
    path = config_dir() / "recent.json"
    try:
        items = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return []
    return [Path(p) for p in items if isinstance(p, str) and (Path(p) / "project.toml").is_file()]


def add_recent(root: Path) -> None:
    root = Path(root).resolve()
    items = [root] + [p for p in recent_projects() if p.resolve() != root]
    atomic_write_text(config_dir() / "recent.json", json.dumps([str(p) for p in items[:MAX_RECENT]], indent=1))


def demo_project() -> Project:
    """The embedded demo as a project of the user's (created from the template on first use)."""
    root = projects_dir() / DEMO
    if (root / "project.toml").is_file():
        return Project.open(root)
    cfg = load_template(DEMO)
    return Project.create(root, cfg)
