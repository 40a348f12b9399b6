"""The job protocol: what a running job reports, and how it ends.

A job is a generator: it yields typed events (progress, metric points, messages, stage boundaries),
checks a CancelFlag at safe points, and *returns* its result (`StopIteration.value`), which every driver
hands back to its caller: `run_to_end` in tests and the CLI, the GUI's JobRunner to the page that started
the job. Events say where they come from by fields, never by strings to parse: `stage` is the pipeline
stage or the study reporting; `step` a sub-step with its own bar (CACHE_STEP, TEST_STEP); `point` the study point or
ablation variant that a nested pipeline's events belong to.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Iterator

from .errors import Cancelled

CACHE_STEP = "cache"  # the frozen prefix's activations being computed, before a stage's own work
TEST_STEP = "test"    # a training stage measuring its network on the test set (after an epoch, at the end)
METRICS_STEP = "metrics"  # the evaluate stage computing Table 3, diversity and calibration from the predictions


@dataclass(frozen=True)
class Progress:
    stage: str
    done: int
    total: int
    text: str = ""
    step: str = ""   # "" for the stage's own work, or a sub-step such as CACHE_STEP
    point: str = ""  # inside a study: which point or variant


@dataclass(frozen=True)
class Metric:
    """One point of a curve: `values` are the columns of `<stage>/<series>.csv` at x."""

    stage: str
    series: str
    x: float
    values: dict = field(default_factory=dict)
    point: str = ""


@dataclass(frozen=True)
class Message:
    stage: str
    text: str
    point: str = ""


@dataclass(frozen=True)
class StageStarted:
    stage: str
    resumed: bool = False


@dataclass(frozen=True)
class StageFinished:
    stage: str
    seconds: float
    skipped: bool = False


Event = Progress | Metric | Message | StageStarted | StageFinished


class CancelFlag:
    """Set from any thread; a job calls `check()` at safe points and stops there."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()


def run_to_end(gen: Iterator[Event]):
    """Drive a job generator in the calling thread, dropping its events; its return value."""
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def relay(gen: Iterator[Event], transform: Callable[[Event], Event | None]) -> Iterator[Event]:
    """Re-yield a nested job's events through `transform` (an event to yield, or None to drop it) and
    return the nested job's return value: `result = yield from relay(job, transform)`."""
    while True:
        try:
            ev = next(gen)
        except StopIteration as stop:
            return stop.value
        ev = transform(ev)
        if ev is not None:
            yield ev
