"""A study's folder, `studies/<name>/` of the project:

- `study.json`: the definition (grid, seeds, what the points rerun) and `upstream`, the run ids and
  settings its points are made from;
- `points/<id>.json`: one file per finished point (done with its row, or failed with the error), each
  written atomically on its own, so a killed driver loses at most the points still running;
- `table.csv`: the table, rebuilt from the point files after every point (never read back as the truth);
- `running.json`: while a driver runs the study, its pid, host, start time and each point's state (queued,
  running, and on which node), rewritten atomically as they change and removed when the driver ends, so
  another window can follow the study. A driver killed by SIGKILL leaves it behind: it counts only while
  the study's lock (`.lock`, released by the kernel when the driver dies) is held.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import re
import socket
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
           node_id: str = "", seconds: float = 0.0) -> dict:
    """A point's file: `node` names where it ran for a person (host, or a Ray node's address and short id),
    `node_id` identifies it exactly (the Ray node id; the host name for the local executor)."""
    return {"values": point.as_dict(), "seed": point.seed, "key": point.key, "state": state, "row": row or {},
            "error": error, "node": node, "node_id": node_id or node, "seconds": seconds,
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


# --- the in-flight state of a running study ------------------------------------------------------------

LIVE_FILE = "running.json"


def live_path(project: Project, name: str) -> Path:
    return study_dir(project, name) / LIVE_FILE


def write_live(project: Project, name: str, live: dict) -> None:
    write_json(live_path(project, name), json_safe(live))


def clear_live(project: Project, name: str) -> None:
    live_path(project, name).unlink(missing_ok=True)


def new_live(name: str, executor: str) -> dict:
    return {"name": name, "pid": os.getpid(), "host": socket.gethostname(), "executor": executor,
            "started": dt.datetime.now().isoformat(timespec="seconds"), "points": {}}


def driver_alive(project: Project, name: str) -> bool:
    """Whether some process holds the study's lock now (its driver runs). Asked with a lock attempt of
    our own, released at once; a driver in this very process counts too (flock locks belong to the open
    file, not the process)."""
    path = study_dir(project, name) / ".lock"
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _pid_dead(live: dict) -> bool:
    if live.get("host") != socket.gethostname():
        return False  # another machine's process: only its lock can tell
    try:
        os.kill(int(live["pid"]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError, TypeError, KeyError):
        return False
    return False


def read_live(project: Project, name: str) -> dict | None:
    """The in-flight state of a study whose driver is alive, else None. A file left by a killed driver
    (dead pid, or the lock free) is stale: it is removed, and the study counts as not running."""
    path = live_path(project, name)
    try:
        live = read_json(path)
    except (FileNotFoundError, ProjectError):
        return None  # no file, or one half-read mid-replace on a filesystem without atomic rename
    if not isinstance(live, dict) or _pid_dead(live) or not driver_alive(project, name):
        if not driver_alive(project, name):
            path.unlink(missing_ok=True)
        return None
    return live


def running_studies(project: Project) -> list[str]:
    """The studies a live driver runs now (this process's, a terminal's, another window's)."""
    return [n for n in list_studies(project) if read_live(project, n) is not None]
