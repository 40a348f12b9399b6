"""Diversity (the paper's Figure 4): the IoU of wrong predictions between every two members, generated
first, then the original snapshots, as a heatmap; the diversity numbers of each set as a table and bars.

d_i (eq. 14) and d_o (eq. 15) are raw counts of differing predictions that grow with m and the number of
test images; the per-pair disagreement rate (the share of test images on which two members differ) is
comparable across sets, so the bars show it first."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...core.results.report import NOVELTY_TEXT, pct, spread
from ...core.results.tables import IouMatrix, Results, diversity_rows
from ..plots import PALETTE, PlotPanel, caption
from .common import (
    NumericItem,
    ResultsPage,
    fit_columns,
    fit_table_height,
    text_item,
    wrapped_tip,
)

BAR_COLORS = {"generated": PALETTE[0], "original": PALETTE[7], "cross": PALETTE[4]}
BASELINE_COLOR = "#9ecae1"
MEASURES = {
    "disagree": ("disagreement per pair (% of test images)",
                 "share of test images on which two members predict differently, averaged over pairs "
                 "(generated vs original: over all generated × original pairs)"),
    "d": ("d_i (eq. 14) · d_o (eq. 15): differing predictions",
          "eq. 14: d_i = Σ over ordered pairs i≠j of the test images where members i and j differ, / (m − 1); "
          "eq. 15: d_o = Σ over i of the test images where generated member i and snapshot i differ, / m. "
          "Both grow with m and with the number of test images."),
    "mean_iou": ("mean IoU of wrong predictions",
                 "|wrong_i ∩ wrong_j| / |wrong_i ∪ wrong_j| averaged over pairs; lower = more diverse"),
}


SHORT_NAMES = {"generated": "generated", "original": "snapshots", "cross": "generated vs snapshots"}


def _nice_step(n: int, ticks: int = 5) -> int:
    raw = max(1, n / ticks)
    mag = 10 ** int(np.floor(np.log10(raw)))
    return int(next(s * mag for s in (1, 2, 5, 10) if s * mag >= raw))


class IouHeatmap(PlotPanel):
    def __init__(self, parent: QWidget | None = None):
        super().__init__("iou-wrong-predictions", parent, layout_widget=True)
        pi = self.plot_item
        # Short: the title sits in the image's column and sets its minimum width (a long one pushed the colour
        # bar out of a 1280-px window).
        pi.setTitle("IoU of wrong predictions", size="10pt")
        pi.setLabel("bottom", "member index (generated, then snapshots)")
        pi.setLabel("left", "member index (generated, then snapshots)")
        pi.showGrid(x=False, y=False)
        pi.invertY(True)
        pi.setMenuEnabled(False)
        # Block names on the top axis, outside the image (rows come in the same order, split by the white
        # line); member indices on the bottom and left. A right axis of names did not fit beside the colour
        # bar in a 1280-px window.
        pi.showAxis("top")
        for ax in ("top", "bottom"):  # the first block's labels reach past the axis ends: keep them
            pi.getAxis(ax).setStyle(hideOverlappingLabels=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        pi.addItem(self.image)
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=pg.colormap.get("viridis"), interactive=False,
                                        label="IoU of wrong predictions", width=18)
        self.colorbar.setImageItem(self.image, insert_in=pi)
        pen = pg.mkPen("w", width=2)
        self.vline = pg.InfiniteLine(angle=90, pen=pen)
        self.hline = pg.InfiniteLine(angle=0, pen=pen)
        pi.addItem(self.vline)
        pi.addItem(self.hline)
        self.iou: IouMatrix | None = None
        self.view.scene().sigMouseMoved.connect(self._on_mouse)
        self.note.setText("hover for a pair's IoU")
        # The hover read-out changes on every mouse move: a fixed height keeps it from relaying out the page.
        self.note.setFixedHeight(self.note.fontMetrics().lineSpacing() * 3 + 4)

    def set_data(self, iou: IouMatrix) -> None:
        self.iou = iou
        m, k = iou.generated, iou.original
        n = m + k
        lo, hi = iou.off_diagonal_range()
        lo = min(lo, hi - 1e-3)
        self.image.setImage(iou.matrix, autoLevels=False)
        self.image.setRect(0, 0, n, n)
        self.colorbar.setLevels((lo, 1.0))
        for line in (self.vline, self.hline):
            line.setValue(m)
            line.setVisible(0 < m < n)
        names = [(m / 2, f"generated (m = {m})", m), (m + k / 2, f"snapshots (k = {k})", k)]
        self.plot_item.getAxis("top").setTicks([[(pos, text) for pos, text, size in names if size]])
        # One index across both blocks (0 … m+k−1), as the CSV and the hover read-out count them.
        ticks = [(j + 0.5, str(j)) for j in range(0, n, _nice_step(n))]
        for ax in ("bottom", "left"):
            self.plot_item.getAxis(ax).setTicks([ticks])
        self.plot_item.setRange(xRange=(0, n), yRange=(0, n), padding=0)
        self.note.setText(f"IoU {lo:.3f}–{hi:.3f} off the diagonal · members 0–{m - 1} generated, {m}–{n - 1} "
                          f"snapshots · hover for a pair")

    def export_item(self):
        return self.view.ci  # the plot and its colour bar

    @Slot(object)
    def _on_mouse(self, pos) -> None:
        if self.iou is None or not self.plot_item.sceneBoundingRect().contains(pos):
            return
        p = self.plot_item.vb.mapSceneToView(pos)
        i, j = int(np.floor(p.y())), int(np.floor(p.x()))
        n = len(self.iou.matrix)
        if 0 <= i < n and 0 <= j < n:
            self.note.setText(f"{self.iou.label(i)} × {self.iou.label(j)}: IoU {self.iou.matrix[i, j]:.3f}")

    def csv_table(self):
        if self.iou is None:
            return ["member"], []
        labels = [self.iou.label(i) for i in range(len(self.iou.matrix))]
        return ["member", *labels], [[labels[i], *map(float, self.iou.matrix[i])] for i in range(len(labels))]


class DiversityBars(PlotPanel):
    """Horizontal bars, one per set: long set names stay readable on the left axis."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("diversity", parent)
        pi = self.plot_item
        pi.showGrid(x=True, y=False, alpha=0.2)
        pi.setMouseEnabled(x=False, y=False)
        pi.invertY(True)
        self.bars = pg.BarGraphItem(x0=[0], y=[0], height=0.7, width=[0])
        pi.addItem(self.bars)
        self.value_labels: list[pg.TextItem] = []
        self.rows: list[dict] = []
        self.measure = "disagree"

    def set_data(self, rows: list[dict], measure: str) -> None:
        self.rows, self.measure = rows, measure
        title, help_ = MEASURES[measure]
        scale = 100.0 if measure == "disagree" else 1.0
        vals = np.array([scale * r[measure] for r in rows], dtype=np.float64)
        lo = 0.0
        if measure == "mean_iou":  # IoU sits near 1: start the axis at a round value below the smallest
            lo = max(0.0, float(np.floor(vals.min() * 20) / 20 - 0.05)) if len(vals) else 0.0
        colors = [BAR_COLORS.get(r["set"], BASELINE_COLOR) for r in rows]
        y = np.arange(len(rows))
        self.bars.setOpts(x0=np.full(len(rows), lo), y=y, height=0.7, width=vals - lo,
                          brushes=[pg.mkBrush(c) for c in colors], pens=[pg.mkPen(c) for c in colors])
        pi = self.plot_item
        pi.setTitle(title, size="10pt")
        pi.setLabel("bottom", title)
        pi.getAxis("bottom").setToolTip(wrapped_tip(help_))
        labels = [SHORT_NAMES.get(r["set"], "baseline " + r["set"]) + (" (d_o)" if r["measure"] == "d_o" and
                                                                   measure == "d" else "") for r in rows]
        pi.getAxis("left").setTicks([list(zip(y, labels))])
        for t in self.value_labels:
            pi.removeItem(t)
        fmt = {"disagree": "{:.2f}", "d": "{:.1f}", "mean_iou": "{:.3f}"}[measure]
        self.value_labels = []
        for yi, v in zip(y, vals):
            t = pg.TextItem(fmt.format(v), color="#222", anchor=(0, 0.5))
            t.setPos(float(v), float(yi))
            pi.addItem(t)
            self.value_labels.append(t)
        top = float(vals.max()) if len(vals) else 1.0
        pi.setXRange(lo, top + 0.18 * (top - lo), padding=0)
        pi.setYRange(-0.6, len(rows) - 0.4, padding=0)
        self.note.setText({"disagree": "share of test images on which two members differ (hover the axis for more)",
                           "d": "raw counts of eq. 14 and 15: they grow with m and n (hover the axis)",
                           "mean_iou": "lower = errors less shared = more diverse"}[measure])

    def csv_table(self):
        return (["set", "label", "members", "d_i or d_o", "measure", "disagreement per pair (%)", "mean IoU"],
                [[r["set"], r["label"], r["size"], r["d"], r["measure"], 100 * r["disagree"], r["mean_iou"]]
                 for r in self.rows])


