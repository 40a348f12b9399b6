"""Plot widgets shared by the monitors and the results views.

Every plot is a PlotPanel: a pyqtgraph plot over a bar with a note and PNG/CSV export buttons. The PNG
comes from pyqtgraph's ImageExporter (its SVG export is broken on Qt 6), the CSV from the panel's
`csv_table()`, both written through `checked_export`. Live curves are created once and updated with
setData; appends only mark a plot dirty and a 10 Hz timer redraws, so a fast job cannot make the GUI
redraw hundreds of times a second.
"""

from __future__ import annotations

import csv
import html
import os
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
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from .confirm import roomy
from .wheel import guard_plot_wheel

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]
MUTED = "color: #666;"
PNG_WIDTH = 1200


def configure_pyqtgraph() -> None:
    pg.setConfigOptions(antialias=True, background="w", foreground="#222")


def caption(text: str = "", style: str = MUTED) -> QLabel:
    """A wrapping label that never widens its layout (a relayout makes pyqtgraph redo its axes)."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet(style)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    return label


# --- export ------------------------------------------------------------------------------------------

def write_rows_csv(path: str | Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def checked_export(parent: QWidget, path: str | Path, write) -> bool:
    """`write(tmp)` to a temporary file beside `path`, then rename it over `path`; tell the user in a
    non-blocking box when that fails. Qt's image writers report a failure only by not writing the file."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        write(tmp)
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise OSError(0, "nothing was written (is the folder writable?)")
        os.replace(tmp, path)
        return True
    except OSError as e:
        if tmp.parent.is_dir():
            tmp.unlink(missing_ok=True)
        box = roomy(QMessageBox(QMessageBox.Icon.Warning, "Export", f"Could not write {path}: {e.strerror or e}",
                                parent=parent))
        box.open()
        parent.export_error = box
        return False


def project_folder(widget: QWidget) -> str:
    """The folder of the project a widget shows (its nearest parent with a model), where its file dialogs
    open; '' (the working directory) outside a project."""
    w = widget
    while w is not None:
        project = getattr(getattr(w, "model", None), "project", None)
        if project is not None:
            return str(project.root)
        w = w.parentWidget()
    return ""


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
        path, _ = QFileDialog.getSaveFileName(self, "Export plot as PNG",
                                              os.path.join(project_folder(self), f"{self.owner.file_stem()}.png"),
                                              "PNG image (*.png)")
        if path:
            self.owner.export_png(path)

    @Slot()
    def _csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export data as CSV",
                                              os.path.join(project_folder(self), f"{self.owner.file_stem()}.csv"),
                                              "CSV (*.csv)")
        if path:
            self.owner.export_csv(path)


# --- axes --------------------------------------------------------------------------------------------

class TidyAxis(pg.AxisItem):
    """On a log scale pyqtgraph ticks every 1…9 × 10^k and writes 2·10¹, 3·10¹, …: the labels collide.
    This axis ticks 1, 2 and 5 × 10^k (decades major) written as plain numbers; every 1…9 × 10^k when
    the range holds fewer than two of those, and round linear steps when even those are fewer than two.
    Linear scales are pyqtgraph's own."""

    def logTickValues(self, minVal, maxVal, size, stdTicks):
        for mantissas in ((1, 2, 5), range(1, 10)):
            major, minor = [], []
            for e in range(int(np.floor(minVal)), int(np.ceil(maxVal)) + 1):
                for mant in mantissas:
                    v = e + float(np.log10(mant))
                    if minVal <= v <= maxVal:
                        (major if mant == 1 else minor).append(v)
            if len(major) + len(minor) >= 2:
                return [(1.0, major), (None, minor)]
        lo, hi = 10.0 ** minVal, 10.0 ** maxVal
        levels = self.tickSpacing(lo, hi, size)
        if not levels:
            return []
        step = levels[0][0]
        values = np.arange(np.ceil(lo / step) * step, hi, step)
        return [(None, list(np.log10(values[values > 0])))]

    def logTickStrings(self, values, scale, spacing):
        return [_plain(10.0 ** v * scale) for v in values]

    def tickStrings(self, values, scale, spacing):
        strings = super().tickStrings(values, scale, spacing)
        return strings if self.logMode else [_grouped(s) for s in strings]


def _grouped(text: str) -> str:
    """A whole-number tick label with thousands separators (10,000 rather than 10000)."""
    try:
        v = float(text)
    except ValueError:
        return text
    return f"{int(v):,}" if v.is_integer() and abs(v) >= 1000 else text


