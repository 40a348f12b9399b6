"""Desktop conventions (issue 13) and progress that reads right (issue 14): menus with shortcuts that run
and cancel, a remembered window, an icon, About with licence and citations, the two progress bars."""

from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest

from bend_gui.core.events import CACHE_STEP, Progress
from bend_gui.core.project.folder import Project
from bend_gui.gui.main_window import CANCEL_KEY, RUN_ALL_KEY, RUN_STAGE_KEY
from tests.gui.conftest import wait_job
from tests.helpers import tiny_config


def press(win, seq, qtbot):
    win.activateWindow()
    qtbot.waitUntil(lambda: win.isActiveWindow(), timeout=5000)
    QTest.keySequence(win, seq)


def test_menus_and_their_shortcuts(make_window, tiny_project, qtbot):
    win = make_window(tiny_project.root)
    titles = [a.text().replace("&", "") for a in win.menuBar().actions()]
    assert titles == ["File", "Edit", "Run", "View", "Help"]
    assert win.act_run_stage.shortcut() == RUN_STAGE_KEY and win.act_run_all.shortcut() == RUN_ALL_KEY
    assert win.act_cancel.shortcut() == CANCEL_KEY and not win.act_cancel.isEnabled()
    assert win.act_rerun.shortcut().isEmpty()  # an expensive rerun is never one key press away
    assert not win.windowIcon().isNull()
    win.view_menu.aboutToShow.emit()  # the View menu lists the pages with their keys…
    assert [a.text() for a in win.view_menu.actions()][:2] == ["Monitors\tCtrl+1", "Generate\tCtrl+2"]
    press(win, QKeySequence("Ctrl+3"), qtbot)  # …and the key still works once the menu was filled
    assert win.workspace.current_page() == "Table 3"


def test_the_shortcuts_run_a_stage_run_all_and_cancel(make_window, tmp_path, tiny_data_root, qtbot):
    cfg = tiny_config(tiny_data_root, base__batch_size=8, base__epochs=4)
    project = Project.create(tmp_path / "p", cfg)
    win = make_window(project.root)
    ws = win.workspace
    ws.pipeline.select("base")
    press(win, RUN_STAGE_KEY, qtbot)
    qtbot.waitUntil(lambda: win.runner.busy, timeout=5000)
    assert win.runner.job_name == "run until base"
    qtbot.waitUntil(lambda: ws.activity.overall.format() == "stage 1 of 1", timeout=60_000)
    press(win, CANCEL_KEY, qtbot)
    wait_job(qtbot, win)
    assert win.model.state("base").state == "cancelled"
    item, tree = ws.pipeline.items["base"], ws.pipeline.tree
    assert item.text(1) == "cancelled · resumable"
    assert tree.header().sectionSize(1) >= tree.fontMetrics().horizontalAdvance(item.text(1))  # not cut

    press(win, RUN_ALL_KEY, qtbot)
    qtbot.waitUntil(lambda: win.runner.busy, timeout=5000)
    assert win.runner.job_name == "run all"
    qtbot.waitUntil(lambda: ws.activity.overall.format() == "stage 1 of 6", timeout=60_000)
    assert win.act_cancel.isEnabled() and not win.act_run_all.isEnabled()
    press(win, CANCEL_KEY, qtbot)
    wait_job(qtbot, win)
    assert win.model.state("base").state == "cancelled" and project.lock_holder() is None
    assert win.act_run_all.isEnabled() and not win.act_cancel.isEnabled()


def test_window_size_splitter_and_page_are_remembered(make_window, tiny_project, qtbot):
    win = make_window(tiny_project.root)
    win.resize(1, 700)  # its narrowest: the restored window will be too, the offscreen screen being narrower
    win.workspace.split.setSizes([520, 780])
    sizes = win.workspace.split.sizes()
    win.workspace.show_page("Diversity")
    win.close()
    again = make_window(tiny_project.root)
    assert (again.width(), again.height()) == (win.width(), 700)  # the default is 1440 × 900
    assert again.workspace.split.sizes() == sizes
    assert again.workspace.current_page() == "Diversity"


def test_about_names_the_licence_and_how_to_cite(make_window):
    win = make_window()
    win.show_about()
    text = win.dialog.text.text()
    assert "MIT" in text
    assert "BEND: Bagging Deep Learning Training Based on Efficient Neural Network Diffusion" in text
    assert "Wei, Xingjun Zhang and Witold Pedrycz" in text
    assert "Neural Network Diffusion." in text and "Kai Wang" in text and "2024" in text
    win.dialog.close()


def test_progress_phases_are_labelled_never_go_back_and_finish_busy(make_window, tiny_project, qtbot):
    """The events a stage reports, in the order issue 14 saw them: caching at 85 %, then the stage's own
    work at 12 %, a report lower than the last, then the last step before a final evaluation."""
    win = make_window(tiny_project.root)
    act, model = win.workspace.activity, win.model
    model.progress.emit(Progress("evaluate", 85, 100, "caching", step=CACHE_STEP), -1.0)
    assert act.phase.text() == "caching activations" and act.bar.value() == 85
    model.progress.emit(Progress("evaluate", 12, 100, "set 1/5"), 30.0)
    assert act.phase.text() == "" and act.bar.value() == 12 and act.eta.text() == "ETA 0:30"
    model.progress.emit(Progress("evaluate", 10, 100, "set 1/5"), 30.0)
    assert act.bar.value() == 12  # never backwards within a phase
    model.progress.emit(Progress("evaluate", 100, 100, "set 5/5"), 0.0)
    assert act.bar.maximum() == 0 and act.eta.text() == "finishing…"  # busy, not "100 % · ETA 0:00"
