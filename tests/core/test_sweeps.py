"""Accuracy vs m and vs k (Figure 5) on a tiny project whose members disagree: nested ensembles, exact
reproduction of the pipeline's own numbers, live points, cancel and reuse, and the refusals."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from bend_gui.core.errors import Cancelled, ProjectError
from bend_gui.core.events import CancelFlag, Message, Metric, Progress
from bend_gui.core.fileio import load_tensors, read_csv
from bend_gui.core.ml.members import evaluate_members
from bend_gui.core.ml.subset import Subset
from bend_gui.core.pdiff.training import train_autoencoder, train_diffusion
from bend_gui.core.pipeline import runner as pipeline
from bend_gui.core.pipeline.context import StageContext
from bend_gui.core.project import artifacts as A
from bend_gui.core.project.folder import Project
from bend_gui.core.results import metrics as M
from bend_gui.core.studies import sweeps
from tests.helpers import drain, hard_config

EXACT = ("sbend", "abend_mean", "abend_std", "gen_mean", "gen_median", "gen_max", "gen_min", "orig_mean",
         "orig_median", "orig_max", "potential")




def direct_row(project, members, seed):
    """Evaluate members without the sweep: the reference for one point."""
    cfg = project.load_config()
    ctx = StageContext(project, cfg, torch.device("cpu"), CancelFlag())
    data = drain(ctx.data())[1]
    feats = drain(ctx.features("test", "test"))[1]
    out = drain(evaluate_members(ctx.base_network(), ctx.subset(), members, feats, data.test_y, batch_size=100,
                                 batching="loop", cancel=CancelFlag(), stage="t", label="t"))[1]
    orig = A.PREDICTIONS.load(project)["preds"]["original"].numpy().astype(np.int64)
    return M.table3_row(out.preds.numpy().astype(np.int64), orig, data.test_y.numpy(), out.mean_probs.numpy(),
                        repeats=cfg.evaluate.abend_repeats, seed=seed)


def test_m_sweep_points_arrive_live_are_nested_and_match_direct_evaluation(hard):
    events, rows = drain(sweeps.sweep_m(hard, [5, 1, 3], [0, 1]))
    points = [e for e in events if isinstance(e, Metric) and e.stage == "sweep_m"]
    assert [(p.x, p.values["seed"]) for p in points] == [(1, 0), (3, 0), (5, 0), (1, 1), (3, 1), (5, 1)]
    assert all(isinstance(e, Progress) and e.total == 10 for e in events if isinstance(e, Progress)
               and e.stage == "sweep_m" and not e.step)  # the sweep's own bar; the activation cache has its own
    assert [p.point for p in points] == [f"m = {m}, seed {s}" for s in (0, 1) for m in (1, 3, 5)]
    assert len({p.values["sbend"] for p in points}) > 1  # the numbers differ: the test can tell them apart
    # The saved rows are the points, sorted by (m, seed).
    _, saved = read_csv(sweeps.sweep_path(hard, "m"))
    assert [(r["m"], r["seed"]) for r in saved] == [(1, 0), (1, 1), (3, 0), (3, 1), (5, 0), (5, 1)]
    gen = A.load_generator(hard, torch.device("cpu"))
    g = hard.load_config().generate
    members = gen.sample(5, sampler=g.sampler, steps=g.sampling_steps, decode_noise=g.decode_noise, seed=1)
    for m in (3, 5):  # nested: the m-point is the first m of the seed's members
        ref = direct_row(hard, members[:m], seed=1)
        row = next(r for r in saved if r["m"] == m and r["seed"] == 1)
        for key in EXACT:
            assert row[key] == pytest.approx(ref[key], abs=1e-7), (m, key)
        assert abs(row["soft"] - ref["soft"]) <= 1 / 200  # summed per chunk: a tie could flip one image
    info = sweeps.sweep_info(hard, "m")
    assert info["state"] == "done" and info["current"] and info["k"] == 6 and info["n_test"] == 200
    assert hard.lock_holder() is None


def test_m_sweep_at_the_projects_m_and_seed_reproduces_its_results(hard):
    metrics = json.loads((hard.dir("evaluate") / "metrics.json").read_text())
    _, rows = drain(sweeps.sweep_m(hard, [2, 5], [0]))
    top = rows[-1]
    assert top["m"] == 5 and top["seed"] == 0
    for key in EXACT + ("soft",):
        assert top[key] == pytest.approx(metrics[key], abs=1e-7), key
    assert rows[0]["orig_mean"] == top["orig_mean"]  # the same snapshots at every m


def test_k_sweep_trains_per_point_and_k_all_reproduces_the_pipeline(hard):
    metrics = json.loads((hard.dir("evaluate") / "metrics.json").read_text())
    events, rows = drain(sweeps.sweep_k(hard, [6, 3], [0], m=5))
    texts = [e.text for e in events if isinstance(e, Progress) and e.stage == "sweep_k"]
    assert any(t.startswith("point 1/2 · k = 3, seed 0 · AE step") for t in texts)
    assert any(t.startswith("point 2/2 · k = 6, seed 0 · DDPM step") for t in texts)
    # No training curve of a point reaches the project's own curves.
    assert not [e for e in events if isinstance(e, Metric) and e.stage != "sweep_k"]
    assert [r["k"] for r in rows] == [3, 6]
    for key in EXACT + ("soft",):  # all snapshots, seed = [run] seed = [generate] seed: the pipeline itself
        assert rows[1][key] == pytest.approx(metrics[key], abs=1e-7), key
    # k = 3: the originals are the three snapshots the generator saw.
    idx = sweeps.snapshot_draw(6, 3, 0)
    accs = load_tensors(hard.dir("collect") / "snapshots.pt")["test_acc"].numpy()
    assert rows[0]["orig_mean"] == pytest.approx(accs[idx.numpy()].mean(), abs=1e-6)
    assert rows[0]["m"] == 5 and rows[0]["seconds"] > 0


def test_training_functions_reproduce_the_stages_exactly(hard):
    cfg = hard.load_config()
    saved = load_tensors(hard.dir("collect") / "snapshots.pt")
    snaps, subset = saved["snapshots"].float(), Subset.from_dict(saved["subset"])
    cancel, cpu = CancelFlag(), torch.device("cpu")
    events, (ae, norm) = drain(train_autoencoder(snaps, subset, cfg.autoencoder, cpu, cancel, seed=2,
                                                 stage="x"))
    stage_ae = load_tensors(hard.dir("autoencoder") / "model.pt")["state_dict"]
    assert all(torch.equal(v, stage_ae[k]) for k, v in ae.state_dict().items())
    assert [e.x for e in events if isinstance(e, Metric)] == [10, 20, 30]
    events, gen = drain(train_diffusion(ae, norm, snaps, cfg.diffusion, cpu, cancel, seed=3))
    g = cfg.generate
    members = gen.sample(g.m, sampler=g.sampler, steps=g.sampling_steps, decode_noise=g.decode_noise, seed=g.seed)
    assert torch.equal(members, load_tensors(hard.dir("generate") / "members.pt")["members"])


def _cancel_after(gen, cancel, n_points):
    """Drive a sweep and set its cancel flag once n points arrived."""
    seen = 0
    with pytest.raises(Cancelled):
        for ev in gen:
            if isinstance(ev, Metric):
                seen += 1
                if seen == n_points:
                    cancel.set()
    return seen


def test_cancel_mid_sweep_leaves_a_consistent_csv_and_a_k_sweep_resumes(hard):
    cancel = CancelFlag()
    _cancel_after(sweeps.sweep_m(hard, [1, 2, 5], [0, 1], cancel), cancel, 2)
    _, rows = read_csv(sweeps.sweep_path(hard, "m"))
    assert [(r["m"], r["seed"]) for r in rows] == [(1, 0), (2, 0)]
    assert sweeps.sweep_info(hard, "m")["state"] == "cancelled"
    assert hard.lock_holder() is None

    cancel = CancelFlag()
    _cancel_after(sweeps.sweep_k(hard, [2, 4], [0], m=3, cancel=cancel), cancel, 1)
    first = sweeps.load_sweep(hard, "k")
    assert [(r["k"], r["seed"]) for r in first] == [(2, 0)]
    # Asked again: the finished point is reused, only the missing one is trained.
    events, rows = drain(sweeps.sweep_k(hard, [2, 4], [0], m=3))
    assert any(isinstance(e, Message) and "k = 2, seed 0: reused" in e.text for e in events)
    trained = {e.text.split(" · ")[1] for e in events if isinstance(e, Progress) and "AE step" in e.text}
    assert trained == {"k = 4, seed 0"}
    assert [r["k"] for r in sweeps.load_sweep(hard, "k")] == [2, 4]
    assert sweeps.load_sweep(hard, "k")[0]["sbend"] == first[0]["sbend"]
    # Other settings (another m): nothing is reused and the file holds the new sweep only.
    events, _ = drain(sweeps.sweep_k(hard, [4], [0], m=2))
    assert not any(isinstance(e, Message) and "reused" in e.text for e in events)
    assert [(r["k"], r["m"]) for r in sweeps.load_sweep(hard, "k")] == [(4, 2)]


def test_k_sweep_keeps_saved_points_of_the_same_settings(hard):
    drain(sweeps.sweep_k(hard, [2], [0], m=3))
    events, rows = drain(sweeps.sweep_k(hard, [3], [0], m=3))
    assert [e.x for e in events if isinstance(e, Metric)] == [2, 3]  # the kept point is announced first
    assert sorted(r["k"] for r in sweeps.load_sweep(hard, "k")) == [2, 3]
    assert sweeps.sweep_info(hard, "k")["values"] == [2, 3]


def test_sweeps_refuse_what_they_cannot_do(tmp_path, tiny_data_root, hard):
    p = Project.create(tmp_path / "early", hard_config(tiny_data_root))
    list(pipeline.run(p, until="collect"))
    with pytest.raises(ProjectError, match="3 · Latent diffusion"):
        drain(sweeps.sweep_m(p, [1, 2], [0]))
    assert sweeps.readiness(p, "k") == ""
    cfg = p.load_config()
    cfg.generate.generator = "noise"  # a baseline generator needs the snapshots only
    p.save_config(cfg)
    _, rows = drain(sweeps.sweep_m(p, [1, 2], [0]))
    assert len(rows) == 2 and rows[0]["orig_mean"] > 0  # originals evaluated here (no evaluate stage)
    for values, seeds, match in (([1, 3], [0], "1 is below 2"), ([7], [0], "the project has 6 snapshots"),
                                 ([2], [], "at least one")):
        with pytest.raises(ProjectError, match=match):
            drain(sweeps.sweep_k(hard, values, seeds))
    with pytest.raises(ProjectError, match="'x' is not a whole number"):
        sweeps.parse_values("5, x", "m values")
    # Busy: another job holds the project.
    with Project.open(hard.root).lock("bend run"):
        with pytest.raises(ProjectError, match="busy: bend run is running there"):
            drain(sweeps.sweep_m(hard, [1], [0]))


def test_aggregate_and_summary():
    rows = [{"m": 5, "seed": s, **{q: v for q in sweeps.QUANTITIES}} for s, v in ((0, 0.9), (1, 0.8), (2, 0.7))]
    rows.append({"m": 10, "seed": 0, **{q: 0.5 for q in sweeps.QUANTITIES}})
    agg = sweeps.aggregate(rows, "m")
    assert [a["m"] for a in agg] == [5, 10] and agg[0]["seeds"] == 3
    assert agg[0]["sbend_mean"] == pytest.approx(0.8) and agg[0]["sbend_std"] == pytest.approx(np.std([.9, .8, .7]))
    assert agg[1]["abend_mean_std"] == 0.0
    text = sweeps.format_summary(rows, "m")
    assert "80.00 ± 8.16" in text and "50.00 ± 0.00" in text
    assert sweeps.parse_values("10; 5 5,20", "x") == [5, 10, 20]


def test_cli_sweep_prints_mean_and_std_per_value(hard):
    r = subprocess.run([sys.executable, "-m", "bend_gui.cli", "sweep", str(hard.root), "--over", "m",
                        "--values", "1,5", "--seeds", "0,1", "-q"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = sweeps.load_sweep(hard, "m")
    agg = {a["m"]: a for a in sweeps.aggregate(rows, "m")}
    line = next(ln for ln in r.stdout.splitlines() if ln.split()[:2] == ["5", "2"])
    assert f"{100 * agg[5]['sbend_mean']:.2f} ± {100 * agg[5]['sbend_std']:.2f}" in line
    assert "k = 6 snapshots" in r.stdout and "200 test images" in r.stdout
    r = subprocess.run([sys.executable, "-m", "bend_gui.cli", "sweep", str(hard.root), "--over", "k", "--values",
                        "9"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "the project has 6 snapshots" in r.stderr
