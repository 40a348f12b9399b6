"""Every page of a finished project (with saved sweeps), in the main window at a small
and a large window size: no table column is scrolled or clipped out of sight, and every plot's view range
holds all its data points.

Set BEND_PAGE_PNGS=<folder> to also save a PNG of every page at both sizes (to look at them)."""

import os
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QApplication,
    QTableWidget,
    QTabWidget,
    QWidget,
)

from bend_gui.core.results.tables import IouMatrix
from bend_gui.core.studies import sweeps
from bend_gui.gui.plots import CurvePlot, TidyAxis
from bend_gui.gui.views.diversity import IouHeatmap
from tests.core.test_sweeps import drain
from tests.helpers import private_copy

SIZES = [(1280, 800), (1600, 1000)]


@pytest.fixture(scope="module")
def studied_root(tmp_path_factory, hard_project_root):
    """The session's finished project whose members disagree, with a small saved sweep over m, so that the
    Studies page has a plot and a table to check too (and, over k, its empty state)."""
    p = private_copy(hard_project_root, tmp_path_factory.mktemp("layout") / "p")
    drain(sweeps.sweep_m(p, [1, 2, 5], [0, 1]))
    return p.root


@pytest.fixture
def studied(tmp_path, studied_root):
    return private_copy(studied_root, tmp_path / "p")


def _shown(w: QWidget) -> bool:
    return w.isVisible() and w.width() > 0 and w.height() > 0


def _clipped_width(w: QWidget) -> int:
    """How many pixels of `w`'s width the panes it sits in cut off (0 when it is fully visible across). Only
    the horizontal extent counts: a page that scrolls vertically hides nothing across; a scroll area's
    viewport narrower than its content does cut (a table behind a horizontal scroll bar is hidden too)."""
    left = w.mapTo(w.window(), w.rect().topLeft()).x()
    lo, hi = left, left + w.width()
    p = w.parentWidget()
    while p is not None:
        if not callable(p.width):
            raise TypeError(f"{type(p).__name__}.width is not QWidget.width()")
        pl = p.mapTo(w.window(), p.rect().topLeft()).x() if p is not w.window() else 0
        lo, hi = max(lo, pl), min(hi, pl + p.width())
        p = p.parentWidget()
    return w.width() - max(0, hi - lo)


def table_problems(table: QTableWidget, where: str) -> list[str]:
    out = []
    if table.rowCount() == 0:
        return out
    vp = table.viewport().width()
    for c in range(table.columnCount()):
        if table.isColumnHidden(c):
            continue
        x = table.columnViewportPosition(c)
        name = table.horizontalHeaderItem(c).text() if table.horizontalHeaderItem(c) else str(c)
        if x < 0 or x + table.columnWidth(c) > vp + 1:
            out.append(f"{where}: table {table.objectName() or type(table).__name__} column {name!r} "
                       f"spans {x}..{x + table.columnWidth(c)} of a {vp} px viewport")
    cut = _clipped_width(table)
    if cut > 1:
        out.append(f"{where}: table {table.objectName()} has {cut} px of its width cut off by its pane")
    return out


def _item_bounds(item, vb) -> tuple[tuple[float, float], tuple[float, float], bool] | None:
    """The x and y extent of an item's data in its view box's coordinates (log10 on a log axis, as drawn),
    and whether it came from the item's bounding rect (which includes half its pen), or None."""
    if isinstance(item, pg.PlotDataItem):
        x, y = item.getData()  # the displayed data: already log10 on a log axis
        if x is None or len(x) == 0:
            return None
        x, y = np.asarray(x, float), np.asarray(y, float)
        x, y = x[np.isfinite(x)], y[np.isfinite(y)]
        if len(x) == 0 or len(y) == 0:
            return None
        return (x.min(), x.max()), (y.min(), y.max()), False
    if isinstance(item, (pg.BarGraphItem, pg.ImageItem, pg.ErrorBarItem)):
        r = item.mapRectToItem(vb.childGroup, item.boundingRect())
        if r.width() <= 0 and r.height() <= 0:
            return None
        return (r.left(), r.right()), (r.top(), r.bottom()), True
    return None


