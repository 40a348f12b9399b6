"""The New Project wizard: backbone, dataset (with a live check), parameter subset, pipeline settings.

Finish builds a ProjectConfig, runs the core's preflight check, creates the project folder and emits
`projectCreated(folder)`. Every error keeps the wizard open with the message on the page; nothing is
written before the checks pass.
"""

from __future__ import annotations

import html
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)
from torch import nn

from ..core.errors import BendError
from ..core.ml.backbones import backbones, build_model, count_params, last_batchnorms, list_modules
from ..core.ml.data import DatasetInfo, dataset_info, default_data_dir
from ..core.ml.subset import resolve
from ..core.ml.subset_size import size_advice
from ..core.pipeline.preflight import check
from ..core.project.folder import Project
from ..core.project.userdata import projects_dir
from ..core.settings import config as C
from ..core.settings.presets import PRESETS, apply_preset
from .runner import call_in_thread
from .settings_form import SettingsForm
from .wheel import guard_wheel

GOOD, CAUTION, BAD, MUTED = "#2e7d32", "#b26a00", "#c62828", "#666666"

DATASET_TITLES = {
    "fashion-mnist": "Fashion-MNIST: 28×28 grey images, 10 classes",
    "mnist": "MNIST: 28×28 grey digits, 10 classes",
    "cifar10": "CIFAR-10: 32×32 colour images, 10 classes",
    "cifar100": "CIFAR-100: 32×32 colour images, 100 classes",
    "imagefolder": "Image folder: one subfolder of images per class",
}
EXPECTED_INPUT = "1 or 3 channels, images ≥ 8×8; 3×3 stem, no max-pool (CIFAR practice)"

# How the wizard colours core's advice on the subset's size (the paper's Table 5).
SIZE_COLORS = {"empty": BAD, "fine": GOOD, "caution": CAUTION, "strong": BAD}
CUSTOM = "Custom settings"


def _label(text: str = "", *, wrap: bool = True, color: str | None = None) -> QLabel:
    lab = QLabel(text)
    lab.setWordWrap(wrap)
    lab.setTextFormat(Qt.TextFormat.RichText)
    lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if color:
        lab.setStyleSheet(f"color: {color};")
    return lab


def _with_browse(edit: QLineEdit, button: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit, 1)
    row.addWidget(button)
    return row


def _missing_html(info) -> str:
    """A missing dataset as a short list a user can scan: where the core looked, and how to get it."""
    how = info.how_to_get
    # The core speaks in project.toml keys; on this page they are the root field and the download box.
    for key, words in (("set [data] root to", "point Root folder at"),
                       ("set [data] download = true", "tick “download”"),
                       ("[data] download = true", "tick “download”")):
        how = how.replace(key, words)
    if info.problem:  # found, but unusable: say why
        return f"<b>✗ {html.escape(info.message)}</b><br><br>To fix it: {html.escape(how)}."
    places = "".join(f"<li>{html.escape(p)}</li>" for p in info.looked_in) or "<li>nowhere: choose a Root folder</li>"
    return (f"<b>✗ Not found.</b> Looked in:"
            f"<ul style='margin-top:2px; margin-bottom:2px'>{places}</ul>To get it: {html.escape(how)}.")


class NewProjectWizard(QWizard):
    """Four pages; `projectCreated(folder)` after Finish wrote a valid project."""

    projectCreated = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("New BEND project")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.resize(900, 650)
        self.setMinimumSize(760, 560)
        self._models: dict[tuple[str, int, int], nn.Module] = {}
        self.created: Path | None = None
        self.dataset_page = DatasetPage(self)  # first: the backbone page counts parameters for its data
        self.backbone_page = BackbonePage(self)
        self.subset_page = SubsetPage(self)
        self.settings_page = SettingsPage(self)
        for page in (self.backbone_page, self.dataset_page, self.subset_page, self.settings_page):
            self.addPage(page)
        guard_wheel(self)

    # --- what the pages chose, for the pages after them ------------------------------------------------

    def backbone(self) -> str:
        return self.backbone_page.current()

    def data_config(self) -> C.DataConfig:
        return self.dataset_page.data_config()

    def data_info(self) -> DatasetInfo:
        return self.dataset_page.info

    def data_shape(self) -> tuple[int, int]:
        """(input channels, classes) the networks are built for; an image folder of unknown classes gets 2,
        as in the core's preflight check."""
        info = self.data_info()
        return info.channels, max(info.num_classes, 2)

    def model(self, name: str | None = None) -> nn.Module:
        """The backbone built for the chosen dataset, cached: building a torchvision model takes a while."""
        key = (name or self.backbone(), *self.data_shape())
        if key not in self._models:
            self._models[key] = build_model(*key)
        return self._models[key]

    def accept(self) -> None:
        super().accept()
        if self.created is not None:
            self.projectCreated.emit(str(self.created))


