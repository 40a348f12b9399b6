"""An open project: the pipeline on the left, pages of views on the right, the activity bar below."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QTabWidget, QVBoxLayout, QWidget

from .activity import ActivityBar
from .monitors import MonitorsPage
from .pipeline_panel import PipelinePanel
from .project_model import ProjectModel
from .views import RESULT_PAGES, Table3Page
from .wheel import guard_wheel


class ProjectWorkspace(QWidget):
    def __init__(self, model: ProjectModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.pipeline = PipelinePanel(model)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("pages")
        self.monitors = MonitorsPage(model)
        self.tabs.addTab(self.monitors, "Monitors")
        # Pages by tab title; the window reaches the ones it drives through the named attributes below.
        self.pages: dict[str, QWidget] = {"Monitors": self.monitors}
        for title, page in RESULT_PAGES:
            self.pages[title] = page(model)
            self.tabs.addTab(self.pages[title], title)
        self.table3: Table3Page = self.pages["Table 3"]  # holds the exports of the File menu
        self.activity = ActivityBar(model)
        self.split = split = QSplitter(Qt.Orientation.Horizontal)
        split.setObjectName("workspaceSplitter")
        split.addWidget(self.pipeline)
        split.addWidget(self.tabs)
        split.setStretchFactor(1, 1)
        split.setSizes([430, 1000])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(split, 1)
        lay.addWidget(self.activity)
        guard_wheel(self)

    def page(self, title: str) -> QWidget:
        return self.pages[title]

    def current_page(self) -> str:
        return self.tabs.tabText(self.tabs.currentIndex())

    def show_page(self, title: str) -> QWidget:
        w = self.page(title)
        self.tabs.setCurrentWidget(w)
        return w
