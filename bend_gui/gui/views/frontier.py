"""Frontier: each generator setting as a point of ensemble accuracy against the members' disagreement per
pair, mean ± std over seeds as error bars, one colour per generator, its Pareto front as a line, the
snapshots' own point, and the words under it. Run starts `bend frontier`'s core job (one study per
generator knob) on the app's worker; points appear as they finish. The numbers and words come from
core/results/frontier.py, as the CLI prints them."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import BendError
from ...core.results import frontier as F
from ...core.results.report import pct
from ..executor_picker import ExecutorPicker
from ..page_job import PageJob
from ..plots import PALETTE, PlotPanel, caption
from ..project_model import ProjectModel
from ..runner import JobOutcome
from .common import ERROR_STYLE, status_label

COLORS = {"diffusion": PALETTE[0], "noise": PALETTE[1], "average": PALETTE[2], "gaussian": PALETTE[3]}
# Each point is labelled with its knob's value, the knob in a few letters (the legend names the knobs).
SHORT = {"generate.decode_noise": "dec ", "generate.ddim_eta": "η ", "autoencoder.latent_noise": "lat ",
         "generate.noise_sigma": "σ ", "generate.average_size": "n ", "generate.gaussian_scale": "×"}
NO_POINTS = "No frontier yet: Run computes one study per generator over its own knob (several minutes)."


class FrontierPlot(PlotPanel):
    """Accuracy (%) against disagreement per pair (%): a scatter with error bars per generator, its front
    as a line, and the snapshots' point as a black star."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("frontier", parent, layout_widget=True)
        self.plot_item.setMenuEnabled(False)
        self.legend = self.add_bottom_legend(columns=2)  # 5 columns overflowed the page
        self.frontier: F.Frontier | None = None
        self.acc = "sbend"
        self.set_empty(NO_POINTS)

    def draw(self, f: F.Frontier | None, acc: str) -> None:
        self.frontier, self.acc = f, acc
        pi = self.plot_item
        pi.clear()
        self.legend.clear()
        done = [s for s in (f.settings if f else []) if s.stats]
        self.set_empty("" if done else NO_POINTS)
        if not done:
            return
        for gen in f.generators():
            mine = [s for s in done if s.generator == gen]
            if not mine:
                continue
            color = COLORS.get(gen, PALETTE[4])
            x = np.array([100 * s.mean(F.DIVERSITY) for s in mine])
            y = np.array([100 * s.mean(acc) for s in mine])
            pi.addItem(pg.ErrorBarItem(x=x, y=y, width=np.array([200 * s.std(F.DIVERSITY) for s in mine]),
                                       height=np.array([200 * s.std(acc) for s in mine]), beam=0,
                                       pen=pg.mkPen(color, width=1)))
            dots = pg.ScatterPlotItem(x, y, symbol="o", size=8, brush=pg.mkBrush(color), pen=pg.mkPen(color))
            pi.addItem(dots)
            for s, xi, yi in zip(mine, x, y):
                value = f"{s.value:g}" if isinstance(s.value, float) else str(s.value)
                label = pg.TextItem(SHORT.get(s.knob, "") + value, color=color, anchor=(-0.1, 1.0))
                label.setPos(float(xi), float(yi))
                pi.addItem(label)
            front = f.front(gen, acc)
            line = pg.PlotDataItem([100 * s.mean(F.DIVERSITY) for s in front], [100 * s.mean(acc) for s in front],
                                   pen=pg.mkPen(color, width=2))
            pi.addItem(line)
            knobs = dict.fromkeys(s.knob for s in mine)
            self.legend.addItem(line, f"{gen} (" + ", ".join(f"{SHORT.get(k, '').strip() or '×'} = "
                                                              f"{k.split('.', 1)[1]}" for k in knobs) + ")")
        if f.reference is not None and f.reference.stats:
            ref = pg.ScatterPlotItem([100 * f.reference.mean(F.DIVERSITY)], [100 * f.reference.mean(acc)],
                                     symbol="star", size=16, brush=pg.mkBrush("#111"), pen=pg.mkPen("#111"))
            pi.addItem(ref)
            self.legend.addItem(ref, f"the {f.reference.value} snapshots")
        pi.setLabel("bottom", "disagreement per pair (% of test images)")
        pi.setLabel("left", f"{F.ACCURACY[acc]} accuracy (%)")
        pi.setTitle(f"{F.ACCURACY[acc]} vs diversity · mean ± std over seeds "
                    f"{', '.join(map(str, f.seeds))} · lines: each generator's Pareto front", size="10pt")
        self.note.setText("up and right is better: more accurate and more diverse; bars are ± 1 std over seeds")

    def csv_table(self) -> tuple[list[str], list[list]]:
        rows = self.frontier.rows() if self.frontier else []
        return list(F.CSV_COLUMNS), [[r[c] for c in F.CSV_COLUMNS] for r in rows]