class IntegerAxis(TidyAxis):
    """An axis for counts (epochs, members): no ticks between whole numbers."""

    def tickValues(self, minVal, maxVal, size):
        out = []
        for spacing, values in super().tickValues(minVal, maxVal, size):
            if spacing >= 1:
                out.append((spacing, values))
        return out or [(1.0, [float(v) for v in range(int(np.ceil(minVal)), int(np.floor(maxVal)) + 1)])]


def _plain(v: float) -> str:
    """A tick value without exponent or float noise: 1,000 · 5 · 5.45 · 0.00002."""
    v = float(f"{v:.6g}")
    return f"{v:,}".removesuffix(".0") if v >= 1 else np.format_float_positional(v, trim="-")


def legend_sample(pen=None, brush=None):
    """An item that only stands in the legend for something the legend cannot draw (a line or band)."""
    if brush is not None:
        return pg.BarGraphItem(x=[0], height=[1], width=1, pen=pen, brush=brush)
    return pg.PlotDataItem([0, 1], [0, 0], pen=pen)


# --- the plot base -----------------------------------------------------------------------------------

class PlotPanel(QWidget):
    """A pyqtgraph plot with a bar below holding a note and the PNG/CSV export buttons. Subclasses give
    `csv_table()` (header, rows) and may export another graphics item than the plot (e.g. with a colour
    bar). The left and bottom axes are TidyAxis unless `axes` names others."""

    def __init__(self, stem: str, parent: QWidget | None = None, *, layout_widget: bool = False,
                 axes: dict[str, pg.AxisItem] | None = None):
        super().__init__(parent)
        self.stem = stem
        axes = {"left": TidyAxis("left"), "bottom": TidyAxis("bottom")} | (axes or {})
        if layout_widget:
            self.view = pg.GraphicsLayoutWidget()
            self.plot_item = self.view.addPlot(axisItems=axes)
        else:
            self.view = pg.PlotWidget(axisItems=axes)
            self.plot_item = self.view.getPlotItem()
        guard_plot_wheel(self.view)
        self.plot_item.showGrid(x=True, y=True, alpha=0.15)
        for ax in ("left", "bottom"):
            self.plot_item.getAxis(ax).enableAutoSIPrefix(False)
        self.exports = ExportButtons(self)
        self.note = caption()
        self.bar = QHBoxLayout()
        self.bar.addWidget(self.note, 1)
        self.bar.addWidget(self.exports)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.view, 1)
        lay.addLayout(self.bar)
        self.empty_text: pg.TextItem | None = None

    def set_empty(self, text: str) -> None:
        """With `text`, the plot shows it instead of axes (pyqtgraph draws a meaningless 0..1 or ±0.5 range
        around nothing); '' brings the axes back."""
        vb = self.plot_item.getViewBox()
        if self.empty_text is not None and self.empty_text.textItem.toPlainText() == text:
            return  # live plots call this on every redraw: touch the axes only when it changes
        if self.empty_text is None:
            self.empty_text = pg.TextItem("", color="#777", anchor=(0.5, 0.5))
            self.empty_text.setParentItem(vb)
            vb.sigResized.connect(self._place_empty_text)
        self.empty_text.setHtml(f"<div style='text-align: center'>{html.escape(text)}</div>")
        self.empty_text.setVisible(bool(text))
        for ax in ("left", "bottom"):
            self.plot_item.showAxis(ax, not text)
        self.plot_item.showGrid(x=not text, y=not text, alpha=0.15)
        self._place_empty_text()

    def is_empty(self) -> bool:
        return self.empty_text is not None and self.empty_text.isVisible()

    @Slot()
    def _place_empty_text(self) -> None:
        r = self.plot_item.getViewBox().rect()
        self.empty_text.setTextWidth(max(r.width() - 20, 100))  # wrap inside the plot, never past it
        self.empty_text.setPos(r.center())

    def add_bottom_legend(self, columns: int = 2) -> pg.LegendItem:
        """A legend under the plot (needs layout_widget=True): it never hides data or line labels, and
        the PNG export of the layout includes it."""
        legend = pg.LegendItem(colCount=columns, labelTextSize="9pt", horSpacing=20)
        self.view.addItem(legend, row=1, col=0)
        return legend

    def file_stem(self) -> str:
        return self.stem

    def export_item(self):
        return self.view.ci if isinstance(self.view, pg.GraphicsLayoutWidget) else self.plot_item

    def export_png(self, path: str | Path) -> bool:
        def write(tmp: Path) -> None:
            exporter = ImageExporter(self.export_item())
            exporter.parameters()["width"] = PNG_WIDTH
            exporter.export(str(tmp))
        return checked_export(self, path, write)

    def csv_table(self) -> tuple[list[str], list[list]]:
        raise TypeError(f"{type(self).__name__} must define csv_table()")

    def export_csv(self, path: str | Path) -> bool:
        header, rows = self.csv_table()
        return checked_export(self, path, lambda tmp: write_rows_csv(tmp, header, rows))


