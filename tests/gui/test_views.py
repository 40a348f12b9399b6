"""The results pages on real (tiny) projects, offscreen: they show the project's numbers formatted as
`bend report` prints them, export PNG and CSV, react to new and stale results, and the generation panel
runs generate + evaluate."""

import csv
import math

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QMessageBox

from bend_gui.core.fileio import load_tensors
from bend_gui.core.project.folder import Project
from bend_gui.core.results import bundle
from bend_gui.core.results import metrics as M
from bend_gui.core.results.bundle import BundleError
from bend_gui.core.results.report import (
    TABLE3_COLUMNS,
    load_metrics,
    number,
    pct,
    pct_pm,
    seconds,
    table3_cells,
    table3_rows,
    verdicts,
)
from bend_gui.gui.project_model import ProjectModel
from bend_gui.gui.runner import JobRunner
from bend_gui.gui.views import (
    RESULT_PAGES,
    AblationPage,
    DiversityPage,
    EfficiencyPage,
    FrontierPage,
    GenerationPage,
    StudiesPage,
    Table3Page,
    VotesPage,
)
from bend_gui.gui.views import exports as exports_module
from bend_gui.gui.views import table3 as table3_module
from bend_gui.gui.views import votes as votes_module
from bend_gui.gui.views.common import NumericItem
from bend_gui.gui.views.exports import ExportEnsembleDialog

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def _check_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 2000, path


# --- Table 3 ---------------------------------------------------------------------------------------------

def test_table3_shows_the_report_cells_and_exports(open_page, varied_project, tmp_path):
    page = open_page(Table3Page, varied_project)
    mt = load_metrics(varied_project)
    assert page.stack.currentWidget() is page.content and not page.banner.isVisible()
    assert page.table.rowCount() == 1 + len(mt["baselines"])
    for name, row in table3_rows(mt):
        cells = table3_cells(row)
        for col in TABLE3_COLUMNS:
            assert page.cell_text(name, col) == cells[col], (name, col)
    assert page.cell_text(mt["generator"], "abend") == pct_pm(mt["abend_mean"], mt["abend_std"])
    assert page.verdicts.text() == "\n".join("· " + v for v in verdicts(mt))
    assert f"{mt['n_test']} test images" in page.title.text()
    cal = mt["calibration"]["generated"]
    texts = {page.calibration.item(r, 0).text(): page.calibration.item(r, 1).text()
             for r in range(page.calibration.rowCount())}
    assert texts["generated"] == f"{cal['soft']['ece']:.4f} / {cal['soft']['nll']:.3f}"

    # Sorting by a column orders the rows by number.
    col = 1 + TABLE3_COLUMNS.index("gen_mean")
    page.table.sortItems(col, Qt.SortOrder.DescendingOrder)
    shown = [page.table.item(r, col).value for r in range(page.table.rowCount())]
    assert shown == sorted((row["gen_mean"] for _, row in table3_rows(mt)), reverse=True)

    page.export_png(tmp_path / "t3.png")
    _check_png(tmp_path / "t3.png")
    page.export_csv(tmp_path / "t3.csv")
    header, rows = _csv(tmp_path / "t3.csv")
    assert header[:3] == ["generator", "sBEND (%)", "aBEND mean (%)"]
    assert len(rows) == page.table.rowCount()
    by_name = {r[0]: r for r in rows}
    for name, row in table3_rows(mt):
        assert float(by_name[name][1]) == pytest.approx(100 * row["sbend"])
        assert float(by_name[name][3]) == pytest.approx(100 * row["abend_std"])
        assert float(by_name[name][-1]) == pytest.approx(100 * row["potential"])


def test_numeric_items_sort_by_number_not_text():
    assert NumericItem("9.50", 9.5) < NumericItem("10.00", 10.0)
    assert not NumericItem("10.00", 10.0) < NumericItem("9.50", 9.5)
    assert NumericItem("—", None) < NumericItem("0.00", 0.0)