class DiversityPage(ResultsPage):
    WHAT = "the IoU heatmap and the diversity of the members"

    def build(self, content: QWidget) -> None:
        self.heatmap = IouHeatmap()
        self.heatmap.setMinimumSize(360, 360)
        self.table = QTableWidget()
        self.table.setObjectName("diversityTable")
        self.table.setColumnCount(4)
        self.table.setHorizontalHeaderLabels(["set", "differing\npredictions", "disagreement\nper pair (%)",
                                              "mean IoU\nof errors"])
        for c, tip in enumerate(["", MEASURES["d"][1], MEASURES["disagree"][1], MEASURES["mean_iou"][1]]):
            self.table.horizontalHeaderItem(c).setToolTip(wrapped_tip(tip))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        self.measure = QComboBox()
        # Its longest item is ~300 px: shown whole it set the page's minimum width past a 1280-px window.
        self.measure.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.measure.setMinimumContentsLength(18)
        for key, (title, _) in MEASURES.items():
            self.measure.addItem(title, key)
        self.bars = DiversityBars()
        self.summary = caption(style="color: #222;")
        self.summary.setObjectName("diversitySummary")
        # Novelty (issue 12): is a member a new classifier or a copy of a snapshot? As `bend report` prints it.
        self.novelty = QTableWidget()
        self.novelty.setObjectName("noveltyTable")
        self.novelty.setColumnCount(4)
        self.novelty.setHorizontalHeaderLabels(["novelty", "nn distance\nmedian [p10–p90]",
                                                "largest IoU\nmedian [p10–p90]", "copies\n(%)"])
        for c in range(4):
            self.novelty.horizontalHeaderItem(c).setToolTip(wrapped_tip(NOVELTY_TEXT))
        self.novelty.verticalHeader().setVisible(False)
        self.novelty.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.novelty.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        self.novelty_note = caption(NOVELTY_TEXT + ".")
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.table)
        rl.addWidget(self.summary)
        row = QHBoxLayout()
        row.addWidget(QLabel("bars show"))
        row.addWidget(self.measure, 1)
        rl.addLayout(row)
        rl.addWidget(self.bars, 1)
        # Novelty on a tab of its own: beside the diversity table it squashed the bars at 1280 x 800.
        novelty = QWidget()
        nl = QVBoxLayout(novelty)
        nl.setContentsMargins(0, 0, 0, 0)
        nl.addWidget(self.novelty)
        nl.addWidget(self.novelty_note)
        nl.addStretch(1)
        self.parts = QTabWidget()
        self.parts.setObjectName("diversityParts")
        self.parts.addTab(right, "Diversity")
        self.parts.addTab(novelty, "Novelty · copies of snapshots?")
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.heatmap)
        split.addWidget(self.parts)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setSizes([480, 520])
        lay = QVBoxLayout(content)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)
        self.rows: list[dict] = []
        self.measure.currentIndexChanged.connect(self._on_measure)

    def show_results(self, res: Results) -> None:
        self.rows = diversity_rows(res.metrics)
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            name = text_item(SHORT_NAMES.get(row["set"], "baseline " + row["set"]))
            name.setData(Qt.ItemDataRole.UserRole, row["set"])
            name.setToolTip(f"{row['label']}: {row['size']} members; {'d_o (eq. 15)' if row['measure'] == 'd_o' else 'd_i (eq. 14)'}")
            self.table.setItem(r, 0, name)
            self.table.setItem(r, 1, NumericItem(f"{row['d']:.1f}", row["d"]))
            # The baselines' rates are derived from d_i; the report prints them for the three main sets only.
            self.table.setItem(r, 2, NumericItem(f"{100 * row['disagree']:.2f}", row["disagree"]))
            self.table.setItem(r, 3, NumericItem(f"{row['mean_iou']:.3f}", row["mean_iou"]))
        self.table.setSortingEnabled(True)
        fit_columns(self.table, stretch=0)
        fit_table_height(self.table)
        d = res.metrics["diversity"]
        self.summary.setText(
            f"Generated members disagree on {100 * d['disagree_gen']:.2f} % of the test images per pair, the "
            f"snapshots on {100 * d['disagree_orig']:.2f} %. Each generated member's closest snapshot shares "
            f"IoU {d['iou_max_to_orig_mean']:.3f} of its errors on average (1 = a copy). "
            f"d_o pairs generated member i with snapshot i.")
        self._fill_novelty(res.metrics)
        self.heatmap.set_data(res.iou())
        self._on_measure()

    def _fill_novelty(self, metrics: dict) -> None:
        """Per generator: members' distance to their nearest snapshot, largest IoU of errors with a snapshot,
        share of copies; last, the snapshots' own leave-one-out values to read them against."""
        nov = metrics.get("novelty")
        if not nov:
            self.novelty.setRowCount(1)
            self.novelty.setItem(0, 0, text_item("not in these results: rerun the evaluate stage"))
            for c in (1, 2, 3):
                self.novelty.setItem(0, c, text_item(""))
        else:
            rows = [(name if name == metrics.get("generator") else "baseline " + name, r["nn_distance"],
                     r["largest_iou"], pct(r["copy_share"])) for name, r in nov["sets"].items()]
            ref = nov["snapshots"]
            rows.append(("snapshots (leave-one-out)", ref["loo_distance"], ref["largest_iou"], "—"))
            self.novelty.setRowCount(len(rows))
            for r, (name, nn, iou, copies) in enumerate(rows):
                for c, text in enumerate((name, spread(nn, 3), spread(iou, 3), copies)):
                    self.novelty.setItem(r, c, text_item(text))
        fit_columns(self.novelty, stretch=0)
        fit_table_height(self.novelty)

    def novelty_text(self, name: str, column: int) -> str:
        for r in range(self.novelty.rowCount()):
            if self.novelty.item(r, 0).text() in (name, "baseline " + name):
                return self.novelty.item(r, column).text()
        raise KeyError(name)

    def table_text(self, set_name: str, column: int) -> str:
        for r in range(self.table.rowCount()):
            if self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) == set_name:
                return self.table.item(r, column).text()
        raise KeyError(set_name)

    @Slot()
    def _on_measure(self, *_) -> None:
        if self.rows:
            self.bars.set_data(self.rows, self.measure.currentData())
