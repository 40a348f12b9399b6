"""The Studies page, clicked through offscreen: a grid defined with the key picker (keys from the schema,
with their help), a study run from the page whose points arrive with their state, a failed point with
its error, the plot of a quantity against a swept key (mean ± std over seeds), where to run remembered in
the app's settings; and a study driven by a separate process (`bend sweep`), found when the project
opens and followed until it ends."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt

from bend_gui.core.errors import BendError
from bend_gui.core.project import userdata
from bend_gui.core.studies import grid as G
from bend_gui.core.studies import store, study
from bend_gui.gui.views.studies import StudiesPage, StudyPanel, grid_keys, study_series
from tests.gui.conftest import wait_job
from tests.gui.test_page_layout import page_problems
from tests.helpers import private_copy

PNG = Path(os.environ.get("BEND_TEST_PNGS", "/tmp"))
REPO = Path(__file__).resolve().parents[2]


def _pick(qtbot, panel, key: str, values: str) -> None:
    """Choose `key` in the picker, type its values, click Add."""
    panel.key_pick.setCurrentIndex(panel.key_pick.findText(key))
    panel.values_edit.clear()
    qtbot.keyClicks(panel.values_edit, values)
    qtbot.mouseClick(panel.add_btn, Qt.MouseButton.LeftButton)


def _states(panel) -> list[str]:
    col = len(panel.keys) + 1
    return [panel.table.item(r, col).text() for r in range(panel.table.rowCount())]


def test_the_key_picker_offers_what_the_grid_accepts_with_its_help():
    keys = grid_keys()
    for key in keys:
        G.check_key(key)   # every key offered is accepted …
    assert {"generate.m", "generate.sampler", "autoencoder.latent_noise", "collect.k"} <= set(keys)
    refused = 0
    for key in ("base.lr", "generate.seed", "run.threads", "model.backbone"):
        assert key not in keys
        try:
            G.check_key(key)
        except BendError:
            refused += 1
    assert refused == 4   # … and what is left out is refused by the grid itself


def test_a_study_runs_from_the_page_and_plots_mean_and_std(make_window, hard_project_root, tmp_path, qtbot):
    p = private_copy(hard_project_root, tmp_path / "p")
    win = make_window(p.root)
    page = win.workspace.show_page("Studies")
    assert isinstance(page, StudiesPage) and page.parts.currentWidget() is page.study
    panel = page.study
    # The picker shows each key's type, bounds and help.
    panel.key_pick.setCurrentIndex(panel.key_pick.findText("generate.m"))
    assert panel.key_help.text().startswith("int ≥ 1 · ")
    panel.key_pick.setCurrentIndex(panel.key_pick.findText("generate.sampler"))
    assert panel.key_help.text().startswith("one of ddim, ddpm · ")
    # A 2 × 2 grid through the picker; a second Add of the same key replaces its values.
    _pick(qtbot, panel, "generate.noise_sigma", "0.1, 1e39")
    _pick(qtbot, panel, "generate.generator", "noise")
    _pick(qtbot, panel, "generate.noise_sigma", "0.1, 0.5, 1e39")
    assert panel.grid_edit.text() == "generate.generator=noise; generate.noise_sigma=0.1,0.5,1e39"
    _pick(qtbot, panel, "generate.noise_sigma", "0.1, 1e39")
    _pick(qtbot, panel, "generate.m", "3, 4")
    assert panel.grid_edit.text() == "generate.generator=noise; generate.noise_sigma=0.1,1e39; generate.m=3,4"
    panel.seeds_edit.setText("0, 1")
    panel.name_edit.setText("sigma")
    # A bad value gives one line and starts nothing.
    good = panel.grid_edit.text()
    panel.grid_edit.setText("generate.m=0")
    assert not panel.start() and "must be ≥ 1" in panel.error.text()
    panel.grid_edit.setText(good)
    seen: list[tuple[str, str]] = []   # (state, node) of each point, as the page shows it live
    win.model.curvePoint.connect(lambda *a: seen.extend((r["state"], r.get("node", "")) for r in panel.records.values()))
    qtbot.mouseClick(panel.start_btn, Qt.MouseButton.LeftButton)
    assert panel.table.rowCount() == 8 and set(_states(panel)) == {"queued"}
    wait_job(qtbot, win)
    qtbot.waitUntil(lambda: "8 points saved" in panel.status.text(), timeout=10_000)
    assert ("running", socket.gethostname()) in seen and ("queued", "") in seen
    assert _states(panel) == ["done", "done", "failed", "failed"] * 2
    # A failed point's error spans the columns its numbers would fill.
    sbend_col = [panel.table.horizontalHeaderItem(c).text() for c in range(panel.table.columnCount())].index("sBEND")
    assert "holds infinity" in panel.table.item(2, sbend_col).text()
    assert panel.table.columnSpan(2, sbend_col) == 3 and panel.table.columnSpan(0, sbend_col) == 1
    # The plot: sBEND against σ, mean ± std over the two seeds, from the saved points, one line per m.
    _, records = study.load_study(p, "sigma")
    panel.x_pick.setCurrentText("generate.noise_sigma")
    series = panel.plot.series
    assert sorted(series) == ["generator = noise, m = 3", "generator = noise, m = 4"]
    xs, mean, std = series["generator = noise, m = 3"]
    assert xs == [0.1]   # the failed σ has no number
    ref = [r["row"]["sbend"] for r in records if r["values"]["generate.m"] == 3 and r["state"] == "done"]
    assert np.allclose(mean, [np.mean(ref)]) and np.allclose(std, [np.std(ref)])
    panel.q_pick.setCurrentIndex(panel.q_pick.findData("disagree_gen"))
    panel.x_pick.setCurrentText("generate.m")
    assert list(panel.plot.series) == ["generator = noise, noise_sigma = 0.1"]
    assert panel.plot.series["generator = noise, noise_sigma = 0.1"][0] == [3, 4]
    assert study_series(records, "generate.m", "disagree_gen") == panel.plot.series
    header, rows = panel.plot.csv_table()
    assert header[1] == "generate.m" and len(rows) == 2
    win.resize(1280, 800)
    qtbot.wait(100)
    win.grab().save(str(PNG / "app-study-page.png"))
    assert not page_problems(page, "Studies at 1280x800")   # every column and data point in view
    # Where to run is remembered in the app's settings file.
    panel.executor.setCurrentIndex(1)
    panel.address.setText("127.0.0.1:1")
    assert not panel.start()  # nothing listens there: one clear line
    assert panel.error.text().startswith("cannot reach a Ray cluster at 127.0.0.1:1")
    assert userdata.app_settings()["studies"] == {"executor": "ray", "address": "127.0.0.1:1"}
    again = StudyPanel(win.model)
    assert again.executor.currentIndex() == 1 and again.address.text() == "127.0.0.1:1"
    assert again.name_edit.text() == "sigma" and again.table.rowCount() == 8  # the saved study, reopened
    again.deleteLater()
    frontier_page = win.workspace.show_page("Frontier")   # the other page that runs studies starts from it too
    assert frontier_page.executor.currentIndex() == 1 and frontier_page.address.text() == "127.0.0.1:1"


def _sweep(project: Path, log: Path) -> subprocess.Popen:
    code = "import sys; from bend_gui.cli import main; sys.exit(main())"
    args = ["sweep", str(project), "--grid", "generate.m=2,3", "--grid", "generate.sampler=ddim,ddpm",
            "--seeds", "0", "--name", "elsewhere", "-q"]
    with open(log, "w") as f:
        return subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO, stdout=f, stderr=subprocess.STDOUT)


def test_opening_the_project_follows_a_study_another_process_runs(make_window, hard_project_root, tmp_path, qtbot):
    p = private_copy(hard_project_root, tmp_path / "p")
    driver = _sweep(p.root, tmp_path / "driver.log")
    try:
        # Once it publishes its points, hold the driver still (SIGSTOP), so the window surely meets it running.
        deadline = time.monotonic() + 120
        while store.read_live(p, "elsewhere") is None:
            assert driver.poll() is None, (tmp_path / "driver.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the driver published nothing"
            time.sleep(0.05)
        driver.send_signal(signal.SIGSTOP)
        win = make_window(p.root)
        panel = win.workspace.show_page("Studies").study
        qtbot.waitUntil(lambda: panel.following is not None, timeout=5_000)
        assert f"runs in process {driver.pid} on {socket.gethostname()}" in panel.status.text()
        assert panel.name_edit.text() == "elsewhere" and panel.table.rowCount() == 4
        assert not page_problems(panel, "Studies following a study")   # every column in view
        states = _states(panel)
        assert set(states) <= {"queued", "running", "done"} and set(states) - {"done"}   # some still in flight
        assert not panel.start_btn.isEnabled()
        win.grab().save(str(PNG / "app-study-following.png"))
        # Cancel here does not stop another process's study: it says whose it is.
        qtbot.mouseClick(panel.cancel_btn, Qt.MouseButton.LeftButton)
        assert f"belongs to another process ({driver.pid}" in panel.error.text()
        driver.send_signal(signal.SIGCONT)
        assert driver.wait(120) == 0, (tmp_path / "driver.log").read_text()[-2000:]
        # The driver ended: the page shows what it saved and stops following.
        qtbot.waitUntil(lambda: panel.following is None, timeout=10_000)
        assert _states(panel) == ["done"] * 4 and "its driver has ended" in panel.status.text()
        assert panel.start_btn.isEnabled() and not store.live_path(p, "elsewhere").exists()
        assert panel.plot.series
    finally:
        if driver.poll() is None:
            driver.send_signal(signal.SIGCONT)
            driver.kill()
            driver.wait()