def test_export_results_and_ensemble_from_the_table3_page(open_page, varied_project, tmp_path, qtbot, monkeypatch):
    page = open_page(Table3Page, varied_project)
    paths = page.export_results_to(tmp_path / "out")
    assert {p.name for p in paths} >= {"table3.csv", "diversity.csv", "efficiency.csv", "calibration.csv",
                                       "members.csv", "metrics.json"}
    summary = page.export_ensemble_to(tmp_path / "snap.pt", members="original", rule="soft")
    ens = bundle.load(tmp_path / "snap.pt")
    assert summary["members"] == ens.m == load_metrics(varied_project)["k"] and ens.rule == "soft"

    page.open_export_ensemble()
    dlg = page.dialog
    assert isinstance(dlg, ExportEnsembleDialog)
    dlg.path.setText(str(tmp_path / "missing-folder" / "x.pt"))
    assert not dlg.save() and "no such folder" in dlg.error.text()
    dlg.path.setText(str(tmp_path / "gen"))
    dlg.rule.setCurrentIndex(dlg.rule.findData("abend"))
    assert dlg.save()  # writing started, in a worker thread
    qtbot.waitUntil(lambda: page.dialog is not dlg)  # the confirmation replaced the dialog
    ens = bundle.load(tmp_path / "gen.pt")
    assert ens.m == load_metrics(varied_project)["m"] and ens.rule == "abend"
    assert "gen.pt" in page.dialog.text()
    page.dialog.close()

    # A failure while writing keeps the dialog open with the message.
    def refuse(*args):
        raise BundleError("disk says no")
    monkeypatch.setattr(exports_module, "export_ensemble_to", refuse)
    page.open_export_ensemble()
    dlg = page.dialog
    dlg.path.setText(str(tmp_path / "never"))
    assert dlg.save()
    qtbot.waitUntil(lambda: dlg.error.text() == "disk says no")
    assert dlg.isVisible() and dlg.buttons.isEnabled() and not (tmp_path / "never.pt").exists()
    dlg.reject()

    # "Export results…" writes in a worker thread and confirms what it wrote.
    class Chooser:
        @staticmethod
        def getExistingDirectory(*args):
            return str(tmp_path / "out2")
    monkeypatch.setattr(table3_module, "QFileDialog", Chooser)
    qtbot.mouseClick(page.export_results_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: isinstance(page.dialog, QMessageBox) and "Wrote" in page.dialog.text())
    assert (tmp_path / "out2" / "table3.csv").is_file() and page.export_results_btn.isEnabled()
    page.dialog.close()


# --- sBEND vs aBEND --------------------------------------------------------------------------------------

def test_votes_page_shows_the_stored_runs_then_draws_more(open_page, varied_project, tmp_path, qtbot,
                                                          monkeypatch):
    page = open_page(VotesPage, varied_project)
    mt = load_metrics(varied_project)
    plot = page.plot
    np.testing.assert_array_equal(plot.runs, mt["abend_runs"])
    assert page.repeats.value() == len(mt["abend_runs"])
    text = page.summary.text()
    assert pct_pm(mt["abend_mean"], mt["abend_std"]) in text and f"sBEND</b> {pct(mt['sbend'])}" in text
    for key in ("sbend", "soft", "gen_mean", "gen_median", "potential"):
        assert plot.lines[key].value() == pytest.approx(100 * mt[key])
    lo, hi = plot.band.getRegion()
    assert (lo, hi) == pytest.approx((100 * (mt["abend_mean"] - mt["abend_std"]),
                                      100 * (mt["abend_mean"] + mt["abend_std"])))
    assert int(plot.counts.sum()) == len(mt["abend_runs"])
    beats = sum(round(r * mt["n_test"]) > round(mt["sbend"] * mt["n_test"]) for r in mt["abend_runs"])
    assert f"beats sBEND in {beats} of {len(mt['abend_runs'])} repeats" in text

    # More repeats, drawn in the GUI thread: the stored draws come first.
    preds = load_tensors(varied_project.dir("evaluate") / "predictions.pt")
    gen, y = preds["preds"]["generated"].numpy().astype(np.int64), preds["y"].numpy()
    page.repeats.setValue(40)
    qtbot.mouseClick(page.draw_btn, Qt.MouseButton.LeftButton)
    np.testing.assert_array_equal(plot.runs, M.abend_repeats(gen, y, 40, 0))
    assert "first of them the evaluate stage's" in page.summary.text()

    # Many repeats run as a job.
    monkeypatch.setattr(votes_module, "INLINE_LIMIT", 0)
    page.repeats.setValue(300)
    assert page.draw()
    assert page.model.busy and not page.draw_btn.isEnabled()
    qtbot.waitUntil(lambda: not page.model.busy, timeout=60_000)
    qtbot.waitUntil(lambda: len(plot.runs) == 300)
    np.testing.assert_array_equal(plot.runs, M.abend_repeats(gen, y, 300, 0))
    assert "over 300 repeats" in page.summary.text() and page.draw_btn.isEnabled()

    # A baseline's members.
    name = next(iter(mt["baselines"]))
    page.members.setCurrentIndex(page.members.findData(name))
    page.members.activated.emit(page.members.currentIndex())
    np.testing.assert_array_equal(plot.runs, mt["baselines"][name]["abend_runs"])
    assert plot.lines["sbend"].value() == pytest.approx(100 * mt["baselines"][name]["sbend"])

    plot.export_png(tmp_path / "votes.png")
    _check_png(tmp_path / "votes.png")
    plot.export_csv(tmp_path / "votes.csv")
    header, rows = _csv(tmp_path / "votes.csv")
    assert header == ["series", "repeat", "accuracy (%)"]
    runs = [float(r[2]) for r in rows if r[0] == "aBEND repeat"]
    assert runs == pytest.approx([100 * a for a in mt["baselines"][name]["abend_runs"]])
    assert float(next(r for r in rows if r[0] == "sBEND")[2]) == pytest.approx(100 * mt["baselines"][name]["sbend"])


