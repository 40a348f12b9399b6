"""The GUI never sends a user to the terminal: every message about a stage that is not done offers
"Run up to <stage>", which runs the pipeline there. And 'Export results…' writes every table, the studies
included, with accuracies in percent as the app shows them, says "no results yet" before asking for a
folder, and its dialogs open beside the project."""

import csv
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from bend_gui.core.errors import ProjectError
from bend_gui.core.project.folder import STAGES, Project
from bend_gui.core.results.report import load_metrics, table3_rows
from bend_gui.core.studies import ablation, sweeps
from bend_gui.core.studies.export import export_all
from bend_gui.gui import plots
from bend_gui.gui.messages import without_command
from bend_gui.gui.project_model import ProjectModel
from bend_gui.gui.views import AblationPage, GenerationPage, SweepsPage, Table3Page
from bend_gui.gui.views import table3 as table3_module
from bend_gui.gui.views.exports import ExportEnsembleDialog
from tests.core.test_sweeps import drain
from tests.gui.conftest import wait_job


@pytest.fixture
def fresh(tmp_path, tiny_cfg):
    """A project with no stage done."""
    return Project.create(tmp_path / "fresh", tiny_cfg)


def _rows(path: Path) -> tuple[list[str], list[dict]]:
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.DictReader(f)
        return list(r.fieldnames), list(r)


def _record_runs(monkeypatch, model: ProjectModel) -> list[str]:
    """Replace the model's run_pipeline by a recorder (no pipeline actually starts)."""
    asked = []
    monkeypatch.setattr(model, "run_pipeline", lambda until=None, **kw: asked.append(until) or True)
    return asked


def test_without_command_drops_the_terminal_hint_only():
    assert without_command("stage 0 · Base training is failed: run it first (bend run /a/b --until base)") == \
        "stage 0 · Base training is failed: run it first"
    assert without_command("no variants yet: add a subset first (Add subset…, or bend ablation DIR --add L)") == \
        "no variants yet: add a subset first (Add subset…)"
    assert without_command("k must be ≥ 2 (the autoencoder needs two)") == "k must be ≥ 2 (the autoencoder needs two)"


def test_sweeps_ablation_and_generate_offer_run_up_to_instead_of_a_command(make_window, fresh, qtbot,
                                                                            monkeypatch):
    win = make_window(fresh.root)
    asked = _record_runs(monkeypatch, win.model)
    studies = win.workspace.show_page("Studies")
    studies.parts.setCurrentWidget(studies.figure5)
    sweeps_page = studies.figure5
    assert isinstance(sweeps_page, SweepsPage)
    for over, note in (("m", sweeps_page.m_note), ("k", sweeps_page.k_note)):
        need = sweeps.needed_stage(win.model.config, over)
        btn = sweeps_page.run_up_to[over]
        assert btn.isVisible() and btn.isEnabled() and btn.stage == need
        assert "bend " not in note.text() and "bend " not in sweeps_page.m_btn.toolTip()
        qtbot.mouseClick(btn, Qt.MouseButton.LeftButton)
        assert asked[-1] == need
    sweeps_page.m_values.setText("1, 2")
    sweeps_page.m_seeds.setText("0")
    assert not sweeps_page._start("m", "1, 2", "0")
    assert "bend " not in sweeps_page.error.text() and "run the pipeline until" in sweeps_page.error.text()

    abl = win.workspace.show_page("Ablation")
    assert isinstance(abl, AblationPage)
    assert abl.run_up_to.isVisible() and abl.run_up_to.text() == "Run up to Base training"
    qtbot.mouseClick(abl.run_up_to, Qt.MouseButton.LeftButton)
    assert asked[-1] == "base"

    gen = win.workspace.show_page("Generate")
    assert isinstance(gen, GenerationPage)
    assert gen.run_up_to.isVisible() and gen.run_up_to.stage == "diffusion"  # the last stage generate reads
    qtbot.mouseClick(gen.run_up_to, Qt.MouseButton.LeftButton)
    assert asked[-1] == "diffusion"


def test_run_up_to_runs_the_pipeline_there_and_then_hides(make_window, fresh, qtbot):
    win = make_window(fresh.root)
    abl = win.workspace.show_page("Ablation")
    qtbot.mouseClick(abl.run_up_to, Qt.MouseButton.LeftButton)
    assert win.model.busy and not abl.run_up_to.isEnabled()  # one job at a time
    wait_job(qtbot, win)
    qtbot.waitUntil(lambda: not abl.run_up_to.isVisible())
    states = {s.stage: s.state for s in win.model.states()}
    assert states["base"] == "done" and all(states[s] != "done" for s in STAGES[1:])


