"""The main window: menus, the start page or an open project, and the device in the status bar."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QStackedWidget, QWidget

from ..core.errors import BendError
from ..core.ml.device import describe_device, resolve_device
from ..core.project.folder import STAGE_TITLES, Project
from ..core.project.userdata import add_recent, demo_project, recent_projects
from .about import AboutDialog
from .confirm import roomy
from .project_model import ProjectModel
from .runner import JobOutcome, JobRunner, warm_up_imports
from .start_page import StartPage
from .workspace import ProjectWorkspace


class MainWindow(QMainWindow):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("BEND Studio")
        self.resize(1440, 900)
        warm_up_imports()
        self.runner = JobRunner(self)
        self.model: ProjectModel | None = None
        self.workspace: ProjectWorkspace | None = None
        self.dialog: QWidget | None = None  # the last non-blocking dialog (error, about, wizard)

        self.start_page = StartPage()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.start_page)
        self.setCentralWidget(self.stack)
        self.device_label = QLabel()
        self.project_label = QLabel()
        self.statusBar().addWidget(self.project_label, 1)
        self.statusBar().addPermanentWidget(self.device_label)
        self._build_menus()
        self.start_page.openRequested.connect(self.open_project)
        self.start_page.demoRequested.connect(self.open_demo)
        self.start_page.newRequested.connect(self.new_project)
        self.start_page.browseRequested.connect(self.browse_project)
        self._show_device()

    # --- menus ---------------------------------------------------------------------------------------

    def _build_menus(self) -> None:
        file = self.menuBar().addMenu("&File")
        self.act_new = self._action(file, "&New project…", self.new_project, QKeySequence.StandardKey.New)
        self.act_open = self._action(file, "&Open project…", self.browse_project, QKeySequence.StandardKey.Open)
        self.recent_menu = file.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self._action(file, "Open the &demo project", self.open_demo)
        file.addSeparator()
        self.act_export_results = self._action(file, "Export &results…", self.export_results)
        self.act_export_ensemble = self._action(file, "Export &ensemble (.pt)…", self.export_ensemble)
        file.addSeparator()
        self.act_close = self._action(file, "&Close project", self.close_project, QKeySequence.StandardKey.Close)
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        help_ = self.menuBar().addMenu("&Help")
        self._action(help_, "&About BEND Studio", self.show_about)

    def _action(self, menu, text, slot, shortcut=None) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(shortcut)
        act.triggered.connect(slot)
        menu.addAction(act)
        return act

    @Slot()
    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in recent_projects():
            act = self.recent_menu.addAction(str(p))
            act.setData(str(p))
            act.triggered.connect(self._open_recent_action)
        if not self.recent_menu.actions():
            self.recent_menu.addAction("(none)").setEnabled(False)

    @Slot()
    def _open_recent_action(self) -> None:
        self.open_project(self.sender().data())

    # --- projects ------------------------------------------------------------------------------------

    @Slot(str)
    def open_project(self, path: str | Path) -> bool:
        try:
            project = Project.open(path)
            project.load_config()
        except BendError as e:
            self.show_error("Cannot open project", str(e))
            return False
        if not self.close_project():
            return False
        self.model = ProjectModel(project, self.runner, self)
        self.model.jobFinished.connect(self._on_job_finished)  # after the model knows the failed stage
        self.workspace = ProjectWorkspace(self.model)
        self.stack.addWidget(self.workspace)
        self.stack.setCurrentWidget(self.workspace)
        add_recent(project.root)
        self.setWindowTitle(f"{project.name} — BEND Studio")
        self.project_label.setText(str(project.root))
        self._show_device()
        return True

    @Slot()
    def open_demo(self) -> bool:
        try:
            return self.open_project(demo_project().root)
        except BendError as e:
            self.show_error("Cannot create the demo project", str(e))
            return False

    @Slot()
    def browse_project(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a BEND project folder")
        if path:
            self.open_project(path)

    @Slot()
    def new_project(self) -> None:
        from .wizard import NewProjectWizard

        wiz = NewProjectWizard(self)
        wiz.projectCreated.connect(self.open_project)
        self.dialog = wiz
        wiz.open()

    @Slot()
    def close_project(self) -> bool:
        """Close the open project; a running job is cancelled and waited for (it saves a checkpoint)."""
        if self.model is None:
            return True
        if self.runner.busy:
            self.runner.cancel()
            self.runner.wait()
        self.stack.removeWidget(self.workspace)
        self.workspace.deleteLater()
        self.model.deleteLater()
        self.workspace, self.model = None, None
        self.start_page.refresh()
        self.stack.setCurrentWidget(self.start_page)
        self.setWindowTitle("BEND Studio")
        self.project_label.clear()
        self._show_device()
        return True

    @Slot()
    def export_results(self) -> None:
        if self.workspace is None:
            self.show_error("Export results", "Open a project first.")
            return
        self.workspace.table3.open_export_results()

    @Slot()
    def export_ensemble(self) -> None:
        if self.workspace is None:
            self.show_error("Export ensemble", "Open a project first.")
            return
        self.workspace.table3.open_export_ensemble()

    # --- feedback ------------------------------------------------------------------------------------

    def _show_device(self) -> None:
        try:
            dev = resolve_device(self.model.config.run) if self.model else None
            text = describe_device(dev)
        except BendError as e:
            text = str(e)
        self.device_label.setText(f"Device: {text}")

    def show_error(self, title: str, text: str) -> QMessageBox:
        box = roomy(QMessageBox(QMessageBox.Icon.Critical, title, text.split("\n\n")[0], parent=self))
        if "\n\n" in text:
            box.setDetailedText(text)
        self.dialog = box
        box.open()
        return box

    @Slot()
    def show_about(self) -> None:
        text = self.device_label.text().removeprefix("Device: ")
        self.dialog = AboutDialog(text, self)
        self.dialog.open()

    @Slot(object)
    def _on_job_finished(self, outcome: JobOutcome) -> None:
        if outcome.state == "failed":
            stage = self.model.failed_stage if self.model else None
            where = f"{STAGE_TITLES.get(stage, stage)} failed" if stage else f"{outcome.name} failed"
            self.show_error(where, outcome.message + "\n\nOutputs of earlier runs are still in the project folder.")

    def closeEvent(self, event: QCloseEvent) -> None:
        self.close_project()
        self.runner.wait()
        super().closeEvent(event)
