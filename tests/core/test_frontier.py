"""The accuracy–diversity frontier: Pareto fronts on hand-made points, words computed from the numbers,
frontier points that equal single pipeline runs of the same settings, and `bend report --study` over seeds."""

import json

import numpy as np
import pytest

from bend_gui.core.events import run_to_end
from bend_gui.core.fileio import read_csv
from bend_gui.core.pipeline import runner as pipeline
from bend_gui.core.project import artifacts as A
from bend_gui.core.results import frontier as F
from bend_gui.core.studies import frontier, study

COMPARED = ("sbend", "soft", "gen_mean", "disagree_gen")


def test_pareto_front_on_hand_made_points():
    pts = [(0.1, 0.90), (0.2, 0.92), (0.3, 0.91), (0.25, 0.92), (0.05, 0.95), (0.3, 0.80), (0.3, 0.91)]
    # (0.2, .92) is dominated by (0.25, .92): equal accuracy, more diverse; (0.1, .90) by (0.25, .92);
    # (0.3, .80) by (0.3, .91); the two equal (0.3, .91) points dominate neither each other.
    assert F.pareto(pts) == [4, 3, 2, 6]
    assert F.pareto([(1.0, 1.0)]) == [0]
    assert F.pareto([]) == []


def _records(key, table):
    """Study records from {value: [(seed, sbend, soft, disagreement), ...]}."""
    out = []
    for value, seeds in table.items():
        for seed, sb, soft, dis in seeds:
            out.append({"values": {"generate.generator": "x", key: value}, "seed": seed, "state": "done",
                        "row": {"sbend": sb, "soft": soft, "disagree_gen": dis, "gen_mean": sb - 0.01, "m": 10}})
    return out


def test_fronts_stats_and_words_come_from_the_numbers():
    noise = _records("generate.noise_sigma", {0.1: [(0, 0.90, 0.91, 0.010), (1, 0.92, 0.91, 0.012)],
                                              1.0: [(0, 0.80, 0.82, 0.050), (1, 0.80, 0.82, 0.050)]})
    noise.append({"values": {"generate.generator": "x", "generate.noise_sigma": 1.0}, "seed": 2, "state": "failed",
                  "row": {}, "error": "boom"})
    avg = _records("generate.average_size", {2: [(0, 0.89, 0.90, 0.008), (1, 0.89, 0.90, 0.008)],
                                             20: [(0, 0.95, 0.95, 0.004), (1, 0.95, 0.95, 0.004)]})
    ref = [{"values": {}, "seed": 0, "state": "done",
            "row": {"sbend": 0.93, "soft": 0.93, "disagree_gen": 0.011, "gen_mean": 0.9, "m": 6}}]
    f = F.build([("noise", "frontier-noise", "generate.noise_sigma", noise),
                 ("average", "frontier-average", "generate.average_size", avg)], ref)
    first = f.settings[0]
    assert first.seeds == [0, 1] and first.mean("sbend") == pytest.approx(0.91)
    assert first.std("sbend") == pytest.approx(np.std([0.90, 0.92], ddof=1))
    assert f.settings[1].failed == 1 and f.settings[1].seeds == [0, 1]
    # Within each generator no setting dominates the other (more accurate ones are less diverse) ...
    assert [s.front["sbend"] for s in f.settings] == [True, True, True, True]
    text = F.describe(f, "sbend")
    # ... but over all generators, average = 2 (0.8 %, 89 %) is dominated by noise σ = 0.1 (1.1 %, 91 %).
    assert "average at 0.40 %, noise for disagreement 1.10–5.00 %" in text
    assert "average (average_size = 2)" not in text
    assert "95.00 ± 0.00 %" in text and "the 6 snapshots themselves (93.00 % at 1.10 %)" in text
    # Other numbers → other words (nothing canned): make noise the most accurate everywhere.
    noise2 = _records("generate.noise_sigma", {0.1: [(0, 0.99, 0.99, 0.02)]})
    g = F.build([("noise", "n", "generate.noise_sigma", noise2), ("average", "a", "generate.average_size", avg)])
    words = F.describe(g, "soft")
    assert "noise dominates everywhere" in words
    assert "average has no setting on the front" in words and "dominated by noise (noise_sigma = 0.1)" in words
    rows = f.rows()
    assert rows[-1]["generator"] == "snapshots" and rows[0]["sbend_mean"] == pytest.approx(0.91)


