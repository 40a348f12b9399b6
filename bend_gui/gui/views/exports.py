"""'Export results…' (every table as CSV plus metrics.json) and 'Export ensemble…' (the .pt bundle).
The dialogs write in a worker thread (a ResNet-50 bundle is ~90 MB: about a second of writing), not with
the project's job runner, so an export works while a job trains; the work itself is core's."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QWidget,
)

from ...core.errors import BendError
from ...core.results.bundle_export import export
from ...core.studies.export import export_all
from ..confirm import roomy
from ..messages import without_command
from ..project_model import ProjectModel
from ..runner import call_in_thread
from .common import RunUpTo

RULE_HELP = {"sbend": "sBEND: majority vote (Algorithm 1)", "abend": "aBEND: random vote by share (Algorithm 2)",
             "soft": "soft vote: mean of the members' probabilities"}
MEMBER_HELP = {"generated": "generated members (stage 4)", "original": "original snapshots (stage 1)"}
MEMBER_STAGE = {"generated": "generate", "original": "collect"}  # the stage whose outputs a bundle holds


def export_results_to(model: ProjectModel, folder: str | Path) -> list[Path]:
    return export_all(model.project, Path(folder))


def export_start_folder(model: ProjectModel) -> Path:
    """Where the export dialogs open: beside the project (exports are refused inside a project folder)."""
    return model.project.root.parent


def export_ensemble_to(model: ProjectModel, path: str | Path, members: str = "generated",
                       rule: str = "sbend") -> dict:
    return export(model.project, Path(path), members=members, rule=rule)


def write_error(e: Exception) -> str:
    """What a user reads when writing an export failed."""
    return (f"{e.filename}: cannot write ({e.strerror or e})" if isinstance(e, OSError) and e.filename
            else without_command(str(e)) if isinstance(e, (BendError, OSError)) else f"{type(e).__name__}: {e}")


def show_message(parent: QWidget, title: str, text: str, error: bool = False,
                 run_up_to: tuple[ProjectModel, str] | None = None) -> QMessageBox:
    """A non-blocking message; with `run_up_to=(model, stage)` it offers that run as a button."""
    box = roomy(QMessageBox(QMessageBox.Icon.Warning if error else QMessageBox.Icon.Information, title, text,
                            parent=parent))
    if run_up_to is not None:
        model, stage = run_up_to
        button = RunUpTo(model)
        button.offer(stage)
        box.addButton(button, QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Close)
        box.run_up_to = button
    box.open()
    return box


class ExportEnsembleDialog(QDialog):
    """Members, rule and file of the bundle; OK writes it (the dialog stays open on an error)."""

    def __init__(self, model: ProjectModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.setWindowTitle("Export ensemble")
        self.members = QComboBox()
        for key, text in MEMBER_HELP.items():
            self.members.addItem(text, key)
        self.rule = QComboBox()
        for key, text in RULE_HELP.items():
            self.rule.addItem(text, key)
        self.path = QLineEdit(str(export_start_folder(model) / f"{model.project.name}-ensemble.pt"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00020;")
        self.run_up_to = RunUpTo(model)
        self.run_up_to.clicked.connect(self.reject)  # the run shows in the window; export when it is done
        self.summary: dict | None = None
        form = QFormLayout(self)
        form.addRow("members", self.members)
        form.addRow("bagging rule", self.rule)
        form.addRow("file", row)
        form.addRow(QLabel("Load it with bend_gui.bundle.load(path); its predict(x) applies the rule."))
        form.addRow(self.error)
        form.addRow(self.run_up_to)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self.resize(560, self.sizeHint().height())

    @Slot()
    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export ensemble", self.path.text(), "BEND ensemble (*.pt)")
        if path:
            self.path.setText(path)

    @Slot()
    def save(self) -> bool:
        """Check the file name and start writing; False (and a message) when it cannot start. The dialog
        closes when the bundle is written and stays open with the error when it is not."""
        text = self.path.text().strip()
        if not text:
            self.error.setText("Choose a file name.")
            return False
        path = Path(text).expanduser()
        if path.suffix != ".pt":
            path = path.with_name(path.name + ".pt")
        if not path.parent.is_dir():
            self.error.setText(f"{path.parent}: no such folder.")
            return False
        self.error.setText(f"Writing {path}…")
        self.buttons.setEnabled(False)
        self.writing = call_in_thread(export_ensemble_to, self.model, path, self.members.currentData(),
                                      self.rule.currentData(), done=self._written, failed=self._failed)
        return True

    def _written(self, summary: dict) -> None:
        self.summary = summary
        self.buttons.setEnabled(True)
        self.accept()

    def _failed(self, e: Exception) -> None:
        self.error.setText(write_error(e))
        self.buttons.setEnabled(True)
        if isinstance(e, BendError):  # the members' stage is not done (and has no last good run)
            self.run_up_to.offer_if_missing(MEMBER_STAGE[self.members.currentData()])
