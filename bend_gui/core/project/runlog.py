"""A log file per pipeline run, in the project folder (`logs/<timestamp>-run.log`).

The runner opens it for the run's duration, so a run started by `bend run`, by the app or by a study leaves
the same record: what ran, each stage's messages and per-epoch metrics, how it ended (with the traceback of a
bug). Whatever the core logs (loggers "bend_gui.core.*") in the thread driving the run goes in too; a front
end's own lines (the CLI's progress) do not.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import BendError, Cancelled
from ..events import Event, Message, Metric, StageFinished, StageStarted, relay

CORE = logging.getLogger("bend_gui.core")
EVENTS = logging.getLogger("bend_gui.core.events")  # a front end that shows the events itself filters these out
FORMAT = "%(asctime)s %(levelname)-7s %(message)s"
STEPS_SERIES = "steps"  # per-step points go to <stage>/steps.csv; in the log they would drown the rest


def log_event(ev: Event) -> Event:
    """Write one event to the log and hand it on (a `relay` transform). Progress is not logged: the
    stage's start and end, its messages and metrics say what happened."""
    if isinstance(ev, StageStarted):
        EVENTS.info("%s: started%s", ev.stage, " (resuming from its checkpoint)" if ev.resumed else "")
    elif isinstance(ev, StageFinished):
        EVENTS.info("%s: %s", ev.stage, "up to date, skipped" if ev.skipped else f"done in {ev.seconds:.1f} s")
    elif isinstance(ev, Message):
        EVENTS.info("%s: %s", ev.stage, ev.text)
    elif isinstance(ev, Metric):
        values = " ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in ev.values.items())
        EVENTS.log(logging.DEBUG if ev.series == STEPS_SERIES else logging.INFO,
                   "%s: %s x=%g %s", ev.stage, ev.series, ev.x, values)
    return ev


def logged(job: Iterator[Event], also: Callable[[Event], Event] = lambda ev: ev):
    """`job`'s events, each written to the log (and passed to `also`) on its way; returns the job's result.
    Closing this closes the job at once (as `yield from` would), so its own cleanup never waits for the
    garbage collector."""
    try:
        return (yield from relay(job, lambda ev: also(log_event(ev))))
    finally:
        job.close()


class _ThisRun(logging.Filter):
    """The core's records from the thread driving this run: the app may run another project's job meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.ident = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread == self.ident


@contextlib.contextmanager
def run_log(root: Path, what: str, stages: list[str]) -> Iterator[Path]:
    """Log to a new file in `root`/logs while the block runs; log how it ended and re-raise."""
    folder = Path(root) / "logs"
    folder.mkdir(exist_ok=True)
    stamp = f"{dt.datetime.now():%Y%m%d-%H%M%S}"
    path, n = folder / f"{stamp}-run.log", 1
    while path.exists():  # two runs within a second (a quick rerun): one file each
        n += 1
        path = folder / f"{stamp}-{n}-run.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(logging.INFO)
    handler.addFilter(_ThisRun())
    if CORE.getEffectiveLevel() > logging.INFO:
        # Lowered, never put back: another thread's run may be logging at the same time.
        CORE.setLevel(logging.INFO)
    CORE.addHandler(handler)
    logging.getLogger(__name__).info("run log: %s", path)
    try:
        EVENTS.info("%s (pid %d): stages %s", what, os.getpid(), ", ".join(stages))
        yield path
        EVENTS.info("finished")
    except Cancelled:
        EVENTS.info("cancelled; the next run resumes from the last checkpoint")
        raise
    except BendError as e:
        EVENTS.error("failed: %s", e)
        raise
    except Exception:
        EVENTS.exception("failed with an unexpected error")
        raise
    finally:
        CORE.removeHandler(handler)
        handler.close()
