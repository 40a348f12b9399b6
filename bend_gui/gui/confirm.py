"""Asking before something that cannot be undone: a window-modal Yes/Cancel question that calls back only
on Yes. Cancel is the default button, so Enter never destroys anything."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QMessageBox, QWidget


def roomy(box: QMessageBox) -> QMessageBox:
    """A message box wide enough for a path and a sentence: at Qt's narrow default a long text wraps into
    more lines than the box's computed height holds, and its first and last lines are cut off."""
    box.setStyleSheet("QLabel#qt_msgbox_label { min-width: 460px; }")
    return box


class Question(QMessageBox):
    def __init__(self, parent: QWidget, title: str, text: str, on_yes: Callable[[], None]):
        super().__init__(QMessageBox.Icon.Question, title, text,
                         QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, parent)
        self.setDefaultButton(QMessageBox.StandardButton.Cancel)
        roomy(self)
        self._on_yes = on_yes
        self.finished.connect(self._answered)

    @Slot(int)
    def _answered(self, _result: int) -> None:
        if self.standardButton(self.clickedButton()) == QMessageBox.StandardButton.Yes:
            self._on_yes()


def ask(parent: QWidget, title: str, text: str, on_yes: Callable[[], None]) -> Question:
    """Open the question (it does not block) and return it, so a page can keep it and tests can answer it."""
    box = Question(parent, title, text, on_yes)
    box.open()
    return box