# --- live curves (the monitors) ----------------------------------------------------------------------

@dataclass(frozen=True)
class Series:
    key: str
    label: str
    better: str = "max"      # which end is "best" for the read-out: "max" or "min"
    percent: bool = False    # a fraction shown as a percentage
    dashed: bool = False


class CurvePlot(PlotPanel):
    """A live line plot: several series over one x axis, smoothing, log-y, best/last read-out, export."""

    def __init__(self, title: str, x_label: str, y_label: str, series: list[Series], *,
                 log_y: bool = False, integer_x: bool = False, legend: str = "below",  # always below now
                 parent: QWidget | None = None):
        super().__init__(title.lower().replace(" · ", "-").replace(" ", "-"), parent, layout_widget=True,
                         axes={"bottom": IntegerAxis("bottom")} if integer_x else None)
        self.title, self.x_label, self.y_label = title, x_label, y_label
        self.series = {s.key: s for s in series}
        self.data: dict[str, tuple[list[float], list[float]]] = {s.key: ([], []) for s in series}

        pi = self.plot_item
        pi.setTitle(title, size="10pt")
        pi.setLabel("bottom", x_label)
        pi.setLabel("left", y_label)
        pi.showGrid(x=True, y=True, alpha=0.25)
        # The legend sits under the plot, never over the curves; one series needs none (the title says it).
        self.legend = self.add_bottom_legend(columns=len(series)) if len(series) > 1 else None
        self.items = {}
        for i, s in enumerate(series):
            pen = pg.mkPen(PALETTE[i % len(PALETTE)], width=2,
                           style=Qt.PenStyle.DashLine if s.dashed else Qt.PenStyle.SolidLine)
            color = PALETTE[i % len(PALETTE)]
            self.items[s.key] = pi.plot([], [], pen=pen, symbolSize=7, symbolPen=color, symbolBrush=color)
            if self.legend is not None:
                self.legend.addItem(self.items[s.key], s.label)

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

        # The bar: smoothing and log-y on the left, the export buttons on the right.
        self.note.hide()
        for i, w in enumerate((QLabel("smooth"), self.smooth, self.log_y)):
            self.bar.insertWidget(i, w)
        self.bar.insertStretch(3, 1)
        self.layout().setContentsMargins(2, 2, 2, 2)
        self.layout().insertWidget(1, self.readout)

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
        self.plot_item.setLogMode(False, on)
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
            # A line through one point draws nothing: mark a lone point so the first epoch shows.
            item.setSymbol("o" if len(x) == 1 else None)
            xs, ys = self.data[key]
            if ys:
                s = self.series[key]
                raw = np.asarray(ys) * self._scale(key)
                i = int(np.argmax(raw) if s.better == "max" else np.argmin(raw))
                unit = "%" if s.percent else ""
                parts.append(f"<b>{s.label}</b>: last {_fmt(raw[-1])}{unit} · best {_fmt(raw[i])}{unit} "
                             f"at {_fmt(xs[i])}")
        self.readout.setText(" &nbsp;&nbsp; ".join(parts))
        self.set_empty("" if self.has_data() else "no data yet")
        if self.legend is not None:
            self.legend.setVisible(self.has_data())

    # --- export --------------------------------------------------------------------------------------

    def export_png(self, path: str | Path) -> bool:
        self.redraw()  # a pending timer would leave the last points out
        return super().export_png(path)

    def csv_table(self) -> tuple[list[str], list[list]]:
        """The raw (unsmoothed) values, one row per x, one column per series."""
        xs = sorted({x for key in self.data for x in self.data[key][0]})
        by_key = {key: dict(zip(*self.data[key])) for key in self.data}
        rows = [[x] + [by_key[k].get(x, "") for k in self.data] for x in xs]
        return [self.x_label] + list(self.data), rows


def _fmt(v: float) -> str:
    v = float(v)
    if v == 0:
        return "0"
    if abs(v) >= 1000 or float(v).is_integer():
        return f"{v:.0f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.4g}"
