"""Accuracy vs m and accuracy vs k (BEND Figure 5): sweep jobs started here, whose lines grow as points
arrive; each line is the mean over seeds with a ± std band. The saved sweeps (the studies studies/m and
studies/k) are shown when the page opens and after every sweep, so what is plotted is what the files hold."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import BendError
from ...core.results.report import duration, pct, pct_pm
from ...core.studies import sweeps
from ..messages import without_command
from ..page_job import PageJob
from ..plots import PlotPanel, caption
from ..project_model import ProjectModel
from ..runner import JobOutcome
from .common import (
    ERROR_STYLE,
    MUTED,
    NumericItem,
    RunUpTo,
    fit_table_height,
    status_label,
)

# The six quantities of Figure 5 (soft voting stays in the CSV files).
PLOTTED = ("sbend", "abend_mean", "gen_mean", "gen_median", "orig_mean", "orig_median")
COLORS = {"sbend": "#1f77b4", "abend_mean": "#d62728", "gen_mean": "#2ca02c", "gen_median": "#98df8a",
          "orig_mean": "#7f7f7f", "orig_median": "#bcbd22"}
DASHED = {"gen_median", "orig_mean", "orig_median"}
X_LABELS = {"m": "m · generated members in the ensemble", "k": "k · snapshots the generator was trained on"}
TITLES = {"m": "Accuracy vs m (one trained generator)", "k": "Accuracy vs k (a generator trained per point)"}
JOB = {"m": "Sweep over m", "k": "Sweep over k"}
STALE_COLOR = "#8a4b00"
TABLE_ROWS = 3  # more scroll: five left the m-plot a strip at 1280x800


class SweepPlot(PlotPanel):
    """One sweep: a line per quantity (mean over seeds, in %) with a ± std band, a table of the same
    numbers, and PNG/CSV export of them."""

    def __init__(self, over: str, parent: QWidget | None = None):
        super().__init__(f"accuracy-vs-{over}", parent, layout_widget=True)
        self.over = over
        self.rows: list[dict] = []            # one per (x, seed), as in studies/<over>/table.csv
        self.agg: list[dict] = []
        pi = self.plot_item
        pi.setTitle(TITLES[over], size="10pt")
        pi.setLabel("left", "test accuracy (%)")
        pi.setLabel("bottom", X_LABELS[over])
        pi.setMenuEnabled(False)
        self.legend = self.add_bottom_legend(columns=2)  # three were wider than the pane at 1280 px
        self.lines: dict[str, pg.PlotDataItem] = {}
        self.edges: dict[str, tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}
        invisible = pg.mkPen(0, 0, 0, 0)
        for q in PLOTTED:
            color = QColor(COLORS[q])
            style = Qt.PenStyle.DashLine if q in DASHED else Qt.PenStyle.SolidLine
            line = pg.PlotDataItem([], [], pen=pg.mkPen(color, width=2, style=style), symbol="o", symbolSize=6,
                                   symbolBrush=color, symbolPen=color)
            lo, hi = pg.PlotDataItem([], [], pen=invisible), pg.PlotDataItem([], [], pen=invisible)
            band_color = QColor(color)
            band_color.setAlpha(38)
            band = pg.FillBetweenItem(lo, hi, brush=band_color)
            for item in (band, lo, hi, line):
                pi.addItem(item)
            self.lines[q], self.edges[q] = line, (lo, hi)
            self.legend.addItem(line, sweeps.QUANTITY_LABELS[q])
        self.empty = pg.TextItem("", color="#777", anchor=(0.5, 0.5))
        self.empty.setParentItem(pi.getViewBox())
        pi.getViewBox().sigResized.connect(self._place_empty)

        self.log_x = QCheckBox("log x")
        self.log_x.setToolTip("logarithmic x axis (the values of a sweep are usually spread over decades)")
        self.log_x.setChecked(True)
        self.log_x.toggled.connect(self._on_log)
        self.table = QTableWidget()
        self.table.setObjectName(f"sweep-table-{over}")
        self.table.setColumnCount(2 + len(PLOTTED))
        # Two-line headers: one-line ones were elided ("en media") in a half-width pane.
        self.table.setHorizontalHeaderLabels([over, "seeds"] + [sweeps.QUANTITY_LABELS[q].replace(" ", "\n")
                                                               for q in PLOTTED])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setToolTip("test accuracy (%), mean over seeds; hover a cell for ± std")
        self.bar.insertWidget(0, self.log_x)
        self.layout().addWidget(self.table)
        # The same height on both plots (five rows; more scroll), so their axes line up side by side.
        fit_table_height(self.table, TABLE_ROWS)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self.redraw)
        self._on_log(self.log_x.isChecked())

    # --- data ----------------------------------------------------------------------------------------

    def set_rows(self, rows: list[dict]) -> None:
        self.rows = [dict(r) for r in rows]
        self.redraw()

    def add_row(self, row: dict) -> None:
        """A point that just arrived: it replaces an earlier one of the same (x, seed)."""
        key = (float(row[self.over]), float(row["seed"]))
        self.rows = [r for r in self.rows if (float(r[self.over]), float(r["seed"])) != key] + [dict(row)]
        if not self._timer.isActive():
            self._timer.start()

    def clear(self) -> None:
        self.set_rows([])

    def has_data(self) -> bool:
        return bool(self.rows)

    def plotted(self, q: str) -> tuple[np.ndarray, np.ndarray]:
        """The line of quantity q as drawn: x and the mean over seeds in %."""
        x, y = self.lines[q].getOriginalDataset()
        return (np.asarray(x if x is not None else [], dtype=float),
                np.asarray(y if y is not None else [], dtype=float))

    # --- drawing -------------------------------------------------------------------------------------

    @Slot()
    def redraw(self) -> None:
        self.agg = sweeps.aggregate(self.rows, self.over)
        x = np.array([a[self.over] for a in self.agg], dtype=float)
        for q in PLOTTED:
            mean = np.array([100 * a[f"{q}_mean"] for a in self.agg])
            std = np.array([100 * a[f"{q}_std"] for a in self.agg])
            self.lines[q].setData(x, mean)
            lo, hi = self.edges[q]
            lo.setData(x, mean - std)
            hi.setData(x, mean + std)
        self.plot_item.getAxis("bottom").setTicks(self._ticks(x))
        self.plot_item.setLabel("left", "test accuracy (%)" + self._span_note())
        if len(x):
            self.plot_item.enableAutoRange()
        else:  # a neutral frame rather than pyqtgraph's ±0.5 around nothing
            self.plot_item.disableAutoRange()
            self.plot_item.setYRange(0, 100, padding=0)
            log = self.log_x.isChecked()
            self.plot_item.setXRange(*((0, 2) if log else (1, 100)), padding=0.05)
        self._fill_table()
        has = bool(self.agg)
        for ax in ("left", "bottom"):  # an empty plot shows its text, not a made-up range
            self.plot_item.showAxis(ax, has)
        self.empty.setVisible(not has)
        self.legend.setVisible(has)
        self.table.setVisible(has)

    def _span_note(self) -> str:
        """When every line and band lies within a few points, the axis says how few: autoranged, a 0.2-point
        spread fills the plot and noise looks dramatic."""
        vals = [100 * (a[f"{q}_mean"] + sign * a[f"{q}_std"]) for a in self.agg for q in PLOTTED for sign in (-1, 1)]
        span = max(vals) - min(vals) if vals else 100.0
        return f" · the axis spans only {span:.2f} points" if span < 2 else ""

    def _ticks(self, x: np.ndarray):
        """Ticks at the sweep's own x values (k = 2.5 means nothing); too many of them crowd, then the
        axis' own ticks (1-2-5 on a log axis)."""
        if not len(x) or len(x) > 10:
            return None
        pos = np.log10(x) if self.log_x.isChecked() else x
        return [[(float(p), f"{int(v):,}" if float(v).is_integer() else f"{v:g}") for p, v in zip(pos, x)], []]

    def _fill_table(self) -> None:
        self.table.setRowCount(len(self.agg))
        for r, a in enumerate(self.agg):
            self.table.setItem(r, 0, NumericItem(str(a[self.over]), float(a[self.over])))
            self.table.setItem(r, 1, NumericItem(str(a["seeds"]), float(a["seeds"])))
            for c, q in enumerate(PLOTTED, start=2):
                # The mean alone fits a column at 1280 px ("12.25 ± 0.25" wrapped onto two lines); the
                # spread is the band on the plot and the cell's tooltip.
                mean = a[f"{q}_mean"]
                item = NumericItem(pct(mean), mean)
                item.setToolTip(f"{pct_pm(mean, a[f'{q}_std'])} % (mean ± std over {a['seeds']} seeds)")
                self.table.setItem(r, c, item)


    def set_subtitle(self, text: str) -> None:
        """A second, small title line: the exported PNG then says what the sweep was made with."""
        # The generator on one line, the data on the next: one line was wider than the pane at 1280 px.
        text = text.replace(" · ", "<br>", 1)
        title = TITLES[self.over] + (f"<br><span style='font-size:8pt; color:#555'>{text}</span>" if text else "")
        self.plot_item.setTitle(title, size="10pt")

    def set_empty_text(self, text: str) -> None:
        self.empty.setText(text)
        self.empty.setVisible(not self.agg)
        self._place_empty()

    @Slot()
    def _place_empty(self) -> None:
        r = self.plot_item.getViewBox().rect()
        self.empty.setTextWidth(max(r.width() - 20, 100))  # wrap inside the plot, never past it
        self.empty.setPos(r.center())

    @Slot(bool)
    def _on_log(self, on: bool) -> None:
        self.plot_item.setLogMode(x=on, y=False)
        self.redraw()

    # --- export --------------------------------------------------------------------------------------

    def csv_table(self) -> tuple[list[str], list[list]]:
        """Mean and std over seeds per x, as fractions (the per-seed rows are in studies/<over>/table.csv)."""
        header = [self.over, "seeds"] + [f"{q}_{s}" for q in PLOTTED for s in ("mean", "std")]
        rows = [[a[self.over], a["seeds"]] + [f"{a[f'{q}_{s}']:.8g}" for q in PLOTTED for s in ("mean", "std")]
                for a in self.agg]
        return header, rows