def plot_problems(plot: pg.PlotItem, where: str) -> list[str]:
    out = []
    vb = plot.getViewBox()
    vb.prepareForPaint()  # a pending auto-range is applied at the next paint: apply it as a paint would
    (x0, x1), (y0, y1) = vb.viewRange()
    title = plot.titleLabel.text or "untitled plot"
    for item in vb.addedItems:
        if not item.isVisible():
            continue
        b = _item_bounds(item, vb)
        if b is None:
            continue
        (a0, a1), (b0, b1), with_pen = b
        # Data points must lie inside exactly; a bounding rect may stick out by its pen (a pixel or two).
        frac = 0.01 if with_pen else 1e-6
        tol_x, tol_y = frac * max(1e-9, abs(x1 - x0)), frac * max(1e-9, abs(y1 - y0))
        if a0 < x0 - tol_x or a1 > x1 + tol_x or b0 < min(y0, y1) - tol_y or b1 > max(y0, y1) + tol_y:
            out.append(f"{where}: {title!r}: {type(item).__name__} spans x {a0:.4g}..{a1:.4g}, "
                       f"y {b0:.4g}..{b1:.4g}; the view shows x {x0:.4g}..{x1:.4g}, y {y0:.4g}..{y1:.4g}")
    return out


def _plots(page: QWidget) -> list[tuple[QWidget, pg.PlotItem]]:
    out = []
    for view in page.findChildren(pg.GraphicsView):
        if not _shown(view):
            continue
        for item in view.scene().items():
            if isinstance(item, pg.PlotItem):
                out.append((view, item))
    return out


MIN_PLOT_HEIGHT = 100  # px of data area: below it a plot is a strip nobody can read


def page_problems(page: QWidget, where: str) -> list[str]:
    out = []
    for table in page.findChildren(QTableWidget):
        if _shown(table):
            out += table_problems(table, where)
    for view, plot in _plots(page):
        out += plot_problems(plot, where)
        data_height = plot.getViewBox().sceneBoundingRect().height()  # the data area, without title or legend
        if data_height < MIN_PLOT_HEIGHT:
            out.append(f"{where}: plot {plot.titleLabel.text!r}'s data area is squashed to {data_height:.0f} px")
        cut = _clipped_width(view)
        if cut > 1:
            out.append(f"{where}: plot {plot.titleLabel.text!r} has {cut} px of its width cut off")
    return out


def _settle(qtbot, win) -> None:
    """Let the layouts settle and every pending redraw (10 Hz timers, deferred axis updates) run."""
    for _ in range(3):
        QApplication.processEvents()
        qtbot.wait(150)


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_page_shows_every_value_column_and_every_data_point(make_window, studied, qtbot, size):
    win = make_window(studied.root)
    win.resize(*size)
    _settle(qtbot, win)
    assert (win.width(), win.height()) == size
    shots = os.environ.get("BEND_PAGE_PNGS")
    problems, plots_seen, tables_seen = [], 0, 0
    tabs = win.workspace.tabs
    for i in range(tabs.count()):
        tabs.setCurrentIndex(i)
        _settle(qtbot, win)
        page, title = tabs.widget(i), tabs.tabText(i)
        # A page with tabs of its own (Studies: a study and Figure 5) is looked at tab by tab.
        inner = next(iter(page.findChildren(QTabWidget)), None)
        for j in range(inner.count() if inner is not None else 1):
            if inner is not None:
                inner.setCurrentIndex(j)
                _settle(qtbot, win)
            label = title if inner is None else f"{title} / {inner.tabText(j)}"
            problems += page_problems(page, f"{label} at {size[0]}x{size[1]}")
            plots_seen += len(_plots(page))
            tables_seen += sum(1 for t in page.findChildren(QTableWidget) if _shown(t) and t.rowCount())
            if shots:
                Path(shots).mkdir(parents=True, exist_ok=True)
                name = f"{size[0]}x{size[1]}-{i}{'' if inner is None else chr(97 + j)}-{title.replace(' ', '_')}.png"
                win.grab().save(str(Path(shots) / name))
    # The check covered something: the pages of a finished project hold tables and plots.
    assert tables_seen >= 6 and plots_seen >= 12, (tables_seen, plots_seen)
    assert not problems, "\n".join(problems)