# --- page 1 ----------------------------------------------------------------------------------------------

class BackbonePage(QWizardPage):
    def __init__(self, wiz: NewProjectWizard):
        super().__init__()
        self.wiz = wiz
        self.setTitle("1 · Backbone")
        self.setSubTitle("The network BEND trains once; its parameter subset is then snapshotted and generated.")
        self.list = QListWidget()
        self.list.setObjectName("backbones")
        self.list.setFixedWidth(270)
        self.list.setSpacing(3)
        for name, b in backbones().items():
            it = QListWidgetItem(b.title)
            it.setData(Qt.ItemDataRole.UserRole, name)
            it.setToolTip(name)
            self.list.addItem(it)
        self.details = _label()
        self.details.setObjectName("backbone_details")
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.details.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        lay = QHBoxLayout(self)
        lay.addWidget(self.list)
        lay.addWidget(self.details, 1)
        self.list.currentRowChanged.connect(self._show)
        self.list.setCurrentRow(0)

    def current(self) -> str:
        it = self.list.currentItem()
        return it.data(Qt.ItemDataRole.UserRole) if it else "smallcnn"

    def select(self, name: str) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.ItemDataRole.UserRole) == name:
                self.list.setCurrentRow(i)
                return
        raise KeyError(name)

    def initializePage(self) -> None:
        self._show()

    @Slot()
    def _show(self) -> None:
        name = self.current()
        b = backbones()[name]
        model = self.wiz.model(name)
        channels, classes = self.wiz.data_shape()
        dataset = DATASET_TITLES[self.wiz.data_config().dataset].split(":")[0]
        subset = last_batchnorms(model)
        d = resolve(model, subset).d
        self.details.setText(
            f"<h3>{html.escape(b.title)}</h3>"
            f"<p>{html.escape(b.description)}</p>"
            f"<table cellspacing='6'>"
            f"<tr><td><b>Parameters</b></td><td>{count_params(model):,} "
            f"<span style='color:{MUTED}'>(built for {channels} input channel{'s' * (channels != 1)} and "
            f"{classes} classes: {html.escape(dataset)}, chosen on the next page)</span></td></tr>"
            f"<tr><td><b>Expected input</b></td><td>{EXPECTED_INPUT}</td></tr>"
            f"<tr><td><b>Default subset</b></td><td>{html.escape(', '.join(subset))} "
            f"<span style='color:{MUTED}'>(the last two BatchNorm layers, d = {d:,}; changed on page 3)</span>"
            f"</td></tr>"
            f"<tr><td><b>Config name</b></td><td><code>[model] backbone = \"{name}\"</code></td></tr></table>")


# --- page 2 ----------------------------------------------------------------------------------------------

