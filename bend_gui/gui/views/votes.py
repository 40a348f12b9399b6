"""sBEND vs aBEND (the paper's Figure 3 question): aBEND's accuracy over many repeats as a histogram with
its mean ± std as a band, and sBEND, the soft vote, the member mean and median and the potential as lines.

The evaluate stage stores only [evaluate] abend_repeats draws; more are drawn here from the stored
predictions with the same seed, so the stored draws are the first of them."""

from __future__ import annotations

from functools import partial

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from ...core.errors import BendError
from ...core.events import run_to_end
from ...core.results.report import pct, pct_pm
from ...core.results.tables import GENERATED, Results, abend_distribution, accuracy_bins, vote_summary
from ..plots import PALETTE, PlotPanel, caption, legend_sample
from ..runner import JobOutcome
from .common import ResultsPage

JOB = "aBEND repeats"
# Draws of repeats × test images up to this run in the GUI thread (about 0.1 s here); more run as a job.
INLINE_LIMIT = 2_000_000
MAX_REPEATS = 100_000
LINES = [  # key, legend name, colour, style
    ("sbend", "sBEND", PALETTE[1], Qt.PenStyle.SolidLine),
    ("soft", "soft vote", PALETTE[3], Qt.PenStyle.DashLine),
    ("gen_mean", "member mean", PALETTE[2], Qt.PenStyle.DashLine),
    ("gen_median", "member median", PALETTE[2], Qt.PenStyle.DotLine),
    ("potential", "potential", PALETTE[4], Qt.PenStyle.DashDotLine),
]


