"""The rules behind what the results views say, without Qt: when Generate and Run variants can start,
the efficiency verdict, the members-vs-snapshots summary and the paper's Table 5 advice on d."""

import math

import numpy as np
import pytest

from bend_gui.core.ml.subset_size import CAUTION_D, STRONG_D, size_advice, size_level, size_warning
from bend_gui.core.project.folder import STAGES, StageState
from bend_gui.core.results import metrics as M
from bend_gui.core.results.readiness import (
    GENERATE_NEEDS,
    generate_blocker,
    missing_for_generate,
    traditional_cost_measured,
)
from bend_gui.core.results.verdicts import efficiency_accounting, efficiency_verdict, member_accuracy_summary
from bend_gui.core.studies.ablation import run_blocker


def _states(**override) -> list[StageState]:
    return [StageState(s, override.get(s, "done")) for s in STAGES]


def test_generate_needs_every_stage_before_it_done():
    assert GENERATE_NEEDS == ("base", "collect", "autoencoder", "diffusion")
    assert missing_for_generate(_states()) == []
    assert missing_for_generate(_states(generate="failed", evaluate="not run")) == []  # its own state is no bar
    assert generate_blocker(_states(evaluate="stale"), busy=False) == ""
    assert missing_for_generate(_states(diffusion="stale", base="not run")) == ["base", "diffusion"]
    why = generate_blocker(_states(diffusion="stale", base="not run"), busy=False)
    assert why == ("Generate needs the stages before it: 0 · Base training, 3 · Latent diffusion are not done. "
                   "Run them in the pipeline first.")
    assert " is not done." in generate_blocker(_states(collect="cancelled"), busy=False)
    # A running job locks the settings whatever the stages say.
    assert generate_blocker(_states(), busy=True) == "A job is running: settings are locked until it ends."


def test_run_variants_needs_the_base_and_a_variant():
    assert run_blocker("done", True) == ""
    assert run_blocker("done", False) == "add a subset first"
    assert run_blocker("stale", True) == "the variants share the project's base model: run stage 0 first (it is stale)"


def _metrics(m: int, **times) -> dict:
    t = dict(t_orge=1.0, k_pre=10, t_org=30.0, t_ate=5.0, t_ddpm=5.0, t_sgen=0.5, k=20) | times
    return {"m": m, "efficiency": M.efficiency(**t)}


def test_efficiency_verdict_follows_the_break_even_m():
    mt = _metrics(3)  # break-even m = 40 / (10 - 0.5) = 4.21
    assert mt["efficiency"]["break_even_m"] == pytest.approx(40 / 9.5)
    assert efficiency_verdict(mt) == ("BEND costs less than training every member once m > 4.21; with m = 3 it is "
                                      "not yet cheaper.")
    assert efficiency_verdict(_metrics(5)).endswith("with m = 5 it is cheaper.")
    slow = _metrics(5, t_sgen=20.0)  # a member costs more to generate than to train
    assert math.isinf(slow["efficiency"]["break_even_m"])
    assert "never breaks even" in efficiency_verdict(slow)
    # metrics.json stores infinity as null: the same verdict.
    stored = {"m": 5, "efficiency": {**slow["efficiency"], "break_even_m": None}}
    assert "never breaks even" in efficiency_verdict(stored)
    pretrained = _metrics(5, k_pre=0)
    assert not traditional_cost_measured(pretrained["efficiency"]) and traditional_cost_measured(mt["efficiency"])
    assert efficiency_verdict(pretrained).startswith("The base network was not trained here")
    # The paper's accounting: t_org = (k_pre + k)·t_orge = 30 s here too, so the same break-even.
    assert efficiency_accounting(mt["efficiency"]).endswith("(break-even 4.21).")
    assert efficiency_accounting(pretrained["efficiency"]).endswith("(break-even ∞).")


def test_member_summary_names_each_set_and_its_spread():
    groups = {"generated": np.array([0.5, 0.7, 0.9]), "original": np.array([0.8, 0.84])}
    assert member_accuracy_summary(groups, "diffusion") == [
        ("generated (diffusion, m = 3)", "mean 70.00 %, median 70.00 %, min 50.00 %, max 90.00 %"),
        ("snapshots (k = 2)", "mean 82.00 %, median 82.00 %, min 80.00 %, max 84.00 %"),
    ]


@pytest.mark.parametrize("d, level, words", [
    (0, "empty", "Check at least one module"),
    (5_120, "fine", "Small enough"),
    (CAUTION_D, "fine", "Small enough"),
    (CAUTION_D + 1, "caution", "20,490"),
    (STRONG_D, "caution", "20,490"),
    (262_144, "strong", "262,144"),
])
def test_table5_advice_on_the_subset_size(d, level, words):
    got, headline, text = size_advice(d)
    assert got == size_level(d) == level and words in text
    assert headline == {"caution": "Caution:", "strong": "Strong warning:"}.get(level, "")
    # The one-line warning agrees with the advice, and is empty where there is nothing to warn about.
    assert bool(size_warning(d)) == (level in ("caution", "strong"))
    if headline:
        assert size_warning(d).startswith(headline)


def test_table5_advice_counts_the_snapshots_on_disk():
    assert size_advice(262_144)[2].endswith("k = 200 snapshots take 210 MB.")
    assert "k = 200 snapshots take 16 MB." in size_advice(20_490)[2]
