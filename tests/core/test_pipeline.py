"""Stages 0 and 1 through the pipeline on the tiny dataset: skip, stale, cancel, resume, failure."""

import pytest
import torch

from bend_gui.core.errors import Cancelled, DataError
from bend_gui.core.events import CancelFlag, Metric, StageFinished, StageStarted
from bend_gui.core.fileio import load_tensors
from bend_gui.core.pipeline import runner as pipeline
from bend_gui.core.pipeline.context import StageContext
from bend_gui.core.pipeline.stages import collect
from bend_gui.core.project.folder import Project


def run_all(project, **kw):
    return list(pipeline.run(project, **kw))


def test_base_and_collect_then_rerun_skips(tmp_path, tiny_cfg):
    p = Project.create(tmp_path / "p", tiny_cfg)
    events = run_all(p, until="collect")
    finished = [e for e in events if isinstance(e, StageFinished)]
    assert [(e.stage, e.skipped) for e in finished] == [("base", False), ("collect", False)]
    snaps = load_tensors(p.dir("collect") / "snapshots.pt")
    assert snaps["snapshots"].shape == (6, 2 * (64 + 128))
    assert snaps["test_acc"].shape == (6,)
    assert len(set(map(tuple, snaps["snapshots"].tolist()))) == 6  # really kept training
    base_curve = p.read_curve("base", "curve")
    assert [r["epoch"] for r in base_curve] == [1, 2] and base_curve[-1]["test_acc"] > 0.3
    assert len(p.read_curve("collect", "snapshots")) == 6
    again = [e for e in run_all(p, until="collect") if isinstance(e, StageFinished)]
    assert all(e.skipped for e in again)
    assert [s.state for s in p.stage_states()[:2]] == ["done", "done"]


def test_editing_a_setting_makes_that_stage_and_later_ones_stale(tmp_path, tiny_cfg):
    p = Project.create(tmp_path / "p", tiny_cfg)
    run_all(p, until="collect")
    cfg = p.load_config()
    cfg.collect.lr = 0.02
    p.save_config(cfg)
    states = {s.stage: s for s in p.stage_states()}
    assert states["base"].state == "done" and states["collect"].state == "stale"
    assert "[collect]" in states["collect"].detail
    ran = [e.stage for e in run_all(p, until="collect") if isinstance(e, StageStarted)]
    assert ran == ["collect"]
    cfg.base.epochs = 1
    p.save_config(cfg)
    assert [s.state for s in p.stage_states()[:2]] == ["stale", "stale"]


def test_collection_frozen_part_is_bit_identical(tmp_path, tiny_cfg):
    p = Project.create(tmp_path / "p", tiny_cfg)
    run_all(p, until="base")
    ctx = StageContext(p, p.load_config(), torch.device("cpu"), CancelFlag())
    list(collect.run(ctx))
    saved = load_tensors(p.dir("base") / "model.pt")["state_dict"]
    live = ctx.base_network().state_dict()
    for k, v in saved.items():
        assert torch.equal(v, live[k]), k  # running stats and num_batches_tracked included


def _cancel_after(events, flag, stage, series, n):
    seen = 0
    for e in events:
        if isinstance(e, Metric) and e.stage == stage and e.series == series:
            seen += 1
            if seen == n:
                flag.set()
        yield e


def test_cancel_collection_then_resume_matches_an_uninterrupted_run(tmp_path, tiny_cfg):
    ref = Project.create(tmp_path / "ref", tiny_cfg)
    run_all(ref, until="collect")
    p = Project.create(tmp_path / "p", tiny_cfg)
    flag = CancelFlag()
    with pytest.raises(Cancelled):
        list(_cancel_after(pipeline.run(p, until="collect", cancel=flag), flag, "collect", "snapshots", 3))
    st = p.state("collect")
    assert st.state == "cancelled" and st.resumable
    assert p.state("base").state == "done"
    assert p.lock_holder() is None
    events = run_all(p, until="collect")
    started = [e for e in events if isinstance(e, StageStarted)]
    assert [(e.stage, e.resumed) for e in started] == [("collect", True)]
    assert not p.checkpoint_path("collect").exists()
    a = load_tensors(ref.dir("collect") / "snapshots.pt")["snapshots"]
    b = load_tensors(p.dir("collect") / "snapshots.pt")["snapshots"]
    assert torch.allclose(a, b, atol=1e-6)
    assert len(p.read_curve("collect", "snapshots")) == 6


def test_cancel_base_mid_epoch_then_resume(tmp_path, tiny_cfg):
    p = Project.create(tmp_path / "p", tiny_cfg)
    flag = CancelFlag()

    def gen():
        for e in pipeline.run(p, until="base", cancel=flag):
            if getattr(e, "stage", None) == "base" and getattr(e, "done", 0) >= 10:
                flag.set()
            yield e
    with pytest.raises(Cancelled):
        list(gen())
    assert p.state("base").resumable
    events = run_all(p, until="base")
    assert [e for e in events if isinstance(e, StageStarted)][0].resumed
    assert p.state("base").state == "done"


def test_missing_dataset_fails_cleanly_and_keeps_outputs(tmp_path, tiny_cfg):
    p = Project.create(tmp_path / "p", tiny_cfg)
    run_all(p, until="base")
    before = (p.dir("base") / "model.pt").read_bytes()
    cfg = p.load_config()
    cfg.data.root = str(tmp_path / "gone")
    p.save_config(cfg)
    with pytest.raises(DataError, match="looked in"):
        run_all(p, until="collect")
    assert (p.dir("base") / "model.pt").read_bytes() == before
    assert p.lock_holder() is None


def test_a_second_runner_is_refused_while_one_holds_the_lock(tmp_path, tiny_cfg):
    from bend_gui.core.errors import ProjectError

    p = Project.create(tmp_path / "p", tiny_cfg)
    gen = pipeline.run(p, until="base")
    next(gen)  # holds the lock now
    holder = Project.open(p.root).lock_holder()
    assert holder["what"] == "bend run" and holder["stage"] == "base"
    with pytest.raises(ProjectError, match="busy"):  # also from the same process
        run_all(Project.open(p.root), until="base")
    gen.close()
    assert p.lock_holder() is None
    run_all(p, until="base")  # free again


def test_a_killed_runner_leaves_no_lock(tmp_path, tiny_cfg):
    """The kernel drops the lock of a process that dies, whatever the file still says."""
    import subprocess
    import sys

    p = Project.create(tmp_path / "p", tiny_cfg)
    code = (f"import os, signal\nfrom bend_gui.core.project.folder import Project\n"
            f"with Project.open({str(p.root)!r}).lock('doomed'):\n    os.kill(os.getpid(), signal.SIGKILL)\n")
    r = subprocess.run([sys.executable, "-c", code])
    assert r.returncode != 0
    assert "doomed" in p.lock_path.read_text()
    assert p.lock_holder() is None
    run_all(p, until="base")
