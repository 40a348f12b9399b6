"""The mouse wheel scrolls pages: it never edits settings by accident, nor zooms a plot by accident.

Qt's spin boxes, combo boxes and sliders take wheel events while the pointer merely passes over them, so
scrolling a long settings form turned `collect.k` 200 → 199 without a word. A guarded editor reacts to the
wheel only once the user has given it focus (a click or Tab); otherwise the event goes on to the page
around it, which scrolls. A plot inside a scrolling page zooms only with Ctrl held; the plain wheel scrolls the
page (pyqtgraph would zoom and trap the pointer's scrolling on every plot of the Monitors page)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QGraphicsView,
    QSlider,
    QWidget,
)

EDITORS = (QAbstractSpinBox, QComboBox, QSlider)  # not scroll bars: they are how a page scrolls


def _page_of(widget: QWidget) -> QAbstractScrollArea | None:
    """The nearest scrolling page around `widget` (not counting the widget itself)."""
    area = widget.parentWidget()
    while area is not None and not isinstance(area, QAbstractScrollArea):
        area = area.parentWidget()
    return area


class _WheelGuard(QObject):
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() != QEvent.Type.Wheel or not isinstance(obj, QWidget) or obj.hasFocus():
            return False
        area = _page_of(obj)
        if area is not None:  # scroll the page the editor sits in
            QApplication.sendEvent(area.viewport(), event.clone())
            event.accept()
        else:  # nothing to scroll here: let Qt offer the event to the parents
            event.ignore()
        return True


class _PlotWheelGuard(QObject):
    """On a plot's viewport: the plain wheel scrolls the page around the plot, Ctrl + wheel zooms."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() != QEvent.Type.Wheel or event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            return False
        view = obj.parentWidget() if isinstance(obj, QWidget) else None
        area = _page_of(view) if view is not None else None
        if area is None:
            return False  # a plot on a page that does not scroll zooms as usual
        QApplication.sendEvent(area.viewport(), event.clone())
        event.accept()
        return True


_guard: _WheelGuard | None = None
_plot_guard: _PlotWheelGuard | None = None


def guard_wheel(root: QWidget) -> None:
    """Guard `root` and every editor inside it (call again after adding editors; guarding twice is harmless)."""
    global _guard
    if _guard is None:
        _guard = _WheelGuard()
    editors = [root] if isinstance(root, EDITORS) else []
    editors += [w for w in root.findChildren(QWidget) if isinstance(w, EDITORS)]
    for w in editors:
        w.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the wheel alone no longer gives focus
        w.removeEventFilter(_guard)
        w.installEventFilter(_guard)


def guard_plot_wheel(view: QGraphicsView) -> None:
    """Make a plot inside a scrolling page zoom only with Ctrl + wheel (see the module's doc)."""
    global _plot_guard
    if _plot_guard is None:
        _plot_guard = _PlotWheelGuard()
    view.viewport().installEventFilter(_plot_guard)
