"""The Sweeps and Ablation pages, clicked through offscreen: a sweep (the study m or k) started from the page
grows live and cancels; saved sweeps and variants are shown with the project's own numbers; PNG and CSV
export."""

import csv
import shutil

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

from bend_gui.core.fileio import read_csv
from bend_gui.core.project.folder import Project
from bend_gui.core.results.report import pct, pct_pm
from bend_gui.core.studies import ablation, sweeps
from bend_gui.gui.views.ablation import AblationPage
from bend_gui.gui.views.sweeps import PLOTTED, SweepsPage
from tests.core.test_sweeps import drain
from tests.gui.conftest import wait_job
from tests.helpers import private_copy


@pytest.fixture(scope="module")
def precomputed_root(tmp_path_factory, hard_project_root):
    """A finished tiny project whose members disagree (a copy of the session's), with a saved m-sweep, a
    saved k-sweep and one finished ablation variant."""
    p = private_copy(hard_project_root, tmp_path_factory.mktemp("views") / "p")
    drain(sweeps.sweep_m(p, [1, 2, 5], [0, 1, 2]))
    drain(sweeps.sweep_k(p, [2, 4, 6], [0, 1], m=3))
    ablation.add_variant(p, ["fc2"])
    drain(ablation.run_variants(p))
    return p.root


@pytest.fixture
def precomputed(tmp_path, precomputed_root):
    shutil.copytree(precomputed_root, tmp_path / "p")
    return Project.open(tmp_path / "p")


def open_page(win, cls, title):
    page = cls(win.model)
    win.workspace.tabs.addTab(page, title)
    win.workspace.tabs.setCurrentWidget(page)
    return page


def expected(project, over):
    """Mean and std over seeds (in %) per x, computed here from the study's table (its done points)."""
    _, rows = read_csv(sweeps.sweep_path(project, over))
    rows = [r for r in rows if r["state"] == "done"]
    xs = sorted({r[over] for r in rows})
    out = {}
    for q in PLOTTED:
        vals = [[100 * r[q] for r in rows if r[over] == x] for x in xs]
        out[q] = (np.array(xs), np.array([np.mean(v) for v in vals]), np.array([np.std(v) for v in vals]))
    return rows, out


def check_png(path, min_width=1000):
    img = QImage(str(path))
    assert not img.isNull() and img.width() >= min_width
    colours = {img.pixel(x, y) for x in range(0, img.width(), 7) for y in range(0, img.height(), 7)}
    assert len(colours) > 20  # drawn lines, bands and text, not a blank canvas


def test_sweeps_page_shows_the_saved_sweeps_and_exports_them(make_window, precomputed, qtbot, tmp_path):
    win = make_window(precomputed.root)
    page = open_page(win, SweepsPage, "Sweeps")
    for over in ("m", "k"):
        plot = page.plots[over]
        rows, exp = expected(precomputed, over)
        assert len(plot.rows) == len(rows)
        for q in PLOTTED:
            x, mean, std = exp[q]
            px, py = plot.plotted(q)
            assert np.allclose(px, x) and np.allclose(py, mean), (over, q)
            lo, hi = (e.getOriginalDataset()[1] for e in plot.edges[q])
            assert np.allclose(lo, mean - std) and np.allclose(hi, mean + std)
        assert len({round(v, 6) for v in exp["sbend"][1]}) > 1  # the numbers differ from point to point
        # The table prints what the plot shows, as `bend sweep` prints it.
        agg = sweeps.aggregate(rows, over)
        assert plot.table.rowCount() == len(agg)
        for r, a in enumerate(agg):
            assert plot.table.item(r, 0).text() == str(a[over])
            assert plot.table.item(r, 2).text() == pct(a["sbend_mean"])
            assert plot.table.item(r, 2).toolTip().startswith(pct_pm(a["sbend_mean"], a["sbend_std"]))
        assert not plot.empty.isVisible()
        png, data = tmp_path / f"{over}.png", tmp_path / f"{over}.csv"
        plot.export_png(png)
        plot.export_csv(data)
        check_png(png)
        with open(data, newline="") as f:
            table = list(csv.DictReader(f))
        assert [float(t[over]) for t in table] == [a[over] for a in agg]
        assert [float(t["abend_mean_mean"]) for t in table] == pytest.approx([a["abend_mean_mean"] for a in agg])
        assert [float(t["orig_mean_std"]) for t in table] == pytest.approx([a["orig_mean_std"] for a in agg])
    # What the sweep was made with is the plot's subtitle (also in its PNG); the note says the band.
    title_m, title_k = page.plots["m"].plot_item.titleLabel.text, page.plots["k"].plot_item.titleLabel.text
    assert "k = 6 snapshots" in title_m and "200 test images" in title_m
    assert "3 seeds (0, 1, 2)" in page.plots["m"].note.text()
    assert "m = 3 members per point" in title_k
    # Values and seeds come from the saved sweeps.
    assert page.m_values.text() == "1, 2, 5" and page.m_seeds.text() == "0, 1, 2"
    assert page.k_values.text() == "2, 4, 6" and page.k_m.value() == 3
    # Rerunning a stage after the sweep: the page says the sweep is from an earlier generator.
    win.model.run_pipeline(only="diffusion", force=("diffusion",))
    wait_job(qtbot, win)
    qtbot.waitUntil(lambda: "earlier generator" in page.plots["m"].note.text(), timeout=5000)
    assert "earlier generator" not in page.plots["k"].note.text()  # it trains its own generators


