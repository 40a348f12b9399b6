"""The activity area: what runs now and how far it is, in two bars, and the one Cancel button.

The left bar is the whole pipeline run ("stage 3 of 6") with an ETA from the running stage's rate and the
last run's time of each stage still to come. The right bar is the running stage's current phase: its own
work, or a sub-step that a stage reports with `Progress.step` (caching activations, metrics, …), each
named, so a phase that starts never looks like the bar jumping back. Within one phase the bar never moves
backwards; at 100 % it turns into a busy indicator ("finishing…"), since a stage may still evaluate or
save for a while after its last step, and "ETA 0:00" would look hung.
"""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from ..core.events import CACHE_STEP, METRICS_STEP, TEST_STEP, Message, Progress
from ..core.project.folder import STAGE_TITLES
from .messages import without_command
from .project_model import ProjectModel
from .runner import JobOutcome

STEP_NAMES = {"": "", CACHE_STEP: "caching activations", METRICS_STEP: "computing metrics",
              TEST_STEP: "test evaluation"}
OVERALL_UNITS = 1000


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
        self.title = _label(190)
        self.title.setText("idle")
        self.overall = QProgressBar()
        self.overall.setObjectName("overallBar")
        self.overall.setRange(0, OVERALL_UNITS)
        self.overall.setValue(0)
        self.overall.setFormat("")
        self.overall.setFixedWidth(130)
        self.overall_eta = _label(110)
        self.phase = _label(130)
        self.bar = QProgressBar()
        self.bar.setObjectName("stageBar")
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setTextVisible(False)
        self.text = _label(230)
        self.eta = _label(80)
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("stop the running job at its next safe point (Ctrl+.); a stage saves a "
                               "checkpoint first, and Resume continues from it")
        self.cancel.setEnabled(False)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 2, 6, 2)
        for w, stretch in ((self.title, 0), (self.overall, 0), (self.overall_eta, 0), (self.phase, 0),
                           (self.bar, 1), (self.text, 0), (self.eta, 0), (self.cancel, 0)):
            lay.addWidget(w, stretch)
        self._plan: list[str] = []       # the stages of the running pipeline job
        self._finished: set[str] = set()
        self._stage: str | None = None
        self._stage_fraction = 0.0
        self._stage_eta = -1.0
        self._phase_key: tuple | None = None
        self._phase_done = 0
        self.cancel.clicked.connect(self.request_cancel)
        model.progress.connect(self._on_progress)
        model.stageStarted.connect(self._on_stage)
        model.stageFinished.connect(self._on_stage_finished)
        model.busyChanged.connect(self._on_busy)
        model.jobFinished.connect(self._on_finished)
        model.message.connect(self._on_message)

    @Slot()
    def request_cancel(self) -> None:
        if not self.model.busy:
            return
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
            self._plan, self._finished, self._stage = list(self.model.plan), set(), None
            self.overall.setValue(0)
            self._phase_key = None
            self.phase.clear()
            self._show_overall()

    # --- the pipeline as a whole ---------------------------------------------------------------------

    def _show_overall(self) -> None:
        n = len(self._plan)
        self.overall.setVisible(n > 0)
        self.overall_eta.setVisible(n > 0)
        if not n:
            return
        current = self._plan.index(self._stage) + 1 if self._stage in self._plan else min(len(self._finished) + 1, n)
        frac = (len(self._finished) + (self._stage_fraction if self._stage and self._stage not in self._finished
                                       else 0.0)) / n
        self.overall.setValue(max(self.overall.value(), int(frac * OVERALL_UNITS)))
        self.overall.setFormat(f"stage {current} of {n}")
        self.overall.setToolTip(" → ".join(STAGE_TITLES.get(s, s) + (" ✓" if s in self._finished else "")
                                           for s in self._plan))
        self.overall_eta.setText(self._overall_eta())

    def _overall_eta(self) -> str:
        """The running stage's ETA plus the last run's time of each stage still to come (unknown when a
        stage to come has never run, or while the running stage has no rate yet)."""
        later = [s for s in self._plan if s not in self._finished and s != self._stage]
        if self._stage and self._stage not in self._finished and self._stage_eta < 0:
            return ""
        seconds = max(self._stage_eta, 0.0)
        for s in later:
            st = self.model.state(s)
            if st.seconds <= 0:
                return ""
            seconds += st.seconds
        return "total " + eta_text(seconds)

    @Slot(str, bool)
    def _on_stage(self, stage: str, resumed: bool) -> None:
        self.title.setText(STAGE_TITLES.get(stage, stage) + (" (resumed)" if resumed else ""))
        self.eta.clear()
        self._stage, self._stage_fraction, self._stage_eta = stage, 0.0, -1.0
        self._phase_key = None
        self.phase.clear()
        self._show_overall()

    @Slot(str, float, bool)
    def _on_stage_finished(self, stage: str, seconds: float, skipped: bool) -> None:
        self._finished.add(stage)
        self._show_overall()

    # --- the running stage ---------------------------------------------------------------------------

    @Slot(object, float)
    def _on_progress(self, ev: Progress, eta: float) -> None:
        key = (ev.stage, ev.step, ev.point, ev.total)
        if key != self._phase_key:  # a new phase: its own label, its own bar from its own start
            self._phase_key, self._phase_done = key, 0
            self.phase.setText(STEP_NAMES.get(ev.step, ev.step))
        self._phase_done = max(self._phase_done, ev.done)  # never backwards within a phase
        total = max(ev.total, 1)
        finishing = self._phase_done >= total
        if finishing:
            self.bar.setRange(0, 0)  # what follows the last step (evaluation, saving) has no count
        else:
            self.bar.setRange(0, total)
            self.bar.setValue(self._phase_done)
        self.text.setText((f"[{ev.point}] " if ev.point else "") + ev.text)
        if not ev.step:  # a sub-step's ETA is not the stage's
            self.eta.setText("finishing…" if finishing else eta_text(eta))
            if ev.stage == self._stage:
                self._stage_fraction = min(self._phase_done / total, 1.0)
                self._stage_eta = 0.0 if finishing else eta
                self._show_overall()
        elif finishing:
            self.eta.setText("")

    @Slot(object)
    def _on_message(self, ev: Message) -> None:
        self.text.setText(ev.text if len(ev.text) < 90 else ev.text[:87] + "…")

    @Slot(object)
    def _on_finished(self, outcome: JobOutcome) -> None:
        self.bar.setRange(0, 1)
        self.bar.setValue(1 if outcome.state == "done" else 0)
        if outcome.state == "done" and self._plan:
            self.overall.setValue(OVERALL_UNITS)
            self.overall.setFormat(f"{len(self._plan)} of {len(self._plan)} stages")
        self.title.setText(f"{outcome.name}: {outcome.state}")
        self.eta.clear()
        self.overall_eta.clear()
        self.phase.clear()
        self.text.setText("" if outcome.state != "failed" else without_command(outcome.error_line)[:120])
