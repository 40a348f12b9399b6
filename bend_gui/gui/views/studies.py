"""The Studies page: a grid over any settings × seeds, run here or on a Ray cluster (core/studies), beside
Figure 5's sweeps over m and k (sweeps.py).

Keys are picked from the settings schema (those core/studies/grid.py lets a study sweep, asked at run
time), with their help and bounds. The points show live with their state: queued, running and on which
node, done, failed with the error. Any Table-3 quantity or diversity measure is plotted against any swept
key, mean ± std over seeds. A study driven by another process (`bend sweep` in a terminal, another window)
is found when the page opens, or later, through its `running.json`, and followed until it ends.
"""

from __future__ import annotations

import os
from dataclasses import MISSING, fields

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QFileSystemWatcher, Qt, QTimer, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import BendError
from ...core.settings import config as C
from ...core.studies import grid as G
from ...core.studies import store, study
from ...core.studies.point import DIVERSITY_COLUMNS, ROW_COLUMNS
from ..executor_picker import ExecutorPicker
from ..page_job import PageJob
from ..plots import PlotPanel, caption
from ..project_model import ProjectModel
from ..runner import JobOutcome
from .common import ERROR_STYLE, status_label, text_item
from .sweeps import SweepsPage

# What a study's plot can show: every Table-3 column and diversity measure of a point's row.
STUDY_QUANTITIES = {
    "sbend": "sBEND", "abend_mean": "aBEND", "abend_std": "aBEND std over repeats", "soft": "soft vote",
    "gen_max": "gen max", "gen_mean": "gen mean", "gen_median": "gen median", "gen_min": "gen min",
    "orig_max": "orig max", "orig_mean": "orig mean", "orig_median": "orig median", "potential": "potential",
    "d_i": "d_i (eq. 14, all members)", "d_i_gen": "d_i generated", "d_i_orig": "d_i snapshots",
    "d_o": "d_o (eq. 15)", "disagree_gen": "disagreement (generated)", "disagree_orig": "disagreement (snapshots)",
    "iou_gen": "IoU of wrong answers (gen.)"}
ACCURACY = set(ROW_COLUMNS)   # fractions shown in %; diversity measures as they are
assert set(ROW_COLUMNS) | set(DIVERSITY_COLUMNS) | {"d_i"} == set(STUDY_QUANTITIES)
STATE_COLORS = {"queued": "#777777", "running": "#1565c0", "done": "#2e7d32", "failed": "#c62828"}
FIXED_SAMPLES = {"state": "running", "sBEND": "100.00", "disagree": "0.0000", "s": "999"}  # widest text of a fixed column
NODE_MIN = 100   # px the node column keeps before the other text columns shrink
FOLLOW_MS = 1000   # how often the page looks for, or at, a study another process drives


def grid_keys() -> list[str]:
    """The settings a study can sweep: every schema key that grid.check_key accepts (asked, not listed
    here, so a key the study mechanism learns to sweep appears by itself)."""
    out = []
    for section, cls in C.SECTIONS.items():
        for f in fields(cls):
            try:
                G.check_key(f"{section}.{f.name}")
            except BendError:
                continue
            out.append(f"{section}.{f.name}")
    return out


def key_help(key: str) -> str:
    """One line for a key: its type and bounds or choices, then its help, e.g. 'float ≥ 0 · noise …'."""
    section, name = key.split(".", 1)
    meta = C.field_help(section, name)
    f = next(f for f in fields(C.SECTIONS[section]) if f.name == name)
    default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
    kind = type(default).__name__ if default is not None else "value"
    if meta.get("choices"):
        kind = "one of " + ", ".join(map(str, meta["choices"]))
    bounds = [f"≥ {meta['min']}" if meta.get("min") is not None else "",
              f"≤ {meta['max']}" if meta.get("max") is not None else ""]
    kind = " ".join([kind, *[b for b in bounds if b]])
    return f"{kind} · {meta.get('help', '')}"


def parse_grid_text(text: str) -> dict[str, list]:
    """'key=v1,v2; key2=v3' → {key: [v1, v2], key2: [v3]} (values as --grid reads them)."""
    return dict(G.parse_grid_arg(part.strip()) for part in text.split(";") if part.strip())


