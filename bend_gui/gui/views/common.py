"""What every results page shares: loading through core.results, an empty state, a stale note, and
redrawing only when the evaluate stage rewrote its files."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import BendError
from ...core.project.folder import STAGE_TITLES, STAGES
from ...core.results.tables import Results, load_results, results_signature, staleness
from ..plots import MUTED
from ..project_model import ProjectModel

STALE_STYLE = "background: #fff3e0; color: #8a4b00; border: 1px solid #ffb74d; padding: 4px;"
ERROR_STYLE = "color: #c62828;"


class EmptyState(QWidget):
    """Shown instead of a page's plots while there are no results, with a way to make them."""

    def __init__(self, model: ProjectModel, what: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text.setStyleSheet("color: #555; font-size: 11pt;")
        self.what = what
        self.run_btn = QPushButton("Run the pipeline up to evaluate")
        self.run_btn.setToolTip("runs every stage that is not done yet, then evaluates the ensembles")
        self.run_btn.clicked.connect(self._run)
        lay = QVBoxLayout(self)
        lay.addStretch(1)
        lay.addWidget(self.text)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.run_btn)
        row.addStretch(1)
        lay.addLayout(row)
        lay.addStretch(2)
        model.busyChanged.connect(self._on_busy)
        self.show_missing()

    def show_missing(self) -> None:
        self.text.setText(f"No results yet. Run the evaluate stage ({STAGE_TITLES['evaluate']}) to see "
                          f"{self.what} here.")
        self._on_busy(self.model.busy)

    def show_error(self, message: str) -> None:
        self.text.setText(f"The results cannot be read: {message}\n\nRun the evaluate stage again to rewrite them.")
        self._on_busy(self.model.busy)

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        self.run_btn.setEnabled(not busy)

    @Slot()
    def _run(self) -> None:
        self.model.run_pipeline(until="evaluate")


class RunUpTo(QPushButton):
    """'Run up to <stage>': the action a message about a stage that is not done would otherwise send a GUI
    user to the terminal for. Hidden until `offer(stage)`; disabled while a job runs."""

    def __init__(self, model: ProjectModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.stage: str | None = None
        self.setVisible(False)
        self.clicked.connect(self._run)
        model.busyChanged.connect(self._on_busy)
        self._on_busy(model.busy)

    def offer(self, stage: str | None) -> None:
        """Show the button for `stage` (None hides it)."""
        self.stage = stage
        if stage is not None:
            self.setText(f"Run up to {STAGE_TITLES[stage].split(' · ', 1)[-1]}")
            self.setToolTip(f"run every stage up to {STAGE_TITLES[stage]} (stage {STAGES.index(stage)}) that "
                            f"is not done yet")
        self.setVisible(stage is not None)

    def offer_if_missing(self, stage: str) -> bool:
        """Offer `stage` when it or a stage before it is not done; True when offered."""
        missing = any(s.state != "done" for s in self.model.states()[:STAGES.index(stage) + 1])
        self.offer(stage if missing else None)
        return missing

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        self.setEnabled(not busy)

    @Slot()
    def _run(self) -> bool:
        return self.stage is not None and self.model.run_pipeline(until=self.stage)


class ResultsPage(QWidget):
    """Base of the results pages. Subclasses build their widgets in `build()` and fill them in
    `show_results(results)`; the base reloads on resultsChanged and statesChanged."""

    WHAT = "the results"

    def __init__(self, model: ProjectModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.results: Results | None = None
        self._signature: tuple | None = None
        self.banner = QLabel()
        self.banner.setObjectName("staleNote")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(STALE_STYLE)
        self.banner.setVisible(False)
        self.empty = EmptyState(model, self.WHAT)
        self.content = QWidget()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.content)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.banner)
        lay.addWidget(self.stack, 1)
        self.build(self.content)
        model.resultsChanged.connect(self.reload)
        model.statesChanged.connect(self._on_states)
        self.reload()

    # --- for subclasses ------------------------------------------------------------------------------

    # Abstract: every page defines these (Qt's metaclass rules out abc.ABC here).
    def build(self, content: QWidget) -> None:
        raise TypeError(f"{type(self).__name__} must define build()")

    def show_results(self, results: Results) -> None:
        raise TypeError(f"{type(self).__name__} must define show_results()")

    def clear_results(self) -> None:
        """Called when the results disappear; pages with their own state reset it here."""

    # --- loading -------------------------------------------------------------------------------------

    @Slot()
    def reload(self) -> None:
        """Read the results again and redraw everything."""
        self._signature = None
        self._on_states()

    @Slot()
    def _on_states(self) -> None:
        project = self.model.project
        states = self.model.states()
        sig = results_signature(project)
        if sig == self._signature and self.results is not None:
            self.results.state, self.results.detail = staleness(states)
            self._show_banner()
            return
        self._signature = sig
        try:
            res = load_results(project, states)
        except BendError as e:
            self.results = None
            self.clear_results()
            self.empty.show_error(str(e))
            self.stack.setCurrentWidget(self.empty)
            self.banner.setVisible(False)
            return
        self.results = res
        if res is None:
            self.clear_results()
            self.empty.show_missing()
            self.stack.setCurrentWidget(self.empty)
        else:
            self.stack.setCurrentWidget(self.content)
            try:
                self.show_results(res)
            except (BendError, KeyError) as e:
                self.results = None
                self.clear_results()
                self.empty.show_error(f"{type(e).__name__}: {e}" if isinstance(e, KeyError) else str(e))
                self.stack.setCurrentWidget(self.empty)
        self._show_banner()

    def _show_banner(self) -> None:
        note = self.results.stale_note() if self.results is not None else ""
        self.banner.setText(note)
        self.banner.setVisible(bool(note))


