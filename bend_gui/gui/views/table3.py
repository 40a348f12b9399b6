"""The paper's Table 3 for this project: the generator's row and each baseline's beside it, sortable by
number, with the plain verdicts and the calibration of each rule below; and the export buttons."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from ...core.results.report import TABLE3_COLUMNS, table3_cells, table3_rows, verdicts
from ...core.results.tables import Results
from ..plots import ExportButtons, caption, checked_export, write_rows_csv
from ..runner import call_in_thread
from .common import NumericItem, ResultsPage, fit_columns, fit_table_height, text_item
from .exports import (
    ExportEnsembleDialog,
    export_ensemble_to,
    export_results_to,
    export_start_folder,
    show_message,
    write_error,
)

COLUMN_HELP = {
    "sbend": "sBEND: majority vote of the generated members (Algorithm 1)",
    "abend": "aBEND: random vote by vote share (Algorithm 2), mean ± std over the evaluate stage's repeats",
    "soft": "soft vote: class of the highest mean probability",
    "gen_max": "best single generated member", "gen_mean": "mean of the generated members",
    "gen_median": "median of the generated members",
    "orig_max": "best original snapshot", "orig_mean": "mean of the k original snapshots",
    "orig_median": "median of the original snapshots",
    "potential": "potential: a test image counts as right when any member is right (upper bound)",
}
# Column headers in words (the CLI's report prints the short keys); two lines keep the columns narrow.
HEADERS = {"sbend": "sBEND", "abend": "aBEND", "soft": "soft vote", "gen_max": "generated\nbest",
           "gen_mean": "generated\nmean", "gen_median": "generated\nmedian", "orig_max": "snapshots\nbest",
           "orig_mean": "snapshots\nmean", "orig_median": "snapshots\nmedian", "potential": "potential"}
PROJECT_ROW = QColor("#e3f2fd")


class Table3Page(ResultsPage):
    WHAT = "Table 3 (sBEND, aBEND and the baselines)"

    def build(self, content: QWidget) -> None:
        self.title = caption(style="font-weight: bold; color: #222;")  # wraps: never widens the page
        self.table = QTableWidget()
        self.table.setObjectName("table3")
        self.table.setColumnCount(1 + len(TABLE3_COLUMNS))
        self.table.setHorizontalHeaderLabels(["generator"] + [HEADERS[c] for c in TABLE3_COLUMNS])
        for i, c in enumerate(TABLE3_COLUMNS, start=1):
            self.table.horizontalHeaderItem(i).setToolTip(COLUMN_HELP[c])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setSortingEnabled(True)
        self.verdicts = caption(style="color: #222;")
        self.verdicts.setObjectName("verdicts")
        self.cal_title = QLabel("Calibration of each rule · ECE / NLL (lower is better)")
        self.cal_title.setStyleSheet("font-weight: bold;")
        self.calibration = QTableWidget()
        self.calibration.setObjectName("calibration")
        self.calibration.setColumnCount(5)
        self.calibration.setHorizontalHeaderLabels(["set", "soft", "sBEND", "aBEND", "members (mean)"])
        self.calibration.verticalHeader().setVisible(False)
        self.calibration.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.calibration.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)

        self.export_results_btn = QPushButton("Export results…")
        self.export_results_btn.setToolTip("write every table (Table 3 with baselines, diversity, efficiency, "
                                           "calibration, members, IoU, the sweeps and Table 5) as CSV, "
                                           "accuracies in %, and metrics.json into a folder")
        self.export_ensemble_btn = QPushButton("Export ensemble…")
        self.export_ensemble_btn.setToolTip("write the members, the frozen network and the bagging rule as a "
                                            ".pt bundle")
        self.export_results_btn.clicked.connect(self.open_export_results)
        self.export_ensemble_btn.clicked.connect(self.open_export_ensemble)
        self.table_exports = ExportButtons(self)
        bar = QHBoxLayout()
        bar.addWidget(self.title, 1)
        bar.addWidget(self.table_exports)
        actions = QHBoxLayout()
        actions.addStretch(1)
        actions.addWidget(self.export_results_btn)
        actions.addWidget(self.export_ensemble_btn)
        lay = QVBoxLayout(content)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(bar)
        lay.addWidget(self.table)
        lay.addWidget(self.verdicts)
        lay.addSpacing(8)
        lay.addWidget(self.cal_title)
        lay.addWidget(self.calibration)
        lay.addStretch(1)
        lay.addLayout(actions)
        self.dialog = None

    def show_results(self, res: Results) -> None:
        mt = res.metrics
        self.title.setText(f"Table 3 · test accuracy (%) · {mt['n_test']:,} test images · k = {mt['k']} snapshots, "
                           f"m = {mt['m']} members each · bold: this project's generator, then the baselines")
        rows = table3_rows(mt)
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(rows))
        bold = QFont()
        bold.setBold(True)
        for r, (name, row) in enumerate(rows):
            cells = table3_cells(row)
            first = text_item(name)
            first.setData(Qt.ItemDataRole.UserRole, name)
            first.setToolTip("this project's generator (the bold row)" if r == 0
                             else f"baseline generator {name}, same m")
            self.table.setItem(r, 0, first)
            for c, col in enumerate(TABLE3_COLUMNS, start=1):
                value = row["abend_mean"] if col == "abend" else row.get(col)
                self.table.setItem(r, c, NumericItem(cells[col], value))
            if r == 0:
                for c in range(self.table.columnCount()):
                    self.table.item(r, c).setFont(bold)
                    self.table.item(r, c).setBackground(QBrush(PROJECT_ROW))
        self.table.setSortingEnabled(True)
        fit_columns(self.table)
        fit_table_height(self.table)  # short tables: every row, no scroll bar
        self.verdicts.setText("\n".join("· " + v for v in verdicts(mt)))

        cal = mt.get("calibration", {})
        self.calibration.setRowCount(len(cal))
        for r, (name, c) in enumerate(cal.items()):
            self.calibration.setItem(r, 0, text_item(name))
            for i, rule in enumerate(("soft", "sbend", "abend"), start=1):
                self.calibration.setItem(r, i, NumericItem(f"{c[rule]['ece']:.4f} / {c[rule]['nll']:.3f}",
                                                           c[rule]["ece"]))
            if "members" in c:
                m = c["members"]
                self.calibration.setItem(r, 4, NumericItem(f"{m['ece_mean']:.4f} / {m['nll_mean']:.3f}",
                                                           m["ece_mean"]))
        self.cal_title.setVisible(bool(cal))
        self.calibration.setVisible(bool(cal))
        fit_columns(self.calibration)
        fit_table_height(self.calibration)

    # --- the table's own export (ExportButtons calls these) ------------------------------------------

    def file_stem(self) -> str:
        return "table3"

    def cell_text(self, generator: str, column: str) -> str:
        """The shown text of one cell (for tests and for copying)."""
        col = 1 + TABLE3_COLUMNS.index(column)
        for r in range(self.table.rowCount()):
            if self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) == generator:
                return self.table.item(r, col).text()
        raise KeyError(generator)

    def export_png(self, path: str | Path) -> bool:
        return checked_export(self, path, lambda tmp: self.content.grab().save(str(tmp)))

    def csv_table(self) -> tuple[list[str], list[list]]:
        """The table in its shown order, accuracies in percent at full precision."""
        header = ["generator"]
        for c in TABLE3_COLUMNS:
            header += (["aBEND mean (%)", "aBEND std (%)"] if c == "abend"
                       else [f"{HEADERS[c].replace(chr(10), ' ')} (%)"])
        if self.results is None:
            return header, []
        out = []
        for r in range(self.table.rowCount()):
            name = self.table.item(r, 0).data(Qt.ItemDataRole.UserRole)
            row = self.results.row(name)
            vals = [name]
            for c in TABLE3_COLUMNS:
                keys = ("abend_mean", "abend_std") if c == "abend" else (c,)
                vals += [100 * row[k] if row.get(k) is not None else "" for k in keys]
            out.append(vals)
        return header, out

    def export_csv(self, path: str | Path) -> bool:
        header, rows = self.csv_table()
        return checked_export(self, path, lambda tmp: write_rows_csv(tmp, header, rows))

    # --- whole-project exports (also for a menu) -----------------------------------------------------

    def export_results_to(self, folder: str | Path) -> list[Path]:
        return export_results_to(self.model, folder)

    def export_ensemble_to(self, path: str | Path, members: str = "generated", rule: str = "sbend") -> dict:
        return export_ensemble_to(self.model, path, members, rule)

    @Slot()
    def open_export_results(self) -> None:
        if self.results is None:  # say so before asking for a folder
            self.dialog = show_message(self, "Export results", "No results yet: the evaluate stage has not "
                                       "finished, so there is nothing to export.", error=True,
                                       run_up_to=(self.model, "evaluate"))
            return
        folder = QFileDialog.getExistingDirectory(self, "Export results into a folder",
                                                  str(export_start_folder(self.model)))
        if not folder:
            return
        stale = "\n\nNote: these results are stale." if self.results is not None and self.results.stale else ""

        def done(paths: list[Path]) -> None:
            self.export_results_btn.setEnabled(True)
            self.dialog = show_message(self, "Export results", f"Wrote {len(paths)} files into {folder}:\n"
                                       + ", ".join(p.name for p in paths) + stale)

        def failed(e: Exception) -> None:
            self.export_results_btn.setEnabled(True)
            self.dialog = show_message(self, "Export results", write_error(e), error=True)
        self.export_results_btn.setEnabled(False)  # until the results are written (or fail)
        self.exporting = call_in_thread(export_results_to, self.model, folder, done=done, failed=failed)

    @Slot()
    def open_export_ensemble(self) -> None:
        dlg = ExportEnsembleDialog(self.model, self)
        dlg.accepted.connect(self._on_ensemble_exported)
        self.dialog = dlg
        dlg.open()

    @Slot()
    def _on_ensemble_exported(self) -> None:
        s = self.dialog.summary if isinstance(self.dialog, ExportEnsembleDialog) else None
        if s:
            self.dialog = show_message(self, "Export ensemble",
                                       f"Wrote {s['path']}: {s['members']} members ({s['source']}), "
                                       f"rule {s['rule']}, {s['bytes'] / 2 ** 20:.1f} MiB.")
