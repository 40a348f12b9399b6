"""A job that a results page starts and follows (a sweep, the ablation's variants): one place for what
such pages share. While it runs, the page's status line shows the job's own progress and messages — the
events whose `stage` is the job's — and Cancel stops it at its next safe point; when it ends, the page's
`on_done(outcome)` gets the JobOutcome with the job's result."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QLabel

from ..core.events import Message, Progress
from .activity import eta_text
from .project_model import ProjectModel
from .runner import JobFactory, JobOutcome


class PageJob(QObject):
    def __init__(self, model: ProjectModel, status: QLabel, parent: QObject | None = None):
        super().__init__(parent)
        self.model, self.status = model, status
        self.title = ""          # shown before every status text, e.g. "Sweep over m"
        self.stage = ""          # the `stage` of the running job's own events
        self.running = False
        self._on_done: Callable[[JobOutcome], None] | None = None
        model.progress.connect(self._on_progress)
        model.message.connect(self._on_message)

    def start(self, title: str, stage: str, factory: JobFactory, on_done: Callable[[JobOutcome], None]) -> bool:
        """Start the job; False when another job runs."""
        if not self.model.start_job(title, factory, on_done=self._done):
            return False
        self.title, self.stage, self.running, self._on_done = title, stage, True, on_done
        self.status.setText(f"{title}: starting…")
        return True

    @Slot()
    def cancel(self) -> None:
        if self.running:
            self.model.cancel()
            self.status.setText(f"{self.title}: cancelling at the next safe point…")

    def _done(self, outcome: JobOutcome) -> None:
        self.running = False
        on_done, self._on_done = self._on_done, None
        if on_done is not None:
            on_done(outcome)

    @Slot(object, float)
    def _on_progress(self, ev: Progress, eta: float) -> None:
        if self.running and ev.stage == self.stage:
            tail = eta_text(eta) if not ev.step else ""  # a sub-step's ETA is not the job's
            self.status.setText(f"{self.title}: {ev.text}" + (f" · {tail}" if tail else ""))

    @Slot(object)
    def _on_message(self, ev: Message) -> None:
        if self.running and ev.stage == self.stage and ev.point:  # news of one point or variant
            self.status.setText(f"{self.title}: {ev.text}")
