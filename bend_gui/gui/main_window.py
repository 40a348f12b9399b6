"""The main window: menus (File, Edit, Run, View, Help, with shortcuts), the start page or an open project,
and the device in the status bar. Its size, the workspace's splitter and the last page shown are kept in
QSettings (the user's config folder) from one session to the next."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Slot
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QGuiApplication,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

from ..core.errors import BendError
from ..core.ml.device import describe_device, resolve_device
from ..core.project.folder import STAGE_TITLES, Project
from ..core.project.userdata import (
    add_recent,
    config_dir,
    demo_project,
    recent_projects,
)
from .about import AboutDialog
from .confirm import roomy
from .icon import app_icon
from .project_model import ProjectModel
from .runner import JobOutcome, JobRunner, warm_up_imports
from .start_page import StartPage
from .workspace import ProjectWorkspace

# Shortcuts of the Run menu. Rerun has none on purpose: it replaces results that may have cost hours.
RUN_STAGE_KEY = QKeySequence("Ctrl+R")
RUN_ALL_KEY = QKeySequence("Ctrl+Shift+R")
CANCEL_KEY = QKeySequence("Ctrl+.")


def window_settings() -> QSettings:
    """window.ini beside recent.json in the user's config folder; the path is looked up on every call
    (QSettings' own default path is fixed at its first use, which would mix up test sessions)."""
    return QSettings(str(config_dir() / "window.ini"), QSettings.Format.IniFormat)


class MainWindow(QMainWindow):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("BEND Studio")
        self.setWindowIcon(app_icon())
        self.resize(1440, 900)
        geometry = window_settings().value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
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
        self._update_actions()

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
        quit_ = self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        if quit_.shortcut().isEmpty():  # some platforms' themes define none
            quit_.setShortcut(QKeySequence("Ctrl+Q"))

        edit = self.menuBar().addMenu("&Edit")
        self.act_apply = self._action(edit, "&Apply settings", self._panel_call("apply_settings"),
                                      QKeySequence.StandardKey.Save)
        self.act_revert = self._action(edit, "&Revert settings", self._panel_call("revert_settings"))
        edit.addSeparator()
        self.act_copy_path = self._action(edit, "&Copy project folder path", self.copy_project_path)

        run = self.menuBar().addMenu("&Run")
        self.act_run_stage = self._action(run, "Run &selected stage", self._panel_call("run_selected"), RUN_STAGE_KEY)
        self.act_run_all = self._action(run, "Run &all stages", self._panel_call("run_all"), RUN_ALL_KEY)
        self.act_rerun = self._action(run, "R&erun selected stage…", self._panel_call("rerun_selected"))
        self.act_resume = self._action(run, "&Resume", self._panel_call("resume"))
        run.addSeparator()
        self.act_cancel = self._action(run, "&Cancel the running job", self.cancel_job, CANCEL_KEY)

        self.view_menu = self.menuBar().addMenu("&View")
        self.view_menu.aboutToShow.connect(self._fill_view)
        self.act_full_screen = QAction("&Full screen", self, checkable=True)
        self.act_full_screen.setShortcut(QKeySequence.StandardKey.FullScreen)
        self.act_full_screen.toggled.connect(self._full_screen)
        self.addAction(self.act_full_screen)
        self.page_actions: list[QAction] = []
        for i in range(9):  # Ctrl+1 … Ctrl+9: the workspace's pages, in tab order
            act = QAction(self)
            act.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            act.setData(i)
            act.triggered.connect(self._show_page_action)
            self.addAction(act)  # the shortcut works with the menu closed
            self.page_actions.append(act)

        help_ = self.menuBar().addMenu("&Help")
        self._action(help_, "&About BEND Studio (licence, how to cite)", self.show_about,
                     QKeySequence.StandardKey.HelpContents)

    def _action(self, menu, text, slot, shortcut=None) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(shortcut)
        act.triggered.connect(slot)
        menu.addAction(act)
        return act

    def _panel_call(self, name: str):
        """A slot calling the open project's pipeline panel (the same code as its buttons)."""
        def call() -> None:
            if self.workspace is not None:
                getattr(self.workspace.pipeline, name)()
        return call

    def _update_actions(self, *_) -> None:
        """Menu actions follow the buttons they stand for."""
        panel = self.workspace.pipeline if self.workspace else None
        pairs = [(self.act_run_stage, "run_btn"), (self.act_run_all, "run_all_btn"), (self.act_rerun, "rerun_btn"),
                 (self.act_resume, "resume_btn"), (self.act_apply, "apply_btn"), (self.act_revert, "revert_btn")]
        for act, button in pairs:
            act.setEnabled(panel is not None and getattr(panel, button).isEnabled())
        self.act_cancel.setEnabled(self.runner.busy)
        for act in (self.act_close, self.act_copy_path, self.act_export_results, self.act_export_ensemble):
            act.setEnabled(self.model is not None)

    @Slot()
    def cancel_job(self) -> None:
        if self.workspace is not None and self.runner.busy:
            self.workspace.activity.request_cancel()
        elif self.runner.busy:
            self.runner.cancel()

    @Slot()
    def copy_project_path(self) -> None:
        if self.model is not None:
            QGuiApplication.clipboard().setText(str(self.model.project.root))

    @Slot()
    def _fill_view(self) -> None:
        self.view_menu.clear()
        if self.workspace is not None:
            tabs = self.workspace.tabs
            group = QActionGroup(self.view_menu)  # one page at a time: radio marks
            for i in range(tabs.count()):
                act = self.view_menu.addAction(tabs.tabText(i))
                act.setCheckable(True)
                group.addAction(act)
                act.setChecked(i == tabs.currentIndex())
                if i < len(self.page_actions):  # shown, not set: the window's action holds the key
                    act.setText(f"{tabs.tabText(i)}\t{self.page_actions[i].shortcut().toString()}")
                act.setData(i)
                act.triggered.connect(self._show_page_action)
            self.view_menu.addSeparator()
        self.view_menu.addAction(self.act_full_screen)

    @Slot()
    def _show_page_action(self) -> None:
        i = self.sender().data()
        if self.workspace is not None and i < self.workspace.tabs.count():
            self.workspace.tabs.setCurrentIndex(i)

    @Slot(bool)
    def _full_screen(self, on: bool) -> None:
        self.showFullScreen() if on else self.showNormal()

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
        self._restore_workspace()
        self.model.busyChanged.connect(self._update_actions)
        self.model.statesChanged.connect(self._update_actions)
        self.workspace.pipeline.tree.currentItemChanged.connect(self._update_actions)
        self.stack.addWidget(self.workspace)
        self.stack.setCurrentWidget(self.workspace)
        add_recent(project.root)
        self.setWindowTitle(f"{project.name} — BEND Studio")
        self.project_label.setText(str(project.root))
        self._show_device()
        self._update_actions()
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
        self._save_workspace()
        self.stack.removeWidget(self.workspace)
        self.workspace.deleteLater()
        self.model.deleteLater()
        self.workspace, self.model = None, None
        self.start_page.refresh()
        self.stack.setCurrentWidget(self.start_page)
        self.setWindowTitle("BEND Studio")
        self.project_label.clear()
        self._show_device()
        self._update_actions()
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

    # --- remembered layout ----------------------------------------------------------------------------

    def _save_workspace(self) -> None:
        st = window_settings()
        st.setValue("workspace/splitter", self.workspace.split.saveState())
        st.setValue("workspace/page", self.workspace.current_page())

    def _restore_workspace(self) -> None:
        st = window_settings()
        state = st.value("workspace/splitter")
        if state is not None:
            self.workspace.split.restoreState(state)
        page = st.value("workspace/page")
        if page in self.workspace.pages:
            self.workspace.show_page(page)

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
        window_settings().setValue("window/geometry", self.saveGeometry())
        self.close_project()
        self.runner.wait()
        super().closeEvent(event)
