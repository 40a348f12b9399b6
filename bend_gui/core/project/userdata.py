"""The user's own state: recent projects and the app's remembered choices (in the config folder), and the
demo project (in the data folder).

Folders come from platformdirs, so they follow each platform's conventions (XDG on Linux).
"""

from __future__ import annotations

import json
from pathlib import Path

import platformdirs
import tomlkit
from tomlkit.exceptions import TOMLKitError

from ..fileio import atomic_write_text
from ..settings.templates import DEMO, load_template
from .folder import Project

MAX_RECENT = 10
SETTINGS_FILE = "settings.toml"   # the app's remembered choices, by section, e.g. [studies] address


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


def app_settings() -> dict:
    """What the app remembers between sessions ({} when nothing yet, or the file is unreadable: these are
    conveniences, never worth an error)."""
    try:
        return tomlkit.parse((config_dir() / SETTINGS_FILE).read_text(encoding="utf-8")).unwrap()
    except (OSError, TOMLKitError):
        return {}


def remembered(section: str, key: str, default=None):
    value = app_settings().get(section, {})
    return value.get(key, default) if isinstance(value, dict) else default


def remember(section: str, key: str, value) -> None:
    """Set one choice, keeping the file's other keys and comments (a person may edit it)."""
    path = config_dir() / SETTINGS_FILE
    try:
        doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    except (OSError, TOMLKitError):
        doc = tomlkit.document()
    if not isinstance(doc.get(section), dict):
        doc[section] = tomlkit.table()
    doc[section][key] = value
    atomic_write_text(path, tomlkit.dumps(doc))
