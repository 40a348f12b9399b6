"""Accuracy vs m and vs k (Figure 5) as the studies named m and k, on a tiny project whose members disagree:
live points, each its own file, equal to a study point of the same settings and seed; exact reproduction
of the pipeline's own numbers; cancel, resume and failed points; a sweep made from other upstream outputs
kept aside; an older version's CSV shown read-only; the refusals and the CLI."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from bend_gui.core.errors import Cancelled, ProjectError
from bend_gui.core.events import CancelFlag, Message, Metric, Progress, run_to_end
from bend_gui.core.fileio import load_tensors, read_csv, write_csv, write_json
from bend_gui.core.ml.members import evaluate_members
from bend_gui.core.ml.subset import Subset
from bend_gui.core.pdiff.training import train_autoencoder, train_diffusion
from bend_gui.core.pipeline import runner as pipeline
from bend_gui.core.pipeline.context import StageContext
from bend_gui.core.project import artifacts as A
from bend_gui.core.project.folder import Project
from bend_gui.core.results import metrics as M
from bend_gui.core.studies import store, study, sweeps
from bend_gui.core.studies.point import snapshot_draw
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


def point_files(project, name):
    return sorted((store.study_dir(project, name) / "points").glob("*.json"))


def test_m_sweep_is_the_study_m_and_its_points_are_study_points(hard):
    events, rows = drain(sweeps.sweep_m(hard, [5, 1, 3], [0, 1]))
    points = [e for e in events if isinstance(e, Metric)]
    assert all(e.stage == "sweep_m" and e.series == sweeps.SERIES for e in points)  # no study state, no curves
    assert [(p.x, p.values["seed"]) for p in points] == [(1, 0), (3, 0), (5, 0), (1, 1), (3, 1), (5, 1)]
    assert [p.point for p in points] == [f"m = {m}, seed {s}" for s in (0, 1) for m in (1, 3, 5)]
    assert [(r["m"], r["seed"]) for r in rows] == [(p.x, p.values["seed"]) for p in points]
    own = [e for e in events if isinstance(e, Progress) and e.stage == "sweep_m" and not e.step]
    assert [e.done for e in own][-1] == 6 and {e.total for e in own} == {6}  # the sweep's bar counts points
    inner = [e.text for e in events if isinstance(e, Progress) and e.step == "point"]
    assert any(t.startswith("point 6/6 · m = 5, seed 1 · ") for t in inner)
    assert len({r["sbend"] for r in rows}) > 1  # the numbers differ: the test can tell them apart
    # It is the study named m: its definition, one file per point, its table.
    definition = json.loads((store.study_dir(hard, "m") / "study.json").read_text())
    assert definition["grid"] == {"keys": {"generate.m": [1, 3, 5]}, "seeds": [0, 1]}
    assert len(point_files(hard, "m")) == 6
    _, table = read_csv(sweeps.sweep_path(hard, "m"))
    assert sorted((r["m"], r["seed"]) for r in table) == sorted((r["m"], r["seed"]) for r in rows)
    assert sweeps.load_sweep(hard, "m") == sorted(rows, key=lambda r: (r["m"], r["seed"]))
    # A point is the study point of the same m and seed, whatever study computes it (one mechanism) ...
    other = run_to_end(study.run_study(hard, "other", study.define(hard, {"generate.m": [3]}, [1])[1]))
    row = next(r for r in rows if (r["m"], r["seed"]) == (3, 1))
    assert {c: v for c, v in other[0]["row"].items() if c != "seconds"} == \
        {c: v for c, v in row.items() if c not in ("seconds", "seed")}
    # ... and its members are its own draw from the generator with its seed (not the first m of a larger one).
    gen = A.load_generator(hard, torch.device("cpu"))
    g = hard.load_config().generate
    ref = direct_row(hard, gen.sample(3, sampler=g.sampler, steps=g.sampling_steps, decode_noise=g.decode_noise,
                                      seed=1), seed=1)
    for key in EXACT:
        assert row[key] == pytest.approx(ref[key], abs=1e-7), key
    # m = [generate] m at the project's seed: the project's own Table 3 row.
    metrics = json.loads((hard.dir("evaluate") / "metrics.json").read_text())
    top = next(r for r in rows if (r["m"], r["seed"]) == (5, 0))
    for key in EXACT + ("soft",):
        assert top[key] == pytest.approx(metrics[key], abs=1e-7), key
    info = sweeps.sweep_info(hard, "m")
    assert info["state"] == "done" and info["current"] and info["k"] == 6 and info["n_test"] == 200
    assert (info["values"], info["seeds"], info["points"], info["failed"]) == ([1, 3, 5], [0, 1], 6, 0)
    assert hard.lock_holder() is None


def test_k_sweep_trains_per_point_and_k_all_reproduces_the_pipeline(hard):
    metrics = json.loads((hard.dir("evaluate") / "metrics.json").read_text())
    events, rows = drain(sweeps.sweep_k(hard, [6, 3], [0], m=5))
    texts = [e.text for e in events if isinstance(e, Progress) and e.stage == "sweep_k"]
    assert any(t.startswith("point 1/2 · k = 3, seed 0 · autoencoder loss") for t in texts)
    assert any(t.startswith("point 2/2 · k = 6, seed 0 · DDPM loss") for t in texts)
    # No training curve of a point reaches the project's own curves.
    assert not [e for e in events if isinstance(e, Metric) and e.stage != "sweep_k"]
    assert [r["k"] for r in rows] == [3, 6]
    for key in EXACT + ("soft",):  # all snapshots, seed = [run] seed = [generate] seed: the pipeline itself
        assert rows[1][key] == pytest.approx(metrics[key], abs=1e-7), key
    # k = 3: the originals are the three snapshots the generator saw.
    idx = snapshot_draw(6, 3, 0)
    accs = load_tensors(hard.dir("collect") / "snapshots.pt")["test_acc"].numpy()
    assert rows[0]["orig_mean"] == pytest.approx(accs[idx.numpy()].mean(), abs=1e-6)
    assert rows[0]["m"] == 5 and rows[0]["seconds"] > 0
    definition = json.loads((store.study_dir(hard, "k") / "study.json").read_text())
    assert definition["grid"]["keys"] == {"collect.k": [3, 6], "generate.m": [5]}
    info = sweeps.sweep_info(hard, "k")
    assert (info["m"], info["n_snapshots"], info["state"], info["current"]) == (5, 6, "done", True)


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


def test_cancel_keeps_finished_points_and_a_rerun_computes_only_the_missing(hard):
    cancel = CancelFlag()
    _cancel_after(sweeps.sweep_m(hard, [1, 2, 5], [0, 1], cancel), cancel, 2)
    assert [(r["m"], r["seed"]) for r in sweeps.load_sweep(hard, "m")] == [(1, 0), (2, 0)]
    info = sweeps.sweep_info(hard, "m")
    assert (info["state"], info["points"], info["total"]) == ("cancelled", 2, 6)
    assert hard.lock_holder() is None

    cancel = CancelFlag()
    _cancel_after(sweeps.sweep_k(hard, [2, 4], [0], m=3, cancel=cancel), cancel, 1)
    first = sweeps.load_sweep(hard, "k")
    assert [(r["k"], r["seed"]) for r in first] == [(2, 0)]
    saved = point_files(hard, "k")[0].read_bytes()
    # Asked again: the finished point is read back, only the missing one is trained.
    events, rows = drain(sweeps.sweep_k(hard, [2, 4], [0], m=3))
    assert any(isinstance(e, Message) and "1 saved, 1 to compute" in e.text for e in events)
    trained = {e.point for e in events if isinstance(e, Progress) and "autoencoder loss" in e.text}
    assert trained == {"k = 4, seed 0"}
    assert [r["k"] for r in rows] == [2, 4] and rows[0]["sbend"] == first[0]["sbend"]
    assert saved in [p.read_bytes() for p in point_files(hard, "k")]  # the file itself is untouched
    # Another m per point: other points of the same study; the sweep shows them, the others stay on disk.
    drain(sweeps.sweep_k(hard, [4], [0], m=2))
    assert [(r["k"], r["m"]) for r in sweeps.load_sweep(hard, "k")] == [(4, 2)]
    assert len(point_files(hard, "k")) == 3


def test_a_failing_point_is_recorded_with_its_error(hard, capsys):
    from bend_gui.cli import main

    cfg = hard.load_config()
    cfg.generate.generator, cfg.generate.noise_sigma = "noise", 1e39  # infinite float32 members: every point fails
    hard.save_config(cfg)
    events, rows = drain(sweeps.sweep_m(hard, [1, 2], [0]))
    assert rows == [] and not [e for e in events if isinstance(e, Metric)]
    failed = sweeps.failed_points(hard, "m")
    assert [(f["m"], f["seed"]) for f in failed] == [(1, 0), (2, 0)] and "holds infinity" in failed[0]["error"]
    assert any(isinstance(e, Message) and e.point == "m = 2, seed 0" and "failed" in e.text for e in events)
    assert sweeps.sweep_info(hard, "m")["state"] == "failed"
    assert main(["sweep", str(hard.root), "--over", "m", "--summary"]) == 0
    assert "failed: m = 1, seed 0: " in capsys.readouterr().out


def test_a_sweep_from_other_upstream_outputs_is_kept_aside(hard):
    drain(sweeps.sweep_m(hard, [2], [0]))
    before = point_files(hard, "m")[0].read_bytes()
    cfg = hard.load_config()
    cfg.generate.sampling_steps += 1
    hard.save_config(cfg)
    assert sweeps.sweep_info(hard, "m")["current"] is False
    events, rows = drain(sweeps.sweep_m(hard, [2, 3], [0]))
    note = next(e.text for e in events if isinstance(e, Message) and "kept as study" in e.text)
    assert "sampling_steps" in note
    kept = [n for n in store.list_studies(hard) if n.startswith("m-")]
    assert len(kept) == 1 and note.split("kept as study ")[1].startswith(kept[0])
    assert point_files(hard, kept[0])[0].read_bytes() == before  # nothing lost
    assert [r["m"] for r in rows] == [2, 3] and sweeps.sweep_info(hard, "m")["current"]
    assert "2 points (0 saved, 2 to compute" in " ".join(e.text for e in events if isinstance(e, Message))


def test_an_older_versions_csv_is_shown_read_only_until_a_new_sweep(hard):
    old = [{"m": m, "seed": 0, "k": 6, **{c: 0.1 * m for c in sweeps.QUANTITIES}} for m in (1, 2)]
    write_csv(sweeps.legacy_path(hard, "m"), list(old[0]), old)
    write_json(sweeps.legacy_path(hard, "m").with_suffix(".json"),
               {"over": "m", "values": [1, 2], "seeds": [0], "describe": "diffusion (DDIM, 5 steps)", "k": 6})
    data = sweeps.legacy_path(hard, "m").read_bytes()
    assert [(r["m"], r["sbend"]) for r in sweeps.load_sweep(hard, "m")] == [(1, 0.1), (2, 0.2)]
    info = sweeps.sweep_info(hard, "m")
    assert info["legacy"] and not info["current"] and "read-only from an earlier version (sweeps/m.csv)" in info["describe"]
    assert info["values"] == [1, 2] and sweeps.sweep_path(hard, "m") == sweeps.legacy_path(hard, "m")
    events, _ = drain(sweeps.sweep_m(hard, [3], [0]))
    assert any(isinstance(e, Message) and "saved by an earlier version stays in" in e.text for e in events)
    assert [r["m"] for r in sweeps.load_sweep(hard, "m")] == [3] and not sweeps.sweep_info(hard, "m").get("legacy")
    assert sweeps.legacy_path(hard, "m").read_bytes() == data


def test_sweeps_refuse_what_they_cannot_do(tmp_path, tiny_data_root, hard):
    p = Project.create(tmp_path / "early", hard_config(tiny_data_root))
    list(pipeline.run(p, until="collect"))
    with pytest.raises(ProjectError, match="3 · Latent diffusion"):
        drain(sweeps.sweep_m(p, [1, 2], [0]))
    assert sweeps.readiness(p, "k") == "" and sweeps.needed_stage(p.load_config(), "m") == "diffusion"
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
    # Busy: another job holds the project; refused at once, nothing written.
    with Project.open(hard.root).lock("bend run"), pytest.raises(ProjectError, match="busy: bend run is running"):
        drain(sweeps.sweep_m(hard, [1], [0]))
    assert not store.study_dir(hard, "m").exists()


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


def _cli(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "bend_gui.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_cli_sweep_survives_sigkill_and_prints_from_the_study(hard, capsys):
    values = ",".join(str(m) for m in range(1, 21))
    proc = _cli("sweep", str(hard.root), "--over", "m", "--values", values, "--seeds", "0,1", "-q")
    deadline = time.monotonic() + 240
    while len(point_files(hard, "m")) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    kept = {p.name: p.read_bytes() for p in point_files(hard, "m")}
    assert 3 <= len(kept) < 40
    # The rerun computes only the missing points and prints mean ± std per m from the study.
    proc = _cli("sweep", str(hard.root), "--over", "m", "--values", values, "--seeds", "0,1")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert f"{len(kept)} saved, {40 - len(kept)} to compute" in err
    assert all((store.study_dir(hard, "m") / "points" / n).read_bytes() == b for n, b in kept.items())
    agg = {a["m"]: a for a in sweeps.aggregate(sweeps.load_sweep(hard, "m"), "m")}
    line = next(ln for ln in out.splitlines() if ln.split()[:2] == ["5", "2"])
    assert f"{100 * agg[5]['sbend_mean']:.2f} ± {100 * agg[5]['sbend_std']:.2f}" in line
    assert "k = 6 snapshots" in out and "200 test images" in out
    from bend_gui.cli import main

    r = subprocess.run([sys.executable, "-m", "bend_gui.cli", "sweep", str(hard.root), "--over", "m", "--summary",
                        "--json"], capture_output=True, text=True, timeout=120, check=False)
    data = json.loads(r.stdout)
    assert len(data["rows"]) == 40 and data["info"]["state"] == "done" and data["failed"] == []
    assert {"m", "seed", "sbend", "abend_mean", "orig_mean", "d_i"} <= set(data["rows"][0])
    capsys.readouterr()
    assert main(["sweep", str(hard.root), "--over", "k", "--values", "9"]) == 2
    assert "the project has 6 snapshots" in capsys.readouterr().err
    assert main(["sweep", str(hard.root), "--over", "m", "--values", "2", "--executor", "ray",
                 "--address", "127.0.0.1:1"]) == 2
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "cannot reach a Ray cluster at 127.0.0.1:1" in errors[0]