class VotesPlot(PlotPanel):
    def __init__(self, parent: QWidget | None = None):
        super().__init__("sbend-vs-abend", parent, layout_widget=True)
        pi = self.plot_item
        pi.setTitle("aBEND over repeats vs sBEND", size="10pt")
        pi.setLabel("bottom", "test accuracy of the ensemble (%)")
        pi.setLabel("left", "aBEND repeats (count)")
        pi.setMouseEnabled(x=True, y=False)
        self.legend = self.add_bottom_legend(3)
        band_brush = pg.mkBrush(31, 119, 180, 45)
        self.band = pg.LinearRegionItem(movable=False, brush=band_brush, pen=pg.mkPen(None))
        self.band.setZValue(-10)
        pi.addItem(self.band)
        self.bars = pg.BarGraphItem(x0=[0], x1=[1], height=[0], brush=pg.mkBrush(31, 119, 180, 150),
                                    pen=pg.mkPen("#12507f", width=1))
        pi.addItem(self.bars)
        self.abend_mean = pg.InfiniteLine(angle=90, pen=pg.mkPen(PALETTE[0], width=2))
        pi.addItem(self.abend_mean)
        self.lines: dict[str, pg.InfiniteLine] = {}
        self.samples: dict[str, pg.PlotDataItem] = {}
        for key, _, color, style in LINES:
            pen = pg.mkPen(color, width=2.5, style=style)
            self.lines[key] = pg.InfiniteLine(angle=90, pen=pen)
            pi.addItem(self.lines[key])
            self.samples[key] = legend_sample(pen)
        self.band_sample = legend_sample(pg.mkPen(PALETTE[0], width=2), band_brush)
        self.runs = np.zeros(0)
        self.summary: dict = {}
        self.edges, self.counts = np.zeros(0), np.zeros(0)
        self.show_potential = False

    def set_data(self, runs: np.ndarray, summary: dict, n_test: int, name: str) -> None:
        self.runs, self.summary = np.asarray(runs, dtype=np.float64), summary
        res = 1 / n_test if n_test else 1e-4
        self.edges = accuracy_bins([self.runs], res, bins=min(40, max(8, len(self.runs) // 5)))
        self.counts = np.histogram(self.runs, self.edges)[0]
        self.bars.setOpts(x0=100 * self.edges[:-1], x1=100 * self.edges[1:], height=self.counts)
        s = summary
        self.band.setRegion((100 * (s["abend_mean"] - s["abend_std"]), 100 * (s["abend_mean"] + s["abend_std"])))
        self.abend_mean.setValue(100 * s["abend_mean"])
        self.legend.clear()
        self.legend.addItem(self.bars, f"aBEND, {s['repeats']:,} repeats")
        self.legend.addItem(self.band_sample, f"aBEND mean ± std {pct_pm(s['abend_mean'], s['abend_std'])}")
        for key, label, _, _ in LINES:
            self.lines[key].setValue(100 * s[key])
            off = " (off the plot)" if key == "potential" and not self.show_potential else ""
            self.legend.addItem(self.samples[key], f"{label} {pct(s[key])}{off}")
        self.plot_item.setTitle(f"aBEND over repeats vs sBEND · {name}", size="10pt")
        self.fit()

    def fit(self) -> None:
        """Frame the histogram and the lines; the potential (often far right) only when asked."""
        if not len(self.runs):
            return
        keys = [k for k, *_ in LINES if k != "potential" or self.show_potential]
        xs = [100 * self.edges[0], 100 * self.edges[-1]] + [100 * self.summary[k] for k in keys]
        lo, hi = min(xs), max(xs)
        pad = max(0.05 * (hi - lo), 0.01)
        self.plot_item.setXRange(lo - pad, hi + pad, padding=0)
        top = max(1, int(self.counts.max()))
        self.plot_item.setYRange(0, top * 1.15, padding=0)
        # Counts are whole numbers: with few repeats, show only whole ticks.
        self.plot_item.getAxis("left").setTicks([[(i, str(i)) for i in range(top + 1)]] if top <= 12 else None)

    def csv_table(self):
        s = self.summary
        rows = [["aBEND repeat", i, 100 * a] for i, a in enumerate(self.runs)]
        if s:
            rows += [["aBEND mean", "", 100 * s["abend_mean"]], ["aBEND std", "", 100 * s["abend_std"]]]
            rows += [[label, "", 100 * s[key]] for key, label, *_ in LINES]
        return ["series", "repeat", "accuracy (%)"], rows


class VotesPage(ResultsPage):
    WHAT = "sBEND against aBEND's distribution"

    def build(self, content: QWidget) -> None:
        self._pending = False                # a draw job of this page runs
        self._shown: tuple | None = None     # (members, repeats, stored) on the plot now
        self.members = QComboBox()
        self.members.setToolTip("whose members vote: the project's generator or a baseline")
        self.repeats = QSpinBox()
        self.repeats.setRange(1, MAX_REPEATS)
        self.repeats.setGroupSeparatorShown(True)
        self.repeats.setToolTip("how many times aBEND draws its random vote for every test image")
        self.draw_btn = QPushButton("Draw")
        self.draw_btn.setToolTip("draw this many aBEND repeats from the stored predictions")
        self.potential = QCheckBox("show potential")
        self.potential.setToolTip("zoom out to the potential (a test image is right when any member is right)")
        self.plot = VotesPlot()
        self.summary = caption(style="color: #222;")
        self.summary.setObjectName("votesSummary")
        self.error = caption(style="color: #b00020;")
        top = QHBoxLayout()
        top.addWidget(QLabel("members"))
        top.addWidget(self.members)
        top.addSpacing(12)
        top.addWidget(QLabel("repeats"))
        top.addWidget(self.repeats)
        top.addWidget(self.draw_btn)
        top.addSpacing(12)
        top.addWidget(self.potential)
        top.addStretch(1)
        lay = QVBoxLayout(content)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.summary)
        lay.addWidget(self.error)
        self.members.activated.connect(self._on_members)
        self.draw_btn.clicked.connect(self.draw)
        self.repeats.editingFinished.connect(self.draw)
        self.potential.toggled.connect(self._on_potential)
        self.model.busyChanged.connect(self._on_busy)

    # --- data ----------------------------------------------------------------------------------------

    def show_results(self, res: Results) -> None:
        mt = res.metrics
        current = self.members.currentData()
        self.members.clear()
        self.members.addItem(f"generated ({mt.get('generator', 'generated')})", GENERATED)
        for name in mt.get("baselines", {}):
            self.members.addItem(f"baseline {name}", name)
        i = self.members.findData(current)
        self.members.setCurrentIndex(max(i, 0))
        self.repeats.setValue(len(res.row(self.members.currentData()).get("abend_runs", [])) or 10)
        self._show_stored()

    def clear_results(self) -> None:
        self._shown = None

    def stored_runs(self) -> np.ndarray:
        return np.asarray(self.results.row(self.members.currentData()).get("abend_runs", []), dtype=np.float64)

    def _show_stored(self) -> None:
        self._show(self.stored_runs(), stored=True)

    def _show(self, runs: np.ndarray, stored: bool) -> None:
        res = self.results
        name = self.members.currentData()
        n = int(res.metrics["n_test"])
        s = vote_summary(res.row(name), runs, n)
        self._shown = (name, len(runs), stored)
        self.plot.set_data(runs, s, n, self.members.currentText())
        N = s["repeats"]
        where = ("the draws stored by the evaluate stage" if stored else
                 f"drawn here from the stored predictions with seed {res.seed} ([run] seed)"
                 + (", the first of them the evaluate stage's" if self._prefix_matches(runs) else ""))
        self.summary.setText(
            f"<b>aBEND</b> over {N:,} repeats ({where}): {pct_pm(s['abend_mean'], s['abend_std'])} %, best repeat "
            f"{pct(s['abend_max'])} %. <b>sBEND</b> {pct(s['sbend'])} %.<br>"
            f"A repeat of aBEND beats sBEND in {s['above']:,} of {N:,} repeats ({100 * s['above'] / N:.1f} %), "
            f"ties in {s['tie']:,} ({100 * s['tie'] / N:.1f} %) and trails in {s['below']:,} "
            f"({100 * s['below'] / N:.1f} %). Potential {pct(s['potential'])} %"
            f"{'' if self.potential.isChecked() else ' (tick show potential to see it)'}.")
        self.plot.note.setText("band: aBEND mean ± std; blue line: aBEND mean")

    def _prefix_matches(self, runs: np.ndarray) -> bool:
        stored = self.stored_runs()
        return len(stored) <= len(runs) and bool(np.allclose(runs[:len(stored)], stored))

    # --- actions -------------------------------------------------------------------------------------

    @Slot(int)
    def _on_members(self, _index: int) -> None:
        if self.results is not None:
            self.repeats.setValue(len(self.stored_runs()) or 10)
            self._show_stored()

    @Slot(bool)
    def _on_potential(self, on: bool) -> None:
        self.plot.show_potential = on
        if self.results is not None and self._shown is not None:
            self._show(self.plot.runs, stored=self._shown[2])

    @Slot()
    def draw(self) -> bool:
        """Show `repeats` draws: the stored ones, computed here when cheap, or as a job (False if refused)."""
        if self.results is None or self._pending:
            return False
        self.error.clear()
        name, repeats = self.members.currentData(), self.repeats.value()
        if self._shown is not None and self._shown[:2] == (name, repeats):
            return True
        if repeats == len(self.stored_runs()):
            self._show_stored()
            return True
        try:
            preds, y = self.results.predictions(name)
        except BendError as e:
            self.error.setText(str(e))
            return False
        seed = self.results.seed
        if repeats * len(y) <= INLINE_LIMIT:
            self._show(run_to_end(abend_distribution(preds, y, repeats, seed)), stored=False)
            return True
        def job(cancel):
            return abend_distribution(preds, y, repeats, seed, cancel, stage=JOB)

        if not self.model.start_job(JOB, job, on_done=partial(self._drawn, name)):
            self.error.setText("Another job is running; draw more repeats when it ends.")
            return False
        self._pending = True
        self.summary.setText(f"Drawing {repeats:,} aBEND repeats… (Cancel in the activity bar)")
        return True

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        self.draw_btn.setEnabled(not busy)

    def _drawn(self, members: str, outcome: JobOutcome) -> None:
        """The end of this page's draw job: its runs, unless the results or the members changed since."""
        self._pending = False
        if self.results is None:
            return
        if outcome.state == "done" and members == self.members.currentData():
            self._show(outcome.result, stored=False)
            return
        if self._shown is not None:  # the summary said "Drawing…": show the runs still plotted again
            self._show(self.plot.runs, stored=self._shown[2])
        if outcome.state == "cancelled":
            self.error.setText("Drawing the repeats was cancelled.")
        elif outcome.state == "failed":
            self.error.setText(outcome.error_line)