def status_label(style: str = MUTED) -> QLabel:
    """A one-line label whose changing text never resizes the layout (that would redo every plot axis)."""
    label = QLabel()
    label.setStyleSheet(style)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class NumericItem(QTableWidgetItem):
    """A table cell that shows formatted text and sorts by its number (text sorting puts 100 before 99)."""

    def __init__(self, text: str, value: float | None):
        super().__init__(text)
        self.value = value
        self.setData(Qt.ItemDataRole.UserRole, value)
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.setFlags(self.flags() & ~Qt.ItemFlag.ItemIsEditable)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        a, b = self.value, getattr(other, "value", None)
        if a is None or b is None:  # missing values sort first
            return a is None and b is not None
        return a < b


def text_item(text: str) -> QTableWidgetItem:
    it = QTableWidgetItem(text)
    it.setFlags(it.flags() & ~Qt.ItemFlag.ItemIsEditable)
    return it


def fit_table_height(table: QTableWidget, rows: int | None = None) -> None:
    """Fix a table's height to its header and `rows` rows (default: every row, so a short table needs no
    scroll bar); a fixed number keeps the height, and the plots beside or below, still as rows come."""
    n = table.rowCount() if rows is None else rows
    default = table.verticalHeader().defaultSectionSize()
    h = table.horizontalHeader().sizeHint().height() + 2 * table.frameWidth()
    h += sum(table.rowHeight(r) if r < table.rowCount() else default for r in range(n))
    if table.horizontalScrollBar().isVisible():
        h += table.horizontalScrollBar().height()
    table.setFixedHeight(h + 2)


def fit_columns(table: QTableWidget, stretch: int | None = None) -> None:
    """Columns as narrow as their cells and their header's longest line (Qt's ResizeToContents also keeps
    room for a sort arrow and wide padding, which pushed Table 3's last columns behind a scroll bar at
    1280 px). `stretch` names a column that takes the width left over."""
    header = table.horizontalHeader()
    pad = 2 * table.style().pixelMetric(table.style().PixelMetric.PM_HeaderMargin) + 8
    hfm = header.fontMetrics()
    for c in range(table.columnCount()):
        head = table.horizontalHeaderItem(c)
        width = max((hfm.horizontalAdvance(line) for line in (head.text() if head else "").split("\n")), default=0)
        for r in range(table.rowCount()):
            it = table.item(r, c)
            if it is not None:
                fm = QFontMetrics(it.font()) if it.font() != table.font() else table.fontMetrics()
                width = max(width, fm.horizontalAdvance(it.text()))
        header.setSectionResizeMode(c, QHeaderView.ResizeMode.Stretch if c == stretch
                                    else QHeaderView.ResizeMode.Interactive)
        header.resizeSection(c, width + pad)
    header.setMinimumSectionSize(24)


def wrapped_tip(text: str) -> str:
    """A tooltip Qt wraps to a readable width (plain text is one line, however long)."""
    import html

    return f"<qt>{html.escape(text)}</qt>" if text else ""