class SweepsPage(QWidget):
    def __init__(self, model: ProjectModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.running: str | None = None       # the sweep this page started and that still runs

        self.m_values, self.m_seeds = QLineEdit(), QLineEdit()
        self.k_values, self.k_seeds = QLineEdit(), QLineEdit()
        for w, tip in ((self.m_values, "ensemble sizes, e.g. 5, 10, 20, 50, 100 (each m samples its own members "
                                        "from the seed: the ensembles are not nested)"),
                       (self.m_seeds, "one generation per seed; the band is ± std over them"),
                       (self.k_values, "numbers of snapshots to train a generator on, each ≤ the project's k"),
                       (self.k_seeds, "each seed draws other snapshots and trains another generator")):
            w.setToolTip(tip)
        self.k_m = QSpinBox()
        self.k_m.setRange(1, 100_000)
        self.k_m.setToolTip("members generated and bagged at every k")
        self.m_btn = QPushButton("Sweep m")
        self.k_btn = QPushButton("Sweep k")
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setToolTip("stop at the next safe point; the finished points are saved")
        self.m_note = caption()
        self.k_note = caption()
        self.run_up_to = {"m": RunUpTo(model), "k": RunUpTo(model)}  # when a sweep's stages are not done
        self.status = status_label("color: #1565c0;")
        self.status.setObjectName("sweepStatus")
        self.error = status_label(ERROR_STYLE)
        self.error.setObjectName("sweepError")

        # Short titles: a group box is at least as wide as its title, and the long ones made the page (and so
        # the window) wider than 1280 px. The explanation is in the tooltips.
        box_m = QGroupBox("Over m · one generator")
        box_m.setToolTip("one trained generator, ensembles of growing size")
        grid = QGridLayout(box_m)
        grid.addWidget(QLabel("m values"), 0, 0)
        grid.addWidget(self.m_values, 0, 1)
        grid.addWidget(QLabel("seeds"), 0, 2)
        grid.addWidget(self.m_seeds, 0, 3)
        grid.addWidget(self.m_btn, 0, 4)
        grid.addWidget(self.m_note, 1, 0, 1, 4)
        grid.addWidget(self.run_up_to["m"], 1, 4)
        grid.setColumnStretch(1, 2)
        grid.setColumnStretch(3, 1)
        box_k = QGroupBox("Over k · a generator per point")
        box_k.setToolTip("a new autoencoder + DDPM per point, trained on k of the snapshots")
        grid = QGridLayout(box_k)
        grid.addWidget(QLabel("k values"), 0, 0)
        grid.addWidget(self.k_values, 0, 1)
        grid.addWidget(QLabel("m"), 0, 2)
        grid.addWidget(self.k_m, 0, 3)
        grid.addWidget(QLabel("seeds"), 0, 4)
        grid.addWidget(self.k_seeds, 0, 5)
        grid.addWidget(self.k_btn, 0, 6)
        grid.addWidget(self.k_note, 1, 0, 1, 6)
        grid.addWidget(self.run_up_to["k"], 1, 6)
        grid.setColumnStretch(1, 2)
        grid.setColumnStretch(5, 1)
        controls = QHBoxLayout()
        controls.addWidget(box_m, 1)
        controls.addWidget(box_k, 1)
        status_row = QHBoxLayout()
        status_row.addWidget(self.status, 1)
        status_row.addWidget(self.cancel_btn)

        self.plots = {"m": SweepPlot("m"), "k": SweepPlot("k")}
        split = QSplitter(Qt.Orientation.Horizontal)
        for over in sweeps.OVER:
            self.plots[over].setObjectName(f"sweep-plot-{over}")
            split.addWidget(self.plots[over])
        figure5 = QWidget()
        lay = QVBoxLayout(figure5)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(controls)
        lay.addLayout(status_row)
        lay.addWidget(self.error)
        lay.addWidget(split, 1)
        # The Studies page shows this as its Figure 5 tab, beside the study of any settings (studies.py).
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addWidget(figure5, 1)

        self.m_btn.clicked.connect(self.start_m)
        self.k_btn.clicked.connect(self.start_k)
        self.cancel_btn.clicked.connect(self.cancel)
        self.k_values.textChanged.connect(self._on_k_text)
        self.k_seeds.textChanged.connect(self._on_k_text)
        self.job = PageJob(model, self.status, self)
        model.curvePoint.connect(self._on_point)
        model.busyChanged.connect(self._on_busy)
        # A rerun stage can make a saved sweep stale: re-read the (small) files and notes.
        model.statesChanged.connect(self.reload)
        self._fill_defaults()
        self.reload()
        saved = [f"over {o}: {len(self.plots[o].rows)} points" for o in sweeps.OVER if self.plots[o].has_data()]
        self.status.setText(f"Saved sweeps ({', '.join(saved)}) in {sweeps.sweep_dir(model.project)}" if saved
                            else "No sweeps saved yet.")

    # --- loading -------------------------------------------------------------------------------------

    def _fill_defaults(self) -> None:
        """The saved sweeps' values, else values derived from the project's m and k."""
        project = self.model.project
        for over, values, seeds, fallback_seeds in (("m", self.m_values, self.m_seeds, "0, 1, 2"),
                                                    ("k", self.k_values, self.k_seeds, "0")):
            info = sweeps.sweep_info(project, over) or {}
            try:
                default = info.get("values") or sweeps.default_values(project, over)
            except BendError:
                default = []
            values.setText(", ".join(str(v) for v in default))
            seeds.setText(", ".join(str(s) for s in info.get("seeds", [])) or fallback_seeds)
        info = sweeps.sweep_info(project, "k") or {}
        self.k_m.setValue(int(info.get("m") or self.model.config.generate.m))

    @Slot()
    def reload(self) -> None:
        """Show the saved sweeps (and what they were made with)."""
        for over in sweeps.OVER:
            if over == self.running:
                continue
            try:
                rows = sweeps.load_sweep(self.model.project, over)
                info = sweeps.sweep_info(self.model.project, over)
            except BendError as e:
                rows, info = [], None
                self.error.setText(str(e))
            self.plots[over].set_rows(rows)
            self._describe(over, info)
        self._update_controls()

    def _describe(self, over: str, info: dict | None) -> None:
        plot = self.plots[over]
        if not info or not plot.has_data():
            plot.set_subtitle("")
            plot.note.setText("")
            plot.note.setStyleSheet(MUTED)
            plot.set_empty_text(f"No sweep over {over} yet: choose values and seeds above, then Sweep {over}.")
            return
        fixed = (f"k = {info.get('k')} snapshots" if over == "m" else
                 f"m = {info.get('m')} members per point, out of {info.get('n_snapshots')} snapshots")
        seeds = sorted({int(r["seed"]) for r in plot.rows})
        n_test = info.get("n_test")
        tests = f"{n_test:,} test images" if isinstance(n_test, int) else "test set"
        spread = (f"line = mean, band = ± std over {len(seeds)} seeds ({', '.join(map(str, seeds))})"
                  if len(seeds) > 1 else f"one seed ({seeds[0]}): no band; add seeds for ± std")
        text = spread  # the generator, k or m and the test set are the plot's subtitle: not twice
        plot.set_subtitle(f"{info.get('describe', '')} · {fixed} · {tests} · "
                          + (f"mean ± std over {len(seeds)} seeds" if len(seeds) > 1 else f"seed {seeds[0]}"))
        if info.get("state") == "cancelled":
            text += " · cancelled before the end"
        stale = not info.get("current", True)
        if stale:
            text = ("Made with an earlier generator or other settings than the project's current ones; sweep "
                    "again to update. " + text)
        plot.note.setText(text)
        plot.note.setStyleSheet(f"color: {STALE_COLOR};" if stale else MUTED)

    # --- starting and stopping -----------------------------------------------------------------------

    @Slot()
    def start_m(self) -> bool:
        return self._start("m", self.m_values.text(), self.m_seeds.text())

    @Slot()
    def start_k(self) -> bool:
        return self._start("k", self.k_values.text(), self.k_seeds.text(), self.k_m.value())

    def _start(self, over: str, values_text: str, seeds_text: str, m: int | None = None) -> bool:
        project = self.model.project
        try:
            values = sweeps.parse_values(values_text, f"{over} values", lo=1)
            seeds = sweeps.parse_values(seeds_text, "seeds")
            values, seeds = sweeps.check_request(project, over, values, seeds, m)
            why = sweeps.readiness(project, over, self.model.config)
            if why:
                raise BendError(why)
        except BendError as e:
            self.error.setText(without_command(str(e)))
            return False
        if over == "m":
            def factory(cancel):
                return sweeps.sweep_m(project, values, seeds, cancel)
        else:
            def factory(cancel):
                return sweeps.sweep_k(project, values, seeds, m=m, cancel=cancel)
        if not self.job.start(JOB[over], sweeps.STAGE[over], factory, on_done=self._sweep_done):
            self.error.setText("another job is running; wait for it or cancel it first")
            return False
        self.error.setText("")
        self.running = over
        self.plots[over].clear()
        self.plots[over].note.setText("")
        self.plots[over].set_subtitle("running…")
        self.plots[over].set_empty_text(f"Sweep over {over} starting…")
        self._update_controls()
        return True

    @Slot()
    def cancel(self) -> None:
        self.job.cancel()

    # --- live events ---------------------------------------------------------------------------------

    @Slot(str, str, float, dict)
    def _on_point(self, stage: str, series: str, x: float, values: dict) -> None:
        for over, st in sweeps.STAGE.items():
            if stage == st and series == sweeps.SERIES:
                self.plots[over].add_row(values)

    def _sweep_done(self, outcome: JobOutcome) -> None:
        """The end of the sweep this page started (called by the model in the GUI thread)."""
        over, self.running = self.running, None
        if over is None:
            return
        n = len(sweeps.load_sweep(self.model.project, over))
        if outcome.state == "done":
            self.status.setText(f"{JOB[over]}: done, {n} points saved in studies/{over}")
        elif outcome.state == "cancelled":
            self.status.setText(f"{JOB[over]}: cancelled; {n} points saved in studies/{over}")
        else:
            self.status.setText(f"{JOB[over]}: failed")
            self.error.setText(outcome.error_line)
        self.reload()

    @Slot(str)
    def _on_k_text(self, text: str) -> None:
        if not sweeps.readiness(self.model.project, "k", self.model.config):
            self.k_note.setText(self._cost_note("k"))

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        self._update_controls()

    @Slot()
    def _update_controls(self) -> None:
        busy = self.model.busy
        project, cfg = self.model.project, self.model.config
        for over, btn, note in (("m", self.m_btn, self.m_note), ("k", self.k_btn, self.k_note)):
            try:
                why = sweeps.readiness(project, over, cfg)
            except BendError as e:
                why = str(e)
            btn.setEnabled(not busy and not why)
            why = without_command(why)
            btn.setToolTip(why or f"start the sweep over {over} (a job: Cancel keeps the finished points)")
            if not (why and self.run_up_to[over].offer_if_missing(sweeps.needed_stage(cfg, over))):
                self.run_up_to[over].offer(None)
            if why:
                note.setText(why)
                note.setStyleSheet(ERROR_STYLE)
            else:
                note.setText(self._cost_note(over))
                note.setStyleSheet(MUTED)
        self.cancel_btn.setEnabled(busy and self.running is not None)

    def _cost_note(self, over: str) -> str:
        if over == "m":
            return ("every point samples its own m members from the seed and evaluates them (not nested: a "
                    "larger m does not contain a smaller one)")
        per = sweeps.k_point_seconds(self.model.project)
        try:
            ks = sweeps.parse_values(self.k_values.text(), "k values", lo=1)
            seeds = sweeps.parse_values(self.k_seeds.text(), "seeds")
            n = len(ks) * len(seeds)
        except BendError:
            n = 0
        if per is None or not n:
            return "each point trains a fresh autoencoder and DDPM with the project's settings"
        return (f"each point trains a fresh autoencoder and DDPM: about {duration(per)} here (this project's own "
                f"training time), so {n} point{'s' if n != 1 else ''} take about {duration(per * n)}")
