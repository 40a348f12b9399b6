"""Plot widgets shared by the monitors and the results views.

Items are created once and updated with setData; appends only mark a plot dirty and a 10 Hz timer
redraws, so a fast job cannot make the GUI redraw hundreds of times a second. Every plot exports a
PNG (pyqtgraph's ImageExporter; its SVG export is broken on Qt 6) and the CSV of the data behind it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]


def configure_pyqtgraph() -> None:
    pg.setConfigOptions(antialias=True, background="w", foreground="#222")


def export_png(item: pg.GraphicsObject | pg.PlotItem, path: str | Path, width: int = 1200) -> None:
    exporter = ImageExporter(item)
    exporter.parameters()["width"] = width
    exporter.export(str(path))


def write_rows_csv(path: str | Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


class TidyAxis(pg.AxisItem):
    """In log mode pyqtgraph labels every sub-decade tick and the labels collide: label 1, 2 and 5 only."""

    def logTickStrings(self, values, scale, spacing):
        strings = super().logTickStrings(values, scale, spacing)
        out = []
        for v, text in zip(values, strings):
            mantissa = round(10 ** (v - np.floor(v + 1e-9)), 2)
            out.append(text if mantissa in (1.0, 2.0, 5.0) else "")
        return out


class IntegerAxis(pg.AxisItem):
    """An axis for counts (epochs, members): no ticks between whole numbers."""

    def tickValues(self, minVal, maxVal, size):
        out = []
        for spacing, values in super().tickValues(minVal, maxVal, size):
            if spacing >= 1:
                out.append((spacing, values))
        return out or [(1.0, [float(v) for v in range(int(np.ceil(minVal)), int(np.floor(maxVal)) + 1)])]


class ExportButtons(QWidget):
    """'PNG…' and 'CSV…' buttons that ask for a file name and call the owner's exporters."""

    def __init__(self, owner, parent: QWidget | None = None):
        super().__init__(parent)
        self.owner = owner
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.png = QPushButton("PNG…")
        self.csv = QPushButton("CSV…")
        for b in (self.png, self.csv):
            b.setFlat(True)
            b.setToolTip("export this plot" if b is self.png else "export the data behind this plot")
            lay.addWidget(b)
        self.png.clicked.connect(self._png)
        self.csv.clicked.connect(self._csv)

    @Slot()
    def _png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export plot as PNG", f"{self.owner.file_stem()}.png",
                                              "PNG image (*.png)")
        if path:
            self.owner.export_png(path)

    @Slot()
    def _csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export data as CSV", f"{self.owner.file_stem()}.csv",
                                              "CSV (*.csv)")
        if path:
            self.owner.export_csv(path)


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    better: str = "max"      # which end is "best" for the read-out: "max" or "min"
    percent: bool = False    # a fraction shown as a percentage
    dashed: bool = False


