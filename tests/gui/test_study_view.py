"""The Studies part of the Sweeps page, clicked through offscreen: keys picked from the schema, a study run
from the page whose points arrive with their state, a failed point with its error, the plot of a quantity
against a swept key (mean ± std over seeds), and the executor remembered."""

import numpy as np
from PySide6.QtCore import QSettings

from bend_gui.core.studies import study
from bend_gui.gui.views.sweeps import SETTINGS_ORG, StudyPanel, study_series
from tests.gui.conftest import wait_job
from tests.helpers import private_copy


def test_a_study_runs_from_the_page_and_plots_mean_and_std(make_window, hard_project_root, tmp_path, qtbot):
    p = private_copy(hard_project_root, tmp_path / "p")
    win = make_window(p.root)
    panel = StudyPanel(win.model)
    win.workspace.tabs.addTab(panel, "Study")
    win.workspace.tabs.setCurrentWidget(panel)
    assert "generate.m" in [panel.key_pick.itemText(i) for i in range(panel.key_pick.count())]
    assert "base.lr" not in [panel.key_pick.itemText(i) for i in range(panel.key_pick.count())]
    # Keys come from the schema's picker; a second Add of the same key replaces its values.
    panel.key_pick.setCurrentText("generate.noise_sigma")
    panel.values_edit.setText("0.1, 1e39")
    panel.add_btn.click()
    panel.key_pick.setCurrentText("generate.generator")
    panel.values_edit.setText("noise")
    panel.add_btn.click()
    panel.key_pick.setCurrentText("generate.noise_sigma")
    panel.values_edit.setText("0.1, 0.5, 1e39")
    panel.add_btn.click()
    assert panel.grid_edit.text() == "generate.generator=noise; generate.noise_sigma=0.1,0.5,1e39"
    panel.seeds_edit.setText("0, 1")
    panel.name_edit.setText("sigma")
    # A bad value gives one line and starts nothing.
    panel.grid_edit.setText("generate.m=0")
    assert not panel.start() and "must be ≥ 1" in panel.error.text()
    panel.grid_edit.setText("generate.generator=noise; generate.noise_sigma=0.1,0.5,1e39")
    assert panel.start()
    assert panel.table.rowCount() == 6
    wait_job(qtbot, win)
    qtbot.waitUntil(lambda: "6 points saved" in panel.status.text(), timeout=10_000)
    states = [panel.table.item(r, 3).text() for r in range(6)]
    assert states == ["done", "done", "failed"] * 2
    assert "holds infinity" in panel.table.item(2, panel.table.columnCount() - 1).text()
    # The plot: sBEND against σ, mean ± std over the two seeds, from the saved points.
    _, records = study.load_study(p, "sigma")
    panel.x_pick.setCurrentText("generate.noise_sigma")
    series = panel.plot.series
    assert list(series) == ["generator = noise"]
    xs, mean, std = series["generator = noise"]
    assert xs == [0.1, 0.5]  # the failed σ has no number
    ref = [np.mean([r["row"]["sbend"] for r in records if r["values"]["generate.noise_sigma"] == x]) for x in xs]
    assert np.allclose(mean, ref) and len(std) == 2
    assert study_series(records, "generate.noise_sigma", "disagree_gen")["generator = noise"][0] == [0.1, 0.5]
    header, rows = panel.plot.csv_table()
    assert header[1] == "generate.noise_sigma" and len(rows) == 2
    # Where to run is remembered.
    panel.executor.setCurrentIndex(1)
    panel.address.setText("127.0.0.1:1")
    assert not panel.start()  # nothing listens there: one clear line
    assert panel.error.text().startswith("cannot reach a Ray cluster at 127.0.0.1:1")
    again = StudyPanel(win.model)
    assert again.executor.currentIndex() == 1 and again.address.text() == "127.0.0.1:1"
    assert again.name_edit.text() == "sigma" and again.table.rowCount() == 6  # the saved study, reopened
    assert QSettings(SETTINGS_ORG, SETTINGS_ORG).value("studies/address") == "127.0.0.1:1"
    again.deleteLater()
