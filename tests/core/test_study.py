"""Studies with the local executor on the tiny project whose members disagree: the grid is checked against
the schema, every point is its own file, a point reproduces the pipeline's own numbers, a failing point
is recorded and the others finish, a rerun computes only what is missing, cancel keeps finished points,
and points from other upstream outputs are refused."""

import json
import os
import socket
import subprocess
import sys

import pytest

from bend_gui.core.errors import Cancelled, ConfigError, ProjectError
from bend_gui.core.events import CancelFlag, Message, Metric, run_to_end
from bend_gui.core.fileio import read_csv, read_json
from bend_gui.core.pipeline import runner as pipeline
from bend_gui.core.project import artifacts as A
from bend_gui.core.studies import grid as G
from bend_gui.core.studies import store, study
from tests.helpers import drain

COMPARED = ("sbend", "abend_mean", "abend_std", "gen_mean", "gen_median", "orig_mean", "potential")




def test_grid_keys_and_values_are_checked_against_the_schema(hard):
    cfg = hard.load_config()
    with pytest.raises(ConfigError, match="unknown key"):
        G.make_grid(cfg, {"generate.mm": [1]}, [0])
    with pytest.raises(ConfigError, match="unknown section"):
        G.make_grid(cfg, {"genrate.m": [1]}, [0])
    with pytest.raises(ConfigError, match=r"\[base\]"):
        G.make_grid(cfg, {"base.lr": [0.1]}, [0])
    with pytest.raises(ConfigError, match="--seeds"):
        G.make_grid(cfg, {"generate.seed": [1]}, [0])
    with pytest.raises(ConfigError, match=r"generate.m=0.*must be ≥ 1"):
        G.make_grid(cfg, {"generate.m": [0]}, [0])
    with pytest.raises(ConfigError, match="allowed: ddim, ddpm"):
        G.make_grid(cfg, {"generate.sampler": ["ddmi"]}, [0])
    # Values are kept as the schema reads them: 0 and 0.0 of a float key are one point.
    grid = G.make_grid(cfg, dict([G.parse_grid_arg("autoencoder.latent_noise=0,0.0,0.1")]), [1, 0, 1])
    assert grid.keys == {"autoencoder.latent_noise": [0.0, 0.1]} and grid.seeds == [1, 0]
    assert grid.level == "generator"
    assert G.make_grid(cfg, {"generate.m": [2]}, [0]).level == "generate"
    assert G.parse_grid_arg("generate.sampler=ddim,ddpm") == ("generate.sampler", ["ddim", "ddpm"])


def test_points_are_files_and_reproduce_the_pipelines_own_numbers(hard):
    cfg = hard.load_config()
    name, grid = study.define(hard, {"generate.m": [3, cfg.generate.m], "generate.sampler": ["ddim", "ddpm"]},
                              [0, 1], "mix")
    events, records = drain(study.run_study(hard, name, grid))
    assert len(records) == 8 and all(r["state"] == "done" for r in records)
    files = sorted((store.study_dir(hard, name) / "points").glob("*.json"))
    assert len(files) == 8
    # The table is rebuilt from the point files: one row per point, in the grid's order.
    _, rows = read_csv(store.study_dir(hard, name) / "table.csv")
    assert [(r["generate.m"], r["generate.sampler"], r["seed"]) for r in rows] == \
        [(float(p.as_dict()["generate.m"]), p.as_dict()["generate.sampler"], float(p.seed)) for p in grid.points()]
    live = [e for e in events if isinstance(e, Metric) and e.series == study.SERIES]
    assert len(live) == 8
    # The project's own settings with its seed give the pipeline's own Table 3 row.
    own = next(r for r in records if r["values"] == {"generate.m": cfg.generate.m, "generate.sampler": "ddim"}
               and r["seed"] == cfg.run.seed)
    metrics = A.METRICS.load(hard)
    for c in COMPARED:
        assert own["row"][c] == pytest.approx(metrics[c], abs=1e-12), c
    assert cfg.generate.m <= cfg.collect.k  # then the pipeline's d_i is over all m members, as the point's
    assert own["row"]["d_i"] == pytest.approx(metrics["diversity"]["d_i_gen"], abs=1e-12)
    # Different m → different ensembles: the grid's points are not copies of each other.
    assert len({json.dumps(r["row"]["m"]) for r in records}) == 2