def test_votes_job_can_be_cancelled(open_page, varied_project, qtbot, monkeypatch):
    page = open_page(VotesPage, varied_project)
    monkeypatch.setattr(votes_module, "INLINE_LIMIT", 0)
    stored = page.plot.runs.copy()
    # Cancel before the worker draws anything: the flag is checked at the first progress point.
    page.repeats.setValue(votes_module.MAX_REPEATS)
    assert page.draw()
    page.model.cancel()
    qtbot.waitUntil(lambda: not page.model.busy, timeout=60_000)
    qtbot.waitUntil(lambda: "cancelled" in page.error.text())
    np.testing.assert_array_equal(page.plot.runs, stored)
    assert "over" in page.summary.text()


# --- diversity -------------------------------------------------------------------------------------------

def test_diversity_page_shows_the_iou_matrix_and_the_report_numbers(open_page, varied_project, tmp_path):
    page = open_page(DiversityPage, varied_project)
    mt = load_metrics(varied_project)
    d = mt["diversity"]
    iou = load_tensors(varied_project.dir("evaluate") / "iou.pt")
    matrix = iou["matrix"].numpy()
    np.testing.assert_array_equal(page.heatmap.image.image, matrix)
    off = matrix[~np.eye(len(matrix), dtype=bool)]
    assert page.heatmap.colorbar.levels() == pytest.approx((off.min(), 1.0))
    assert page.heatmap.vline.value() == iou["generated"] == mt["m"]
    top = dict((text, pos) for pos, text in page.heatmap.plot_item.getAxis("top")._tickLevels[0])
    assert top == {f"generated (m = {mt['m']})": mt["m"] / 2, f"snapshots (k = {mt['k']})": mt["m"] + mt["k"] / 2}

    # The table prints what `bend report` prints.
    assert page.table_text("generated", 1) == f"{d['d_i_gen']:.1f}"
    assert page.table_text("original", 2) == f"{100 * d['disagree_orig']:.2f}"
    assert page.table_text("cross", 1) == f"{d['d_o']:.1f}"
    assert page.table_text("cross", 3) == f"{d['iou_cross']:.3f}"
    for name, b in mt["baselines"].items():
        assert page.table_text(name, 1) == f"{b['d_i']:.1f}" and page.table_text(name, 3) == f"{b['iou_within']:.3f}"

    heights = page.bars.bars.opts["width"]
    assert heights[:3] == pytest.approx([100 * d["disagree_gen"], 100 * d["disagree_orig"], 100 * d["disagree_cross"]])
    page.measure.setCurrentIndex(page.measure.findData("d"))
    assert page.bars.bars.opts["width"][:3] == pytest.approx([d["d_i_gen"], d["d_i_orig"], d["d_o"]])

    # Hovering a cell names the pair and its IoU.
    m = mt["m"]
    page.heatmap._on_mouse(page.heatmap.plot_item.vb.mapViewToScene(QPointF(m + 1.5, 0.5)))
    assert page.heatmap.note.text() == f"generated 0 × snapshot 1: IoU {matrix[0, m + 1]:.3f}"

    for panel, stem in ((page.heatmap, "iou"), (page.bars, "bars")):
        panel.export_png(tmp_path / f"{stem}.png")
        _check_png(tmp_path / f"{stem}.png")
        panel.export_csv(tmp_path / f"{stem}.csv")
    header, rows = _csv(tmp_path / "iou.csv")
    assert header[1] == "generated 0" and len(rows) == len(matrix)
    np.testing.assert_allclose(np.array([[float(x) for x in r[1:]] for r in rows]), matrix, rtol=1e-6)
    header, rows = _csv(tmp_path / "bars.csv")
    assert [r[0] for r in rows] == ["generated", "original", "cross", *mt["baselines"]]
    assert float(rows[1][3]) == pytest.approx(d["d_i_orig"]) and float(rows[0][6]) == pytest.approx(d["iou_gen"])


