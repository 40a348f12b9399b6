"""Efficiency (eq. 10-13): the measured times and the cost of m members made by BEND (t_diff) against m
members trained the traditional way (t_trad), with the break-even m where BEND starts to pay off."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHeaderView,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from ...core.results.report import number, seconds
from ...core.results.tables import (
    Results,
    efficiency_curves,
    efficiency_m_range,
    efficiency_rows,
)
from ...core.results.verdicts import efficiency_accounting, efficiency_verdict
from ..plots import PALETTE, PlotPanel, caption, legend_sample
from .common import ResultsPage, fit_table_height, text_item


def _value_text(row: dict) -> str:
    v = row["value"]
    if row["unit"] == "s":
        return seconds(v)
    if row["unit"] == "members":
        return number(v, 2)
    return f"{int(v):,}"


class CostPlot(PlotPanel):
    def __init__(self, parent: QWidget | None = None):
        super().__init__("efficiency", parent, layout_widget=True)
        pi = self.plot_item
        pi.setTitle("Cost of m members: BEND vs traditional bagging", size="10pt")
        pi.setLabel("bottom", "number of members m")
        pi.setLabel("left", "total time (s)")
        self.legend = self.add_bottom_legend(1)  # two columns of these labels were wider than the page
        self.curves = {
            "t_trad": pi.plot([], [], pen=pg.mkPen(PALETTE[1], width=2.5)),
            "t_diff": pi.plot([], [], pen=pg.mkPen(PALETTE[0], width=2.5)),
            "t_diff_paper": pi.plot([], [], pen=pg.mkPen(PALETTE[0], width=2, style=Qt.PenStyle.DashLine)),
        }
        self.break_even = pg.InfiniteLine(angle=90, pen=pg.mkPen("#222", width=1.5),
                                          label="", labelOpts={"position": 0.95, "color": "#222",
                                                               "fill": (255, 255, 255, 200)})
        self.break_even_paper = pg.InfiniteLine(angle=90, pen=pg.mkPen("#222", width=1.5,
                                                                       style=Qt.PenStyle.DashLine),
                                                label="", labelOpts={"position": 0.78, "color": "#222",
                                                                     "fill": (255, 255, 255, 200)})
        self.project_m = pg.InfiniteLine(angle=90, pen=pg.mkPen(PALETTE[2], width=1.5, style=Qt.PenStyle.DotLine),
                                         label="", labelOpts={"position": 0.08, "color": PALETTE[2],
                                                              "fill": (255, 255, 255, 200)})
        for line in (self.break_even, self.break_even_paper, self.project_m):
            pi.addItem(line)
        self.samples = {"be": legend_sample(pg.mkPen("#222", width=1.5)),
                        "bep": legend_sample(pg.mkPen("#222", width=1.5, style=Qt.PenStyle.DashLine)),
                        "m": legend_sample(pg.mkPen(PALETTE[2], width=1.5, style=Qt.PenStyle.DotLine))}
        self.data: dict[str, np.ndarray] = {}
        self.log = True

    def set_data(self, eff: dict, m: int) -> None:
        self.eff, self.m = eff, m
        self.data = efficiency_curves(eff, efficiency_m_range(eff, m))
        self.redraw()

    def redraw(self) -> None:
        if not self.data:
            return
        pi = self.plot_item
        pi.setLogMode(self.log, self.log)
        ms = self.data["m"]
        self.legend.clear()
        names = {"t_trad": "t_trad = m·k_pre·t_orge (eq. 12)", "t_diff": "t_diff, measured t_org (eq. 10)",
                 "t_diff_paper": "t_diff, paper's t_org = (k_pre + collection epochs)·t_orge"}
        for key, curve in self.curves.items():
            y = self.data[key]
            keep = np.isfinite(y) & ((y > 0) if self.log else True)
            curve.setData(ms[keep], y[keep])
            curve.setVisible(bool(keep.any()))
            if keep.any():
                self.legend.addItem(curve, names[key])
        for line, key, sample, what in ((self.break_even, "break_even_m", "be", "break-even m"),
                                        (self.break_even_paper, "break_even_m_paper_accounting", "bep",
                                         "break-even m, paper's accounting")):
            v = self.eff.get(key)
            ok = v is not None and math.isfinite(v) and v > 0
            line.setVisible(ok)
            if ok:
                line.setValue(math.log10(v) if self.log else v)
                line.label.setFormat(f"m = {number(v, 2)}")
                self.legend.addItem(self.samples[sample], f"{what} = {number(v, 2)}")
        self.project_m.setValue(math.log10(self.m) if self.log else self.m)
        self.project_m.label.setFormat(f"this project: m = {self.m}")
        self.legend.addItem(self.samples["m"], f"this project's m = {self.m}")
        pi.enableAutoRange()

    def csv_table(self):
        if not self.data:
            return ["m", "t_diff (s)", "t_trad (s)", "t_diff paper accounting (s)"], []
        d = self.data
        return (["m", "t_diff (s)", "t_trad (s)", "t_diff paper accounting (s)"],
                [[int(m), a, b, c] for m, a, b, c in zip(d["m"], d["t_diff"], d["t_trad"], d["t_diff_paper"])])


class EfficiencyPage(ResultsPage):
    WHAT = "the measured times and the break-even m"

    @Slot()
    def _fit_table(self) -> None:
        self.table.resizeRowsToContents()
        fit_table_height(self.table)

    def build(self, content: QWidget) -> None:
        self.table = QTableWidget()
        self.table.setObjectName("efficiencyTable")
        self.table.setColumnCount(2)
        self.table.setHorizontalHeaderLabels(["quantity", "measured"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # The values keep their width; the long quantity names wrap, so no value hides behind a scroll bar.
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setWordWrap(True)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Wrapped names change the rows' heights whenever the column's width changes: fit the table again.
        self.table.horizontalHeader().sectionResized.connect(self._fit_table)
        self.table.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.explain = caption(style="color: #222;")
        self.explain.setObjectName("efficiencySummary")
        self.log = QCheckBox("log axes")
        self.log.setChecked(True)
        self.log.toggled.connect(self._on_log)
        self.plot = CostPlot()
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.table)
        ll.addWidget(self.explain)
        ll.addStretch(1)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.plot, 1)
        rl.addWidget(self.log)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([400, 600])
        lay = QVBoxLayout(content)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)
        self.rows: list[dict] = []

    def show_results(self, res: Results) -> None:
        mt = res.metrics
        e = mt["efficiency"]
        self.rows = efficiency_rows(mt)
        self.table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            label = text_item(row["label"])
            label.setData(Qt.ItemDataRole.UserRole, row["key"])
            self.table.setItem(r, 0, label)
            value = text_item(_value_text(row))
            value.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(r, 1, value)
        self.table.resizeColumnsToContents()
        self.table.clearSelection()
        self.table.setCurrentCell(-1, -1)
        self._fit_table()
        self.explain.setText(f"{efficiency_verdict(mt)}<br><br>{efficiency_accounting(e)}")
        self.plot.set_data(e, int(mt["m"]))

    def value_text(self, key: str) -> str:
        for r in range(self.table.rowCount()):
            if self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) == key:
                return self.table.item(r, 1).text()
        raise KeyError(key)

    @Slot(bool)
    def _on_log(self, on: bool) -> None:
        self.plot.log = on
        self.plot.redraw()