def test_a_failing_point_is_recorded_and_the_others_finish(hard):
    # σ = 1e39 makes the noise baseline's float32 members infinite: that point's check fails.
    name, grid = study.define(hard, {"generate.generator": ["noise"], "generate.noise_sigma": [0.1, 1e39, 0.5]},
                              [0], "boom")
    events, records = drain(study.run_study(hard, name, grid))
    states = {r["values"]["generate.noise_sigma"]: r["state"] for r in records}
    assert states == {0.1: "done", 1e39: "failed", 0.5: "done"}
    failed = next(r for r in records if r["state"] == "failed")
    assert "holds infinity" in failed["error"]
    assert any(isinstance(e, Message) and "failed" in e.text for e in events)
    _, rows = read_csv(store.study_dir(hard, name) / "table.csv")
    assert [r["state"] for r in rows] == ["done", "failed", "done"]


def test_rerun_computes_only_missing_points_and_cancel_keeps_finished_ones(hard):
    name, grid = study.define(hard, {"generate.m": [2, 3, 4]}, [0, 1], "resume")
    cancel = CancelFlag()
    gen = study.run_study(hard, name, grid, cancel=cancel)
    finished = 0
    with pytest.raises(Cancelled):
        for ev in gen:
            if isinstance(ev, Metric) and ev.series == study.SERIES:
                finished += 1
                if finished == 2:
                    cancel.set()
    kept = {p.name: p.read_bytes() for p in (store.study_dir(hard, name) / "points").glob("*.json")}
    assert len(kept) == 2
    # The rerun computes the 4 missing points and leaves the 2 saved files as they are.
    events, records = drain(study.run_study(hard, name, grid))
    assert len(records) == 6 and all(r["state"] == "done" for r in records)
    text = " ".join(e.text for e in events if isinstance(e, Message))
    assert "2 saved, 4 to compute" in text
    for fname, data in kept.items():
        assert (store.study_dir(hard, name) / "points" / fname).read_bytes() == data
    # A third run computes nothing; a rerun by name alone reads the saved grid.
    events, _ = drain(study.run_study(hard, *study.define(hard, None, None, name)))
    assert "6 saved, 0 to compute" in " ".join(e.text for e in events if isinstance(e, Message))


def test_points_from_other_upstream_outputs_are_refused(hard):
    name, grid = study.define(hard, {"generate.m": [2]}, [0], "fp")
    run_to_end(study.run_study(hard, name, grid))
    definition = read_json(store.study_dir(hard, name) / "study.json")
    assert set(definition["upstream"]["runs"]) == {"base", "collect", "autoencoder", "diffusion"}
    # A changed setting the points depend on …
    cfg = hard.load_config()
    cfg.generate.sampling_steps += 1
    hard.save_config(cfg)
    with pytest.raises(ProjectError, match=r"other upstream outputs.*sampling_steps"):
        run_to_end(study.run_study(hard, name, grid))
    cfg.generate.sampling_steps -= 1
    hard.save_config(cfg)
    # … and a rerun stage (new run id) are refused; nothing on disk changes.
    before = (store.study_dir(hard, name) / "study.json").read_bytes()
    run_to_end(pipeline.run(hard, force=["diffusion"]))
    with pytest.raises(ProjectError, match="stage diffusion was rerun"):
        run_to_end(study.run_study(hard, name, grid))
    assert (store.study_dir(hard, name) / "study.json").read_bytes() == before
    # Another name is a new study.
    records = run_to_end(study.run_study(hard, "fp2", grid))
    assert [r["state"] for r in records] == ["done"]


def test_the_project_lock_is_free_while_a_study_runs(hard):
    name, grid = study.define(hard, {"generate.m": [2, 3]}, [0], "lockfree")
    gen = study.run_study(hard, name, grid)
    for ev in gen:
        if isinstance(ev, Metric) and ev.series == study.SERIES:
            break
    assert hard.lock_holder() is None           # between points nothing holds the project
    with pytest.raises(ProjectError, match="already running"):
        run_to_end(study.run_study(hard, name, grid))   # but a second driver of the same study is refused
    gen.close()