class FrontierPage(QWidget):
    def __init__(self, model: ProjectModel, parent: QWidget | None = None):
        super().__init__(parent)
        from ...core.studies import frontier

        self.model = model
        self.frontier: F.Frontier | None = None
        self.knobs, self.values = frontier.KNOBS, {}   # what Run studies: every knob at its default values
        self.seeds = QLineEdit("0, 1, 2")
        self.seeds.setToolTip("each setting runs once per seed (the generator's training and its sampling)")
        self.m = QSpinBox()
        self.m.setRange(0, 100_000)
        self.m.setSpecialValueText("project's")
        self.m.setToolTip("members per point; the project's [generate] m when left at its lowest")
        self.where = ExecutorPicker()
        self.executor, self.address = self.where.combo, self.where.address
        self.acc = QComboBox()
        self.acc.setObjectName("frontierAccuracy")
        for key, label in F.ACCURACY.items():
            self.acc.addItem(label, key)
        self.run_btn = QPushButton("Run")
        self.run_btn.setObjectName("frontierRun")
        self.run_btn.setToolTip("one study per generator over its own knob (frontier-* under studies/); "
                                "a rerun computes only the missing points")
        self.cancel_btn = QPushButton("Cancel")
        self.status = status_label("color: #1565c0;")
        self.status.setObjectName("frontierStatus")
        self.error = status_label(ERROR_STYLE)
        self.error.setObjectName("frontierError")
        self.plot = FrontierPlot()
        self.plot.setObjectName("frontierPlot")
        self.words = caption(style="color: #222;")
        self.words.setObjectName("frontierText")

        bar = QHBoxLayout()
        for w in (QLabel("seeds"), self.seeds, QLabel("m"), self.m, QLabel("run on"), self.executor, self.address, self.run_btn,
                  self.cancel_btn, QLabel("accuracy"), self.acc):
            bar.addWidget(w)
        bar.setStretch(1, 1)
        bar.setStretch(6, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(bar)
        lay.addWidget(self.status)
        lay.addWidget(self.error)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.words)

        self.run_btn.clicked.connect(self.start)
        self.cancel_btn.clicked.connect(self.cancel)
        self.acc.currentIndexChanged.connect(self._redraw)
        self.job = PageJob(model, self.status, self)
        model.curvePoint.connect(self._on_point)
        model.busyChanged.connect(self._on_busy)
        self.reload()
        self._on_busy(model.busy)

    def reload(self) -> None:
        """The frontier of the saved points of the frontier studies."""
        from ...core.studies import frontier

        try:
            self.frontier = frontier.load(self.model.project, self.knobs)
        except BendError as e:
            self.error.setText(str(e))
            return
        n = sum(len(s.seeds) for s in self.frontier.settings)
        if not self.job.running:
            self.status.setText(f"Frontier: {len(self.frontier.settings)} settings, {n} points saved "
                                f"(studies/frontier-*)" if n else "No frontier saved yet.")
        self._redraw()

    @Slot()
    def _redraw(self, *_) -> None:
        acc = self.acc.currentData() or "sbend"
        self.plot.draw(self.frontier, acc)
        done = self.frontier is not None and any(s.stats for s in self.frontier.settings)
        self.words.setText(F.describe(self.frontier, acc) if done else "")

    @Slot()
    def start(self) -> bool:
        from ...core.studies import frontier
        from ...core.studies.grid import parse_seeds

        project = self.model.project
        try:
            seeds = parse_seeds(self.seeds.text())
            executor = self.where.make()
        except BendError as e:
            self.error.setText(str(e))
            return False

        def factory(cancel):
            return frontier.run_frontier(project, seeds, executor, cancel, self.values, self.knobs,
                                         self.m.value() or None)
        if not self.job.start("Frontier", "study", factory, on_done=self._done):
            self.error.setText("another job is running; wait for it or cancel it first")
            return False
        self.error.setText("")
        self._on_busy(True)
        return True

    @Slot()
    def cancel(self) -> None:
        self.job.cancel()

    def _done(self, outcome: JobOutcome) -> None:
        if outcome.state == "failed":
            self.error.setText(outcome.error_line)
        self.reload()
        if outcome.state == "cancelled":
            self.status.setText(self.status.text() + " · cancelled; the finished points are kept")
        elif outcome.state == "done":
            f = outcome.result
            self.status.setText(f"Frontier done: {len(f.settings)} settings" if f is not None else "Frontier done")

    @Slot(str, str, float, dict)
    def _on_point(self, stage: str, series: str, x: float, values: dict) -> None:
        from ...core.studies import study

        if stage == "study" and series == study.SERIES and self.job.running:
            self.reload()

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        self.run_btn.setEnabled(not busy)
        self.cancel_btn.setEnabled(busy and self.job.running)

    def summary_at(self, generator: str, value) -> str:
        """A setting's numbers as the page shows them (for tests and tooltips)."""
        acc = self.acc.currentData() or "sbend"
        s = next(s for s in self.frontier.settings if s.generator == generator and s.value == value)
        return f"{pct(s.mean(acc))} ± {pct(s.std(acc))} at {pct(s.mean(F.DIVERSITY))}"
