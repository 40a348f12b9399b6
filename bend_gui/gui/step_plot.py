"""A training stage's per-step monitor: the loss every few steps on the left axis, the per-epoch test
metrics as markers on the same axis, and the learning rate on a second axis at the right (its scale has
nothing to do with the loss's)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QWidget

from .plots import CurvePlot, Series, _fmt

LR = "lr"
LR_COLOR = "#7f7f7f"


class StepPlot(CurvePlot):
    def __init__(self, title: str, y_label: str, markers: list[Series], *, log_y: bool = True,
                 parent: QWidget | None = None):
        super().__init__(title, "step", y_label, [Series("loss", "train (per step)", "min"), *markers],
                         log_y=log_y, integer_x=True, parent=parent)
        self.markers = [s.key for s in markers]
        for key in self.markers:  # a point per epoch: no line between them, always a symbol
            self.items[key].setPen(None)
            self.items[key].setSymbol("o")
            self.items[key].setSymbolSize(9)
        pi = self.plot_item
        self.lr_box = pg.ViewBox()
        pi.showAxis("right")
        pi.scene().addItem(self.lr_box)
        right = pi.getAxis("right")
        right.linkToView(self.lr_box)
        right.setLabel("learning rate", color=LR_COLOR)
        right.enableAutoSIPrefix(False)
        self.lr_box.setXLink(pi)
        self.lr_item = pg.PlotDataItem([], [], pen=pg.mkPen(LR_COLOR, width=1.5, style=Qt.PenStyle.DashLine))
        self.lr_box.addItem(self.lr_item)
        if self.legend is None:  # the base class gives one series no legend; with the lr curve there are two
            self.legend = self.add_bottom_legend(columns=2)
            self.legend.addItem(self.items["loss"], "train (per step)")
        self.legend.addItem(self.lr_item, "learning rate (right axis)")
        self.lr: tuple[list[float], list[float]] = ([], [])
        pi.vb.sigResized.connect(self._sync_lr_box)
        self._on_log(log_y)

    @Slot(bool)
    def _on_log(self, on: bool) -> None:
        super()._on_log(on)
        if hasattr(self, "lr_box"):  # PlotItem.setLogMode sets every axis; the lr axis stays linear
            self.plot_item.getAxis("right").setLogMode(False, False)

    def set_empty(self, text: str) -> None:
        super().set_empty(text)
        self.plot_item.showAxis("right", not text)  # an empty plot shows no 0..1 learning-rate axis either

    @Slot()
    def _sync_lr_box(self) -> None:
        self.lr_box.setGeometry(self.plot_item.vb.sceneBoundingRect())
        self.lr_box.linkedViewChanged(self.plot_item.vb, self.lr_box.XAxis)

    # --- data: the base class keeps the left-axis series, the learning rate is kept here ----------------

    def clear(self) -> None:
        self.lr[0].clear()
        self.lr[1].clear()
        super().clear()

    def append_row(self, x: float, values: dict) -> None:
        if LR in values:
            self.lr[0].append(float(x))
            self.lr[1].append(float(values[LR]))
        super().append_row(x, values)

    def has_data(self) -> bool:
        return super().has_data() or bool(self.lr[0])

    @Slot()
    def redraw(self) -> None:
        super().redraw()
        for key in self.markers:  # the base class drops symbols from series of more than one point
            self.items[key].setSymbol("o")
        xs, ys = self.lr
        self.lr_item.setData(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float))
        if ys:
            text = self.readout.text()
            self.readout.setText(text + (" &nbsp;&nbsp; " if text else "") + f"<b>lr</b>: {_fmt(ys[-1])}")

    def csv_table(self) -> tuple[list[str], list[list]]:
        header, rows = super().csv_table()
        lr = dict(zip(*self.lr))
        known = {r[0] for r in rows}
        rows = [r + [lr.get(r[0], "")] for r in rows] + [[x] + [""] * (len(header) - 1) + [v]
                                                          for x, v in lr.items() if x not in known]
        return header + [LR], sorted(rows, key=lambda r: r[0])