def test_a_sweep_started_from_the_page_grows_live_and_finishes(make_window, precomputed, qtbot):
    win = make_window(precomputed.root)
    page = open_page(win, SweepsPage, "Sweeps")
    page.m_values.setText("1, 3, 5")
    page.m_seeds.setText("3, 4")
    seen = []
    win.model.curvePoint.connect(lambda stage, series, x, values: seen.append((stage, x)))
    with qtbot.waitSignal(win.model.jobFinished, timeout=120_000) as blocker:
        qtbot.mouseClick(page.m_btn, Qt.MouseButton.LeftButton)
        assert not page.m_btn.isEnabled() and page.cancel_btn.isEnabled()
        assert page.plots["m"].rows == []  # a new sweep starts empty
    outcome = blocker.args[0]
    assert (outcome.name, outcome.state) == ("Sweep over m", "done")
    assert [(r["m"], r["seed"]) for r in outcome.result] == [(m, s) for s in (3, 4) for m in (1, 3, 5)]
    wait_job(qtbot, win)
    assert seen == [("sweep_m", 1.0), ("sweep_m", 3.0), ("sweep_m", 5.0)] * 2
    rows, exp = expected(precomputed, "m")
    assert sorted({r["seed"] for r in rows}) == [3, 4]
    px, py = page.plots["m"].plotted("sbend")
    assert np.allclose(px, [1, 3, 5]) and np.allclose(py, exp["sbend"][1])
    assert "done, 6 points" in page.status.text()
    assert page.m_btn.isEnabled()


def test_a_k_sweep_from_the_page_adds_points_live_and_can_be_cancelled(make_window, precomputed, qtbot):
    cfg = precomputed.load_config()
    cfg.autoencoder.steps, cfg.diffusion.steps = 150, 150  # slow enough to cancel mid-sweep
    precomputed.save_config(cfg)
    win = make_window(precomputed.root)
    page = open_page(win, SweepsPage, "Sweeps")
    assert page.k_btn.isEnabled()  # the k-sweep needs the snapshots only
    page.k_values.setText("2, 3, 4, 5, 6")
    page.k_seeds.setText("0, 1, 2")
    qtbot.mouseClick(page.k_btn, Qt.MouseButton.LeftButton)
    plot = page.plots["k"]
    qtbot.waitUntil(lambda: len(plot.plotted("sbend")[0]) >= 1, timeout=120_000)
    assert win.model.busy  # the point arrived while the sweep runs
    qtbot.waitUntil(lambda: "point 2/15" in page.status.text(), timeout=60_000)
    qtbot.mouseClick(page.cancel_btn, Qt.MouseButton.LeftButton)
    wait_job(qtbot, win)
    assert "cancelled" in page.status.text()
    rows = sweeps.load_sweep(precomputed, "k")
    assert 1 <= len(rows) < 15 and sweeps.sweep_info(precomputed, "k")["state"] == "cancelled"
    assert len(plot.rows) == len(rows)
    assert precomputed.lock_holder() is None


