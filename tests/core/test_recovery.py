"""Nothing silently wrong, nothing lost: a failed or cancelled attempt leaves the last good outputs usable,
exports never write into a project, bad files get accurate messages, SIGTERM stops like Ctrl-C."""

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from bend_gui.core.errors import ProjectError
from bend_gui.core.fileio import load_tensors, save_tensors
from bend_gui.core.project.folder import Project
from tests.core.test_cli import bend, tiny_sets


def run_ids(p: Project) -> dict:
    return {s: e.get("run_id") for s, e in json.loads(p.manifest_path.read_text())["stages"].items()}


def table3(p: Project) -> list[str]:
    r = bend("report", p.root)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("generator"))
    return lines[start:start + 5]


def set_value(p: Project, section: str, key: str, value) -> None:
    cfg = p.load_config()
    setattr(cfg.section(section), key, value)
    p.save_config(cfg)


def broken_data(tmp_path, data_root, how: str):
    d = tmp_path / f"data-{how}"
    shutil.copytree(data_root, d)
    f = d / "train-images-idx3-ubyte.gz"
    if how == "truncated":
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    else:  # a header that promises more images than the file holds
        f.write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + (600).to_bytes(4, "big") + bytes(8) + b"junk"))
    return str(d)


def hostile_file(tmp_path):
    path = tmp_path / "hostile.pt"
    torch.save({"fc.weight": torch.zeros(2), "run": os.system}, path)
    return str(path)


# (section, key, bad value (from tmp_path and the data root), words of the error)
FAILURES = {
    "missing pretrained": ("model", "pretrained", lambda t, d: str(t / "missing.pt"), ["missing.pt", "not found"]),
    "hostile pretrained": ("model", "pretrained", lambda t, d: hostile_file(t), ["refused", "would run code"]),
    "truncated dataset file": ("data", "root", lambda t, d: broken_data(t, d, "truncated"), ["train-images", "unreadable"]),
    "corrupt images": ("data", "root", lambda t, d: broken_data(t, d, "garbage"), ["train-images", "truncated"]),
}


@pytest.mark.parametrize("case", FAILURES)
def test_a_failed_attempt_keeps_the_last_good_results(tmp_path, finished_project, tiny_data_root, case):
    p = finished_project
    section, key, bad, words = FAILURES[case]
    before, ids, good = table3(p), run_ids(p), getattr(p.load_config().section(section), key)
    set_value(p, section, key, bad(tmp_path, tiny_data_root))
    r = bend("run", p.root, "-q")
    assert r.returncode == 2, r.stderr
    assert all(w in r.stderr for w in words), r.stderr
    assert p.state("base").state == "failed"
    # while it is failed, the last good results still report and export, saying where they come from
    r = bend("report", p.root)
    assert r.returncode == 0 and "last good run" in r.stdout and "failed" in r.stdout, r.stderr
    r = bend("export", p.root, tmp_path / "out.pt")
    assert r.returncode == 0 and "last good run" in r.stderr, r.stderr
    # back to the inputs of the last good run: done again, nothing recomputed
    set_value(p, section, key, good)
    assert [s.state for s in p.stage_states()] == ["done"] * 6
    assert table3(p) == before
    r = bend("run", p.root)
    assert r.returncode == 0 and r.stdout.count("up to date, skipped") == 6, r.stdout
    assert run_ids(p) == ids


def test_out_of_memory_in_a_rerun_keeps_the_stage_done(finished_project, monkeypatch, capsys):
    from bend_gui import cli
    from bend_gui.core.pipeline import stages

    def out_of_memory(ctx):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 9 GB")
        yield

    p = finished_project
    ids = run_ids(p)
    monkeypatch.setitem(stages.RUNNERS, "evaluate", out_of_memory)
    set_value(p, "evaluate", "abend_repeats", 4)
    assert cli.main(["run", str(p.root), "-q"]) == 4  # exit code 4: out of memory
    assert "out of memory" in capsys.readouterr().err
    assert p.state("evaluate").state == "failed"
    set_value(p, "evaluate", "abend_repeats", 3)
    assert p.state("evaluate").state == "done" and run_ids(p) == ids
    assert cli.main(["report", str(p.root)]) == 0


def test_a_cancelled_rerun_rolls_back_its_curve(finished_project):
    from bend_gui.core.errors import Cancelled
    from bend_gui.core.events import CancelFlag, Metric
    from bend_gui.core.pipeline import runner as pipeline

    p = finished_project
    curve = (p.dir("base") / "curve.csv").read_bytes()
    set_value(p, "base", "epochs", 3)
    flag = CancelFlag()
    with pytest.raises(Cancelled):
        for ev in pipeline.run(p, until="base", cancel=flag):
            if isinstance(ev, Metric):
                flag.set()
    assert p.state("base").state == "cancelled" and p.checkpoint_path("base").exists()
    assert (p.dir("base") / "curve.csv").read_bytes() == curve
    set_value(p, "base", "epochs", 2)
    assert [s.state for s in p.stage_states()] == ["done"] * 6


