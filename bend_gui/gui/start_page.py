"""What the window shows with no project open: the demo, a new project, and the recent ones."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from ..core.userdata import recent_projects


class StartPage(QWidget):
    openRequested = Signal(str)
    newRequested = Signal()
    demoRequested = Signal()
    browseRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        title = QLabel("<h2>BEND Studio</h2>"
                       "<p>Bagging with neural-network diffusion: train one network, snapshot a small subset of "
                       "its parameters k times, fit a p-diff generator, sample m members, and bag them.</p>")
        title.setWordWrap(True)
        self.demo = QPushButton("Open the demo project (Fashion-MNIST, small CNN)")
        self.new = QPushButton("New project…")
        self.browse = QPushButton("Open a project folder…")
        row = QHBoxLayout()
        for b in (self.demo, self.new, self.browse):
            row.addWidget(b)
        row.addStretch(1)
        self.recent = QListWidget()
        self.recent.setObjectName("recent")
        self.empty = QLabel("No recent projects yet.")
        self.empty.setStyleSheet("color: #777;")
        lay = QVBoxLayout(self)
        lay.addWidget(title)
        lay.addLayout(row)
        lay.addSpacing(12)
        lay.addWidget(QLabel("<b>Recent projects</b> (double-click to open)"))
        lay.addWidget(self.empty)
        lay.addWidget(self.recent, 1)
        self.demo.clicked.connect(self.demoRequested)
        self.new.clicked.connect(self.newRequested)
        self.browse.clicked.connect(self.browseRequested)
        self.recent.itemActivated.connect(self._open_item)
        self.refresh()

    def refresh(self) -> None:
        self.recent.clear()
        for p in recent_projects():
            it = QListWidgetItem(f"{p.name}    —    {p}")
            it.setData(Qt.ItemDataRole.UserRole, str(p))
            self.recent.addItem(it)
        self.empty.setVisible(self.recent.count() == 0)

    @Slot(QListWidgetItem)
    def _open_item(self, item: QListWidgetItem) -> None:
        self.openRequested.emit(str(Path(item.data(Qt.ItemDataRole.UserRole))))
