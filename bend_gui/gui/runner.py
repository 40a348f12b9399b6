"""Every thread of the app starts here. A job (a core generator) runs in JobRunner, one at a time per
project, driven in a worker thread by superqt's GeneratorWorker; a short call that must not freeze the
window (a dataset check, writing an export) runs through `call_in_thread`.

The core generator is created and run entirely in the worker thread. Its events reach the GUI thread in
batches (at most every 50 ms, so a fast stage cannot flood the event loop) through the worker's signals,
connected to @Slot methods of this object, which lives in the GUI thread: Qt queues those calls. When the
job ends, `finished` carries a JobOutcome with the job's return value (its result) or its error.
Lambdas are never connected to worker signals (in PySide6 they would run in the worker thread).
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from PySide6.QtCore import QObject, QThreadPool, Signal, Slot
from superqt.utils import FunctionWorker, GeneratorWorker, create_worker

from ..core.errors import BendError, Cancelled
from ..core.events import CancelFlag, Event, Progress

BATCH_SECONDS = 0.05


def warm_up_imports() -> None:
    """Import what jobs import, in the GUI thread, once. A first import inside a worker holds the GIL for
    a few hundred milliseconds (torchvision's model zoo): measured as a 170 ms freeze of the event loop."""
    from ..core.ml import backbones

    backbones.backbones()

JobFactory = Callable[[CancelFlag], Iterator[Event]]


@dataclass(frozen=True)
class JobOutcome:
    """How a job ended: `state` is done, cancelled or failed; `result` is the job's return value when done;
    `message` the error (first line: what a user reads; the rest: a traceback for unexpected errors)."""

    name: str
    state: str
    result: Any = None
    message: str = ""

    @property
    def error_line(self) -> str:
        return self.message.splitlines()[0] if self.message else f"{self.name} failed"


def _events_and_result(job: Iterator[Event], result: list):
    """Yields the job's events; its return value is put in `result`."""
    result.append((yield from job))


def _pump(factory: JobFactory, cancel: CancelFlag):
    """Runs in the worker thread: drives the job and yields lists of its events; returns (state, result,
    message)."""
    batch: list = []
    last = time.monotonic()
    result: list = []
    try:
        for ev in _events_and_result(factory(cancel), result):
            # Of consecutive progress reports only the newest matters.
            if isinstance(ev, Progress) and batch and isinstance(batch[-1], Progress) and \
                    (batch[-1].stage, batch[-1].step) == (ev.stage, ev.step):
                batch[-1] = ev
            else:
                batch.append(ev)
            now = time.monotonic()
            if now - last >= BATCH_SECONDS:
                yield batch
                batch, last = [], now
    except Cancelled:
        if batch:
            yield batch
        return ("cancelled", None, "")
    except BendError as e:
        if batch:
            yield batch
        return ("failed", None, str(e))
    except Exception as e:  # noqa: BLE001 - shown to the user with its traceback, never swallowed
        if batch:
            yield batch
        return ("failed", None, f"{type(e).__name__}: {e}\n\n{traceback.format_exc()}")
    if batch:
        yield batch
    return ("done", result[0] if result else None, "")


class JobRunner(QObject):
    """Runs one job at a time. Signals are emitted in the GUI thread."""

    started = Signal(str)                # job name
    events = Signal(list)                # a batch of core events
    finished = Signal(object)            # a JobOutcome

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._worker: GeneratorWorker | None = None
        self._cancel: CancelFlag | None = None
        self._name = ""
        self._outcome: tuple | None = None

    @property
    def busy(self) -> bool:
        return self._worker is not None

    @property
    def job_name(self) -> str:
        return self._name

    def start(self, name: str, factory: JobFactory) -> bool:
        """Start a job; False (and nothing started) when another is running."""
        if self.busy:
            return False
        self._cancel = CancelFlag()
        self._name, self._outcome = name, None
        worker = GeneratorWorker(_pump, factory, self._cancel)
        worker.yielded.connect(self._on_yielded)
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self.started.emit(name)
        worker.start()
        return True

    def cancel(self) -> None:
        """Ask the job to stop at its next safe point (it saves a checkpoint first)."""
        if self._cancel is not None:
            self._cancel.set()

    def wait(self, msecs: int = 60_000) -> bool:
        """Block until the worker thread is done (for closing the window and for tests)."""
        return QThreadPool.globalInstance().waitForDone(msecs)

    @Slot(object)
    def _on_yielded(self, batch: list) -> None:
        self.events.emit(batch)

    @Slot(object)
    def _on_returned(self, outcome: tuple) -> None:
        self._outcome = tuple(outcome)

    @Slot(object)
    def _on_errored(self, exc: Exception) -> None:
        self._outcome = ("failed", None, f"{type(exc).__name__}: {exc}")

    @Slot()
    def _on_finished(self) -> None:
        state, result, message = self._outcome or ("failed", None, "the job ended without an outcome")
        outcome = JobOutcome(self._name, state, result, message)
        self._worker, self._cancel, self._name = None, None, ""
        self.finished.emit(outcome)


class _CallRelay(QObject):
    """Lives in the GUI thread, so the worker's signals are queued to its slots, which call the callbacks
    there. Kept alive (in _LIVE) until the worker is finished."""

    def __init__(self, done: Callable[[Any], None], failed: Callable[[Exception], None]):
        super().__init__()
        self._done, self._failed = done, failed

    @Slot(object)
    def returned(self, value: Any) -> None:
        self._done(value)

    @Slot(object)
    def errored(self, exc: Exception) -> None:
        self._failed(exc)

    @Slot()
    def finished(self) -> None:
        _LIVE.discard(self)


_LIVE: set[_CallRelay] = set()


def call_in_thread(fn: Callable, *args, done: Callable[[Any], None],
                   failed: Callable[[Exception], None]) -> FunctionWorker:
    """Run fn(*args) in a worker thread; then done(result) or failed(exception) run in the GUI thread."""
    relay = _CallRelay(done, failed)
    _LIVE.add(relay)
    # Through _connect: an 'errored' connected after the start would not stop superqt from re-raising.
    return create_worker(fn, *args, _connect={"returned": relay.returned, "errored": relay.errored,
                                              "finished": relay.finished})