def test_a_running_study_publishes_its_points_in_flight_and_removes_the_file_at_the_end(hard):
    name, grid = study.define(hard, {"generate.m": [2, 3]}, [0, 1], "live")
    gen = study.run_study(hard, name, grid)
    seen = []
    for ev in gen:
        if isinstance(ev, Metric) and ev.series in (study.STATE_SERIES, study.SERIES):
            seen.append(store.read_live(hard, name))
    assert seen[0] is not None and seen[0]["pid"] == os.getpid() and seen[0]["executor"] == "local"
    # First event: the first point running here, the three others queued; after each finished point, it
    # is gone from the file (its own point file holds it).
    first = seen[0]["points"]
    assert sorted(v["state"] for v in first.values()) == ["queued", "queued", "queued", "running"]
    assert next(v["node"] for v in first.values() if v["state"] == "running") == socket.gethostname()
    assert [len(s["points"]) for s in seen[1::2]] == [3, 2, 1, 0]
    assert not store.live_path(hard, name).exists() and store.running_studies(hard) == []


def test_a_state_file_whose_driver_is_dead_is_stale(hard):
    run_to_end(study.run_study(hard, *study.define(hard, {"generate.m": [2]}, [0], "stale")))
    # What a driver killed by SIGKILL leaves: the file, with a pid that is gone and the lock free.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = store.new_live("stale", "local") | {"pid": dead.pid, "points": {"x": {"state": "running", "node": "h"}}}
    store.write_live(hard, "stale", live)
    assert store.read_live(hard, "stale") is None and store.running_studies(hard) == []
    assert not store.live_path(hard, "stale").exists()
    # A live pid without the study's lock (a reused pid) is stale too; the lock held makes it live.
    store.write_live(hard, "stale", live | {"pid": os.getpid()})
    assert store.read_live(hard, "stale") is None
    store.write_live(hard, "stale", live | {"pid": os.getpid()})
    with store.study_lock(hard, "stale"):
        assert store.driver_alive(hard, "stale") and store.read_live(hard, "stale")["pid"] == os.getpid()
    assert not store.driver_alive(hard, "stale")


def test_cli_grid_prints_points_as_json_and_refuses_bad_input(hard, capsys):
    from bend_gui.cli import main

    rc = main(["sweep", str(hard.root), "--grid", "generate.m=2,3", "--seeds", "0", "--name", "cli", "--json", "-q"])
    out = capsys.readouterr()
    assert rc == 0
    points = json.loads(out.out)
    assert [p["generate.m"] for p in points] == [2, 3]
    assert {"seed", "state", "sbend", "abend_mean", "orig_mean", "potential", "d_i", "disagreement"} <= set(points[0])
    assert main(["sweep", str(hard.root), "--grid", "base.epochs=1,2"]) == 2
    assert "error: grid key 'base.epochs'" in capsys.readouterr().err
    assert main(["sweep", str(hard.root), "--grid", "generate.m=2", "--executor", "ray",
                 "--address", "127.0.0.1:1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: cannot reach a Ray cluster at 127.0.0.1:1")
    assert not any("Traceback" in line for line in err)


def test_a_k_study_gives_the_k_sweeps_numbers(hard):
    """collect.k trains each point's generator on k of the snapshots, drawn as the k-sweep draws them: the
    same point computed again in a study of another name gives the same numbers (the k-sweep writes the
    study named k, so a study named k would only read its saved points back)."""
    from bend_gui.core.studies import sweeps

    _, rows = drain(sweeps.sweep_k(hard, [3], [0], m=4))
    name, grid = study.define(hard, {"collect.k": [3], "generate.m": [4]}, [0], "k-again")
    assert grid.level == "generator"
    records = run_to_end(study.run_study(hard, name, grid))
    for c in COMPARED:
        assert records[0]["row"][c] == pytest.approx(rows[0][c], abs=1e-12), c
    with pytest.raises(ProjectError, match="the project has 6 snapshots"):
        run_to_end(study.run_study(hard, *study.define(hard, {"collect.k": [7]}, [0], "k7")))
    # With another [collect] key a point recollects (tests/core/test_study_collect.py).
    assert study.define(hard, {"collect.k": [3], "collect.lr": [0.1]}, [0], "lr")[1].level == "collect"
