"""The activity area: what runs now, how far it is, how long it has left, and a Cancel button."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QWidget

from ..core.events import Message, Progress
from ..core.project.folder import STAGE_TITLES
from .messages import without_command
from .project_model import ProjectModel
from .runner import JobOutcome


def eta_text(seconds: float) -> str:
    if seconds < 0:
        return ""
    m, s = divmod(int(seconds + 0.5), 60)
    h, m = divmod(m, 60)
    return f"ETA {h}:{m:02d}:{s:02d}" if h else f"ETA {m}:{s:02d}"


def _label(width: int) -> QLabel:
    label = QLabel()
    label.setFixedWidth(width)
    label.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
    return label


class ActivityBar(QWidget):
    def __init__(self, model: ProjectModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        # Fixed widths: labels whose text changes many times a second must not relayout the window.
        self.title = _label(230)
        self.title.setText("idle")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setTextVisible(False)
        self.text = _label(330)
        self.eta = _label(100)
        self.cancel = QPushButton("Cancel")
        self.cancel.setEnabled(False)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 2, 6, 2)
        for w, stretch in ((self.title, 0), (self.bar, 1), (self.text, 0), (self.eta, 0), (self.cancel, 0)):
            lay.addWidget(w, stretch)
        self.cancel.clicked.connect(self._cancel)
        model.progress.connect(self._on_progress)
        model.stageStarted.connect(self._on_stage)
        model.busyChanged.connect(self._on_busy)
        model.jobFinished.connect(self._on_finished)
        model.message.connect(self._on_message)

    @Slot()
    def _cancel(self) -> None:
        self.model.cancel()
        self.text.setText("cancelling at the next safe point…")
        self.cancel.setEnabled(False)

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        self.cancel.setEnabled(busy)
        self.bar.setTextVisible(busy)
        if busy:
            self.title.setText(self.model.runner.job_name)
            self.bar.setRange(0, 0)  # busy indicator until the first progress report

    @Slot(str, bool)
    def _on_stage(self, stage: str, resumed: bool) -> None:
        self.title.setText(STAGE_TITLES.get(stage, stage) + (" (resumed)" if resumed else ""))
        self.eta.clear()

    @Slot(object, float)
    def _on_progress(self, ev: Progress, eta: float) -> None:
        total = max(ev.total, 1)
        self.bar.setRange(0, total)
        self.bar.setValue(min(ev.done, total))
        self.text.setText(ev.text)
        self.eta.setText(eta_text(eta) if not ev.step else "")  # a sub-step's ETA is not the stage's

    @Slot(object)
    def _on_message(self, ev: Message) -> None:
        self.text.setText(ev.text if len(ev.text) < 90 else ev.text[:87] + "…")

    @Slot(object)
    def _on_finished(self, outcome: JobOutcome) -> None:
        self.bar.setRange(0, 1)
        self.bar.setValue(1 if outcome.state == "done" else 0)
        self.title.setText(f"{outcome.name}: {outcome.state}")
        self.eta.clear()
        self.text.setText("" if outcome.state != "failed" else without_command(outcome.error_line)[:120])