class CurvePlot(QWidget):
    """A live line plot: several series over one x axis, smoothing, log-y, best/last read-out, export."""

    def __init__(self, title: str, x_label: str, y_label: str, series: list[Series], *,
                 log_y: bool = False, integer_x: bool = False, legend: str = "top-right",
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.title, self.x_label, self.y_label = title, x_label, y_label
        self.series = {s.key: s for s in series}
        self.data: dict[str, tuple[list[float], list[float]]] = {s.key: ([], []) for s in series}

        axes = {"left": TidyAxis("left")}
        if integer_x:
            axes["bottom"] = IntegerAxis("bottom")
        self.plot = pg.PlotWidget(axisItems=axes)
        pi = self.plot.getPlotItem()
        pi.setTitle(title, size="10pt")
        pi.setLabel("bottom", x_label)
        pi.setLabel("left", y_label)
        pi.showGrid(x=True, y=True, alpha=0.25)
        pi.getAxis("left").enableAutoSIPrefix(False)
        pi.getAxis("bottom").enableAutoSIPrefix(False)
        # Rising curves (accuracies) keep their legend out of the way at the bottom.
        self.legend = pi.addLegend(offset=(-10, -10) if legend == "bottom-right" else (-10, 10))
        self.items = {}
        for i, s in enumerate(series):
            pen = pg.mkPen(PALETTE[i % len(PALETTE)], width=2,
                           style=Qt.PenStyle.DashLine if s.dashed else Qt.PenStyle.SolidLine)
            self.items[s.key] = pi.plot([], [], pen=pen, name=s.label)

        self.smooth = QSlider(Qt.Orientation.Horizontal)
        self.smooth.setRange(0, 99)
        self.smooth.setFixedWidth(90)
        self.smooth.setToolTip("smoothing (exponential moving average of the shown curve)")
        self.log_y = QCheckBox("log y")
        self.log_y.setChecked(log_y)
        self.readout = QLabel()
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.readout.setStyleSheet("color: #444;")
        # Text that changes every update must not change the layout (a relayout regenerates every axis):
        # any width, a fixed height of two lines.
        self.readout.setWordWrap(True)
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.readout.setFixedHeight(2 * self.readout.fontMetrics().lineSpacing() + 4)
        self.empty = QLabel("no data yet")
        self.empty.setStyleSheet("color: #888;")

        bar = QHBoxLayout()
        bar.addWidget(QLabel("smooth"))
        bar.addWidget(self.smooth)
        bar.addWidget(self.log_y)
        bar.addStretch(1)
        bar.addWidget(self.empty)
        bar.addWidget(ExportButtons(self))
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.readout)
        lay.addLayout(bar)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self.redraw)
        self.smooth.valueChanged.connect(self._schedule)
        self.log_y.toggled.connect(self._on_log)
        self._on_log(log_y)

    # --- data ----------------------------------------------------------------------------------------

    def clear(self) -> None:
        for xs, ys in self.data.values():
            xs.clear()
            ys.clear()
        self._schedule()

    def set_rows(self, rows: list[dict], x_key: str) -> None:
        """Replace every series with the columns of CSV-like rows."""
        for key, (xs, ys) in self.data.items():
            xs[:] = [r[x_key] for r in rows if key in r and x_key in r]
            ys[:] = [r[key] for r in rows if key in r and x_key in r]
        self._schedule()

    def append_row(self, x: float, values: dict) -> None:
        for key, (xs, ys) in self.data.items():
            if key in values:
                xs.append(float(x))
                ys.append(float(values[key]))
        self._schedule()

    def has_data(self) -> bool:
        return any(xs for xs, _ in self.data.values())

    # --- drawing -------------------------------------------------------------------------------------

    @Slot()
    def _schedule(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    @Slot(bool)
    def _on_log(self, on: bool) -> None:
        self.plot.getPlotItem().setLogMode(False, on)
        self._schedule()

    def _scale(self, key: str) -> float:
        return 100.0 if self.series[key].percent else 1.0

    def displayed(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = self.data[key]
        x = np.asarray(xs, dtype=float)
        y = np.asarray(ys, dtype=float) * self._scale(key)
        alpha = self.smooth.value() / 100.0
        if alpha > 0 and len(y) > 1:
            out = np.empty_like(y)
            acc = y[0]
            for i, v in enumerate(y):
                acc = alpha * acc + (1 - alpha) * v
                out[i] = acc
            y = out
        if self.log_y.isChecked():
            keep = y > 0
            x, y = x[keep], y[keep]
        return x, y

    @Slot()
    def redraw(self) -> None:
        parts = []
        for key, item in self.items.items():
            x, y = self.displayed(key)
            item.setData(x, y)
            xs, ys = self.data[key]
            if ys:
                s = self.series[key]
                raw = np.asarray(ys) * self._scale(key)
                i = int(np.argmax(raw) if s.better == "max" else np.argmin(raw))
                unit = "%" if s.percent else ""
                parts.append(f"<b>{s.label}</b>: last {_fmt(raw[-1])}{unit} · best {_fmt(raw[i])}{unit} "
                             f"at {_fmt(xs[i])}")
        self.readout.setText(" &nbsp;&nbsp; ".join(parts))
        self.empty.setVisible(not self.has_data())

    # --- export --------------------------------------------------------------------------------------

    def file_stem(self) -> str:
        return self.title.lower().replace(" · ", "-").replace(" ", "-")

    def export_png(self, path: str | Path) -> None:
        self.redraw()
        export_png(self.plot.getPlotItem(), path)

    def export_csv(self, path: str | Path) -> None:
        """The raw (unsmoothed) values, one row per x, one column per series."""
        xs = sorted({x for key in self.data for x in self.data[key][0]})
        by_key = {key: dict(zip(*self.data[key])) for key in self.data}
        rows = [[x] + [by_key[k].get(x, "") for k in self.data] for x in xs]
        write_rows_csv(path, [self.x_label] + list(self.data), rows)


def _fmt(v: float) -> str:
    v = float(v)
    if v == 0:
        return "0"
    if abs(v) >= 1000 or float(v).is_integer():
        return f"{v:.0f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.4g}"
