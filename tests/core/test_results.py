"""Loading, deriving and exporting the evaluate stage's results (no Qt)."""

import csv
import json
import math

import numpy as np
import pytest

from bend_gui.core.errors import ProjectError
from bend_gui.core.events import run_to_end
from bend_gui.core.fileio import load_tensors
from bend_gui.core.project.folder import Project
from bend_gui.core.results import metrics as M
from bend_gui.core.results import tables as R
from bend_gui.core.results.report import load_metrics


def test_the_varied_project_has_numbers_worth_checking(varied_project):
    mt = load_metrics(varied_project)
    assert mt["abend_std"] > 0 and mt["gen_max"] > mt["gen_min"] and mt["sbend"] != mt["orig_mean"]
    assert 0 < mt["diversity"]["disagree_gen"] and mt["diversity"]["iou_gen"] < 1


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_load_results_of_a_finished_project(finished_project):
    res = R.load_results(finished_project)
    metrics = load_metrics(finished_project)
    assert res is not None and not res.stale and res.stale_note() == ""
    assert res.metrics == metrics
    assert {"original", "generated"} <= set(res.sets())
    acc = res.member_accuracies("generated")
    preds, y = res.predictions("generated")
    assert len(acc) == metrics["m"] == len(preds)
    np.testing.assert_allclose(acc, M.member_accuracies(preds, y), atol=1e-7)
    iou = res.iou()
    assert (iou.generated, iou.original) == (metrics["m"], metrics["k"])
    assert iou.label(0) == "generated 0" and iou.label(metrics["m"]) == "snapshot 0"


def test_no_results_and_stale_results(tiny_project_root, finished_project):
    assert R.load_results(Project.open(tiny_project_root)) is None
    cfg = finished_project.load_config()
    cfg.generate.m += 1
    finished_project.save_config(cfg)
    res = R.load_results(finished_project)
    assert res.stale and res.state == "stale"
    assert "Stale" in res.stale_note() and "[generate]" in res.stale_note()


@pytest.fixture
def tiny_project_root(tmp_path, tiny_cfg):
    return Project.create(tmp_path / "fresh", tiny_cfg).root


def test_abend_distribution_repeats_the_evaluate_stage_draws(varied_project):
    res = R.load_results(varied_project)
    preds, y = res.predictions("generated")
    stored = res.metrics["abend_runs"]
    runs = run_to_end(R.abend_distribution(preds, y, len(stored) + 7, res.seed))
    assert len(runs) == len(stored) + 7
    np.testing.assert_array_equal(runs[:len(stored)], stored)
    np.testing.assert_array_equal(runs, M.abend_repeats(preds, y, len(stored) + 7, res.seed))


def test_abend_distribution_stops_when_cancelled():
    from bend_gui.core.errors import Cancelled
    from bend_gui.core.events import CancelFlag

    flag = CancelFlag()
    gen = R.abend_distribution(np.zeros((3, 10), dtype=np.int64), np.zeros(10, dtype=np.int64), 1000, 0, flag)
    next(gen)
    flag.set()
    with pytest.raises(Cancelled):
        run_to_end(gen)


def test_accuracy_bins_never_split_a_possible_value():
    n = 200
    rng = np.random.default_rng(0)
    a, b = rng.integers(150, 190, 37) / n, rng.integers(160, 199, 11) / n
    edges, counts = R.accuracy_histogram({"a": a, "b": b}, 1 / n, bins=7)
    steps = np.diff(edges) * n
    assert np.allclose(steps, np.round(steps)) and steps[0] >= 1          # whole multiples of 1/n
    offset = (edges * n) % 1                                               # edges halfway between values
    assert np.allclose(offset, 0.5)
    assert counts["a"].sum() == 37 and counts["b"].sum() == 11
    assert len(edges) - 1 <= 7
    one = R.accuracy_bins([np.array([0.5, 0.5])], 1 / n)
    assert len(one) == 2 and one[0] < 0.5 < one[1]


def test_vote_summary_counts_repeats_against_sbend():
    row = {"sbend": 0.5, "soft": 0.4, "gen_mean": 0.45, "gen_median": 0.46, "potential": 0.9}
    # 0.1 + 0.2 + 0.2 is not 0.5 in floating point: the comparison is in whole test images.
    runs = np.array([0.1 + 0.2 + 0.2, 0.52, 0.49, 0.48, 0.51])
    s = R.vote_summary(row, runs, n_test=100)
    assert (s["above"], s["tie"], s["below"]) == (2, 1, 2)
    assert s["repeats"] == 5 and s["abend_max"] == 0.52
    assert math.isclose(s["abend_mean"], runs.mean()) and math.isclose(s["abend_std"], runs.std())


def test_diversity_rows_rates_match_the_predictions(varied_project):
    res = R.load_results(varied_project)
    mt = res.metrics
    rows = {r["set"]: r for r in R.diversity_rows(mt)}
    assert rows["generated"]["d"] == mt["diversity"]["d_i_gen"]
    assert rows["cross"]["measure"] == "d_o" and rows["cross"]["d"] == mt["diversity"]["d_o"]
    for name in mt["baselines"]:
        preds, y = res.predictions(name)
        dis = M.disagreement_matrix(preds, preds, mt["num_classes"])
        direct = M._mean_offdiag(dis) / len(y)
        assert rows[name]["disagree"] == pytest.approx(direct, rel=1e-9, abs=1e-12)
        assert rows[name]["mean_iou"] == mt["baselines"][name]["iou_within"]