class DatasetPage(QWizardPage):
    def __init__(self, wiz: NewProjectWizard):
        super().__init__()
        self.wiz = wiz
        self.setTitle("2 · Dataset")
        self.setSubTitle("Where the images come from. The check below runs as you type; nothing is loaded yet.")
        self.dataset = QComboBox()
        self.dataset.setObjectName("dataset")
        for key in C.DATASETS:
            self.dataset.addItem(DATASET_TITLES.get(key, key), key)
        self.root = QLineEdit()
        self.root.setObjectName("root")
        self.root.setPlaceholderText("empty = the usual places (listed below when the data is not found)")
        self.browse = QPushButton("Browse…")
        self.download = QCheckBox("download with torchvision when missing (needs internet; happens when base "
                                  "training starts)")
        self.download.setObjectName("download")
        self.train_size = self._size_box("train_size")
        self.test_size = self._size_box("test_size")
        self.image_size = QSpinBox()
        self.image_size.setObjectName("image_size")
        self.image_size.setRange(8, 512)
        self.image_size.setValue(C.DataConfig().image_size)
        self.image_size.setSuffix(" px")
        self.image_size.setMaximumWidth(160)
        self.image_size.setToolTip(C.field_help("data", "image_size")["help"])
        self.status = _label()
        self.status.setObjectName("data_status")
        self.status.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status.setMinimumHeight(120)
        self.status.setFrameShape(QFrame.Shape.StyledPanel)
        self.status.setMargin(8)

        self.form = QFormLayout()
        self.form.addRow("Dataset", self.dataset)
        self.form.addRow("Root folder", _with_browse(self.root, self.browse))
        self.form.addRow("", self.download)
        self.form.addRow("Training images", self.train_size)
        self.form.addRow("Test images", self.test_size)
        self.form.addRow("Image size", self.image_size)
        lay = QVBoxLayout(self)
        lay.addLayout(self.form)
        lay.addSpacing(8)
        lay.addWidget(self.status)
        lay.addStretch(1)

        # Debounced: an image folder's check walks the folder, too slow to repeat on every keystroke. The
        # check itself runs in a worker thread (a folder of 100k images took 0.6 s to walk).
        self._checking: C.DataConfig | None = None  # the settings of the newest check not answered yet
        self._checked: C.DataConfig | None = None   # the settings self.info answers
        self._slow = QTimer(self)
        self._slow.setSingleShot(True)
        self._slow.setInterval(200)
        self._slow.timeout.connect(self._show_checking)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self.refresh)
        self.dataset.currentIndexChanged.connect(self._dataset_changed)
        self.root.textChanged.connect(self._timer.start)
        self.image_size.valueChanged.connect(self._timer.start)
        self.download.toggled.connect(self.refresh)
        self.browse.clicked.connect(self._browse)
        self._checked = self.data_config()
        self.info = dataset_info(self._checked)  # instant for the default dataset; the page needs an answer
        self._dataset_changed()

    @staticmethod
    def _size_box(name: str) -> QSpinBox:
        box = QSpinBox()
        box.setObjectName(name)
        box.setRange(0, 10_000_000)
        box.setGroupSeparatorShown(True)
        box.setSpecialValueText("all")
        box.setMaximumWidth(160)
        box.setToolTip(C.field_help("data", name)["help"])
        return box

    def data_config(self) -> C.DataConfig:
        return C.DataConfig(dataset=self.dataset.currentData(), root=self.root.text().strip(),
                            download=self.download.isChecked(), train_size=self.train_size.value(),
                            test_size=self.test_size.value(), image_size=self.image_size.value())

    @Slot()
    def _dataset_changed(self) -> None:
        folder = self.dataset.currentData() == "imagefolder"
        self.form.setRowVisible(self.image_size, folder)
        if folder:  # torchvision cannot download an arbitrary image folder
            self.download.setChecked(False)
        self.download.setEnabled(not folder)
        self.refresh()

    @Slot()
    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder holding the dataset", self.root.text())
        if path:
            self.root.setText(path)
            self.refresh()

    @Slot()
    def refresh(self) -> None:
        """Start the live check in a worker thread; its answer is shown unless the settings changed since."""
        self._timer.stop()
        cfg = self.data_config()
        if cfg == self._checked and self._checking is None:
            self._show()  # nothing changed since the last answer
            return
        self._checking = cfg
        self._slow.start()
        self.completeChanged.emit()
        call_in_thread(dataset_info, cfg, done=partial(self._answered, cfg), failed=partial(self._check_failed, cfg))

    def _check_failed(self, cfg: C.DataConfig, e: Exception) -> None:
        self._answered(cfg, DatasetInfo(False, f"the check failed: {type(e).__name__}: {e}", 3, cfg.image_size, 0,
                                        (cfg.root,), "choose another Root folder", problem=True))

    def _answered(self, cfg: C.DataConfig, info: DatasetInfo) -> None:
        if cfg != self._checking:
            return  # a newer check is on its way
        self._checking = None
        self._slow.stop()
        self._checked, self.info = cfg, info
        self._show()

    @Slot()
    def _show_checking(self) -> None:
        if self._checking is not None:
            self.status.setStyleSheet(f"QLabel {{ color: {MUTED}; }}")
            self.status.setText(f"Checking {html.escape(self._checking.root or 'the usual places')}…")

    def _show(self) -> None:
        cfg, info = self._checked, self.info
        shape = (f"{info.channels} channel{'s' * (info.channels != 1)}, {info.image_size}×{info.image_size} "
                 f"pixels, {info.num_classes} classes")
        if info.available:
            text = f"<b>✓ Available</b>: {html.escape(info.message)}<br>{shape}"
            color = GOOD
        elif cfg.download:
            target = Path(cfg.root).expanduser() if cfg.root else default_data_dir()
            text = (f"<b>Not on this computer yet: it will be downloaded into {html.escape(str(target))} when "
                    f"base training starts.</b><br>{shape}<br><br>"
                    f"<span style='color:{MUTED}'>{_missing_html(info)}</span>")
            color = CAUTION
        else:
            text = _missing_html(info)
            color = BAD
        self.status.setStyleSheet(f"QLabel {{ color: {color}; }}")
        self.status.setText(text)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self._checking is None and (self.info.available or self.download.isChecked())

    def validatePage(self) -> bool:
        # Next was pressed: answer now, in this thread (the folder may have changed since the last check).
        cfg = self.data_config()
        self._checking = None
        self._slow.stop()
        self._checked, self.info = cfg, dataset_info(cfg)
        self._show()
        return self.isComplete()


