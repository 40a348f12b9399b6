"""The mouse wheel scrolls pages, it never edits settings by accident.

Qt's spin boxes, combo boxes and sliders take wheel events while the pointer merely passes over them, so
scrolling a long settings form turned `collect.k` 200 → 199 without a word. A guarded editor reacts to the
wheel only once the user has given it focus (a click or Tab); otherwise the event goes on to the page
around it, which scrolls."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractScrollArea, QAbstractSpinBox, QApplication, QComboBox, QSlider, QWidget

EDITORS = (QAbstractSpinBox, QComboBox, QSlider)  # not scroll bars: they are how a page scrolls


class _WheelGuard(QObject):
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() != QEvent.Type.Wheel or not isinstance(obj, QWidget) or obj.hasFocus():
            return False
        area = obj.parentWidget()
        while area is not None and not isinstance(area, QAbstractScrollArea):
            area = area.parentWidget()
        if area is not None:  # scroll the page the editor sits in
            QApplication.sendEvent(area.viewport(), event.clone())
            event.accept()
        else:  # nothing to scroll here: let Qt offer the event to the parents
            event.ignore()
        return True


_guard: _WheelGuard | None = None


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