def test_efficiency_curves_cross_at_the_break_even_m(finished_project):
    eff = load_metrics(finished_project)["efficiency"]
    be = eff["break_even_m"]
    assert be is not None and be > 0
    c = R.efficiency_curves(eff, np.array([be]))
    assert c["t_diff"][0] == pytest.approx(c["t_trad"][0], rel=1e-9)
    c = R.efficiency_curves(eff, np.array([eff["break_even_m_paper_accounting"]]))
    assert c["t_diff_paper"][0] == pytest.approx(c["t_trad"][0], rel=1e-9)
    ms = R.efficiency_m_range(eff, 5)
    assert ms[0] == 1 and ms[-1] >= 2 * max(5, be) - 1 and np.all(np.diff(ms) > 0)


def test_export_results_writes_every_table(varied_project, tmp_path):
    finished_project = varied_project
    out = tmp_path / "export"
    paths = R.export_results(finished_project, out)
    names = {p.name for p in paths}
    assert names == {"table3.csv", "diversity.csv", "efficiency.csv", "calibration.csv", "abend_runs.csv",
                     "members.csv", "iou_matrix.csv", "metrics.json", "export_info.json"}
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)
    mt = load_metrics(finished_project)
    assert json.loads((out / "metrics.json").read_text()) == mt

    table = _rows(out / "table3.csv")
    assert [r["generator"] for r in table] == [mt["generator"], *mt["baselines"]]
    assert table[0]["role"] == "project" and all(r["role"] == "baseline" for r in table[1:])
    for r in table:
        row = mt if r["role"] == "project" else mt["baselines"][r["generator"]]
        for key in ("sbend", "abend_mean", "abend_std", "soft", "gen_max", "gen_mean", "gen_median", "orig_max",
                    "orig_mean", "orig_median", "potential"):  # percentages, as the app shows them
            assert float(r[f"{key} (%)"]) == pytest.approx(100 * row[key], rel=1e-7, abs=1e-7), (r["generator"], key)

    div = {r["set"]: r for r in _rows(out / "diversity.csv")}
    assert float(div["generated"]["d"]) == pytest.approx(mt["diversity"]["d_i_gen"], rel=1e-7)
    assert float(div["original"]["disagree (%)"]) == pytest.approx(100 * mt["diversity"]["disagree_orig"], rel=1e-7)
    assert float(div["cross"]["mean_iou"]) == pytest.approx(mt["diversity"]["iou_cross"], rel=1e-7)

    eff = {r["key"]: r for r in _rows(out / "efficiency.csv")}
    assert float(eff["break_even_m"]["value"]) == pytest.approx(mt["efficiency"]["break_even_m"], rel=1e-7)
    assert float(eff["t_ate"]["value"]) == pytest.approx(mt["efficiency"]["t_ate"], rel=1e-7)
    assert eff["t_ate"]["unit"] == "s"

    cal = {(r["set"], r["rule"]): r for r in _rows(out / "calibration.csv")}
    assert float(cal[("generated", "soft")]["ece"]) == pytest.approx(mt["calibration"]["generated"]["soft"]["ece"],
                                                                      rel=1e-7)
    runs = [r for r in _rows(out / "abend_runs.csv") if r["generator"] == mt["generator"]]
    assert [float(r["accuracy (%)"]) for r in runs] == pytest.approx([100 * a for a in mt["abend_runs"]])

    stored = _rows(finished_project.dir("evaluate") / "members.csv")
    members = _rows(out / "members.csv")
    assert [r["set"] for r in members] == [r["set"] for r in stored]
    assert [float(r["accuracy (%)"]) for r in members] == pytest.approx([100 * float(r["accuracy"]) for r in stored])
    iou = load_tensors(finished_project.dir("evaluate") / "iou.pt")["matrix"].numpy()
    rows = _rows(out / "iou_matrix.csv")
    assert len(rows) == len(iou) and rows[0]["member"] == "generated 0"
    got = np.array([[float(r[k]) for k in list(r)[1:]] for r in rows])
    np.testing.assert_allclose(got, iou, rtol=1e-6)
    info = json.loads((out / "export_info.json").read_text())
    assert info["evaluate_state"] == "done" and info["evaluated"]


def test_export_results_without_results_says_so(tmp_path, tiny_cfg):
    p = Project.create(tmp_path / "p", tiny_cfg)
    with pytest.raises(ProjectError, match="run the evaluate stage"):
        R.export_results(p, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_staleness_names_the_first_stage_that_is_not_done():
    from bend_gui.core.project.folder import STAGES, StageState

    states = [StageState(s, "done") for s in STAGES]
    assert R.staleness(states) == ("done", "")
    states[4] = StageState("generate", "stale", "settings in [generate] or the stage before changed")
    states[5] = StageState("evaluate", "stale", "an earlier stage is not done or is stale")
    state, why = R.staleness(states)
    assert state == "stale"
    assert why == "4 · Generate members is stale: settings in [generate] or the stage before changed"
    states[4].state = "running"
    assert R.staleness(states) == ("running", "4 · Generate members")
