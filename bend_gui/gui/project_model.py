"""The open project as the views see it: state, config, live events. Views subscribe to its signals;
it never knows them. It starts jobs through the one JobRunner and turns their events into signals, and
follows the folder (FolderWatch) so that work another process does there shows without reopening."""

from __future__ import annotations

import os
import time
from typing import Callable

from PySide6.QtCore import QObject, Signal, Slot

from ..core.errors import BendError
from ..core.events import Message, Metric, Progress, StageFinished, StageStarted
from ..core.pipeline import runner as pipeline
from ..core.project.folder import STAGE_TITLES, STAGES, Project, StageState
from ..core.settings import config as C
from .folder_watch import FolderWatch
from .runner import JobFactory, JobOutcome, JobRunner


class ProjectModel(QObject):
    statesChanged = Signal()
    configChanged = Signal()
    busyChanged = Signal(bool)
    stageStarted = Signal(str, bool)               # stage, resumed
    stageFinished = Signal(str, float, bool)       # stage, seconds, skipped
    progress = Signal(object, float)               # a Progress event, eta seconds (-1 unknown)
    curvePoint = Signal(str, str, float, dict)     # stage, series, x, values
    metric = Signal(object)                        # the Metric event itself (with its point)
    filesChanged = Signal(str)                     # another process changed this stage's files ("": the project's)
    message = Signal(object)                       # a Message event
    jobFinished = Signal(object)                   # a JobOutcome
    resultsChanged = Signal()

    def __init__(self, project: Project, runner: JobRunner, parent: QObject | None = None):
        super().__init__(parent)
        self.project = project
        self.runner = runner
        self._config = project.load_config()
        self._states = project.stage_states(self._config)
        self._running_stage: str | None = None
        self._rate_origin: dict[tuple, tuple[float, int]] = {}  # bar -> (time, done) of its first report
        self._on_done: Callable[[JobOutcome], None] | None = None
        self._last_target: str | None = None
        self.failed_stage: str | None = None
        self.plan: list[str] = []  # the stages the running pipeline job goes through (empty: another job)
        self.other_holder: dict | None = None  # what holds the project's lock when it is another process
        runner.events.connect(self._on_events)
        runner.finished.connect(self._on_finished)
        self.watch = FolderWatch(project, self)
        self.watch.changed.connect(self._on_folder_changed)
        self._read_holder()

    # --- state -------------------------------------------------------------------------------------

    @property
    def config(self) -> C.ProjectConfig:
        return self._config

    @property
    def busy(self) -> bool:
        return self.runner.busy

    @property
    def running_stage(self) -> str | None:
        return self._running_stage

    def states(self) -> list[StageState]:
        return self._states

    def state(self, stage: str) -> StageState:
        return self._states[STAGES.index(stage)]

    def refresh(self) -> None:
        old = self._config
        try:
            self._config = self.project.load_config()
        except BendError:
            pass
        self._states = self.project.stage_states(self._config)
        self._read_holder()
        if self._config != old:  # edited in another program
            self.configChanged.emit()
        self.statesChanged.emit()

    def _read_holder(self) -> None:
        holder = None if self.busy else self.project.lock_holder()
        self.other_holder = holder if holder and holder.get("pid") != os.getpid() else None

    @property
    def locked_by_other(self) -> bool:
        return self.other_holder is not None

    def lock_text(self) -> str:
        """Who holds the project, in words ('' when nobody else does)."""
        h = self.other_holder
        if not h:
            return ""
        who = h.get("what") or "another program"
        if h.get("pid"):
            who += f" (process {h['pid']}" + (f" on {h['host']}" if h.get("host") else "") + ")"
        if h.get("stage"):
            who += f", running {STAGE_TITLES.get(h['stage'], h['stage'])}"
        return f"In use by {who}: running is possible when it ends."

    @Slot(list)
    def _on_folder_changed(self, stages: list) -> None:
        """Another process wrote here (while a job of ours runs, only it can: the lock)."""
        if self.busy:
            return
        self.refresh()
        for s in stages:
            self.filesChanged.emit(s)
        if "evaluate" in stages:
            self.resultsChanged.emit()

    def save_config(self, cfg: C.ProjectConfig) -> None:
        """Write project.toml; refused while a job runs (the job reads these settings)."""
        if self.busy:
            raise BendError("a job is running: its settings are locked until it ends")
        cfg.validate()
        self.project.save_config(cfg)
        self._config = cfg
        self.configChanged.emit()
        self.refresh()

    def read_curve(self, stage: str, series: str) -> list[dict]:
        return self.project.read_curve(stage, series)

    @property
    def resumable(self) -> bool:
        return any(s.resumable and s.state in ("cancelled", "failed", "not run") for s in self._states)

    # --- jobs --------------------------------------------------------------------------------------

    def run_pipeline(self, *, until: str | None = None, only: str | None = None, force: tuple = (),
                     on_done: Callable[[JobOutcome], None] | None = None) -> bool:
        project = self.project
        self._last_target = only or until

        def job(cancel):
            return pipeline.run(project, until=until, only=only, force=force, cancel=cancel, what="BEND Studio")
        what = f"run {only}" if only else f"run until {until}" if until else "run all"
        return self.start_job(what, job, on_done, plan=pipeline.stages_between(until, only))

    def resume(self) -> bool:
        return self.run_pipeline(until=self._last_target)

    def start_job(self, name: str, factory: JobFactory,
                  on_done: Callable[[JobOutcome], None] | None = None, plan: list[str] | tuple = ()) -> bool:
        """Start a job; `on_done(outcome)` is called in the GUI thread when it ends, after the model has
        refreshed, with the job's result (`outcome.result`) or its error. False when another job runs."""
        if self.runner.busy:
            return False
        self.plan = list(plan)
        ok = self.runner.start(name, factory)
        if ok:
            self._on_done = on_done
            self.busyChanged.emit(True)
        return ok

    def cancel(self) -> None:
        self.runner.cancel()

    @Slot(list)
    def _on_events(self, batch: list) -> None:
        for ev in batch:
            if isinstance(ev, StageStarted):
                self._running_stage = ev.stage
                self._rate_origin.clear()
                self.refresh()
                self.stageStarted.emit(ev.stage, ev.resumed)
            elif isinstance(ev, Progress):
                self.progress.emit(ev, self._eta(ev))
            elif isinstance(ev, Metric):
                self.curvePoint.emit(ev.stage, ev.series, ev.x, ev.values)
                self.metric.emit(ev)
            elif isinstance(ev, Message):
                self.message.emit(ev)
            elif isinstance(ev, StageFinished):
                self._running_stage = None
                self.refresh()
                self.stageFinished.emit(ev.stage, ev.seconds, ev.skipped)
                if ev.stage == "evaluate" and not ev.skipped:
                    self.resultsChanged.emit()

    def _eta(self, ev: Progress) -> float:
        """Seconds left at the rate since this stage's first report (a resumed stage starts midway)."""
        now = time.monotonic()
        t0, done0 = self._rate_origin.setdefault((ev.stage, ev.step), (now, ev.done))
        if ev.total <= 0 or ev.done <= done0 or now - t0 < 1.0:
            return -1.0
        return (now - t0) / (ev.done - done0) * max(ev.total - ev.done, 0)

    @Slot(object)
    def _on_finished(self, outcome: JobOutcome) -> None:
        self.failed_stage = self._running_stage if outcome.state == "failed" else None
        self._running_stage = None
        self.refresh()
        on_done, self._on_done = self._on_done, None
        self.busyChanged.emit(False)
        self.jobFinished.emit(outcome)
        if on_done is not None:
            on_done(outcome)
