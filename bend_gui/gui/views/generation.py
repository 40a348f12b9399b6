"""The generation panel: the [generate] settings (how many members, which generator, the sampler), a
Generate button that reruns generation and evaluation as a job, and the members' accuracies against the
snapshots' as two histograms on the same bins."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import BendError
from ...core.results.readiness import generate_blocker, missing_for_generate
from ...core.results.report import pct
from ...core.results.tables import GENERATED, ORIGINAL, Results, accuracy_histogram
from ...core.results.verdicts import member_accuracy_summary
from ...core.settings.config import DIFFUSION_ONLY, ConfigError
from ..plots import PALETTE, PlotPanel, caption, legend_sample
from ..project_model import ProjectModel
from ..runner import JobOutcome
from ..settings_form import SettingsForm
from .common import ResultsPage, RunUpTo

LABELS = {"decode_noise": "latent noise σ (decode_noise)", "m": "members m", "sampling_steps": "sampling steps"}
SET_COLORS = {GENERATED: PALETTE[0], ORIGINAL: PALETTE[7]}


class MemberHistogram(PlotPanel):
    def __init__(self, parent: QWidget | None = None):
        super().__init__("member-accuracy-histogram", parent, layout_widget=True)
        pi = self.plot_item
        pi.setTitle("Test accuracy of single members", size="10pt")
        pi.setLabel("bottom", "test accuracy of one member (%)")
        pi.setLabel("left", "share of the set (%)")
        self.legend = self.add_bottom_legend(1)  # under the plot: inside it covered the bars
        self.curves, self.means, self.samples = {}, {}, {}
        for s in (ORIGINAL, GENERATED):
            c = pg.mkColor(SET_COLORS[s])
            fill = pg.mkColor(SET_COLORS[s])
            fill.setAlpha(70 if s == GENERATED else 55)
            self.curves[s] = pi.plot([0, 1], [0], stepMode="center", fillLevel=0, fillOutline=True,
                                     pen=pg.mkPen(c, width=2), brush=pg.mkBrush(fill))
            self.samples[s] = legend_sample(pg.mkPen(c, width=2), pg.mkBrush(fill))
            self.means[s] = pg.InfiniteLine(angle=90, pen=pg.mkPen(c, width=1.5, style=Qt.PenStyle.DashLine))
            pi.addItem(self.means[s])
        self.edges = np.zeros(0)
        self.counts: dict[str, np.ndarray] = {}
        self.sizes: dict[str, int] = {}
        self.generator = "generated"

    def set_data(self, res: Results) -> None:
        groups = {s: res.member_accuracies(s) for s in (GENERATED, ORIGINAL)}
        groups = {s: v for s, v in groups.items() if len(v)}
        n = int(res.metrics.get("n_test") or 0)
        self.edges, self.counts = accuracy_histogram(groups, 1 / n if n else 1e-4)
        self.sizes = {s: len(v) for s, v in groups.items()}
        self.generator = res.metrics.get("generator", "generated")
        names = {GENERATED: f"generated · {self.generator} (m = {self.sizes.get(GENERATED, 0)})",
                 ORIGINAL: f"snapshots (k = {self.sizes.get(ORIGINAL, 0)})"}
        self.legend.clear()
        for s, curve in self.curves.items():
            if s in self.counts:
                curve.setData(100 * self.edges, 100 * self.counts[s] / self.sizes[s])
                self.means[s].setValue(100 * float(groups[s].mean()))
                self.legend.addItem(self.samples[s], names[s])
            curve.setVisible(s in self.counts)
            self.means[s].setVisible(s in self.counts)
        self.plot_item.enableAutoRange()
        parts = [f"<b>{who}</b>: {stats}" for who, stats in member_accuracy_summary(groups, self.generator)]
        step = 100 * (self.edges[1] - self.edges[0]) if len(self.edges) > 1 else 0
        self.note.setText("<br>".join(parts) + f"<br>bins of {step:.2f} points of accuracy; dashed lines: means")

    def csv_table(self):
        header = ["bin_low (%)", "bin_high (%)"]
        for s in self.counts:
            header += [f"{s} count", f"{s} share (%)"]
        rows = []
        for i in range(len(self.edges) - 1):
            row = [round(100 * self.edges[i], 6), round(100 * self.edges[i + 1], 6)]
            for s, c in self.counts.items():
                row += [int(c[i]), 100 * c[i] / self.sizes[s]]
            rows.append(row)
        return header, rows


class MemberAccuracyView(ResultsPage):
    WHAT = "the members' accuracies"

    def build(self, content: QWidget) -> None:
        self.histogram = MemberHistogram()
        lay = QVBoxLayout(content)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.histogram)

    def show_results(self, res: Results) -> None:
        self.histogram.set_data(res)


class GenerationPage(QWidget):
    """Edit [generate], then Generate: saves project.toml and reruns generate + evaluate as one job."""

    def __init__(self, model: ProjectModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.form = SettingsForm(["generate"])
        self.form.setObjectName("generateForm")
        self.form.set_config(model.config)
        form_layout: QFormLayout = self.form.widget("generate", "m").parentWidget().layout()
        self._form_layout = form_layout
        for key, text in LABELS.items():
            label = form_layout.labelForField(self.form.widget("generate", key))
            if label is not None:
                label.setText(text)
        self.generate_btn = QPushButton("Generate")
        self.generate_btn.setObjectName("generate")
        self.generate_btn.setToolTip("save these settings, make the members and evaluate them (one job)")
        self.cancel_btn = QPushButton("Cancel")
        self.revert_btn = QPushButton("Revert")
        self.revert_btn.setToolTip("back to the settings saved in project.toml")
        self.why = caption()
        self.why.setObjectName("whyDisabled")
        self.run_up_to = RunUpTo(model)
        self.status = caption()
        self.status.setObjectName("generateStatus")
        buttons = QHBoxLayout()
        buttons.addWidget(self.revert_btn)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_btn)
        buttons.addWidget(self.generate_btn)
        left = QWidget()
        ll = QVBoxLayout(left)
        title = QLabel("Generate members")
        title.setStyleSheet("font-weight: bold; font-size: 11pt;")
        ll.addWidget(title)
        ll.addWidget(caption("Generate saves these settings to project.toml and reruns stage 4 (generate) and "
                             "stage 5 (evaluate); progress and Cancel are in the activity bar too."))
        ll.addWidget(self.form, 1)
        ll.addLayout(buttons)
        ll.addWidget(self.why)
        ll.addWidget(self.run_up_to, 0, Qt.AlignmentFlag.AlignLeft)
        ll.addWidget(self.status)
        self.view = MemberAccuracyView(model)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.view)
        split.setStretchFactor(1, 1)
        split.setSizes([380, 660])
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)

        self.generate_btn.clicked.connect(self.generate)
        self.cancel_btn.clicked.connect(model.cancel)
        self.revert_btn.clicked.connect(self._revert)
        self.form.edited.connect(self._update)
        model.configChanged.connect(self._revert)
        model.statesChanged.connect(self._update)
        model.busyChanged.connect(self._on_busy)
        self._update()

    # --- state ---------------------------------------------------------------------------------------

    def missing_stages(self) -> list[str]:
        return missing_for_generate(self.model.states())

    def _generator(self) -> str:
        return self.form.widget("generate", "generator").currentText()

    @Slot()
    def _update(self, *_) -> None:
        diffusion = self._generator() == "diffusion"
        for key in DIFFUSION_ONLY:
            self._form_layout.setRowVisible(self.form.widget("generate", key), diffusion)
        ddim = self.form.widget("generate", "sampler").currentText() == "ddim"
        steps = self.form.widget("generate", "sampling_steps")
        steps.setEnabled(ddim)
        steps.setToolTip("DDIM steps" if ddim else "DDPM always takes all T steps of the diffusion schedule")
        busy = self.model.busy
        why = generate_blocker(self.model.states(), busy)
        self.generate_btn.setEnabled(not why)
        self.cancel_btn.setEnabled(busy)
        self.form.setEnabled(not busy)
        self.revert_btn.setEnabled(not busy)
        self.why.setText(why)
        missing = self.missing_stages()
        self.run_up_to.offer(missing[-1] if missing else None)

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        self._update()

    @Slot()
    def _revert(self) -> None:
        self.form.set_config(self.model.config)
        self._update()

    # --- actions -------------------------------------------------------------------------------------

    @Slot()
    def generate(self) -> bool:
        """Save the form's [generate] settings and run generate + evaluate; False when nothing started."""
        if self.missing_stages() or self.model.busy:
            self._update()
            return False
        try:
            cfg = self.form.config()
        except ConfigError:
            return False  # the form shows the message
        try:
            self.model.save_config(cfg)
        except BendError as e:
            self.form.error.setText(str(e))
            return False
        started = self.model.run_pipeline(until="evaluate", force=("generate", "evaluate"), on_done=self._generated)
        g = cfg.generate
        how = (f"{g.sampler.upper()}" + (f", {g.sampling_steps} steps" if g.sampler == "ddim" else "")
               + (f", σ = {g.decode_noise:g}" if g.decode_noise else "")) if g.generator == "diffusion" else "baseline"
        self.status.setText(f"Generating {g.m} members with {g.generator} ({how}), seed {g.seed}, then "
                            f"evaluating…" if started else "Another job is running; try again when it ends.")
        return started

    def _generated(self, outcome: JobOutcome) -> None:
        """The end of the generate + evaluate job this panel started (called by the model)."""
        if outcome.state == "done":
            res = self.view.results
            tail = (f": sBEND {pct(res.metrics['sbend'])} %, member mean {pct(res.metrics['gen_mean'])} %"
                    if res is not None else "")
            self.status.setText(f"Generated and evaluated{tail}.")
        elif outcome.state == "cancelled":
            self.status.setText("Cancelled. The previous members and results stay on disk.")
        else:
            self.status.setText("Failed: " + outcome.error_line)
