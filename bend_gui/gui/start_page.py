"""What the window shows with no project open: the demo, a new project, and the recent ones."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from ..core.errors import BendError
from ..core.project.folder import STAGES, Project
from ..core.project.userdata import recent_projects


def describe_project(root: Path) -> str:
    """'smallcnn on fashion-mnist · 6/6 stages done' for the recent list (never raises)."""
    try:
        p = Project.open(root)
        cfg = p.load_config()
        done = sum(s.state == "done" for s in p.stage_states(cfg))
        return f"{cfg.model.backbone} on {cfg.data.dataset} · {done}/{len(STAGES)} stages done"
    except (BendError, OSError, ValueError) as e:
        return f"cannot read: {e}"


class StartPage(QWidget):
    openRequested = Signal(str)
    newRequested = Signal()
    demoRequested = Signal()
    browseRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        title = QLabel("<h1>BEND Studio</h1>"
                       "<p>Bagging with neural-network diffusion. Train one network, keep training a small subset "
                       "of its parameters and save it k times, fit a p-diff generator (a parameter autoencoder and "
                       "a latent DDPM) on the snapshots, sample m new members, and bag them by majority vote "
                       "(sBEND) or a probability-weighted random vote (aBEND).</p>")
        title.setWordWrap(True)
        self.demo = QPushButton("Open the demo project")
        self.demo.setToolTip("Fashion-MNIST, a small CNN, its last two BatchNorm layers: "
                             "the whole pipeline takes about 3 minutes on 2 CPU cores")
        self.new = QPushButton("New project…")
        self.browse = QPushButton("Open a project folder…")
        for b in (self.demo, self.new, self.browse):
            b.setMinimumHeight(34)
        row = QHBoxLayout()
        for b in (self.demo, self.new, self.browse):
            row.addWidget(b)
        row.addStretch(1)
        self.recent = QListWidget()
        self.recent.setObjectName("recent")
        self.recent.setAlternatingRowColors(True)
        self.empty = QLabel("No recent projects yet: open the demo or create a project.")
        self.empty.setStyleSheet("color: #777;")

        column = QVBoxLayout()
        column.addWidget(title)
        column.addSpacing(8)
        column.addLayout(row)
        column.addSpacing(20)
        column.addWidget(QLabel("<b>Recent projects</b> (double-click to open)"))
        column.addWidget(self.empty)
        column.addWidget(self.recent, 1)
        holder = QWidget()
        holder.setMaximumWidth(900)
        holder.setLayout(column)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(24, 24, 24, 24)
        outer.addStretch(1)
        outer.addWidget(holder, 8)
        outer.addStretch(1)

        self.demo.clicked.connect(self.demoRequested)
        self.new.clicked.connect(self.newRequested)
        self.browse.clicked.connect(self.browseRequested)
        self.recent.itemActivated.connect(self._open_item)
        self.refresh()

    def refresh(self) -> None:
        self.recent.clear()
        for p in recent_projects():
            it = QListWidgetItem(f"{p.name}\n{p}    ·    {describe_project(p)}")
            it.setData(Qt.ItemDataRole.UserRole, str(p))
            self.recent.addItem(it)
        self.empty.setVisible(self.recent.count() == 0)
        self.recent.setVisible(self.recent.count() > 0)

    @Slot(QListWidgetItem)
    def _open_item(self, item: QListWidgetItem) -> None:
        self.openRequested.emit(str(Path(item.data(Qt.ItemDataRole.UserRole))))
