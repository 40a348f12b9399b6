"""A study's folder, `studies/<name>/` of the project:

- `study.json`: the definition (grid, seeds, what the points rerun) and `upstream`, the run ids and
  settings its points are made from;
- `points/<id>.json`: one file per finished point (done with its row, or failed with the error), each
  written atomically on its own, so a killed driver loses at most the points still running;
- `table.csv`: the table, rebuilt from the point files after every point (never read back as the truth).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

from ..errors import ProjectError
from ..fileio import json_safe, read_json, write_csv, write_json
from ..project import artifacts as A
from ..project.folder import Project
from .grid import Grid, Point
from .point import DIVERSITY_COLUMNS, ROW_COLUMNS

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
LOCK_WAIT_S = 600.0   # how long a point's write waits for a pipeline job that holds the project lock


def study_root(project: Project) -> Path:
    return A.study_dir(project, "studies")


def study_dir(project: Project, name: str) -> Path:
    check_name(name)
    return study_root(project) / name


def check_name(name: str) -> None:
    if not NAME_RE.match(name or ""):
        raise ProjectError(f"study name {name!r}: use letters, digits, '.', '_' or '-' (up to 64), e.g. sigma")


def default_name(grid: Grid) -> str:
    """The swept keys' names, e.g. 'latent_noise+sampler'."""
    text = "+".join(k.split(".", 1)[1] for k in grid.keys) or "seeds"
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)[:64]


def list_studies(project: Project) -> list[str]:
    root = study_root(project)
    return sorted(d.name for d in root.iterdir() if (d / "study.json").is_file()) if root.is_dir() else []


def load_definition(project: Project, name: str) -> dict | None:
    path = study_dir(project, name) / "study.json"
    return read_json(path) if path.exists() else None


def save_definition(project: Project, name: str, definition: dict) -> None:
    write_json(study_dir(project, name) / "study.json", json_safe(definition))


def point_path(project: Project, name: str, point: Point) -> Path:
    return study_dir(project, name) / "points" / f"{point.key}.json"


def load_point(project: Project, name: str, point: Point) -> dict | None:
    path = point_path(project, name, point)
    if not path.exists():
        return None
    try:
        rec = read_json(path)
    except ProjectError:
        return None  # a damaged file is a missing point: it is computed again
    return rec if isinstance(rec, dict) and rec.get("state") in ("done", "failed") else None


def save_point(project: Project, name: str, point: Point, record: dict) -> None:
    write_json(point_path(project, name, point), json_safe(record))


def record(point: Point, state: str, *, row: dict | None = None, error: str = "", node: str = "",
           seconds: float = 0.0) -> dict:
    return {"values": point.as_dict(), "seed": point.seed, "key": point.key, "state": state, "row": row or {},
            "error": error, "node": node, "seconds": seconds,
            "finished": dt.datetime.now().isoformat(timespec="seconds")}


def flat(rec: dict) -> dict:
    """One table row: the swept values, seed, state, the point's numbers, node and error."""
    return {**rec["values"], "seed": rec["seed"], "state": rec["state"], **rec.get("row", {}),
            "node": rec.get("node", ""), "error": rec.get("error", ""), "seconds": rec.get("seconds", 0.0)}


def columns(grid: Grid) -> list[str]:
    return (list(grid.keys) + ["seed", "state"] + list(ROW_COLUMNS) + ["m", "k", "d_i"] + list(DIVERSITY_COLUMNS)
            + ["seconds", "node", "error"])


def saved_points(project: Project, name: str, grid: Grid) -> list[dict]:
    """The grid's points that have a file (done or failed), in the grid's order."""
    return [r for r in (load_point(project, name, p) for p in grid.points()) if r is not None]


def write_table(project: Project, name: str, grid: Grid) -> Path:
    path = study_dir(project, name) / "table.csv"
    write_csv(path, columns(grid), [flat(r) for r in saved_points(project, name, grid)])
    return path


@contextlib.contextmanager
def study_lock(project: Project, name: str):
    """Held for a study's whole run: a second driver of the same study is refused (other studies, and the
    pipeline, are not: the project lock is only taken for each short write)."""
    folder = study_dir(project, name)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ProjectError(f"study {name} is already running (another window or command drives it)") from None
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextlib.contextmanager
def briefly_locked(project: Project, what: str, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    """The project lock for one short write, waiting (up to `wait_s`) while a pipeline job holds it."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            cm = project.lock(what)
            cm.__enter__()
            break
        except ProjectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    try:
        yield
    finally:
        cm.__exit__(None, None, None)
