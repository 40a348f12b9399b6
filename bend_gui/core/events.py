"""What a running stage reports: the same events drive the CLI's bars, the GUI's monitors and tests."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Iterator

from .errors import Cancelled


@dataclass(frozen=True)
class Progress:
    stage: str
    done: int
    total: int
    text: str = ""


@dataclass(frozen=True)
class Metric:
    """One point of a curve: `values` are the columns of `<stage>/<series>.csv` at x."""

    stage: str
    series: str
    x: float
    values: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Message:
    stage: str
    text: str


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