# --- efficiency ------------------------------------------------------------------------------------------

def test_efficiency_page_shows_the_measured_times_and_break_even(open_page, varied_project, tmp_path):
    page = open_page(EfficiencyPage, varied_project)
    mt = load_metrics(varied_project)
    e = mt["efficiency"]
    assert page.value_text("break_even_m") == number(e["break_even_m"], 2)
    assert page.value_text("break_even_m_paper_accounting") == number(e["break_even_m_paper_accounting"], 2)
    for key in ("t_org", "t_ate", "t_ddpm", "t_gen_per_member", "t_orge"):
        assert page.value_text(key) == seconds(e[key]), key
    assert page.value_text("k_pre") == str(e["k_pre"])
    assert page.value_text("t_diff") == seconds(M.t_diff(e, mt["m"]))
    plot = page.plot
    assert plot.break_even.value() == pytest.approx(math.log10(e["break_even_m"]))  # log axes by default
    page.log.setChecked(False)
    assert plot.break_even.value() == pytest.approx(e["break_even_m"])
    assert plot.break_even_paper.value() == pytest.approx(e["break_even_m_paper_accounting"])
    x, y = plot.curves["t_trad"].getData()
    assert y == pytest.approx([M.t_trad(e, m) for m in x])

    plot.export_png(tmp_path / "eff.png")
    _check_png(tmp_path / "eff.png")
    plot.export_csv(tmp_path / "eff.csv")
    header, rows = _csv(tmp_path / "eff.csv")
    assert not list(tmp_path.glob(".*tmp*"))  # written through a temporary file, renamed
    assert not plot.export_png(tmp_path / "no-such-folder" / "eff.png")
    assert "Could not write" in plot.export_error.text()
    plot.export_error.close()
    assert header[:3] == ["m", "t_diff (s)", "t_trad (s)"]
    for r in rows[:: max(1, len(rows) // 10)]:
        m = int(r[0])
        assert float(r[1]) == pytest.approx(M.t_diff(e, m)) and float(r[2]) == pytest.approx(M.t_trad(e, m))


# --- empty and stale -------------------------------------------------------------------------------------

# The pages of the evaluate stage's results (the studies, frontier and ablation pages have empty states of
# their own, tested in test_study_view.py, test_sweep_views.py and test_frontier_view.py).
STAGE_RESULT_PAGES = [(t, c) for t, c in RESULT_PAGES if c not in (StudiesPage, FrontierPage, AblationPage)]


def test_pages_show_an_empty_state_without_results(open_page, tmp_path, tiny_cfg):
    project = Project.create(tmp_path / "fresh", tiny_cfg)
    model = ProjectModel(project, JobRunner())
    for _, cls in STAGE_RESULT_PAGES:
        page = open_page(cls, project, model)
        view = page.view if isinstance(page, GenerationPage) else page
        assert view.stack.currentWidget() is view.empty and view.results is None
        assert "Run the evaluate stage" in view.empty.text.text()
        assert view.empty.run_btn.isEnabled()
    gen = page if isinstance(page, GenerationPage) else open_page(GenerationPage, project, model)
    assert not gen.generate_btn.isEnabled()
    assert "0 · Base training" in gen.why.text() and "3 · Latent diffusion" in gen.why.text()


def test_pages_mark_stale_results_and_keep_showing_them(open_page, varied_project):
    model = ProjectModel(varied_project, JobRunner())
    pages = [open_page(cls, varied_project, model) for _, cls in STAGE_RESULT_PAGES]
    views = [p.view if isinstance(p, GenerationPage) else p for p in pages]
    assert not any(v.banner.isVisible() for v in views)
    cfg = model.config.copy()
    cfg.evaluate.ece_bins += 1
    model.save_config(cfg)
    for v in views:
        assert v.banner.isVisible() and v.stack.currentWidget() is v.content
        assert "Stale" in v.banner.text() and "[evaluate]" in v.banner.text()
    cfg.evaluate.ece_bins -= 1
    model.save_config(cfg)
    assert not any(v.banner.isVisible() for v in views)


def test_unreadable_results_say_so(open_page, varied_project):
    (varied_project.dir("evaluate") / "metrics.json").write_text("{not json")
    page = open_page(Table3Page, varied_project)
    assert page.stack.currentWidget() is page.empty
    assert "cannot be read" in page.empty.text.text() and "metrics.json" in page.empty.text.text()


# --- the generation panel --------------------------------------------------------------------------------

def test_generation_panel_generates_evaluates_and_the_views_reload(open_page, varied_project, qtbot, tmp_path):
    model = ProjectModel(varied_project, JobRunner())
    gen = open_page(GenerationPage, varied_project, model)
    table = open_page(Table3Page, varied_project, model)
    old = load_metrics(varied_project)
    hist = gen.view.histogram
    assert hist.sizes == {"generated": old["m"], "original": old["k"]}
    assert int(hist.counts["generated"].sum()) == old["m"]
    assert f"mean {pct(old['gen_mean'])} %" in hist.note.text()

    form = gen.form
    layout = gen._form_layout
    assert not layout.isRowVisible(form.widget("generate", "sampler"))  # noise is a baseline generator
    form.widget("generate", "generator").setCurrentText("diffusion")
    assert layout.isRowVisible(form.widget("generate", "sampler"))
    assert layout.isRowVisible(form.widget("generate", "decode_noise"))
    form.widget("generate", "sampler").setCurrentText("ddpm")
    assert not form.widget("generate", "sampling_steps").isEnabled()
    form.widget("generate", "sampler").setCurrentText("ddim")
    form.widget("generate", "m").setValue(4)
    form.widget("generate", "sampling_steps").setValue(3)
    form.widget("generate", "decode_noise").setText("0.5")

    with qtbot.waitSignal(model.resultsChanged, timeout=120_000):
        qtbot.mouseClick(gen.generate_btn, Qt.MouseButton.LeftButton)
        assert model.busy and not gen.generate_btn.isEnabled() and gen.cancel_btn.isEnabled()
        assert not form.isEnabled()
    qtbot.waitUntil(lambda: not model.busy, timeout=60_000)
    cfg = varied_project.load_config().generate
    assert (cfg.generator, cfg.m, cfg.sampling_steps, cfg.decode_noise) == ("diffusion", 4, 3, 0.5)
    new = load_metrics(varied_project)
    assert new["m"] == 4 and new["generator"] == "diffusion"
    qtbot.waitUntil(lambda: gen.view.histogram.sizes.get("generated") == 4)
    assert "Generated and evaluated" in gen.status.text() and pct(new["sbend"]) in gen.status.text()
    assert "m = 4 members each" in table.title.text()
    assert table.cell_text("diffusion", "sbend") == table3_cells(new)["sbend"]
    assert not gen.view.banner.isVisible() and gen.generate_btn.isEnabled()

    gen.view.histogram.export_png(tmp_path / "hist.png")
    _check_png(tmp_path / "hist.png")
    gen.view.histogram.export_csv(tmp_path / "hist.csv")
    header, rows = _csv(tmp_path / "hist.csv")
    assert header == ["bin_low (%)", "bin_high (%)", "generated count", "generated share (%)", "original count",
                      "original share (%)"]
    assert sum(int(r[2]) for r in rows) == 4 and sum(int(r[4]) for r in rows) == new["k"]


def test_generation_panel_rejects_bad_input_and_loses_nothing(open_page, varied_project):
    gen = open_page(GenerationPage, varied_project)
    before = varied_project.config_path.read_text()
    gen.form.widget("generate", "generator").setCurrentText("diffusion")
    gen.form.widget("generate", "decode_noise").setText("lots")
    assert not gen.generate()
    assert "decode_noise" in gen.form.error.text() and not gen.model.busy
    assert varied_project.config_path.read_text() == before