def test_export_ensemble_failure_offers_the_missing_stage(open_page, fresh, qtbot, monkeypatch):
    page = open_page(Table3Page, fresh)
    asked = _record_runs(monkeypatch, page.model)
    page.open_export_ensemble()
    dlg = page.dialog
    assert isinstance(dlg, ExportEnsembleDialog)
    assert Path(dlg.path.text()).parent == fresh.root.parent  # beside the project, not in the working folder
    assert not dlg.run_up_to.isVisible()
    dlg.path.setText(str(fresh.root.parent / "ens.pt"))
    assert dlg.save()
    qtbot.waitUntil(lambda: dlg.run_up_to.isVisible())
    assert "bend " not in dlg.error.text() and dlg.error.text()
    assert dlg.run_up_to.stage == "generate"
    qtbot.mouseClick(dlg.run_up_to, Qt.MouseButton.LeftButton)
    assert asked == ["generate"] and not dlg.isVisible()


def test_export_results_without_results_says_so_before_asking_for_a_folder(open_page, fresh, monkeypatch, qtbot):
    page = open_page(Table3Page, fresh)
    asked = _record_runs(monkeypatch, page.model)

    class NoDialog:
        @staticmethod
        def getExistingDirectory(*args):
            raise AssertionError("asked for a folder with nothing to export")
    monkeypatch.setattr(table3_module, "QFileDialog", NoDialog)
    qtbot.mouseClick(page.export_results_btn, Qt.MouseButton.LeftButton)
    box = page.dialog
    assert isinstance(box, QMessageBox) and "No results yet" in box.text()
    assert box.run_up_to.text() == "Run up to Evaluate ensembles"
    qtbot.mouseClick(box.run_up_to, Qt.MouseButton.LeftButton)
    assert asked == ["evaluate"]


def test_export_results_writes_the_studies_in_percent_and_opens_beside_the_project(
        open_page, varied_project, tmp_path, monkeypatch, qtbot):
    p = varied_project
    drain(sweeps.sweep_m(p, [1, 2], [0]))
    ablation.add_variant(p, ["fc2"])  # Table 5 then has two rows (the variant not run yet)
    page = open_page(Table3Page, p)
    seen = {}

    class Chooser:
        @staticmethod
        def getExistingDirectory(parent, title, start):
            seen["start"] = start
            return str(tmp_path / "out")
    monkeypatch.setattr(table3_module, "QFileDialog", Chooser)
    qtbot.mouseClick(page.export_results_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: isinstance(page.dialog, QMessageBox) and "Wrote" in page.dialog.text())
    page.dialog.close()
    assert Path(seen["start"]) == p.root.parent
    out = tmp_path / "out"
    names = {f.name for f in out.iterdir()}
    assert {"table3.csv", "sweep_m.csv", "table5.csv", "members.csv"} <= names and "sweep_k.csv" not in names

    # Accuracies as the app shows them (percent), and every such column says so.
    mt = load_metrics(p)
    header, rows = _rows(out / "table3.csv")
    assert "sbend (%)" in header and "sbend" not in header
    for r, (name, row) in zip(rows, table3_rows(mt)):
        assert r["generator"] == name
        assert float(r["sbend (%)"]) == pytest.approx(100 * row["sbend"], rel=1e-6)
        assert float(r["gen_mean (%)"]) == pytest.approx(100 * row["gen_mean"], rel=1e-6)
    assert float(page.cell_text(mt["generator"], "sbend")) == pytest.approx(float(rows[0]["sbend (%)"]), abs=0.006)
    header, rows = _rows(out / "sweep_m.csv")
    stored = sweeps.load_sweep(p, "m")
    assert "sbend (%)" in header and len(rows) == len(stored) == 2
    assert [float(r["sbend (%)"]) for r in rows] == pytest.approx([100 * s["sbend"] for s in stored], rel=1e-6)
    header, rows = _rows(out / "table5.csv")
    assert header[:3] == ["subset", "d", "sbend (%)"] and [r["subset"] for r in rows][1] == "fc2"
    assert float(rows[0]["sbend (%)"]) == pytest.approx(100 * mt["sbend"], rel=1e-6)
    _, members = _rows(out / "members.csv")
    assert all(0 <= float(r["accuracy (%)"]) <= 100 for r in members)
    assert max(float(r["accuracy (%)"]) for r in members) > 1  # percent, not fractions

    with pytest.raises(ProjectError):  # still refused inside the project
        export_all(p, p.root / "tables")


def test_plot_exports_open_in_the_project_folder(open_page, varied_project, monkeypatch):
    page = open_page(Table3Page, varied_project)
    seen = []

    class Chooser:
        @staticmethod
        def getSaveFileName(parent, title, start, filt):
            seen.append(start)
            return "", ""
    monkeypatch.setattr(plots, "QFileDialog", Chooser)
    page.table_exports.png.click()
    page.table_exports.csv.click()
    assert [Path(s).parent for s in seen] == [varied_project.root] * 2
    assert plots.project_folder(QWidget()) == ""  # no parent with a project: the working folder
