"""The mouse wheel over a settings field scrolls the page and never edits the value; an edited field that
is not applied yet is marked."""

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QComboBox, QSpinBox, QWizard

from bend_gui.core.project.folder import Project
from bend_gui.gui.wizard import NewProjectWizard


def wheel(widget, steps: int = -1, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    """One notch of the wheel (down for negative steps) over the middle of `widget`."""
    pos = QPointF(widget.rect().center())
    event = QWheelEvent(pos, QPointF(widget.mapToGlobal(pos.toPoint())), QPoint(0, 0), QPoint(0, 120 * steps),
                        Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def scroll_area_of(widget) -> QAbstractScrollArea:
    w = widget.parentWidget()
    while not isinstance(w, QAbstractScrollArea):
        w = w.parentWidget()
    return w


def test_wheel_over_the_wizards_settings_scrolls_and_changes_nothing(qtbot, user_dirs):
    wiz = NewProjectWizard()
    qtbot.addWidget(wiz)
    wiz.resize(900, 650)
    wiz.show()
    qtbot.waitExposed(wiz)
    for _ in range(3):
        wiz.button(QWizard.WizardButton.NextButton).click()
    page = wiz.settings_page
    assert wiz.currentPage() is page
    preset = page.preset.currentText()
    form = page.form
    k = form.widget("collect", "k")
    batch = form.widget("autoencoder", "batch_size")
    before = form.config()
    bar = scroll_area_of(k).verticalScrollBar()
    assert bar.maximum() > 0, "the settings page should be taller than its window for this test"
    top = bar.value()
    for w in (k, batch, page.preset, form.widget("generate", "sampler")):
        wheel(w, -1)
        wheel(w, -1)
    assert form.config() == before
    assert page.preset.currentText() == preset
    assert bar.value() > top, "the wheel should have scrolled the page"
    assert form.modified() == []
    # Dataset page: its combo and spin boxes are guarded too (nothing to scroll there, and nothing changes).
    ds = wiz.dataset_page
    shown = (ds.dataset.currentIndex(), ds.train_size.value())
    wheel(ds.dataset, 1)
    wheel(ds.train_size, 1)
    assert (ds.dataset.currentIndex(), ds.train_size.value()) == shown


def test_wheel_needs_focus_and_edits_are_marked_until_applied(make_window, tiny_project, qtbot):
    win = make_window(tiny_project.root)
    panel = win.workspace.pipeline
    panel.select("base")
    form = panel.form("base")
    epochs = form.widget("base", "epochs")
    assert isinstance(epochs, QSpinBox)
    value = epochs.value()
    wheel(epochs, -1)
    assert epochs.value() == value
    assert epochs.focusPolicy() == Qt.FocusPolicy.StrongFocus
    # A focused field is the user's: the wheel edits it, and the field is marked as not applied.
    epochs.setFocus()
    qtbot.waitUntil(epochs.hasFocus)
    wheel(epochs, 1)
    assert epochs.value() == value + 1
    label = form.findChild(type(form.error), "label:base.epochs")
    assert form.modified() == ["base.epochs"] and "•" in label.text()
    qtbot.mouseClick(panel.apply_btn, Qt.MouseButton.LeftButton)
    assert Project.open(tiny_project.root).load_config().base.epochs == value + 1
    assert form.modified() == [] and "•" not in label.text()
    for combo in win.findChildren(QComboBox):
        assert combo.focusPolicy() == Qt.FocusPolicy.StrongFocus, combo.objectName()


def test_wheel_over_a_plot_scrolls_its_page_and_ctrl_wheel_zooms(make_window, finished_project, qtbot):
    win = make_window(finished_project.root)
    win.resize(1280, 800)
    page = win.workspace.show_page("Monitors")
    qtbot.wait(50)
    bar = page.verticalScrollBar()
    assert bar.maximum() > 0, "the Monitors page should scroll at this size"
    plot = page.plot("Base training · loss")
    view = plot.plot_item.getViewBox()
    before = view.viewRange()
    top = bar.value()
    wheel(plot.view.viewport(), -1)
    assert bar.value() > top and view.viewRange() == before
    scrolled = bar.value()
    wheel(plot.view.viewport(), 1, Qt.KeyboardModifier.ControlModifier)
    assert view.viewRange() != before and bar.value() == scrolled


def test_a_series_with_one_point_is_drawn_as_a_marker(qtbot):
    from bend_gui.gui.plots import CurvePlot, Series

    plot = CurvePlot("t", "epoch", "loss", [Series("train_loss", "train")])
    qtbot.addWidget(plot)
    plot.append_row(1, {"train_loss": 0.5})
    plot.redraw()
    assert plot.items["train_loss"].opts["symbol"] == "o"
    plot.append_row(2, {"train_loss": 0.4})
    plot.redraw()
    assert plot.items["train_loss"].opts["symbol"] is None