@pytest.mark.parametrize("target", ["base/model.pt", "results/new.pt", "other-project/sub/x.pt"])
def test_export_refuses_to_write_into_a_project(tmp_path, finished_project, target):
    p = finished_project
    other = tmp_path / "other-project"
    other.mkdir()
    (other / "project.toml").write_text("")
    out = (other.parent if target.startswith("other") else p.root) / target
    model = (p.dir("base") / "model.pt").read_bytes()
    r = bend("export", p.root, out)
    assert r.returncode == 2 and "refused" in r.stderr and "inside the project folder" in r.stderr, r.stderr
    assert not out.exists() or out.read_bytes() == model
    assert p.state("base").state == "done"


def test_results_export_refuses_a_project_folder(tmp_path, finished_project):
    from bend_gui.core.results.tables import export_results

    with pytest.raises(ProjectError, match="inside the project folder"):
        export_results(finished_project, finished_project.root / "tables")
    assert len(export_results(finished_project, tmp_path / "tables")) > 3


def test_a_run_removes_temp_files_left_by_a_crash(finished_project):
    p = finished_project
    left = [p.dir("base") / ".model.pt.x1y2.tmp", p.dir("evaluate") / ".metrics.json.a.tmp"]
    for f in left:
        f.write_bytes(b"half")
    assert bend("run", p.root, "-q").returncode == 0
    assert not any(f.exists() for f in left)


def test_load_tensors_tells_each_bad_file_apart(tmp_path, finished_project):
    whole = (finished_project.dir("base") / "model.pt").read_bytes()
    files = {"hostile": hostile_file(tmp_path), "truncated": whole[: len(whole) // 2],
             "random": os.urandom(4096), "empty": b""}
    words = {"hostile": ["refused", "would run code", "system"], "truncated": ["truncated or damaged"],
             "random": ["not a file saved by torch.save"], "empty": ["empty file", "0 bytes"]}
    messages = set()
    for name, data in files.items():
        path = tmp_path / f"{name}.pt"
        if isinstance(data, bytes):
            path.write_bytes(data)
        with pytest.raises(ProjectError) as e:
            load_tensors(path)
        assert all(w in str(e.value) for w in words[name]), str(e.value)
        messages.add(str(e.value).split(": ", 1)[1][:20])
    assert len(messages) == 4


@pytest.mark.parametrize("damage, words", [(b"", "empty"), ("half", "truncated")])
def test_a_damaged_output_is_not_done(finished_project, damage, words):
    model = finished_project.dir("base") / "model.pt"
    model.write_bytes(damage if isinstance(damage, bytes) else model.read_bytes()[:1000])
    st = finished_project.state("base")
    assert st.state == "stale" and words in st.detail


def test_a_rejected_checkpoint_is_not_announced_as_resuming(finished_project):
    from bend_gui.core.events import StageStarted
    from bend_gui.core.pipeline import runner as pipeline

    p = finished_project
    save_tensors(p.checkpoint_path("base"), {"fingerprint": "another run"})
    started = [e for e in pipeline.run(p, only="base", force=("base",)) if isinstance(e, StageStarted)]
    assert [e.resumed for e in started] == [False]


def _wait_for_stage(p: Project, stage: str, proc) -> None:
    deadline = time.time() + 300
    while time.time() < deadline:
        holder = p.lock_holder()
        if holder and holder.get("stage") == stage:
            return
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"{stage} never started")


def test_sigterm_cancels_at_a_safe_point_and_the_rerun_resumes(tmp_path, tiny_cfg):
    root = tmp_path / "p"
    cfg = tiny_cfg.copy()
    cfg.collect.k = 20000  # long enough to be stopped in the middle: 400 took under a second
    assert bend("new", root, *tiny_sets(cfg)).returncode == 0
    p = Project.open(root)
    proc = subprocess.Popen([sys.executable, "-m", "bend_gui.cli", "run", str(root), "--until", "collect", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_stage(p, "collect", proc)
    # Signal once collect's loop runs (its per-step curve is on disk): a cancel while it still reads the data
    # or builds the activation cache has nothing to checkpoint yet, which is right but not what is tested here.
    steps_csv = p.curve_path("collect", "steps")
    deadline = time.time() + 300
    while not steps_csv.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    assert steps_csv.exists(), "collect's loop never started"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert p.state("collect").state == "cancelled" and p.checkpoint_path("collect").exists()
    r = bend("run", root, "--until", "collect")
    assert r.returncode == 0, r.stderr
    assert "collect: resuming from checkpoint" in r.stdout + r.stderr
    assert p.state("collect").state == "done"


def test_ablation_add_is_refused_while_a_run_holds_the_lock(finished_project):
    p = finished_project
    with p.lock("bend run"):
        r = bend("ablation", p.root, "--add", "fc2")
    assert r.returncode == 3 and "busy" in r.stderr and "bend run" in r.stderr and str(os.getpid()) in r.stderr
    assert not (p.root / "studies" / "ablation").exists()  # the variant is not in the study's grid
