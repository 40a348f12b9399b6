"""One runner for every job: a core generator driven in a worker thread by superqt's GeneratorWorker.

The core generator is created and run entirely in the worker thread. Its events reach the GUI thread in
batches (at most every 50 ms, so a fast stage cannot flood the event loop) through the worker's signals,
connected to @Slot methods of this object, which lives in the GUI thread: Qt queues those calls.
Lambdas are never connected to worker signals (in PySide6 they would run in the worker thread).
"""

from __future__ import annotations

import time
import traceback
from typing import Callable, Iterator

from PySide6.QtCore import QObject, QThreadPool, Signal, Slot
from superqt.utils import GeneratorWorker

from ..core.errors import BendError, Cancelled
from ..core.events import CancelFlag, Event, Progress

BATCH_SECONDS = 0.05


def warm_up_imports() -> None:
    """Import what jobs import, in the GUI thread, once. A first import inside a worker holds the GIL for
    a few hundred milliseconds (torchvision's model zoo): measured as a 170 ms freeze of the event loop."""
    from ..core.ml import backbones
    from ..core.pipeline import runner as pipeline

    backbones.backbones()

JobFactory = Callable[[CancelFlag], Iterator[Event]]


def _pump(factory: JobFactory, cancel: CancelFlag):
    """Runs in the worker thread: drives the job and yields lists of its events."""
    batch: list = []
    last = time.monotonic()
    try:
        for ev in factory(cancel):
            # Of consecutive progress reports only the newest matters.
            if isinstance(ev, Progress) and batch and isinstance(batch[-1], Progress) and \
                    batch[-1].stage == ev.stage:
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
        return ("cancelled", "")
    except BendError as e:
        if batch:
            yield batch
        return ("failed", str(e))
    except Exception as e:  # noqa: BLE001 - shown to the user with its traceback, never swallowed
        if batch:
            yield batch
        return ("failed", f"{type(e).__name__}: {e}\n\n{traceback.format_exc()}")
    if batch:
        yield batch
    return ("done", "")


class JobRunner(QObject):
    """Runs one job at a time. Signals are emitted in the GUI thread."""

    started = Signal(str)                # job name
    events = Signal(list)                # a batch of core events
    finished = Signal(str, str, str)     # job name, outcome ("done" | "cancelled" | "failed"), message

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._worker: GeneratorWorker | None = None
        self._cancel: CancelFlag | None = None
        self._name = ""
        self._outcome: tuple[str, str] | None = None

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
        self._outcome = ("failed", f"{type(exc).__name__}: {exc}")

    @Slot()
    def _on_finished(self) -> None:
        outcome, message = self._outcome or ("failed", "the job ended without a result")
        name = self._name
        self._worker, self._cancel, self._name = None, None, ""
        self.finished.emit(name, outcome, message)
