"""Live training monitors: one plot per curve a stage writes, fed by the model's curve events while a job
runs and reloaded from the project's CSV files when a project opens, a stage finishes, or another process
changed them.

A plot reads one or more sources, each a curve file `<stage>/<series>.csv` with its x column and the
columns it takes (None: all). A StepPlot first shows a stage's `steps` series (loss and learning rate
every [run] log_every steps, streamed while an epoch runs), with the per-epoch test metrics as markers;
a stage that writes no steps yet falls back to its older per-iteration curve.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QGridLayout, QScrollArea, QWidget

from ..core.events import Metric
from .plots import CurvePlot, Series
from .project_model import ProjectModel
from .step_plot import StepPlot


@dataclass(frozen=True)
class Source:
    stage: str
    series: str
    x_key: str
    keys: tuple[str, ...] | None = None  # the columns this plot takes; None: every column
    fallback: bool = False               # shown only while the stage's first source has no points

    def take(self, values: dict) -> dict:
        return dict(values) if self.keys is None else {k: v for k, v in values.items() if k in self.keys}


def steps_of(stage: str, *extra: Source) -> list[Source]:
    return [Source(stage, "steps", "step", ("loss", "lr")), *extra]


# (plot class, its arguments, its sources, columns it spans)
MONITORS = [
    (StepPlot, dict(title="Base training · loss per step", y_label="cross-entropy",
                    markers=[Series("test_loss", "test (per epoch)", "min")]),
     steps_of("base", Source("base", "curve", "step", ("test_loss",))), 2),
    (CurvePlot, dict(title="Base training · loss", x_label="epoch", y_label="cross-entropy", integer_x=True,
                     series=[Series("train_loss", "train", "min"), Series("test_loss", "test", "min")]),
     [Source("base", "curve", "epoch")], 1),
    (CurvePlot, dict(title="Base training · accuracy", x_label="epoch", y_label="accuracy (%)",
                     integer_x=True, legend="bottom-right",
                     series=[Series("train_acc", "train", percent=True), Series("test_acc", "test", percent=True)]),
     [Source("base", "curve", "epoch")], 1),
    (CurvePlot, dict(title="Snapshots · test accuracy", x_label="snapshot index", y_label="test accuracy (%)",
                     series=[Series("test_acc", "snapshot", percent=True)]),
     [Source("collect", "snapshots", "index")], 1),
    (StepPlot, dict(title="Subset training · loss", y_label="cross-entropy", markers=[], log_y=False),
     steps_of("collect", Source("collect", "curve", "iteration", ("train_loss",), fallback=True)), 1),
    (StepPlot, dict(title="Autoencoder · loss", y_label="MSE (normalised parameters)", markers=[]),
     steps_of("autoencoder", Source("autoencoder", "curve", "step", ("loss",), fallback=True)), 1),
    (CurvePlot, dict(title="Autoencoder · reconstruction accuracy", x_label="step", y_label="test accuracy (%)",
                     legend="bottom-right",
                     series=[Series("recon_acc_mean", "reconstructed (mean)", percent=True),
                             Series("orig_acc_mean", "snapshots (mean)", percent=True, dashed=True)]),
     [Source("autoencoder", "reconstruction", "step")], 1),
    (StepPlot, dict(title="Latent DDPM · loss", y_label="MSE of predicted noise", markers=[]),
     steps_of("diffusion", Source("diffusion", "curve", "step", ("loss",), fallback=True)), 1),
]


class MonitorsPage(QScrollArea):
    def __init__(self, model: ProjectModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.monitors: list[tuple[CurvePlot, list[Source]]] = []
        self._live: set[tuple[int, str]] = set()  # (plot, stage) whose first source sent points this run
        inner = QWidget()
        grid = QGridLayout(inner)
        row = col = 0
        for i, (cls, kw, sources, span) in enumerate(MONITORS):
            plot = cls(**kw)
            s = sources[0]
            plot.setObjectName(f"monitor:{s.stage}:{s.series}:{i}")
            plot.setFixedHeight(330)
            self.monitors.append((plot, sources))
            if col + span > 2:
                row, col = row + 1, 0
            grid.addWidget(plot, row, col, 1, span)
            col += span
        self.setWidget(inner)
        self.setWidgetResizable(True)
        model.metric.connect(self._on_metric)
        model.stageStarted.connect(self._on_stage_started)
        model.stageFinished.connect(self._on_stage_finished)
        model.filesChanged.connect(self._on_files_changed)
        self.reload()

    def plot(self, title: str) -> CurvePlot:
        for p, _ in self.monitors:
            if p.title == title:
                return p
        raise KeyError(title)

    def reload(self, stage: str | None = None) -> None:
        """Read every plot of `stage` (None: all) from the project's curve files."""
        cache: dict[tuple[str, str], list[dict]] = {}
        for plot, sources in self.monitors:
            if stage is not None and sources[0].stage != stage:
                continue
            plot.clear()
            have_first = False
            for i, src in enumerate(sources):
                rows = cache.setdefault((src.stage, src.series), self.model.read_curve(src.stage, src.series))
                if i == 0:
                    have_first = bool(rows)
                if src.fallback and have_first:
                    continue
                for r in rows:
                    if src.x_key in r:
                        plot.append_row(r[src.x_key], src.take(r))

    @Slot(str, bool)
    def _on_stage_started(self, stage: str, resumed: bool) -> None:
        # A fresh run starts its curves anew; a resumed one continues the saved part.
        self._live = {k for k in self._live if k[1] != stage}
        for plot, sources in self.monitors:
            if sources[0].stage == stage:
                plot.clear()
        if resumed:
            self.reload(stage)

    @Slot(str, float, bool)
    def _on_stage_finished(self, stage: str, seconds: float, skipped: bool) -> None:
        if not skipped:
            self.reload(stage)

    @Slot(str)
    def _on_files_changed(self, stage: str) -> None:
        """Another process (a `bend run` in a terminal) wrote this stage's files."""
        if not self.model.busy:
            self.reload(stage or None)

    @Slot(object)
    def _on_metric(self, ev: Metric) -> None:
        if ev.point:  # a study's nested pipeline: its curves are not this project's
            return
        for i, (plot, sources) in enumerate(self.monitors):
            for j, src in enumerate(sources):
                if (src.stage, src.series) != (ev.stage, ev.series):
                    continue
                if j == 0 and (i, ev.stage) not in self._live:
                    self._live.add((i, ev.stage))
                    if any(s.fallback for s in sources):
                        plot.clear()  # the fallback's points so far: the stage streams its steps after all
                elif src.fallback and (i, ev.stage) in self._live:
                    continue
                x = ev.values.get(src.x_key, ev.x if j == 0 else None)
                if x is None:
                    continue
                values = src.take(ev.values)
                if values:
                    plot.append_row(x, values)
