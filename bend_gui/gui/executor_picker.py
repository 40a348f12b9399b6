"""Where a study runs, as the Studies and Frontier pages ask it: this machine or a Ray cluster at an address.

One pair of widgets for both pages, so the choice and the address a researcher typed are remembered once
(the app settings' [studies] section) and every page starts from them.
"""

from __future__ import annotations

import weakref

from PySide6.QtWidgets import QComboBox, QLineEdit

from ..core.project import userdata
from ..core.studies.executors import make_executor

SETTINGS = "studies"   # the app settings' section: executor, address


class ExecutorPicker:
    """`combo` (this machine / Ray cluster) and `address` (enabled only for Ray), set from what was remembered;
    what one page remembers, the others' pickers show at once."""

    _open: weakref.WeakSet[ExecutorPicker] = weakref.WeakSet()

    def __init__(self) -> None:
        self.combo = QComboBox()
        self.combo.addItems(["this machine", "Ray cluster"])
        self.address = QLineEdit(str(userdata.remembered(SETTINGS, "address", "auto")))
        self.address.setToolTip("the Ray head node: auto (the cluster started on this machine) or HOST:PORT")
        self.combo.setCurrentIndex(1 if userdata.remembered(SETTINGS, "executor", "local") == "ray" else 0)
        self.combo.currentIndexChanged.connect(lambda i: self.address.setEnabled(i == 1))
        self.address.setEnabled(self.uses_ray)
        ExecutorPicker._open.add(self)

    @property
    def uses_ray(self) -> bool:
        return self.combo.currentIndex() == 1

    def remember(self) -> None:
        userdata.remember(SETTINGS, "executor", "ray" if self.uses_ray else "local")
        userdata.remember(SETTINGS, "address", self.address.text().strip() or "auto")
        for other in list(ExecutorPicker._open):
            if other is not self:
                other._show(self.combo.currentIndex(), self.address.text())

    def _show(self, index: int, address: str) -> None:
        try:
            self.combo.setCurrentIndex(index)
            self.address.setText(address)
        except RuntimeError:  # its page was closed (the Qt widgets are gone): nothing to show it on
            ExecutorPicker._open.discard(self)

    def make(self):
        """The chosen executor, remembered first (even when the cluster cannot be reached). A Ray address that
        answers nothing raises a BendError here, in one line, before any job starts."""
        self.remember()
        if not self.uses_ray:
            return make_executor("local")
        executor = make_executor("ray", address=self.address.text().strip() or "auto")
        executor.check_reachable()
        return executor