def test_sweeps_page_empty_state_and_bad_input(make_window, tiny_project, precomputed, qtbot):
    win = make_window(tiny_project.root)
    page = open_page(win, SweepsPage, "Sweeps")
    for over, btn, note in (("m", page.m_btn, page.m_note), ("k", page.k_btn, page.k_note)):
        assert not btn.isEnabled()
        assert "run the pipeline until" in note.text()
        assert not page.plots[over].has_data() and page.plots[over].empty.isVisible()
        assert f"No sweep over {over} yet" in page.plots[over].empty.toPlainText()
    win.close_project()

    win.open_project(precomputed.root)
    page = open_page(win, SweepsPage, "Sweeps")
    page.m_values.setText("5, x")
    qtbot.mouseClick(page.m_btn, Qt.MouseButton.LeftButton)
    assert "'x' is not a whole number" in page.error.text() and not win.model.busy
    page.k_values.setText("2, 9")
    qtbot.mouseClick(page.k_btn, Qt.MouseButton.LeftButton)
    assert "the project has 6 snapshots" in page.error.text() and not win.model.busy
    assert sweeps.load_sweep(precomputed, "k")  # nothing lost on disk


def test_ablation_page_shows_table5_and_exports(make_window, precomputed, qtbot, tmp_path):
    win = make_window(precomputed.root)
    page = open_page(win, AblationPage, "Ablation")
    rows = ablation.table5(precomputed)
    assert page.table.rowCount() == 2
    for r, row in enumerate(rows):
        assert page.table.item(r, 0).text() == ", ".join(row["layers"]) + (" (project)" if r == 0 else "")
        assert page.table.item(r, 1).text() == f"{row['d']:,}"
        assert page.table.item(r, 2).text() == pct(row["sbend"])
        assert page.table.item(r, 3).text() == pct_pm(row["abend_mean"], row["abend_std"])
        assert page.table.item(r, 4).text() == pct(row["orig_mean"])
        assert page.table.item(r, 7).text() == "done"
    for key in ("sbend", "abend_mean", "orig_mean"):
        assert np.allclose(page.chart.heights(key), [100 * r[key] for r in rows])
    png, data = tmp_path / "t5.png", tmp_path / "t5.csv"
    page.chart.export_png(png)
    page.chart.export_csv(data)
    check_png(png)
    with open(data, newline="") as f:
        table = list(csv.DictReader(f))
    assert [t["subset"] for t in table] == ["bn3 bn4", "fc2"]
    assert [float(t["sbend"]) for t in table] == pytest.approx([r["sbend"] for r in rows])


def test_ablation_page_adds_runs_and_removes_a_variant(make_window, precomputed, qtbot):
    win = make_window(precomputed.root)
    page = open_page(win, AblationPage, "Ablation")
    dialog = page.open_add()
    dialog.check("bn4")
    qtbot.waitUntil(lambda: "d = 256" in dialog.preview.text(), timeout=5000)
    dialog.patterns.setText("nothing*")
    qtbot.waitUntil(lambda: "matches no module" in dialog.preview.text(), timeout=5000)
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
    dialog.patterns.setText("")
    dialog.items["bn4"].setCheckState(0, Qt.CheckState.Unchecked)
    dialog.check("fc2")
    qtbot.waitUntil(lambda: "d = 1,290" in dialog.preview.text(), timeout=5000)
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    assert "already holds these parameters" in dialog.preview.text() and dialog.isVisible()
    dialog.items["fc2"].setCheckState(0, Qt.CheckState.Unchecked)
    dialog.check("bn4")
    qtbot.waitUntil(lambda: "d = 256" in dialog.preview.text(), timeout=5000)
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    assert page.table.rowCount() == 3 and page.table.item(2, 7).text().startswith("missing")
    assert page.table.item(2, 2).text() == "—"

    with qtbot.waitSignal(win.model.jobFinished, timeout=120_000) as blocker:
        qtbot.mouseClick(page.run_btn, Qt.MouseButton.LeftButton)
    assert blocker.args[0].state == "done"
    wait_job(qtbot, win)
    row = ablation.table5(precomputed)[2]
    assert row["state"] == "done" and page.table.item(2, 2).text() == pct(row["sbend"])
    assert np.allclose(page.chart.heights("sbend")[2], 100 * row["sbend"])
    assert "done" in page.status.text()

    page.select("bn4")
    qtbot.mouseClick(page.remove_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.confirm is not None and page.confirm.isVisible(), timeout=5000)
    qtbot.mouseClick(page.confirm.button(QMessageBox.StandardButton.Yes), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.table.rowCount() == 2, timeout=5000)
    assert [v.slug for v in ablation.variants(precomputed)] == ["fc2"]
