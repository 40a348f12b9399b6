"""Live training monitors: one plot per curve a stage writes, fed by the model's curve events while a job
runs and reloaded from the project's CSV files when a project opens or a stage finishes."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QGridLayout, QScrollArea, QWidget

from .plots import CurvePlot, Series
from .project_model import ProjectModel

# (stage, series in <stage>/<series>.csv, x column, plot)
MONITORS = [
    ("base", "curve", "epoch", dict(
        title="Base training · loss", x_label="epoch", y_label="cross-entropy", integer_x=True,
        series=[Series("train_loss", "train", "min"), Series("test_loss", "test", "min")])),
    ("base", "curve", "epoch", dict(
        title="Base training · accuracy", x_label="epoch", y_label="accuracy (%)", integer_x=True,
        legend="bottom-right",
        series=[Series("train_acc", "train", percent=True), Series("test_acc", "test", percent=True)])),
    ("collect", "snapshots", "index", dict(
        title="Snapshots · test accuracy", x_label="snapshot index", y_label="test accuracy (%)",
        series=[Series("test_acc", "snapshot", percent=True)])),
    ("collect", "curve", "iteration", dict(
        title="Subset training · loss", x_label="iteration", y_label="cross-entropy",
        series=[Series("train_loss", "train", "min")])),
    ("autoencoder", "curve", "step", dict(
        title="Autoencoder · loss", x_label="step", y_label="MSE (normalised parameters)", log_y=True,
        series=[Series("loss", "train", "min")])),
    ("autoencoder", "reconstruction", "step", dict(
        title="Autoencoder · reconstruction accuracy", x_label="step", y_label="test accuracy (%)",
        legend="bottom-right",
        series=[Series("recon_acc_mean", "reconstructed (mean)", percent=True),
                Series("orig_acc_mean", "snapshots (mean)", percent=True, dashed=True)])),
    ("diffusion", "curve", "step", dict(
        title="Latent DDPM · loss", x_label="step", y_label="MSE of predicted noise", log_y=True,
        series=[Series("loss", "train", "min")])),
]


class MonitorsPage(QScrollArea):
    def __init__(self, model: ProjectModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.plots: dict[tuple[str, str], list[tuple[str, CurvePlot]]] = {}
        inner = QWidget()
        grid = QGridLayout(inner)
        for i, (stage, series, x_key, kw) in enumerate(MONITORS):
            plot = CurvePlot(**kw)
            plot.setObjectName(f"monitor:{stage}:{series}:{i}")
            plot.setFixedHeight(330)
            self.plots.setdefault((stage, series), []).append((x_key, plot))
            grid.addWidget(plot, i // 2, i % 2)
        self.setWidget(inner)
        self.setWidgetResizable(True)
        model.curvePoint.connect(self._on_point)
        model.stageStarted.connect(self._on_stage_started)
        model.stageFinished.connect(self._on_stage_finished)
        self.reload()

    def plot(self, title: str) -> CurvePlot:
        for items in self.plots.values():
            for _, p in items:
                if p.title == title:
                    return p
        raise KeyError(title)

    def reload(self, stage: str | None = None) -> None:
        for (st, series), items in self.plots.items():
            if stage is None or st == stage:
                rows = self.model.read_curve(st, series)
                for x_key, plot in items:
                    plot.set_rows(rows, x_key)

    @Slot(str, bool)
    def _on_stage_started(self, stage: str, resumed: bool) -> None:
        # A fresh run starts its curves anew; a resumed one continues the saved part.
        for (st, _), items in self.plots.items():
            if st == stage:
                for _, plot in items:
                    plot.clear()
        if resumed:
            self.reload(stage)

    @Slot(str, float, bool)
    def _on_stage_finished(self, stage: str, seconds: float, skipped: bool) -> None:
        if not skipped:
            self.reload(stage)

    @Slot(str, str, float, dict)
    def _on_point(self, stage: str, series: str, x: float, values: dict) -> None:
        for x_key, plot in self.plots.get((stage, series), []):
            plot.append_row(x, values)
