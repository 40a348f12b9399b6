"""Layer ablation (BEND Table 5): the project's own subset and its variants side by side, the variants being
the points of the study `ablation` over [subset] layers (studies/ablation/), each recollected from the
project's trained base network. Add a subset, run the variants as one job, compare sBEND, aBEND ± std and
the snapshots' mean accuracy per subset."""

from __future__ import annotations

from functools import partial

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import BendError
from ...core.ml.subset_size import size_warning
from ...core.results.report import pct, pct_pm
from ...core.studies import ablation
from ..confirm import ask
from ..messages import without_command
from ..page_job import PageJob
from ..pipeline_panel import STATE_COLORS
from ..plots import PlotPanel, caption, legend_sample
from ..project_model import ProjectModel
from ..runner import JobOutcome
from .common import (
    ERROR_STYLE,
    MUTED,
    NumericItem,
    RunUpTo,
    fit_table_height,
    status_label,
    text_item,
)

COLUMNS = ("subset", "d", "sBEND", "aBEND", "orig mean", "gen mean", "potential", "state")
COLUMN_HELP = {
    "subset": "the parameters that are trained, generated and bagged; the first row is the project's own",
    "d": "number of parameters in the subset",
    "sBEND": "majority vote of the generated members (Algorithm 1)",
    "aBEND": "random vote by vote share (Algorithm 2), mean ± std over the evaluate stage's repeats",
    "orig mean": "mean test accuracy of the k original snapshots of this subset",
    "gen mean": "mean test accuracy of the m generated members",
    "potential": "a test image counts as right when any generated member is right (upper bound)",
    "state": "done, failed, missing (not run yet), or stale (the project's base or settings changed since); "
             "the project's row: done, or the first stage that is not",
}
BARS = (("sbend", "sBEND", "#1f77b4"), ("abend_mean", "aBEND ± std", "#d62728"), ("orig_mean", "orig (snapshot mean)",
                                                                                   "#7f7f7f"))
JOB = "Run variants"
TITLE = "Table 5 · test accuracy per parameter subset"


def row_label(row: dict) -> str:
    return ", ".join(row["layers"]) + (" (project)" if row["slug"] == "project" else "")


