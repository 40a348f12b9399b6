"""The main window driven by clicks, offscreen: open, run a stage with live curves, cancel, resume."""

import time

from PySide6.QtCore import Qt, QTimer

from bend_gui.core.project.folder import Project
from tests.gui.conftest import wait_job


def test_start_page_offers_demo_and_recent(make_window, tiny_project, qtbot):
    win = make_window()
    assert win.stack.currentWidget() is win.start_page
    assert win.start_page.empty.isVisible()
    assert win.open_project(tiny_project.root)
    win.close_project()
    assert win.start_page.recent.count() == 1
    item = win.start_page.recent.item(0)
    assert str(tiny_project.root) in item.text()
    win.start_page.recent.itemActivated.emit(item)
    assert win.model is not None and win.model.project.root == tiny_project.root
    assert "Device:" in win.device_label.text() and "CPU" in win.device_label.text()


def test_demo_button_creates_and_opens_the_demo(make_window, qtbot):
    win = make_window()
    qtbot.mouseClick(win.start_page.demo, Qt.MouseButton.LeftButton)
    assert win.model is not None
    assert win.model.config.name == "fashion-mnist-demo"
    assert [s.state for s in win.model.states()] == ["not run"] * 6


def test_opening_a_folder_that_is_not_a_project_shows_an_error(make_window, tmp_path):
    win = make_window()
    assert not win.open_project(tmp_path)
    assert "not a BEND project" in win.dialog.text()
    win.dialog.close()


def test_run_base_from_the_gui_updates_its_curve_and_finishes(make_window, tiny_project, qtbot):
    win = make_window(tiny_project.root)
    ws = win.workspace
    ws.pipeline.select("base")
    with qtbot.waitSignal(win.model.stageFinished, timeout=120_000):
        qtbot.mouseClick(ws.pipeline.run_btn, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not ws.pipeline.run_btn.isEnabled(), timeout=5000)
        assert ws.activity.cancel.isEnabled()
        assert not ws.pipeline.forms["base"].isEnabled()  # settings locked while the job runs
    wait_job(qtbot, win)
    plot = ws.monitors.plot("Base training · accuracy")
    qtbot.waitUntil(lambda: len(plot.data["test_acc"][0]) == 2, timeout=5000)
    assert win.model.state("base").state == "done"
    assert ws.pipeline.items["base"].text(1) == "done"
    assert ws.pipeline.forms["base"].isEnabled()


def test_cancel_keeps_the_project_consistent_and_resume_completes(make_window, tmp_path, tiny_cfg, qtbot):
    cfg = tiny_cfg.copy()
    cfg.collect.k = 300
    project = Project.create(tmp_path / "p", cfg)
    win = make_window(project.root)
    ws = win.workspace
    ws.pipeline.select("collect")
    qtbot.mouseClick(ws.pipeline.run_btn, Qt.MouseButton.LeftButton)
    snaps = ws.monitors.plot("Snapshots · test accuracy")
    qtbot.waitUntil(lambda: len(snaps.data["test_acc"][0]) >= 5, timeout=180_000)
    qtbot.mouseClick(ws.activity.cancel, Qt.MouseButton.LeftButton)
    wait_job(qtbot, win)
    st = win.model.state("collect")
    assert st.state == "cancelled" and st.resumable
    assert win.model.state("base").state == "done"
    assert project.lock_holder() is None
    assert ws.pipeline.resume_btn.isEnabled()
    n_before = len(snaps.data["test_acc"][0])
    with qtbot.waitSignal(win.model.jobFinished, timeout=180_000) as blocker:
        qtbot.mouseClick(ws.pipeline.resume_btn, Qt.MouseButton.LeftButton)
    assert blocker.args[0].state == "done"
    wait_job(qtbot, win)
    assert win.model.state("collect").state == "done"
    assert len(snaps.data["test_acc"][0]) == 300 and n_before < 300


