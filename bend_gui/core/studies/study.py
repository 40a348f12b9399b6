"""Running a study: a grid of settings × seeds over the project's finished outputs, point by point.

The driver checks the grid against the settings schema, reads what the points need from the project
once (inputs.py), refuses to mix its points with saved ones made from other upstream outputs, and hands
the missing points to an executor. Each finished point is written to its own file at once (under the
project lock, held only for that write), so a cancel, a failing point or a killed driver loses no
finished point, and a rerun computes only what is missing (failed points are tried again). While it
runs, the driver publishes the points still in flight (queued, running and where) in `running.json` of the
study's folder, so another window can follow it (store.read_live); the file goes when the driver ends.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

from ..errors import Cancelled, ProjectError
from ..events import CancelFlag, Event, Message, Metric, Progress
from ..project.folder import Project
from ..settings import config as C
from . import inputs as I
from . import store
from .executors import LocalExecutor, Outcome, PointStarted, Task
from .grid import Grid, make_grid, point_config
from .point import STAGE

SERIES = "points"   # Metric(STAGE, SERIES, index, record): a point finished (record as in its file)
STATE_SERIES = "state"  # Metric(STAGE, STATE_SERIES, index, {key, state, node}): queued / running


def define(project: Project, keys: dict[str, list] | None, seeds=None, name: str | None = None) -> tuple[str, Grid]:
    """The study's name and checked grid: from `keys`/`seeds`, or the saved definition of `name`."""
    cfg = project.load_config()
    if keys is None:
        if not name:
            raise ProjectError("name the study to rerun, or give its grid")
        saved = store.load_definition(project, name)
        if saved is None:
            raise ProjectError(f"no study {name!r} in {store.study_root(project)}; give its grid (--grid)")
        return name, Grid.from_dict(saved["grid"])
    grid = make_grid(cfg, keys, seeds if seeds is not None else [0])
    return name or store.default_name(grid), grid


def run_study(project: Project, name: str, grid: Grid, executor=None, cancel: CancelFlag | None = None
              ) -> Iterator[Event]:
    """Generator: the study's events (stage 'study'); returns every point's record, saved and new, in the
    grid's order. Raises Cancelled after saving what finished."""
    cancel = cancel or CancelFlag()
    executor = executor or LocalExecutor()
    store.check_name(name)
    executor.prepare()
    with store.study_lock(project, name):
        with store.briefly_locked(project, f"study {name}: reading the project"):
            cfg = project.load_config()
            why = I.readiness(project, grid, cfg)
            if why:
                raise ProjectError(why)
            up = I.upstream(project, cfg, grid)
            saved_def = store.load_definition(project, name)
            if saved_def is not None and store.saved_points(project, name, Grid.from_dict(saved_def["grid"])):
                diff = I.differences(saved_def["upstream"], up)
                if diff:
                    raise ProjectError(
                        f"study {name} holds points made from other upstream outputs ({'; '.join(diff[:4])}"
                        f"{'; …' if len(diff) > 4 else ''}); mixing them would compare unlike points: give "
                        f"--name for a new study, or delete {store.study_dir(project, name)}")
                if list(saved_def["grid"]["keys"]) != list(grid.keys):
                    raise ProjectError(f"study {name} sweeps {', '.join(saved_def['grid']['keys'])}; give "
                                       f"--name for a study over other keys")
            inputs = yield from I.gather(project, cfg, grid, cancel)
            store.save_definition(project, name, {
                "name": name, "grid": grid.to_dict(), "level": grid.level, "upstream": up,
                "created": (saved_def or {}).get("created") or dt.datetime.now().isoformat(timespec="seconds"),
                "updated": dt.datetime.now().isoformat(timespec="seconds")})
        points = grid.points()
        index = {p.key: i for i, p in enumerate(points)}
        done: dict[str, dict] = {}
        for p in points:
            rec = store.load_point(project, name, p)
            if rec is not None and rec["state"] == "done":
                done[p.key] = rec
                yield Metric(STAGE, SERIES, float(index[p.key]), rec, point=p.label)
        todo = [p for p in points if p.key not in done]
        tasks = [Task(p, C.to_dict(point_config(cfg, p)), grid.level) for p in todo]
        yield Message(STAGE, f"{name}: {len(points)} points ({len(done)} saved, {len(todo)} to compute "
                             f"{executor.describe()}); each reruns {_describe_level(grid.level)}")
        finished, failed, t0 = len(done), 0, time.perf_counter()
        yield Progress(STAGE, finished, len(points), f"{finished}/{len(points)} points")
        live = store.new_live(name, executor.name)
        live["points"] = {p.key: {"state": "queued", "node": ""} for p in todo}
        store.write_live(project, name, live)
        try:
            for ev in executor.run(inputs, tasks, cancel):
                if isinstance(ev, (PointStarted, Outcome)):
                    _publish(project, name, live, ev)
                if isinstance(ev, PointStarted):
                    yield Metric(STAGE, STATE_SERIES, float(index[ev.point.key]),
                                 {"key": ev.point.key, "state": ev.state, "node": ev.node}, point=ev.point.label)
                elif isinstance(ev, Outcome):
                    rec = store.record(ev.point, ev.state, row=ev.row, error=ev.error, node=ev.node,
                                       node_id=ev.node_id, seconds=ev.seconds)
                    with store.briefly_locked(project, f"study {name}: saving a point"):
                        store.save_point(project, name, ev.point, rec)
                        store.write_table(project, name, grid)
                    finished += 1
                    failed += ev.state == "failed"
                    if ev.state == "failed":
                        yield Message(STAGE, f"{ev.point.label}: failed: {ev.error}", point=ev.point.label)
                    yield Metric(STAGE, SERIES, float(index[ev.point.key]), rec, point=ev.point.label)
                    yield Progress(STAGE, finished, len(points), f"{finished}/{len(points)} points"
                                   + (f", {failed} failed" if failed else ""), point=ev.point.label)
                else:
                    yield ev
        except Cancelled:
            with store.briefly_locked(project, f"study {name}: saving the table"):
                store.write_table(project, name, grid)
            raise
        finally:
            store.clear_live(project, name)
        with store.briefly_locked(project, f"study {name}: saving the table"):
            table = store.write_table(project, name, grid)
        yield Message(STAGE, f"{name}: {finished - failed} points done, {failed} failed in "
                             f"{time.perf_counter() - t0:.0f} s; table: {table}")
    return store.saved_points(project, name, grid)


def _publish(project: Project, name: str, live: dict, ev: PointStarted | Outcome) -> None:
    """The in-flight state after `ev`: a started point's state and node; a finished one leaves the file
    (its own point file holds it now)."""
    if isinstance(ev, Outcome):
        live["points"].pop(ev.point.key, None)
    else:
        live["points"][ev.point.key] = {"state": ev.state, "node": ev.node}
    store.write_live(project, name, live)


def _describe_level(level: str) -> str:
    return {"collect": "the collection of snapshots from the project's base network, the autoencoder and DDPM, "
                       "then sampling and evaluation",
            "generate": "sampling and evaluation with the project's generator",
            "generator": "the autoencoder and DDPM on the project's snapshots, then sampling and evaluation"}[level]


def load_study(project: Project, name: str) -> tuple[dict, list[dict]]:
    """A saved study's definition and its points' records ([] points when none finished)."""
    d = store.load_definition(project, name)
    if d is None:
        raise ProjectError(f"no study {name!r} in {store.study_root(project)}")
    return d, store.saved_points(project, name, Grid.from_dict(d["grid"]))