class AblationChart(PlotPanel):
    """Grouped bars per subset: sBEND, aBEND with its ± std, and the snapshots' mean, in %."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("ablation-table5", parent, layout_widget=True)
        self.rows: list[dict] = []
        self.shown: list[dict] = []
        pi = self.plot_item
        pi.setTitle(TITLE, size="10pt")
        pi.setLabel("left", "test accuracy (%)")
        pi.setMenuEnabled(False)
        pi.showGrid(x=False, y=True, alpha=0.2)
        pi.getAxis("bottom").setHeight(48)  # two-line tick labels: the subset and its d
        self.bar_width = 0.26  # not `width`: that would hide QWidget.width()
        self.bars = {}
        self.legend = legend = self.add_bottom_legend(columns=3)
        for key, label, color in BARS:
            self.bars[key] = pg.BarGraphItem(x=[], height=[], width=self.bar_width, brush=color, pen=pg.mkPen(color))
            pi.addItem(self.bars[key])
            legend.addItem(legend_sample(pen=pg.mkPen(color), brush=color), label)
        self.errors = pg.ErrorBarItem(x=np.array([]), y=np.array([]), top=np.array([]), bottom=np.array([]),
                                      beam=self.bar_width * 0.5, pen=pg.mkPen("#222", width=1.5))
        pi.addItem(self.errors)
        self.baseline = 0.0

    def set_rows(self, rows: list[dict]) -> None:
        self.rows = rows
        self.shown = [r for r in rows if r["sbend"] is not None]
        n = len(self.shown)
        xs = np.arange(n, dtype=float)
        vals = {key: np.array([100 * r[key] for r in self.shown]) for key, _, _ in BARS}
        allv = np.concatenate([v for v in vals.values()]) if n else np.array([])
        std = np.array([100 * (r["abend_std"] or 0.0) for r in self.shown])
        # Differences between subsets are often tenths of a point: bars start just below the lowest
        # value (the axis says where), not at 0 where they would all look the same.
        if n:
            lo_v, hi_v = float(min(allv.min(), (vals["abend_mean"] - std).min())), float(max(allv.max(), (vals["abend_mean"] + std).max()))
            span = max(hi_v - lo_v, 0.2)
            self.baseline = max(0.0, np.floor((lo_v - 0.6 * span) * 10) / 10)
            top = min(100.0, hi_v + 0.25 * span)
        else:
            self.baseline, top = 0.0, 100.0
        for i, (key, _, _) in enumerate(BARS):
            offset = (i - 1) * self.bar_width
            self.bars[key].setOpts(x=xs + offset, height=vals[key] - self.baseline, y0=self.baseline,
                                   width=self.bar_width)
        self.errors.setData(x=xs, y=vals["abend_mean"], top=std, bottom=std, beam=self.bar_width * 0.5)
        ticks = [(float(i), f"{row_label(r)}\nd = {r['d']:,}" + (f" · {r['state']}" if r["state"] != "done" else ""))
                 for i, r in enumerate(self.shown)]
        self.plot_item.getAxis("bottom").setTicks([ticks, []])
        if n:
            self.plot_item.setXRange(-0.6, n - 0.4, padding=0)
            self.plot_item.setYRange(self.baseline, top, padding=0)
            start = (f"Bars start at {self.baseline:.1f} %, not at 0, so that small differences show. "
                     if self.baseline > 0 else "")
            # The exported PNG carries the same warning in its title.
            sub = (f"<br><span style='font-size:8pt; color:#555'>bars start at {self.baseline:.1f} %, not at 0 · "
                   f"whiskers: aBEND ± std</span>" if self.baseline > 0 else "")
            self.plot_item.setTitle(TITLE + sub, size="10pt")
            self.note.setText(f"{start}The black whiskers are aBEND's ± std over its repeats.")
        else:
            self.note.setText("")
        self.legend.setVisible(bool(n))
        self.set_empty("" if n else "No subset has results yet: evaluate the project, or add a subset and "
                                    "Run variants.")

    def heights(self, key: str) -> np.ndarray:
        """The drawn bar tops of one quantity (in %)."""
        opts = self.bars[key].opts
        return np.asarray(opts["height"], dtype=float) + float(opts["y0"])

    def csv_table(self) -> tuple[list[str], list[list]]:
        header = ["subset", "d", "sbend", "abend_mean", "abend_std", "orig_mean", "gen_mean", "potential", "m", "k",
                  "state"]
        rows = [[" ".join(r["layers"]), r["d"]] + [("" if r[k] is None else f"{r[k]:.8g}") for k in
                                                   ("sbend", "abend_mean", "abend_std", "orig_mean", "gen_mean",
                                                    "potential")] + [r["m"] or "", r["k"] or "", r["state"]]
                for r in self.rows]
        return header, rows


class AddSubsetDialog(QDialog):
    """Choose modules of the base network (with their parameter counts) or type patterns; d is shown
    as the choice changes. Accepting asks the page to add the variant; an error keeps the dialog open."""

    def __init__(self, page: AblationPage, parent: QWidget | None = None):
        super().__init__(parent)
        self.page = page
        self.setWindowTitle("Add a subset")
        self.resize(520, 520)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["module", "type", "parameters"])
        self.tree.setRootIsDecorated(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.items: dict[str, QTreeWidgetItem] = {}
        try:
            modules = ablation.candidate_modules(page.model.project)
            own = set(ablation.own_modules(page.model.project))
        except BendError as e:
            modules, own = [], set()
            page.error.setText(str(e))
        bold = QFont()
        bold.setBold(True)
        for m in modules:
            it = QTreeWidgetItem([m.name, m.type, f"{m.own_params:,}"])
            if m.name in own:
                it.setFont(0, bold)
                it.setToolTip(0, "in the project's own subset (the first row of Table 5)")
            it.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            it.setFlags(it.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            it.setCheckState(0, Qt.CheckState.Unchecked)
            self.tree.addTopLevelItem(it)
            self.items[m.name] = it
        self.patterns = QLineEdit()
        self.patterns.setPlaceholderText("or patterns, e.g. layer4.1.bn*  fc  (comma or space separated)")
        self.preview = QLabel()
        self.preview.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Add")
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Modules of the base network whose parameters form the subset "
                             "(bold: the project's own subset):"))
        lay.addWidget(self.tree, 1)
        lay.addWidget(self.patterns)
        lay.addWidget(self.preview)
        lay.addWidget(self.buttons)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(200)
        self._timer.timeout.connect(self.update_preview)
        self.tree.itemChanged.connect(self._changed)
        self.patterns.textChanged.connect(self._changed)
        self.buttons.accepted.connect(self._add)
        self.buttons.rejected.connect(self.reject)
        self.update_preview()

    def layers(self) -> list[str]:
        chosen = [n for n, it in self.items.items() if it.checkState(0) == Qt.CheckState.Checked]
        typed = [p for p in self.patterns.text().replace(",", " ").split() if p]
        return chosen + [p for p in typed if p not in chosen]

    def check(self, *names: str) -> None:
        for n in names:
            self.items[n].setCheckState(0, Qt.CheckState.Checked)

    @Slot()
    def _changed(self, *args) -> None:
        self._timer.start()

    @Slot()
    def update_preview(self) -> None:
        layers = self.layers()
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        if not layers:
            self.preview.setText("Choose at least one module or type a pattern.")
            self.preview.setStyleSheet(MUTED)
            ok.setEnabled(False)
            return
        try:
            d, tensors = ablation.preview(self.page.model.project, layers)
        except BendError as e:
            self.preview.setText(str(e))
            self.preview.setStyleSheet(ERROR_STYLE)
            ok.setEnabled(False)
            return
        text = f"subset {', '.join(layers)}: d = {d:,} parameters in {tensors} tensor{'s' if tensors != 1 else ''}"
        warning = size_warning(d)
        self.preview.setText(f"{text}. {warning}" if warning else text)
        self.preview.setStyleSheet("color: #8a4b00;" if warning else "color: #222;")
        ok.setEnabled(True)

    @Slot()
    def _add(self) -> None:
        self._timer.stop()
        err = self.page.add(self.layers())
        if err:
            self.preview.setText(err)
            self.preview.setStyleSheet(ERROR_STYLE)
        else:
            self.accept()


class AblationPage(QWidget):
    def __init__(self, model: ProjectModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.rows: list[dict] = []
        self.dialog: QDialog | None = None
        self.confirm: QMessageBox | None = None

        self.table = QTableWidget()
        self.table.setObjectName("table5")
        self.table.setColumnCount(len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        for i, c in enumerate(COLUMNS):
            self.table.horizontalHeaderItem(i).setToolTip(COLUMN_HELP[c])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.add_btn = QPushButton("Add subset…")
        self.add_btn.setToolTip("a variant: the same base network with another subset trained, generated and bagged")
        self.remove_btn = QPushButton("Remove")
        self.remove_btn.setToolTip("delete the selected variant's folder")
        self.run_btn = QPushButton("Run variants")
        self.run_btn.setToolTip("run every variant that is not done (snapshots, autoencoder, DDPM, members, "
                                "evaluation), one after another")
        self.cancel_btn = QPushButton("Cancel")
        self.run_up_to = RunUpTo(model)  # the variants share the project's base network
        self.status = status_label("color: #1565c0;")
        self.error = status_label(ERROR_STYLE)
        self.error.setObjectName("ablationError")
        self.intro = caption("Each variant is a point of the study ablation (studies/ablation/): the project's "
                             "settings except [subset] layers, collected from the project's trained base network, "
                             "so only the subset differs. Accuracies in %, on the project's test set.")
        buttons = QHBoxLayout()
        for b in (self.add_btn, self.remove_btn, self.run_btn, self.cancel_btn, self.run_up_to):
            buttons.addWidget(b)
        buttons.addWidget(self.status, 1)
        self.chart = AblationChart()
        self.intro.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Maximum)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.intro)
        lay.addLayout(buttons)
        lay.addWidget(self.error)
        lay.addWidget(self.table)
        lay.addWidget(self.chart, 1)

        self.add_btn.clicked.connect(self.open_add)
        self.remove_btn.clicked.connect(self.ask_remove)
        self.run_btn.clicked.connect(self.run_variants)
        self.cancel_btn.clicked.connect(self.cancel)
        self.table.itemSelectionChanged.connect(self._update_controls)
        self.job = PageJob(model, self.status, self)
        model.curvePoint.connect(self._on_point)
        model.busyChanged.connect(self._on_busy)
        model.statesChanged.connect(self.reload)
        self.reload()

    # --- the table -----------------------------------------------------------------------------------

    @Slot()
    def reload(self) -> None:
        try:
            self.rows = ablation.table5(self.model.project)
        except BendError as e:
            self.rows = []
            self.error.setText(without_command(str(e)))
        selected = self.selected_slug()
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            name = text_item(row_label(row))
            name.setData(Qt.ItemDataRole.UserRole, row["slug"])
            name.setToolTip(row["path"])
            cells = [name, NumericItem(f"{row['d']:,}", float(row["d"])),
                     NumericItem(pct(row["sbend"]), row["sbend"]),
                     NumericItem(pct_pm(row["abend_mean"], row["abend_std"]) if row["abend_mean"] is not None
                                 else "—", row["abend_mean"]),
                     NumericItem(pct(row["orig_mean"]), row["orig_mean"]),
                     NumericItem(pct(row["gen_mean"]), row["gen_mean"]),
                     NumericItem(pct(row["potential"]), row["potential"]),
                     text_item(row["state"] + (f" · {row['detail']}" if row["detail"] else ""))]
            # missing and queued in the grey of a stage not run
            cells[-1].setForeground(QBrush(QColor(STATE_COLORS.get(row["state"], STATE_COLORS["not run"]))))
            cells[-1].setToolTip(row["detail"])
            for c, it in enumerate(cells):
                self.table.setItem(r, c, it)
            if row["slug"] == "project":
                for it in cells:
                    it.setBackground(QBrush(QColor("#e3f2fd")))
            if row["slug"] == selected:
                self.table.selectRow(r)
        fit_table_height(self.table, min(max(len(self.rows), 1), 8))
        self.chart.set_rows(self.rows)
        if len(self.rows) == 1 and not self.job.running and not self.status.text():
            self.status.setText("No variants yet: Add subset… compares other layers with this one.")
        self._update_controls()

    def selected_slug(self) -> str | None:
        items = self.table.selectedItems()
        if not items:
            return None
        slug = self.table.item(items[0].row(), 0).data(Qt.ItemDataRole.UserRole)
        return slug if slug != "project" else None

    def select(self, slug: str) -> None:
        for r in range(self.table.rowCount()):
            if self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) == slug:
                self.table.selectRow(r)
                return
        raise KeyError(slug)

    # --- adding and removing -------------------------------------------------------------------------

    @Slot()
    def open_add(self) -> AddSubsetDialog:
        self.dialog = AddSubsetDialog(self, self)
        self.dialog.open()
        return self.dialog

    def add(self, layers: list[str]) -> str:
        """Add a variant; returns '' or the error (also shown on the page)."""
        if self.model.busy:
            err = "a job is running: add the subset when it has finished"
        else:
            try:
                variant = ablation.add_variant(self.model.project, layers)
            except BendError as e:
                err = str(e)
            else:
                self.error.setText("")
                self.reload()
                self.select(variant.slug)
                self.status.setText(f"added {variant.slug}: Run variants trains and evaluates it")
                return ""
        self.error.setText(err)
        return err

    @Slot()
    def ask_remove(self) -> None:
        slug = self.selected_slug()
        if slug is None:
            return
        self.confirm = ask(self, "Remove variant", f"Remove the variant {slug} from the study and delete its "
                           f"result ({ablation.ablation_dir(self.model.project) / 'points'})?",
                           partial(self._remove, slug))

    def _remove(self, slug: str) -> None:
        if self.model.busy:
            self.error.setText("a job is running: remove the variant when it has finished")
            return
        try:
            ablation.remove_variant(self.model.project, slug)
        except BendError as e:
            self.error.setText(str(e))
            return
        self.error.setText("")
        self.status.setText(f"removed {slug}")
        self.reload()

    # --- running -------------------------------------------------------------------------------------

    @Slot()
    def run_variants(self) -> bool:
        project = self.model.project

        def factory(cancel):
            return ablation.run_variants(project, cancel)
        if not self.job.start(JOB, ablation.STAGE, factory, on_done=self._variants_done):
            self.error.setText("another job is running; wait for it or cancel it first")
            return False
        self.error.setText("")
        self._update_controls()
        return True

    @Slot()
    def cancel(self) -> None:
        self.job.cancel()

    @Slot(str, str, float, dict)
    def _on_point(self, stage: str, series: str, x: float, values: dict) -> None:
        if stage == ablation.STAGE and series == ablation.SERIES:
            self.reload()

    def _variants_done(self, outcome: JobOutcome) -> None:
        """The end of the variants' run this page started (called in the GUI thread)."""
        self.status.setText(f"Run variants: {outcome.state}")
        if outcome.state == "failed":
            self.error.setText(without_command(outcome.error_line))
        self.reload()

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        self._update_controls()

    @Slot()
    def _update_controls(self) -> None:
        busy = self.model.busy
        base = self.model.state("base").state
        has_variants = len(self.rows) > 1
        self.add_btn.setEnabled(not busy)
        self.remove_btn.setEnabled(not busy and self.selected_slug() is not None)
        why = ablation.run_blocker(base, has_variants)
        self.run_btn.setEnabled(not busy and not why)
        self.run_btn.setToolTip(why or "run every variant that is not done, one after another")
        self.run_up_to.offer("base" if base != "done" else None)
        self.cancel_btn.setEnabled(busy and self.job.running)