def study_series(records: list[dict], x_key: str, q: str) -> dict[str, tuple[list, list, list]]:
    """Per combination of the other swept keys: x values, mean and std over seeds (ddof 0) of quantity q
    (done points only); x sorted. Text values of x are placed at 0, 1, 2… in the order they appear."""
    groups: dict[str, dict] = {}
    for r in records:
        if r.get("state") != "done" or r.get("row", {}).get(q) is None:
            continue
        others = ", ".join(f"{k.split('.', 1)[1]} = {v}" for k, v in r["values"].items() if k != x_key)
        x = r["values"][x_key]
        x = "+".join(map(str, x)) if isinstance(x, list) else x  # a layer list (subset.layers) as one text value
        groups.setdefault(others, {}).setdefault(x, []).append(float(r["row"][q]))
    out = {}
    for label, by_x in groups.items():
        xs = list(by_x)
        if all(isinstance(x, (int, float)) for x in xs):
            xs.sort()
        out[label] = (xs, [float(np.mean(by_x[x])) for x in xs], [float(np.std(by_x[x])) for x in xs])
    return out


NO_STUDY_POINTS = "No finished points to plot yet: run a study, then choose what to plot against which key."


class StudyPlot(PlotPanel):
    """A quantity against one swept key: a line per combination of the other keys, mean ± std over seeds."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("study", parent)
        self.plot_item.setMenuEnabled(False)
        self.legend = self.plot_item.addLegend(offset=(-10, 10), labelTextSize="8pt")
        self.series: dict[str, tuple[list, list, list]] = {}
        self.x_key, self.q = "", "sbend"
        self.set_empty(NO_STUDY_POINTS)

    def draw(self, records: list[dict], x_key: str, q: str) -> None:
        self.x_key, self.q = x_key, q
        self.plot_item.clear()
        self.legend.clear()
        self.series = study_series(records, x_key, q) if x_key else {}
        scale = 100.0 if q in ACCURACY else 1.0
        texts: list = []
        n_seeds = max((len({r["seed"] for r in records if r.get("state") == "done"}), 1))
        for i, (label, (xs, mean, std)) in enumerate(self.series.items()):
            numeric = all(isinstance(x, (int, float)) for x in xs)
            if not numeric:
                texts = xs
            x = np.array(xs if numeric else range(len(xs)), dtype=float)
            y, e = scale * np.array(mean), scale * np.array(std)
            color = pg.intColor(i, hues=max(len(self.series), 1))
            line = pg.PlotDataItem(x, y, pen=pg.mkPen(color, width=2), symbol="o", symbolSize=6,
                                   symbolBrush=color, symbolPen=color)
            self.plot_item.addItem(pg.ErrorBarItem(x=x, y=y, height=2 * e, beam=0, pen=pg.mkPen(color)))
            self.plot_item.addItem(line)
            self.legend.addItem(line, label or STUDY_QUANTITIES.get(q, q))
        self.plot_item.getAxis("bottom").setTicks([list(enumerate(map(str, texts)))] if texts else None)
        self.plot_item.setLabel("bottom", x_key)
        self.plot_item.setLabel("left", STUDY_QUANTITIES.get(q, q) + (" (%)" if q in ACCURACY else ""))
        # Short: a pyqtgraph title is as wide as its text, and a long one pushed the plot past the page.
        self.plot_item.setTitle(f"mean ± std over {n_seeds} seed{'s' if n_seeds != 1 else ''}"
                                if self.series else "", size="10pt")
        self.set_empty("" if self.series else NO_STUDY_POINTS)
        for ax in ("left", "bottom"):   # setLabel shows an axis again; an empty plot keeps them hidden
            self.plot_item.showAxis(ax, bool(self.series))

    def csv_table(self) -> tuple[list[str], list[list]]:
        header = ["series", self.x_key, f"{self.q}_mean", f"{self.q}_std"]
        return header, [[label, x, f"{m:.8g}", f"{s:.8g}"] for label, (xs, ms, ss) in self.series.items()
                        for x, m, s in zip(xs, ms, ss)]


class StudyPanel(QGroupBox):
    """Pick keys from the settings schema and their values, seeds and where to run; the points arrive live
    with their state and node; any Table-3 quantity or diversity measure against a swept key."""

    def __init__(self, model: ProjectModel, parent: QWidget | None = None):
        super().__init__("A grid over settings × seeds, here or on a Ray cluster", parent)
        self.model = model
        self.keys: list[str] = []
        self.records: dict[str, dict] = {}   # point key → its record (state, values, row, node, error)
        self.order: list[str] = []
        self.following: dict | None = None   # the live state of a study another process drives
        self.key_pick = QComboBox()
        self.key_pick.setObjectName("studyKey")
        for i, key in enumerate(grid_keys()):
            self.key_pick.addItem(key)
            self.key_pick.setItemData(i, key_help(key), Qt.ItemDataRole.ToolTipRole)
        self.key_help = caption()
        self.key_help.setObjectName("studyKeyHelp")
        self.key_help.setWordWrap(True)
        self.values_edit = QLineEdit()
        self.values_edit.setPlaceholderText("values, e.g. 0, 0.1, 0.3")
        self.values_edit.setMinimumWidth(130)
        self.add_btn = QPushButton("Add")
        self.add_btn.setToolTip("add the key with these values to the grid (again: replace its values)")
        self.grid_edit = QLineEdit()
        self.grid_edit.setObjectName("studyGrid")
        self.grid_edit.setPlaceholderText("autoencoder.latent_noise=0,0.1,0.3; generate.sampler=ddim,ddpm")
        self.seeds_edit = QLineEdit("0, 1, 2")
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("name (default: the keys)")
        self.where = ExecutorPicker()
        self.executor, self.address = self.where.combo, self.where.address
        self.start_btn = QPushButton("Run study")
        self.start_btn.setObjectName("studyStart")
        self.cancel_btn = QPushButton("Cancel")
        self.status = status_label("color: #1565c0;")
        self.status.setObjectName("studyStatus")
        self.error = status_label(ERROR_STYLE)
        self.error.setObjectName("studyError")
        self.table = QTableWidget()
        self.table.setObjectName("studyTable")
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # Every column in view (the page's layout rule): numbers as wide as they need, the node and the
        # error share the rest and elide; a cell's tooltip holds its whole text.
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setMinimumSectionSize(24)
        self.table.viewport().installEventFilter(self)
        self.x_pick, self.q_pick = QComboBox(), QComboBox()
        for q, label in STUDY_QUANTITIES.items():
            self.q_pick.addItem(label, q)
        self.plot = StudyPlot()
        self.plot.setObjectName("studyPlot")

        # Combos that shrink (their longest item would otherwise set the page's minimum width past 1280 px).
        for combo, chars in ((self.key_pick, 14), (self.q_pick, 14), (self.x_pick, 14), (self.executor, 10)):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(chars)
        form = QGridLayout()
        form.addWidget(QLabel("key"), 0, 0)
        form.addWidget(self.key_pick, 0, 1)
        form.addWidget(self.values_edit, 0, 2)
        form.addWidget(self.add_btn, 0, 3)
        form.addWidget(self.key_help, 1, 1, 1, 3)
        form.addWidget(QLabel("grid"), 2, 0)
        form.addWidget(self.grid_edit, 2, 1, 1, 3)
        form.addWidget(QLabel("seeds"), 3, 0)
        form.addWidget(self.seeds_edit, 3, 1)
        form.addWidget(self.name_edit, 3, 2, 1, 2)
        form.addWidget(QLabel("run on"), 4, 0)
        form.addWidget(self.executor, 4, 1)
        form.addWidget(self.address, 4, 2, 1, 2)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_btn)
        buttons.addWidget(self.cancel_btn)
        form.addLayout(buttons, 5, 1, 1, 3)
        form.setColumnStretch(1, 1)
        form.setColumnStretch(2, 1)
        picks = QHBoxLayout()
        picks.addWidget(QLabel("plot"))
        picks.addWidget(self.q_pick, 1)
        picks.addWidget(QLabel("against"))
        picks.addWidget(self.x_pick, 1)
        left = QVBoxLayout()
        left.addLayout(form)
        left.addWidget(self.status)
        left.addWidget(self.error)
        left.addWidget(self.table, 1)
        right = QVBoxLayout()
        right.addLayout(picks)
        right.addWidget(self.plot, 1)
        lay = QHBoxLayout(self)
        lay.addLayout(left, 1)
        lay.addLayout(right, 1)

        self.key_pick.currentTextChanged.connect(self._show_key_help)
        self.add_btn.clicked.connect(self._add_key)
        self.values_edit.returnPressed.connect(self._add_key)
        self.start_btn.clicked.connect(self.start)
        self.cancel_btn.clicked.connect(self.cancel)
        self.x_pick.currentIndexChanged.connect(self._replot)
        self.q_pick.currentIndexChanged.connect(self._replot)
        self.job = PageJob(model, self.status, self)
        model.curvePoint.connect(self._on_point)
        model.busyChanged.connect(self._on_busy)
        # A study another process drives: its folder is watched (at once on a local disk) and polled (NFS).
        self.watcher = QFileSystemWatcher(self)
        self.watcher.directoryChanged.connect(self._follow)
        self.watcher.fileChanged.connect(self._follow)
        self.poll = QTimer(self)
        self.poll.setInterval(FOLLOW_MS)
        self.poll.timeout.connect(self._follow)
        self._show_key_help(self.key_pick.currentText())
        self.load_saved()
        self._follow()
        self.poll.start()
        self._on_busy(model.busy)

    # --- the saved study -----------------------------------------------------------------------------

    def load_saved(self, name: str | None = None) -> None:
        """Show a saved study (the named one, else the newest) with its points."""
        project = self.model.project
        names = store.list_studies(project)
        if name is None and names:
            name = max(names, key=lambda n: (store.study_dir(project, n) / "study.json").stat().st_mtime)
        if not name:
            self.status.setText("No study saved yet: pick keys and values, then Run study.")
            return
        try:
            definition, records = study.load_study(project, name)
        except BendError as e:
            self.error.setText(str(e))
            return
        self._show_definition(name, definition)
        for r in records:
            self._update(r)
        self._fill()
        self.status.setText(f"Study {name}: {len(records)} points saved in {store.study_dir(project, name)}")

    def _show_definition(self, name: str, definition: dict) -> None:
        self.name_edit.setText(name)
        keys = definition["grid"]["keys"]
        self.grid_edit.setText("; ".join(f"{k}={','.join(map(str, v))}" for k, v in keys.items()))
        self.seeds_edit.setText(", ".join(map(str, definition["grid"]["seeds"])))
        self._reset(list(keys))

    def _reset(self, keys: list[str]) -> None:
        self.keys = keys
        self.records, self.order = {}, []
        self.x_pick.blockSignals(True)
        self.x_pick.clear()
        self.x_pick.addItems(keys)
        self.x_pick.blockSignals(False)
        cols = [k.split(".", 1)[1] for k in keys] + ["seed", "state", "node", "sBEND", "disagree", "s"]
        self.table.setColumnCount(len(cols))
        self.table.setHorizontalHeaderLabels(cols)
        header = self.table.horizontalHeader()
        fm = self.table.fontMetrics()
        for c, name in enumerate(cols):
            if name in FIXED_SAMPLES:   # fixed: sized to contents, a failed point's spanning error widened it
                header.setSectionResizeMode(c, QHeaderView.ResizeMode.Fixed)
                header.resizeSection(c, max(fm.horizontalAdvance(t) for t in (name, FIXED_SAMPLES[name])) + 16)
            else:
                header.setSectionResizeMode(c, QHeaderView.ResizeMode.Interactive)
        self.table.setRowCount(0)

    # --- a study another process drives --------------------------------------------------------------

    @Slot()
    @Slot(str)
    def _follow(self, _path: str = "") -> None:
        """Find a live study (when none is followed and this page runs none), or refresh the followed one;
        when its driver has ended, show what it saved."""
        if self.job.running:
            return
        project = self.model.project
        if self.following is None:
            running = store.running_studies(project)
            if not running:
                return
            name = running[0]
            definition = store.load_definition(project, name)
            live = store.read_live(project, name)
            if definition is None or live is None:
                return
            self.following = live
            self._show_definition(name, definition)
            folders = [store.study_dir(project, name), store.study_dir(project, name) / "points"]
            self.watcher.addPaths([str(d) for d in folders if d.is_dir()])
        name = self.following["name"]
        live = store.read_live(project, name)
        if live is None:  # its driver ended (or was killed): what it saved is the study now
            self.following = None
            if self.watcher.directories():
                self.watcher.removePaths(self.watcher.directories())
            self.load_saved(name)
            self.status.setText(self.status.text() + " · its driver has ended")
            self._on_busy(self.model.busy)
            return
        self.following = live
        grid = G.Grid.from_dict(store.load_definition(project, name)["grid"])
        saved = {r["key"]: r for r in store.saved_points(project, name, grid)}
        self.records, self.order = {}, []
        for p in grid.points():
            rec = saved.get(p.key)
            if p.key in live["points"] or rec is None:  # in flight (a failed point being retried, too)
                state = live["points"].get(p.key, {"state": "queued", "node": ""})
                rec = {"key": p.key, "values": p.as_dict(), "seed": p.seed, "row": {}, "error": "", **state}
            self._update(rec)
        self._fill()
        n_done = sum(r["state"] in ("done", "failed") for r in self.records.values())
        where = "this process" if live["pid"] == os.getpid() else f"process {live['pid']} on {live['host']}"
        text = (f"Study {name} runs in {where} ({live['executor']}, since {live['started'].split('T')[-1]}): "
                f"{n_done}/{len(self.records)} points finished")
        self.status.setText(text)
        self.status.setToolTip(f"{text}; started {live['started'].replace('T', ' ')}; followed here until it ends")
        self._on_busy(self.model.busy)

    # --- starting ------------------------------------------------------------------------------------

    @Slot(str)
    def _show_key_help(self, key: str) -> None:
        self.key_help.setText(key_help(key) if key else "")

    @Slot()
    def _add_key(self) -> None:
        key, values = self.key_pick.currentText(), self.values_edit.text().strip()
        if not values:
            self.error.setText(f"give values for {key}, e.g. 0, 0.1")
            return
        parts = [p for p in self.grid_edit.text().split(";") if p.strip() and p.split("=")[0].strip() != key]
        self.grid_edit.setText("; ".join([p.strip() for p in parts] + [f"{key}={values.replace(' ', '')}"]))
        self.values_edit.clear()
        self.error.setText("")

    @Slot()
    def start(self) -> bool:
        project = self.model.project
        if self.following is not None:
            self.error.setText(f"study {self.following['name']} is running in process {self.following['pid']}; "
                               "wait for it to end, or stop it there")
            return False
        try:
            name, grid = study.define(project, parse_grid_text(self.grid_edit.text()),
                                      G.parse_seeds(self.seeds_edit.text()), self.name_edit.text().strip() or None)
            executor = self.where.make()
        except BendError as e:
            self.error.setText(str(e))
            return False

        def factory(cancel):
            return study.run_study(project, name, grid, executor, cancel)
        if not self.job.start(f"Study {name}", "study", factory, on_done=self._done):
            self.error.setText("another job is running; wait for it or cancel it first")
            return False
        self.error.setText("")
        self.name_edit.setText(name)
        self._reset(list(grid.keys))
        for p in grid.points():  # every point shows at once, queued until its state arrives
            self._update({"key": p.key, "values": p.as_dict(), "seed": p.seed, "state": "queued", "row": {},
                          "node": "", "error": ""})
        self._fill()
        self._on_busy(True)
        return True

    @Slot()
    def cancel(self) -> None:
        """Cancel this page's study. A study another process drives is not ours to stop: Ctrl-C in its
        terminal (or Cancel in its window) does, keeping its finished points. A signal from here could
        not tell a `bend sweep` (which takes SIGINT as Cancel) from another app window (which it would kill)."""
        if self.job.running:
            self.job.cancel()
        elif self.following is not None:
            f = self.following
            self.error.setText(f"study {f['name']} belongs to another process ({f['pid']} on {f['host']}): "
                               "stop it there (Ctrl-C in its terminal, or Cancel in its window)")

    def _done(self, outcome: JobOutcome) -> None:
        if outcome.state == "failed":
            self.error.setText(outcome.error_line)
        self.load_saved(self.name_edit.text().strip() or None)
        if outcome.state == "cancelled":
            self.status.setText(self.status.text() + " · cancelled; the finished points are kept")

    # --- live points ---------------------------------------------------------------------------------

    @Slot(str, str, float, dict)
    def _on_point(self, stage: str, series: str, x: float, values: dict) -> None:
        if stage != "study" or not self.job.running:
            return
        if series == study.STATE_SERIES and values["key"] in self.records:
            rec = self.records[values["key"]]
            if rec["state"] not in ("done", "failed"):
                rec["state"], rec["node"] = values["state"], values.get("node") or rec["node"]
        elif series == study.SERIES:
            self._update(values)
        self._fill()

    def _update(self, rec: dict) -> None:
        if rec["key"] not in self.records:
            self.order.append(rec["key"])
        self.records[rec["key"]] = dict(rec)

    def _fill(self) -> None:
        """One row per point. A failed point's error takes the place of its numbers (spanning them), so the
        table has no column that is empty for every point that worked."""
        self.table.clearSpans()
        self.table.setRowCount(len(self.order))
        state_col = len(self.keys) + 1
        for i, key in enumerate(self.order):
            r = self.records[key]
            row = r.get("row", {})

            def num(q, fmt, scale=1.0, row=row):
                return fmt.format(scale * row[q]) if row.get(q) is not None else ""
            cells = [str(r["values"].get(k, "")) for k in self.keys] + [str(r["seed"]), r["state"],
                                                                          str(r.get("node", ""))]
            if r["state"] == "failed":
                cells += [r.get("error", ""), "", ""]
            else:
                cells += [num("sbend", "{:.2f}", 100), num("disagree_gen", "{:.4f}"),
                          f"{r['seconds']:.0f}" if r.get("seconds") else ""]
            for c, text in enumerate(cells):
                item = text_item(text)
                if c == state_col:
                    item.setForeground(QColor(STATE_COLORS.get(text, "#000000")))
                if text:
                    item.setToolTip(text)
                self.table.setItem(i, c, item)
            if r["state"] == "failed":
                self.table.item(i, state_col + 2).setForeground(QColor(STATE_COLORS["failed"]))
                self.table.setSpan(i, state_col + 2, 1, 3)
        self._fit_columns()
        self._replot()

    def _fit_columns(self) -> None:
        """Every column in view (the page's layout rule): the text columns get their contents' width, scaled
        down together when the node column would keep less than NODE_MIN; the node column takes the rest."""
        header = self.table.horizontalHeader()
        free = [c for c in range(self.table.columnCount())
                if header.sectionResizeMode(c) != QHeaderView.ResizeMode.Fixed]
        if not free:
            return
        room = self.table.viewport().width() - sum(header.sectionSize(c) for c in range(self.table.columnCount())
                                                   if c not in free)
        node = len(self.keys) + 2
        want = {c: max(self.table.sizeHintForColumn(c), header.sectionSizeHint(c)) for c in free if c != node}
        scale = min(1.0, (room - NODE_MIN) / max(sum(want.values()), 1))
        widths = {c: max(int(w * scale), 24) for c, w in want.items()}
        widths[node] = max(room - sum(widths.values()), 24)
        for c, w in widths.items():
            header.resizeSection(c, w)

    def eventFilter(self, obj, event) -> bool:
        if obj is self.table.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_columns()   # the room changed (a window resize, a scroll bar came or went)
        return False

    @Slot()
    def _replot(self) -> None:
        self.plot.draw(list(self.records.values()), self.x_pick.currentText(), self.q_pick.currentData() or "sbend")

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        self.start_btn.setEnabled(not busy and self.following is None)
        self.cancel_btn.setEnabled((busy and self.job.running) or self.following is not None)


class StudiesPage(QWidget):
    """Two tabs: a study over any settings, and Figure 5's sweeps over m and k."""

    def __init__(self, model: ProjectModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.study = StudyPanel(model)
        self.study.setObjectName("studyPanel")
        self.figure5 = SweepsPage(model)
        # Two tabs, not one splitter: stacked, neither had room at 1280x800.
        self.parts = QTabWidget()
        self.parts.setObjectName("studyParts")
        self.parts.addTab(self.study, "Study · a grid over any settings")
        self.parts.addTab(self.figure5, "Figure 5 · over m and k")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addWidget(self.parts, 1)
