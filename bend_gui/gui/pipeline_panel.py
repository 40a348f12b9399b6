"""The project's pipeline: each stage with its state, buttons to run, rerun and resume, and the settings of
the selected stage (locked while a job runs, since the job reads them). The one Cancel is the activity
bar's, below every page; when another process holds the project, a note says which and Run waits."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import ConfigError
from ..core.project.folder import STAGE_INPUTS, STAGE_TITLES, STAGES
from ..core.results.report import duration, pct
from .confirm import ask
from .messages import without_command
from .project_model import ProjectModel
from .settings_form import SettingsForm

STATE_COLORS = {"done": "#2e7d32", "stale": "#ef6c00", "failed": "#c62828", "cancelled": "#6d4c41",
                "running": "#1565c0", "not run": "#757575"}
# Settings shown beside each stage: the sections it reads (plus [run] with the base stage).
STAGE_SECTIONS = {s: list(STAGE_INPUTS[s]) for s in STAGES} | {"base": ["model", "data", "base", "run"]}


def summary(stage: str, info: dict) -> str:
    """One line on what a finished stage achieved, from its manifest info."""
    try:
        if stage == "base":
            return f"test accuracy {pct(info['test_acc'])}% after {info['epochs']} epochs"
        if stage == "collect":
            return (f"{info['k']} snapshots of d = {info['d']:,}: test accuracy {pct(info['acc_min'])}–"
                    f"{pct(info['acc_max'])}% (mean {pct(info['acc_mean'])}%)")
        if stage == "autoencoder":
            return (f"reconstructed snapshots {pct(info['recon_acc_mean'])}% (originals "
                    f"{pct(info['orig_acc_mean'])}%)")
        if stage == "diffusion":
            return f"final loss {info['final_loss']:.4g}"
        if stage == "generate":
            return f"{info['m']} members from {info['generator']} in {info['seconds']:.2f} s"
        if stage == "evaluate":
            return (f"sBEND {pct(info['sbend'])}% · aBEND {pct(info['abend_mean'])}% · members "
                    f"{pct(info['gen_mean'])}% · snapshots {pct(info['orig_mean'])}%")
    except (KeyError, TypeError):
        pass
    return ""


class PipelinePanel(QWidget):
    def __init__(self, model: ProjectModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.tree = QTreeWidget()
        self.tree.setObjectName("stages")
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["stage", "state", "time"])
        self.tree.setRootIsDecorated(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        # the state ("cancelled · resumable") is never cut: its column takes what it needs
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(False)
        self.items: dict[str, QTreeWidgetItem] = {}
        self.confirm: QMessageBox | None = None  # the open "Rerun?" question
        for s in STAGES:
            it = QTreeWidgetItem([STAGE_TITLES[s], "", ""])
            it.setData(0, Qt.ItemDataRole.UserRole, s)
            self.tree.addTopLevelItem(it)
            self.items[s] = it
        rows = self.tree.sizeHintForRow(0) * len(STAGES)
        self.tree.setFixedHeight(rows + self.tree.header().sizeHint().height() + 2 * self.tree.frameWidth() + 4)

        self.run_btn = QPushButton("Run")
        self.run_btn.setToolTip("run the selected stage, and the stages before it that are not done")
        self.run_all_btn = QPushButton("Run all")
        self.rerun_btn = QPushButton("Rerun")
        self.rerun_btn.setToolTip("run the selected stage again even though it is done")
        self.resume_btn = QPushButton("Resume")
        self.resume_btn.setToolTip("continue a cancelled or crashed run from its last checkpoint")
        buttons = QHBoxLayout()
        for b in (self.run_btn, self.run_all_btn, self.rerun_btn, self.resume_btn):
            buttons.addWidget(b)
        self.lock_banner = QLabel()
        self.lock_banner.setObjectName("lockBanner")
        self.lock_banner.setWordWrap(True)
        self.lock_banner.setStyleSheet("background: #fff3cd; color: #5d4200; padding: 4px;")
        self.lock_banner.hide()
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setStyleSheet("color: #555;")

        self.settings_title = QLabel()
        self.settings_title.setStyleSheet("font-weight: bold;")
        self.forms: dict[str, SettingsForm] = {}
        self.form_area = QScrollArea()
        self.form_area.setWidgetResizable(True)
        self.apply_btn = QPushButton("Apply settings")
        self.revert_btn = QPushButton("Revert")
        self.lock_note = QLabel("settings are locked while a job runs")
        self.lock_note.setStyleSheet("color: #1565c0;")
        apply_row = QHBoxLayout()
        apply_row.addWidget(self.lock_note)
        apply_row.addStretch(1)
        apply_row.addWidget(self.revert_btn)
        apply_row.addWidget(self.apply_btn)

        lay = QVBoxLayout(self)
        lay.addWidget(self.tree)
        lay.addLayout(buttons)
        lay.addWidget(self.lock_banner)
        lay.addWidget(self.detail)
        lay.addWidget(self.settings_title)
        lay.addWidget(self.form_area, 1)
        lay.addLayout(apply_row)

        self.run_btn.clicked.connect(self.run_selected)
        self.run_all_btn.clicked.connect(self.run_all)
        self.rerun_btn.clicked.connect(self.rerun_selected)
        self.resume_btn.clicked.connect(self.resume)
        self.apply_btn.clicked.connect(self.apply_settings)
        self.revert_btn.clicked.connect(self.revert_settings)
        self.tree.currentItemChanged.connect(self._on_selection)
        model.statesChanged.connect(self._update_states)
        model.busyChanged.connect(self._update_buttons)
        model.configChanged.connect(self.revert_settings)
        self.tree.setCurrentItem(self.items["base"])
        self._update_states()

    def selected_stage(self) -> str:
        it = self.tree.currentItem()
        return it.data(0, Qt.ItemDataRole.UserRole) if it else "base"

    def select(self, stage: str) -> None:
        self.tree.setCurrentItem(self.items[stage])

    def form(self, stage: str) -> SettingsForm:
        if stage not in self.forms:
            f = SettingsForm(STAGE_SECTIONS[stage])
            f.set_config(self.model.config)
            f.edited.connect(self._update_buttons)
            self.forms[stage] = f
        return self.forms[stage]

    # --- reactions -----------------------------------------------------------------------------------

    @Slot()
    def _update_states(self) -> None:
        for st in self.model.states():
            it = self.items[st.stage]
            label = st.state + (" · resumable" if st.resumable and st.state != "done" else "")
            it.setText(1, label)
            it.setForeground(1, QBrush(QColor(STATE_COLORS.get(st.state, "#000"))))
            it.setText(2, duration(st.seconds) if st.state in ("done", "stale") else "")
            it.setToolTip(1, self._state_detail(st))
        text = self.model.lock_text()
        self.lock_banner.setText(text)
        self.lock_banner.setVisible(bool(text))
        self._show_detail()
        self._update_buttons()

    def _state_detail(self, st) -> str:
        if st.state == "running" and self.model.busy:
            return "running in this window"
        return st.detail

    def _show_detail(self) -> None:
        st = self.model.state(self.selected_stage())
        text = self._state_detail(st) if st.state != "done" else ""
        if st.state in ("done", "stale") and st.info:
            text = " · ".join(t for t in (summary(st.stage, st.info), text) if t)
        self.detail.setText(without_command(text))

    @Slot()
    def _update_buttons(self) -> None:
        busy = self.model.busy
        can_run = not busy and not self.model.locked_by_other
        self.run_btn.setEnabled(can_run)
        self.run_all_btn.setEnabled(can_run)
        self.rerun_btn.setEnabled(can_run and self.model.state(self.selected_stage()).state == "done")
        self.resume_btn.setEnabled(can_run and self.model.resumable)
        # a run in another process read these settings too: a change now would make its results stale
        for f in self.forms.values():
            f.setEnabled(can_run)
        self.apply_btn.setEnabled(can_run)
        self.revert_btn.setEnabled(can_run)
        self.lock_note.setVisible(not can_run)

    @Slot()
    def _on_selection(self, *_) -> None:
        stage = self.selected_stage()
        self.settings_title.setText(f"Settings read by {STAGE_TITLES[stage]}")
        self.form_area.takeWidget()
        self.form_area.setWidget(self.form(stage))
        self._show_detail()
        self._update_buttons()

    # --- actions -------------------------------------------------------------------------------------

    @Slot()
    def run_selected(self) -> None:
        self.model.run_pipeline(until=self.selected_stage())

    @Slot()
    def run_all(self) -> None:
        self.model.run_pipeline()

    @Slot()
    def rerun_selected(self) -> None:
        """Ask first: a rerun replaces outputs that may have cost hours, and makes every later stage stale."""
        s = self.selected_stage()
        st = self.model.state(s)
        later = STAGES[STAGES.index(s) + 1:]
        self.confirm = ask(
            self, "Rerun stage",
            f"Rerun {STAGE_TITLES[s]}? Its last run took {duration(st.seconds)}. When the rerun finishes, its "
            f"outputs are replaced" + (f" and {len(later)} later stage{'s' if len(later) > 1 else ''} become stale"
                                       if later else "")
            + "; until then the current results stay. Cancel stops it and keeps them.",
            partial(self.model.run_pipeline, until=s, force=(s,)))

    @Slot()
    def resume(self) -> None:
        self.model.resume()

    @Slot()
    def apply_settings(self) -> None:
        form = self.form(self.selected_stage())
        try:
            cfg = form.config()
        except ConfigError:
            return
        # Keep the edits of every open form, not just this one.
        for f in self.forms.values():
            if f is not form:
                f.set_base(cfg)
        self.model.save_config(cfg)

    @Slot()
    def revert_settings(self) -> None:
        for f in self.forms.values():
            f.set_config(self.model.config)