def test_frontier_points_equal_single_runs_of_the_same_settings(hard, capsys):
    """The frontier's studies are ordinary studies: at the project's own setting and seed the point equals
    the project's metrics; a noise-baseline point equals a pipeline run with that baseline and σ."""
    from bend_gui.cli import main

    cfg = hard.load_config()
    knobs = [k for k in frontier.KNOBS if k.key in ("generate.ddim_eta", "generate.noise_sigma")]
    values = {"generate.ddim_eta": [0.0, 1.0], "generate.noise_sigma": [0.1, 0.5]}
    f = run_to_end(frontier.run_frontier(hard, [0, 1], values=values, knobs=knobs))
    assert [(s.generator, s.value, s.seeds) for s in f.settings] == [
        ("diffusion", 0.0, [0, 1]), ("diffusion", 1.0, [0, 1]), ("noise", 0.1, [0, 1]), ("noise", 0.5, [0, 1])]
    metrics = A.METRICS.load(hard)
    _, eta = study.load_study(hard, "frontier-diffusion-eta")
    own = next(r for r in eta if r["values"]["generate.ddim_eta"] == 0.0 and r["seed"] == cfg.run.seed)
    for c in ("sbend", "soft", "gen_mean"):
        assert own["row"][c] == pytest.approx(metrics[c], abs=1e-12), c
    assert own["row"]["disagree_gen"] == pytest.approx(metrics["diversity"]["disagree_gen"], abs=1e-12)
    # η = 1 draws other members than η = 0 (the knob reaches the sampler).
    other = next(r for r in eta if r["values"]["generate.ddim_eta"] == 1.0 and r["seed"] == cfg.run.seed)
    assert other["row"] != own["row"]
    # The frontier's numbers are the mean and std over the study's points.
    s = f.settings[0]
    assert s.mean("sbend") == pytest.approx(np.mean([r["row"]["sbend"] for r in eta
                                                     if r["values"]["generate.ddim_eta"] == 0.0]))
    # The snapshots' reference: all k snapshots as members, whose disagreement is the snapshots' own.
    assert f.reference is not None and f.reference.value == cfg.collect.k
    assert f.reference.mean("disagree_gen") == pytest.approx(metrics["diversity"]["disagree_orig"], abs=1e-12)
    # CSV and text were written where the project keeps its studies.
    paths = frontier.paths(hard)
    cols, rows = read_csv(paths["csv"])
    assert cols[:4] == ["generator", "study", "knob", "value"] and len(rows) == 5
    assert "front over all generators" in paths["text"].read_text()
    # A noise point equals `bend run` of the project with that baseline, σ and seed.
    _, noise = study.load_study(hard, "frontier-noise")
    point = next(r for r in noise if r["values"]["generate.noise_sigma"] == 0.5 and r["seed"] == cfg.run.seed)
    cfg.generate.generator, cfg.generate.noise_sigma = "noise", 0.5
    hard.save_config(cfg)
    run_to_end(pipeline.run(hard))
    single = A.METRICS.load(hard)
    assert single["generator"] == "noise"
    for c in ("sbend", "soft", "gen_mean", "abend_mean"):
        assert point["row"][c] == pytest.approx(single[c], abs=1e-12), c
    assert point["row"]["disagree_gen"] == pytest.approx(single["diversity"]["disagree_gen"], abs=1e-12)
    # The saved frontier prints without running anything.
    assert main(["frontier", str(hard.root), "--summary", "-q"]) == 0
    out = capsys.readouterr().out
    assert "noise_sigma = 0.5" in out and "front over all generators" in out
    assert main(["frontier", str(hard.root), "--values", "generate.m=3", "-q"]) == 2
    assert "not a frontier knob" in capsys.readouterr().err


def test_report_over_a_study_of_seeds(hard, capsys):
    from bend_gui.cli import main

    root = str(hard.root)
    m = hard.load_config().generate.m
    assert main(["sweep", root, "--grid", f"generate.m={m}", "--seeds", "0,1,2", "--name", "seeds", "-q"]) == 0
    capsys.readouterr()
    assert main(["report", root, "--study", "seeds"]) == 0
    out = capsys.readouterr().out
    _, records = study.load_study(hard, "seeds")
    sb = [r["row"]["sbend"] for r in records]
    assert len(set(sb)) > 1 or len({r["row"]["abend_mean"] for r in records}) > 1  # seeds differ
    row = next(line for line in out.splitlines() if line.startswith("3 seeds"))
    assert f"{100 * np.mean(sb):.2f} ± {100 * np.std(sb, ddof=1):.2f}" in row
    assert "this project" in out and "sampling only" in out
    assert main(["report", root, "--study", "seeds", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["seeds_study"]["seeds"] == [0, 1, 2]
    assert data["seeds_study"]["std"]["sbend"] == pytest.approx(np.std(sb, ddof=1))
    # A study that varies more than the seed is refused with what to run instead.
    assert main(["sweep", root, "--grid", "generate.m=2,3", "--seeds", "0", "--name", "ms", "-q"]) == 0
    capsys.readouterr()
    assert main(["report", root, "--study", "ms"]) == 2
    assert "varies generate.m, not only the seed" in capsys.readouterr().err
    assert main(["report", root, "--study", "nope"]) == 2


def test_each_knob_study_fixes_its_generator_and_the_knobs_have_five_settings():
    for knob in frontier.KNOBS:
        keys = knob.keys()
        assert keys["generate.generator"] == [knob.generator] and len(keys[knob.key]) >= 5
        assert knob.name.startswith("frontier-") and "generate.m" not in keys
        assert knob.keys([1, 2], m=20)[knob.key] == [1, 2] and knob.keys(m=20)["generate.m"] == [20]
    assert {k.generator for k in frontier.KNOBS} == {"diffusion", "noise", "average", "gaussian"}
    assert frontier.parse_values(["generate.noise_sigma=0.1,1"]) == {"generate.noise_sigma": [0.1, 1]}