def test_the_checks_catch_a_hidden_column_and_a_point_outside_the_view(qtbot):
    """The helpers above fail on what they look for (a test that cannot fail proves nothing)."""
    w = QWidget()
    qtbot.addWidget(w)
    w.resize(300, 300)
    table = QTableWidget(2, 6, w)
    table.setGeometry(0, 0, 300, 150)
    for c in range(6):
        table.setColumnWidth(c, 120)
    plot = pg.PlotWidget(w)
    plot.setGeometry(0, 150, 300, 150)
    plot.plot([0, 1, 10], [0, 1, 2])
    plot.setXRange(0, 5, padding=0)
    w.show()
    qtbot.waitExposed(w)
    assert any("column '6'" in p or "column" in p for p in table_problems(table, "t"))
    assert plot_problems(plot.getPlotItem(), "p")
    plot.enableAutoRange()
    QApplication.processEvents()
    assert not plot_problems(plot.getPlotItem(), "p")
    assert isinstance(table, QAbstractScrollArea)


def test_empty_plots_show_a_text_instead_of_axes(make_window, tiny_project, qtbot):
    win = make_window(tiny_project.root)
    win.resize(*SIZES[0])
    monitors = win.workspace.show_page("Monitors")
    _settle(qtbot, win)
    curves = monitors.findChildren(CurvePlot)
    assert curves and all(p.is_empty() for p in curves)
    for p in curves:
        assert not p.plot_item.getAxis("left").isVisible() and not p.plot_item.getAxis("bottom").isVisible()
        assert p.empty_text.textItem.toPlainText() == "no data yet"
    chart = win.workspace.show_page("Ablation").chart
    _settle(qtbot, win)
    assert chart.is_empty() and "No subset has results yet" in chart.empty_text.textItem.toPlainText()
    assert not chart.plot_item.getAxis("left").isVisible()
    for plot in win.workspace.show_page("Studies").figure5.plots.values():
        assert not plot.has_data() and not plot.plot_item.getAxis("left").isVisible()
    # Data brings the axes back.
    curves[0].append_row(1, {s: 0.5 for s in curves[0].series})
    curves[0].redraw()
    assert not curves[0].is_empty() and curves[0].plot_item.getAxis("left").isVisible()


def test_linear_ticks_have_thousands_separators():
    axis = TidyAxis("bottom")
    assert axis.tickStrings([0.0, 5000.0, 10000.0], 1.0, 5000.0) == ["0", "5,000", "10,000"]
    plain = pg.AxisItem("bottom")
    assert axis.tickStrings([0.5, 1.5], 1.0, 0.5) == plain.tickStrings([0.5, 1.5], 1.0, 0.5)  # others unchanged


def test_heatmap_counts_members_across_both_blocks_and_names_them_outside_the_data(qtbot):
    heatmap = IouHeatmap()
    qtbot.addWidget(heatmap)
    m, k = 4, 6
    heatmap.set_data(IouMatrix(np.eye(m + k), m, k))
    ticks = heatmap.plot_item.getAxis("left")._tickLevels[0]
    assert ticks == [(i + 0.5, str(i)) for i in range(0, m + k, 2)]  # 0 … 8 on one count, no restart at m
    top = {text: pos for pos, text in heatmap.plot_item.getAxis("top")._tickLevels[0]}
    assert top == {f"generated (m = {m})": m / 2, f"snapshots (k = {k})": m + k / 2}
    assert not [i for i in heatmap.plot_item.getViewBox().addedItems if isinstance(i, pg.TextItem)]
