"""Studies on a real Ray cluster started here: a head node and a second node, each its own `ray start
--block` process (in its own process group, stopped by its own id at teardown; never `ray stop`, which
would stop every user's Ray). The points of a 3 × 2 grid run on both nodes and equal the local
executor's; a failing point is recorded; killing the second node mid-study still finishes every point;
SIGKILL of the driver, then a rerun, computes only the missing points."""

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bend_gui.core.events import Message, Metric, run_to_end
from bend_gui.core.studies import store, study
from bend_gui.core.studies.executors import LocalExecutor
from tests.helpers import drain, hard_config, private_copy, run_all

ray = pytest.importorskip("ray", reason="the cluster extra is not installed (pip install -e '.[cluster]')")
from tests.ray_cluster import REPO, Cluster, stop_node  # after the skip: it imports ray


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("rc"))
    try:
        c.wait_for_head()
        from bend_gui.core.studies.ray_executor import connect

        connect(c.address)
        c.start_second_node()
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def project_root(tmp_path_factory, tiny_data_root):
    """The tiny project whose members disagree, with one torch thread: a Ray worker (which gets one
    CPU) and this process then compute bit-identical numbers."""
    return run_all(tmp_path_factory.mktemp("rayp") / "p", hard_config(tiny_data_root, run__threads=1))


NODE_NAME = re.compile(r"^(head )?\S+ · [0-9a-f]{6}$")   # "head 127.0.0.1 · 3f2a1b"


def _executor(cluster, **kw):
    from bend_gui.core.studies.executors import make_executor

    return make_executor("ray", address=cluster.address, **kw)


def _rows(records: list[dict]) -> list[tuple]:
    return [(r["values"], r["seed"], r["state"], {k: v for k, v in r["row"].items() if k != "seconds"})
            for r in records]


def test_a_grid_runs_on_both_nodes_and_equals_the_local_executors_points(cluster, project_root, tmp_path):
    keys = {"generate.m": [3, 4, 5], "generate.sampler": ["ddim", "ddpm"]}
    local_p = private_copy(project_root, tmp_path / "local")
    ray_p = private_copy(project_root, tmp_path / "ray")
    local = run_to_end(study.run_study(local_p, *study.define(local_p, keys, [0], "g"), LocalExecutor()))
    events, remote = drain(study.run_study(ray_p, *study.define(ray_p, keys, [0], "g"), _executor(cluster)))
    assert len(remote) == 6 and all(r["state"] == "done" for r in remote)
    # Each point was queued; the nodes are named by address and short id, the head's first. (Whether a
    # point is also seen running depends on timing: one that ends within a look at the board goes
    # straight to done; the SIGKILL test below sees points running.)
    states = [e.values for e in events if isinstance(e, Metric) and e.series == study.STATE_SERIES]
    assert sum(s["state"] == "queued" for s in states) == 6
    assert {s["node"] for s in states if s["state"] == "running"} <= {r["node"] for r in remote}
    names = sorted({r["node"] for r in remote})
    assert len(names) == 2 and all(NODE_NAME.match(n) for n in names), names
    assert [n.startswith("head ") for n in names] == [False, True]
    assert _rows(remote) == _rows(local)
    assert {r["node_id"] for r in remote} == set(cluster.alive())  # both nodes computed points
    # A point that raises on a worker is recorded as failed there; the other finishes.
    boom = run_to_end(study.run_study(ray_p, *study.define(
        ray_p, {"generate.generator": ["noise"], "generate.noise_sigma": [0.1, 1e39]}, [0], "boom"),
        _executor(cluster)))
    assert [r["state"] for r in boom] == ["done", "failed"]
    assert "holds infinity" in boom[1]["error"] and boom[1]["node_id"] in cluster.alive()


def _driver(project: Path, address: str, log: Path) -> subprocess.Popen:
    code = "import sys; from bend_gui.cli import main; sys.exit(main())"
    args = ["sweep", str(project), "--grid", "autoencoder.latent_noise=0,0.1,0.2", "--seeds", "0,1",
            "--name", "killed", "--executor", "ray", "--address", address, "-q"]
    with open(log, "w") as f:
        return subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO, stdout=f, stderr=subprocess.STDOUT)


def test_sigkill_of_the_driver_then_a_rerun_computes_only_the_missing_points(cluster, project_root, tmp_path):
    p = private_copy(project_root, tmp_path / "p")
    points = store.study_dir(p, "killed") / "points"
    driver = _driver(p.root, cluster.address, tmp_path / "driver.log")
    deadline = time.monotonic() + 300
    while not (points.is_dir() and any(points.glob("*.json"))):
        assert driver.poll() is None, (tmp_path / "driver.log").read_text()[-2000:]
        assert time.monotonic() < deadline, "no point finished"
        time.sleep(0.1)
    # While it runs, the driver publishes its in-flight points, some running on a named node; another
    # process sees them as live.
    while True:
        live = store.read_live(p, "killed")
        assert live is not None and live["pid"] == driver.pid and store.running_studies(p) == ["killed"]
        assert set(live["points"]) and {v["state"] for v in live["points"].values()} <= {"queued", "running"}
        running = [v["node"] for v in live["points"].values() if v["state"] == "running"]
        if running:
            break
        assert time.monotonic() < deadline, "no point seen running"
        time.sleep(0.1)
    assert all(NODE_NAME.match(n) for n in running), running
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    # Its state file outlives it, but a dead driver's file is stale: the study is not running.
    assert store.live_path(p, "killed").exists()
    assert store.read_live(p, "killed") is None and store.running_studies(p) == []
    assert not store.live_path(p, "killed").exists()
    kept = {f.name: f.read_bytes() for f in points.glob("*.json")}
    assert 1 <= len(kept) < 6
    events, records = drain(study.run_study(p, *study.define(p, None, None, "killed"), _executor(cluster)))
    assert not store.live_path(p, "killed").exists()
    text = " ".join(e.text for e in events if isinstance(e, Message))
    assert re.search(rf"{len(kept)} saved, {6 - len(kept)} to compute", text), text
    assert len(records) == 6 and all(r["state"] == "done" for r in records)
    for name, data in kept.items():
        assert (points / name).read_bytes() == data



def test_killing_the_second_node_mid_study_still_finishes_every_point(cluster, project_root, tmp_path):
    p = private_copy(project_root, tmp_path / "p")
    head = cluster.head_id()
    gen = study.run_study(p, *study.define(p, {"autoencoder.latent_noise": [0.0, 0.2]}, [0, 1], "nodeloss"),
                          _executor(cluster, retries=3))
    killed_at = None
    while True:
        try:
            ev = next(gen)
        except StopIteration as stop:
            records = stop.value
            break
        if killed_at is None and isinstance(ev, Metric) and ev.series == study.SERIES:
            killed_at = time.time()
            stop_node(cluster.node)   # a point is most likely running there now: Ray retries it on the head
    assert killed_at is not None
    assert len(records) == 4 and all(r["state"] == "done" for r in records), [r["error"] for r in records]
    assert cluster.alive() == [head]
