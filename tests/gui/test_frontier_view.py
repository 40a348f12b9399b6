"""The Frontier page clicked through offscreen: Run starts the frontier's studies on the app's worker, the
plot shows each setting (mean ± std over seeds) with each generator's front and the snapshots' point, the
words under it are the core's for the chosen accuracy; and the Diversity page's novelty table."""

import os
from pathlib import Path

import numpy as np

from bend_gui.core.fileio import read_csv
from bend_gui.core.results import frontier as F
from bend_gui.core.results.report import load_metrics, pct, spread
from bend_gui.core.studies import frontier, study
from tests.gui.conftest import wait_job
from tests.helpers import private_copy

PNG_DIR = Path(os.environ.get("BEND_TEST_PNG_DIR", "/tmp"))


def test_frontier_runs_from_the_page_and_plots_fronts_and_words(make_window, hard_project_root, tmp_path, qtbot):
    p = private_copy(hard_project_root, tmp_path / "p")
    win = make_window(p.root)
    page = win.workspace.show_page("Frontier")
    assert "No frontier saved yet" in page.status.text() and page.plot.is_empty()
    page.knobs = tuple(k for k in frontier.KNOBS if k.generator in ("noise", "average"))
    page.values = {"generate.noise_sigma": [0.5, 2.0], "generate.average_size": [1, 3]}
    page.seeds.setText("0, x")
    page.run_btn.click()
    assert "'x' is not a whole number" in page.error.text() and not win.runner.busy
    page.seeds.setText("0, 1")
    page.run_btn.click()
    assert win.runner.busy and not page.run_btn.isEnabled()
    wait_job(qtbot, win, timeout=300_000)
    qtbot.waitUntil(lambda: "Frontier done" in page.status.text(), timeout=10_000)
    saved = frontier.load(p, page.knobs)
    assert [(s.generator, s.value, s.seeds) for s in page.frontier.settings] == \
        [(s.generator, s.value, s.seeds) for s in saved.settings]
    assert len(saved.settings) == 4 and all(s.seeds == [0, 1] for s in saved.settings)
    assert page.words.text() == F.describe(saved, "sbend")
    # The plot's data: its CSV is the frontier's rows; the snapshots' point is there.
    header, rows = page.plot.csv_table()
    assert header == list(F.CSV_COLUMNS) and len(rows) == 5 and rows[-1][0] == "snapshots"
    sigma = next(s for s in saved.settings if s.value == 0.5)
    assert page.summary_at("noise", 0.5) == (f"{pct(sigma.mean('sbend'))} ± {pct(sigma.std('sbend'))} at "
                                             f"{pct(sigma.mean('disagree_gen'))}")
    _, records = study.load_study(p, "frontier-noise")
    assert sigma.mean("sbend") == np.mean([r["row"]["sbend"] for r in records
                                           if r["values"]["generate.noise_sigma"] == 0.5])
    page.acc.setCurrentIndex(1)  # soft vote
    assert page.words.text() == F.describe(saved, "soft") and "soft vote" in page.words.text()
    assert page.plot.plot_item.getAxis("left").labelText.startswith("soft vote")
    _, csv_rows = read_csv(frontier.paths(p)["csv"])
    assert len(csv_rows) == 5
    page.acc.setCurrentIndex(0)
    qtbot.wait(100)
    assert page.grab().save(str(PNG_DIR / "frontier-page.png"))
    assert page.plot.export_png(tmp_path / "f.png") and (tmp_path / "f.png").stat().st_size > 0


def test_diversity_page_shows_the_novelty_measures(make_window, varied_project, qtbot):
    win = make_window(varied_project.root)
    page = win.workspace.show_page("Diversity")
    metrics = load_metrics(varied_project)
    nov = metrics["novelty"]
    qtbot.waitUntil(lambda: page.novelty.rowCount() == len(nov["sets"]) + 1, timeout=10_000)
    for name, row in nov["sets"].items():
        assert page.novelty_text(name, 1) == spread(row["nn_distance"], 3)
        assert page.novelty_text(name, 2) == spread(row["largest_iou"], 3)
        assert page.novelty_text(name, 3) == pct(row["copy_share"])
    assert page.novelty_text("snapshots (leave-one-out)", 1) == spread(nov["snapshots"]["loo_distance"], 3)
    page.parts.setCurrentIndex(1)
    qtbot.waitUntil(lambda: page.novelty.isVisible(), timeout=5_000)
    assert page.grab().save(str(PNG_DIR / "frontier-diversity-novelty.png"))
