"""Where a study's points run. An executor's `run(inputs, tasks, cancel)` is a generator yielding the
points' progress events and an `Outcome` per finished point, in the order they finish; it never writes
files (the study's driver does, one point at a time).

`local` computes the points here, one after another. `ray` (ray_executor.py, imported only when asked
for) sends them to a Ray cluster.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import BendError, Cancelled
from ..events import CancelFlag, Event, relay
from .grid import Point
from .point import point_job


@dataclass(frozen=True)
class Task:
    point: Point
    cfg: dict        # the point's whole settings (config.to_dict)
    level: str       # grid.LEVELS: what the point reruns


@dataclass(frozen=True)
class Outcome:
    point: Point
    state: str       # "done" or "failed"
    row: dict
    error: str
    node: str        # where it ran, for a person: the host name (local), a Ray node's address and short id
    seconds: float
    node_id: str = ""  # the exact node: the Ray node id (local: empty, the host name is exact)


@dataclass(frozen=True)
class PointStarted:
    """A point changed state: "queued" (ray: submitted) or "running" (local: it starts now; ray: a worker
    on `node` began it, or began it again after its first node died)."""
    point: Point
    state: str       # "running" or "queued"
    node: str = ""


def error_text(e: BaseException) -> str:
    """A point's failure in one line: a BendError's own message, else the exception's type and message."""
    first = (str(e).strip().splitlines() or [""])[0]
    return first if isinstance(e, BendError) else f"{type(e).__name__}: {first}"


class LocalExecutor:
    name = "local"

    def describe(self) -> str:
        return "here, one point at a time"

    def prepare(self) -> None:
        """Nothing to join: the points run in this process."""

    def run(self, inputs: dict, tasks: list[Task], cancel: CancelFlag) -> Iterator[Event | Outcome | PointStarted]:
        host = socket.gethostname()
        for task in tasks:
            cancel.check()
            yield PointStarted(task.point, "running", host)
            t0 = time.perf_counter()
            try:
                row = yield from relay(point_job(inputs, task.cfg, task.level, task.point.seed, cancel,
                                                 task.point.label), lambda ev: ev)
            except Cancelled:
                raise
            except Exception as e:  # noqa: BLE001 - one point's failure is recorded; the others go on
                yield Outcome(task.point, "failed", {}, error_text(e), host, time.perf_counter() - t0)
                continue
            yield Outcome(task.point, "done", row, "", host, time.perf_counter() - t0)


def make_executor(name: str, **options):
    """The executor called `name` ('local' or 'ray'); Ray is imported only for 'ray'."""
    if name == "local":
        return LocalExecutor()
    if name == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(**options)
    raise BendError(f"--executor {name!r}: allowed: local, ray")