# --- page 3 ----------------------------------------------------------------------------------------------

class SubsetPage(QWizardPage):
    def __init__(self, wiz: NewProjectWizard):
        super().__init__()
        self.wiz = wiz
        self.setTitle("3 · Parameter subset")
        self.setSubTitle("Check the modules whose weights BEND keeps training, snapshots k times and generates. "
                         "Everything else stays frozen and is shared by every member.")
        self.header = _label()
        self.tree = QTreeWidget()
        self.tree.setObjectName("modules")
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["module", "type", "parameters"])
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setUniformRowHeights(True)
        head = self.tree.header()
        head.setStretchLastSection(False)
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        head.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        head.setSectionResizeMode(2, QHeaderView.ResizeMode.Interactive)
        head.resizeSection(1, 170)
        head.resizeSection(2, 110)
        self.default_btn = QPushButton("Last two BatchNorm layers")
        self.default_btn.setToolTip("the default subset of BEND and p-diff")
        self.clear_btn = QPushButton("Clear")
        self.d_label = _label()
        self.d_label.setObjectName("d_label")
        self.d_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.warning = _label()
        self.warning.setObjectName("d_warning")
        self.warning.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.warning.setMinimumHeight(3 * self.fontMetrics().height() + 6)
        self.warning.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        buttons = QHBoxLayout()
        buttons.addWidget(self.d_label, 1)
        buttons.addWidget(self.default_btn)
        buttons.addWidget(self.clear_btn)
        lay = QVBoxLayout(self)
        lay.addWidget(self.header)
        lay.addWidget(self.tree, 1)
        lay.addLayout(buttons)
        lay.addWidget(self.warning)
        self.items: dict[str, QTreeWidgetItem] = {}
        self.checkable: list[str] = []  # names of the modules holding parameters, in the network's order
        self._built_for: tuple | None = None
        self.d = 0
        self.tree.itemChanged.connect(self._changed)
        self.default_btn.clicked.connect(self.check_default)
        self.clear_btn.clicked.connect(self.clear)

    def initializePage(self) -> None:
        key = (self.wiz.backbone(), *self.wiz.data_shape())
        if key != self._built_for:  # keep the user's choice when only going back and forth
            self._build()
            self._built_for = key
        channels, classes = self.wiz.data_shape()
        b = backbones()[self.wiz.backbone()]
        self.header.setText(f"<b>{html.escape(b.title)}</b> built for {channels} input "
                            f"channel{'s' * (channels != 1)} and {classes} classes: "
                            f"{count_params(self.wiz.model()):,} parameters. "
                            f"<span style='color:{MUTED}'>The parameters column counts each module with its "
                            f"submodules; a check box takes the module's own weights and biases.</span>")

    def _build(self) -> None:
        model = self.wiz.model()
        self.tree.blockSignals(True)
        self.tree.clear()
        self.items = {}
        self.checkable: list[str] = []
        for info in list_modules(model):
            parent_name = info.name.rpartition(".")[0]
            parent = self.items.get(parent_name)
            short = info.name.rpartition(".")[2]
            it = QTreeWidgetItem([short, info.type, f"{info.total_params:,}"])
            it.setData(0, Qt.ItemDataRole.UserRole, info.name)
            it.setToolTip(0, info.name)
            it.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if info.own_params:  # only modules with weights of their own can join the subset
                it.setFlags(it.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                it.setCheckState(0, Qt.CheckState.Unchecked)
                self.checkable.append(info.name)
            else:  # Qt makes every item checkable by default
                it.setFlags(it.flags() & ~Qt.ItemFlag.ItemIsUserCheckable)
                it.setForeground(2, QBrush(QColor(MUTED)))
            if info.is_batchnorm:
                it.setForeground(1, QBrush(QColor("#1565c0")))
            (parent.addChild(it) if parent else self.tree.addTopLevelItem(it))
            self.items[info.name] = it
        self.tree.setRootIsDecorated(any("." in name for name in self.items))  # no branch space for flat nets
        self.tree.blockSignals(False)
        self.check_default()

    def layers(self) -> list[str]:
        """Checked modules in the network's order."""
        return [n for n in self.checkable if self.items[n].checkState(0) == Qt.CheckState.Checked]

    def set_checked(self, names: list[str]) -> None:
        self.tree.blockSignals(True)
        for name in self.checkable:
            self.items[name].setCheckState(0, Qt.CheckState.Checked if name in names else Qt.CheckState.Unchecked)
        self.tree.blockSignals(False)
        self._changed()

    @Slot()
    def check_default(self) -> None:
        names = last_batchnorms(self.wiz.model())
        self.set_checked(names)
        self.tree.collapseAll()
        for name in names:
            it = self.items[name].parent()
            while it is not None:
                it.setExpanded(True)
                it = it.parent()
        if names:
            self.tree.scrollToItem(self.items[names[-1]], QAbstractItemView.ScrollHint.PositionAtCenter)

    @Slot()
    def clear(self) -> None:
        self.set_checked([])

    @Slot()
    def _changed(self, *_args) -> None:
        layers = self.layers()
        self._mark_ancestors(layers)
        subset = resolve(self.wiz.model(), layers) if layers else None
        self.d = subset.d if subset else 0
        if subset is None:
            self.d_label.setText("<b>d = 0</b>")
        else:
            names = ", ".join(subset.names[:6]) + (f", … ({len(subset.names)} tensors)"
                                                    if len(subset.names) > 6 else "")
            self.d_label.setText(f"<b>d = {self.d:,}</b> numbers: {html.escape(names)}")
        level, headline, text = size_advice(self.d)
        self.warning.setStyleSheet(f"color: {SIZE_COLORS[level]};")
        self.warning.setText((f"<b>{headline}</b> " if headline else "") + html.escape(text))
        self.completeChanged.emit()

    def _mark_ancestors(self, layers: list[str]) -> None:
        """Bold the containers that hold checked modules, so a choice inside a collapsed branch shows."""
        holders = {n.rsplit(".", i)[0] for n in layers for i in range(1, n.count(".") + 1)}
        self.tree.blockSignals(True)
        for name, it in self.items.items():
            font = it.font(0)
            if font.bold() != (name in holders):
                font.setBold(name in holders)
                it.setFont(0, font)
        self.tree.blockSignals(False)

    def isComplete(self) -> bool:
        return self.d > 0


# --- page 4 ----------------------------------------------------------------------------------------------

class SettingsPage(QWizardPage):
    def __init__(self, wiz: NewProjectWizard):
        super().__init__()
        self.wiz = wiz
        self.setTitle("4 · Pipeline settings and project folder")
        self.setSubTitle("Start from a preset; every field stays editable (hover a name for its meaning).")
        self.setFinalPage(True)
        self.name = QLineEdit("my-bend-project")
        self.name.setObjectName("name")
        self.location = QLineEdit(str(projects_dir()))
        self.location.setObjectName("location")
        self.browse = QPushButton("Browse…")
        self.folder_label = _label()
        self.folder_label.setObjectName("folder")
        self.folder_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.preset = QComboBox()
        self.preset.setObjectName("preset")
        self.preset.addItems([*PRESETS, CUSTOM])
        self.preset_help = _label(color=MUTED)
        self.preset_help.setObjectName("preset_help")
        self.form = SettingsForm(["base", "collect", "autoencoder", "diffusion", "generate", "evaluate", "run"])
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        self.error = _label(color=BAD)
        self.error.setObjectName("error")
        self.error.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        top = QFormLayout()
        top.addRow("Project name", self.name)
        top.addRow("Create in", _with_browse(self.location, self.browse))
        top.addRow("Project folder", self.folder_label)
        preset_cell = QVBoxLayout()
        preset_cell.setSpacing(2)
        preset_cell.addWidget(self.preset)
        preset_cell.addWidget(self.preset_help)
        top.addRow("Preset", preset_cell)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(scroll, 1)
        lay.addWidget(self.error)
        self._preset_chosen = False
        self._filling = False  # True while a preset fills the form: those are not the user's edits
        self.name.textChanged.connect(self._folder_changed)
        self.location.textChanged.connect(self._folder_changed)
        self.browse.clicked.connect(self._browse)
        self.preset.currentTextChanged.connect(self._preset_changed)
        self.form.edited.connect(self._edited)
        self._folder_changed()

    def initializePage(self) -> None:
        if not self._preset_chosen:  # a first sensible default; the user's later choice is kept
            self.choose_preset("CPU demo" if self.wiz.backbone() == "smallcnn"
                               else "p-diff v3: snapshots within one epoch")

    def choose_preset(self, name: str) -> None:
        if self.preset.currentText() == name:
            self._preset_changed(name)  # refill: the combo emits nothing when its text stays
        else:
            self.preset.setCurrentText(name)

    def folder(self) -> Path:
        return Path(self.location.text().strip() or ".").expanduser() / self.name.text().strip()

    def _name_problem(self) -> str:
        name = self.name.text().strip()
        if not name:
            return "Give the project a name (it names the folder too)."
        if name in (".", "..") or any(c in name for c in '/\\:*?"<>|'):
            return f"“{name}” cannot name a folder: leave out / \\ : * ? \" < > |"
        return ""

    @Slot()
    def _folder_changed(self) -> None:
        problem = self._name_problem()
        if problem:
            self.folder_label.setText(f"<span style='color:{BAD}'>{html.escape(problem)}</span>")
        else:
            folder = self.folder()
            note = ""
            if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
                note = f" <span style='color:{BAD}'>exists and is not empty: choose another name</span>"
            self.folder_label.setText(f"<code>{html.escape(str(folder))}</code>{note}")
        self.error.clear()
        self.completeChanged.emit()

    @Slot()
    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Create the project folder in", self.location.text())
        if path:
            self.location.setText(path)

    @Slot(str)
    def _preset_changed(self, name: str) -> None:
        if name == CUSTOM:
            self.preset_help.setText("Edited by hand (your own settings). Choosing a preset again replaces every "
                                     "pipeline setting below.")
            return
        self._preset_chosen = True
        cfg = apply_preset(C.ProjectConfig(), name)
        self._filling = True
        try:
            self.form.set_config(cfg)
        finally:
            self._filling = False
        self.preset_help.setText(html.escape(PRESETS[name].description))
        self.error.clear()

    @Slot()
    def _edited(self) -> None:
        if not self._filling and self.preset.currentText() != CUSTOM:
            self.preset.blockSignals(True)
            self.preset.setCurrentText(CUSTOM)
            self.preset.blockSignals(False)
            self._preset_changed(CUSTOM)

    def isComplete(self) -> bool:
        return not self._name_problem()

    def build_config(self) -> C.ProjectConfig:
        """The whole project's config from the four pages; raises ConfigError."""
        cfg = self.form.config()
        cfg.name = self.name.text().strip()
        cfg.model.backbone = self.wiz.backbone()
        cfg.data = self.wiz.data_config()
        cfg.subset.layers = self.wiz.subset_page.layers()
        preset = self.preset.currentText()
        b = backbones()[cfg.model.backbone]
        cfg.description = (f"{b.title} on {cfg.data.dataset}; subset = {', '.join(cfg.subset.layers)} "
                           f"(d = {self.wiz.subset_page.d:,}); settings: "
                           f"{'preset ' + repr(preset) if preset != CUSTOM else 'custom'}")
        return cfg.validate()

    def validatePage(self) -> bool:
        """Finish: check everything, then create the folder; on an error stay here and say why."""
        try:
            cfg = self.build_config()
            check(cfg, need_data=not cfg.data.download)
            project = Project.create(self.folder(), cfg)
        except BendError as e:
            self.error.setText(str(e))
            return False
        self.wiz.created = project.root
        return True