def test_a_failing_stage_shows_a_dialog_naming_it(make_window, tmp_path, tiny_cfg, qtbot):
    project = Project.create(tmp_path / "p", tiny_cfg)
    win = make_window(project.root)
    cfg = win.model.config.copy()
    cfg.data.root = str(tmp_path / "missing")
    win.model.save_config(cfg)
    qtbot.mouseClick(win.workspace.pipeline.run_all_btn, Qt.MouseButton.LeftButton)
    wait_job(qtbot, win)
    assert "not found" in win.dialog.text()
    win.dialog.close()
    assert project.lock_holder() is None


def test_settings_form_applies_and_reports_bad_values(make_window, tiny_project, qtbot):
    win = make_window(tiny_project.root)
    panel = win.workspace.pipeline
    panel.select("collect")
    form = panel.form("collect")
    form.widget("collect", "lr").setText("0.02")
    qtbot.mouseClick(panel.apply_btn, Qt.MouseButton.LeftButton)
    assert Project.open(tiny_project.root).load_config().collect.lr == 0.02
    form.widget("collect", "save_every").setText("sometimes")
    qtbot.mouseClick(panel.apply_btn, Qt.MouseButton.LeftButton)
    assert "save_every" in form.error.text()
    assert Project.open(tiny_project.root).load_config().collect.save_every == 5


def test_the_event_loop_keeps_running_while_a_job_trains(make_window, tmp_path, tiny_cfg, qtbot):
    """The job runs off the GUI thread: a 10 ms timer keeps firing while it trains. (How long the largest
    gap is, is measured by tests/benchmarks/bench_gui_responsiveness.py, not asserted here.)"""
    cfg = tiny_cfg.copy()
    cfg.base.epochs = 3
    project = Project.create(tmp_path / "p", cfg)
    win = make_window(project.root)
    ticks_during_job = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: win.runner.busy and ticks_during_job.append(time.perf_counter()))
    timer.start()
    win.model.run_pipeline(until="base")
    wait_job(qtbot, win)
    timer.stop()
    assert len(ticks_during_job) >= 5


def test_every_page_is_in_the_workspace_and_shows_the_projects_numbers(make_window, finished_project, qtbot):
    from bend_gui.core.results.report import load_metrics, table3_cells

    win = make_window(finished_project.root)
    tabs = win.workspace.tabs
    titles = [tabs.tabText(i) for i in range(tabs.count())]
    assert titles == ["Monitors", "Generate", "Table 3", "sBEND vs aBEND", "Diversity", "Efficiency", "Studies",
                      "Frontier", "Ablation"]
    page = win.workspace.show_page("Table 3")
    cells = table3_cells(load_metrics(finished_project))
    shown = {page.table.horizontalHeaderItem(c).text(): page.table.item(0, c).text()
             for c in range(page.table.columnCount())}
    assert shown["sBEND"] == cells["sbend"] and shown["aBEND"] == cells["abend"]
    for i in range(tabs.count()):  # every page can be shown
        tabs.setCurrentIndex(i)
        qtbot.wait(20)
    assert win.act_export_results.isEnabled() and win.act_export_ensemble.isEnabled()


def test_rerun_of_a_finished_stage_asks_first(make_window, finished_project, qtbot):
    from PySide6.QtWidgets import QMessageBox

    project = finished_project  # a private copy
    win = make_window(project.root)
    panel = win.workspace.pipeline
    panel.select("evaluate")
    run_id = project.manifest()["stages"]["evaluate"]["run_id"]
    qtbot.mouseClick(panel.rerun_btn, Qt.MouseButton.LeftButton)
    box = panel.confirm
    assert box is not None and box.isVisible() and "5 · Evaluate ensembles" in box.text()
    assert not win.model.busy  # nothing runs before the answer
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Cancel), Qt.MouseButton.LeftButton)
    qtbot.wait(50)
    assert not win.model.busy and project.manifest()["stages"]["evaluate"]["run_id"] == run_id
    qtbot.mouseClick(panel.rerun_btn, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(win.model.jobFinished, timeout=120_000) as blocker:
        qtbot.mouseClick(panel.confirm.button(QMessageBox.StandardButton.Yes), Qt.MouseButton.LeftButton)
    assert blocker.args[0].state == "done"
    wait_job(qtbot, win)
    assert project.manifest()["stages"]["evaluate"]["run_id"] != run_id
