"""Issue 11 on the CPU: per-step streaming of base and collect (one read-back per log_every steps), the final
test pass as its own sub-step, the fast-path settings leaving CPU numbers unchanged, the activation cache
sized from free memory, and out of memory as one clear message that loses nothing."""

import hashlib

import pytest
import torch

from bend_gui.core.errors import BendError
from bend_gui.core.events import (
    TEST_STEP,
    CancelFlag,
    Message,
    Metric,
    Progress,
    run_to_end,
)
from bend_gui.core.fileio import load_tensors
from bend_gui.core.ml.backbones import build_model
from bend_gui.core.ml.data import place
from bend_gui.core.ml.fastpath import FastPath
from bend_gui.core.ml.features import build_features
from bend_gui.core.ml.members import evaluate_members
from bend_gui.core.ml.subset import get_vector, resolve, split_model
from bend_gui.core.pipeline import memory
from bend_gui.core.pipeline import runner as pipeline
from bend_gui.core.pipeline.stages import collect as collect_stage
from bend_gui.core.project.folder import Project
from bend_gui.core.settings import config as C

FAST = ("bf16", "channels_last", "tf32", "cudnn_benchmark", "compile")


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_collect(tmp_path, cfg, name):
    p = Project.create(tmp_path / name, cfg)
    events = list(pipeline.run(p, until="collect"))
    return p, events


def test_base_and_collect_stream_their_loss_every_log_every_steps(tmp_path, tiny_cfg):
    cfg = C.with_values(tiny_cfg, [("run", "log_every", 4), ("base", "epochs", 1)])
    p, events = run_collect(tmp_path, cfg, "p")
    for stage, per_run in (("base", 600 // 32), ("collect", cfg.collect.k * cfg.collect.save_every)):
        points = [e for e in events if isinstance(e, Metric) and e.stage == stage and e.series == "steps"]
        assert [int(e.x) for e in points] == list(range(4, per_run + 1, 4))
        assert all(set(e.values) == {"step", "loss", "lr"} and e.values["step"] == e.x for e in points)
        assert all(e.values["loss"] > 0 for e in points)
        rows = (p.root / stage / "steps.csv").read_text().splitlines()
        assert rows[0] == "step,loss,lr" and len(rows) == len(points) + 1


def test_base_test_passes_are_their_own_sub_step(tmp_path, tiny_cfg):
    cfg = C.with_values(tiny_cfg, [("base", "epochs", 1)])
    p = Project.create(tmp_path / "p", cfg)
    events = list(pipeline.run(p, until="base"))
    test = [e for e in events if isinstance(e, Progress) and e.stage == "base" and e.step == TEST_STEP]
    assert [e.text for e in test if e.done == e.total] == ["epoch 1: test set", "final test evaluation"]
    own = [e for e in events if isinstance(e, Progress) and e.stage == "base" and not e.step]
    assert own[-1].done == own[-1].total  # the training bar ends full before the test passes start
    last_own = max(i for i, e in enumerate(events) if e in own)
    assert any(isinstance(e, Progress) and e.step == TEST_STEP for e in events[last_own + 1:])


def test_fast_path_settings_leave_cpu_results_bit_identical(tmp_path, tiny_cfg):
    on = C.with_values(tiny_cfg, [("base", "augment", True), ("base", "epochs", 1)]
                       + [("run", k, True) for k in FAST])
    off = C.with_values(on, [("run", k, False) for k in FAST])
    a, _ = run_collect(tmp_path, on, "on")
    b, _ = run_collect(tmp_path, off, "off")
    for rel in ("base/model.pt", "collect/snapshots.pt"):
        x, y = load_tensors(a.root / rel), load_tensors(b.root / rel)
        for key in ("state_dict",) if rel.startswith("base") else ("snapshots", "test_acc"):
            xs, ys = x[key], y[key]
            if isinstance(xs, dict):
                assert xs.keys() == ys.keys() and all(torch.equal(xs[k], ys[k]) for k in xs)
            else:
                assert torch.equal(xs, ys)
    for rel in ("collect/snapshots.csv", "collect/steps.csv", "base/steps.csv"):
        assert digest(a.root / rel) == digest(b.root / rel)


def test_cache_limits_follow_free_memory_and_the_optional_cap(monkeypatch):
    cfg = C.ProjectConfig()
    cpu = torch.device("cpu")
    monkeypatch.setenv(memory.ENV_LIMIT, "2")
    assert memory.cache_limits(cfg, cpu) == (int(memory.CACHE_SHARE * 2 * 2**30), 0)
    cfg.run.cache_limit_gb = 0.25
    assert memory.cache_limits(cfg, cpu) == (2**28, 0)


def test_a_cache_over_the_free_memory_budget_runs_per_batch_and_says_so(tmp_path, tiny_cfg, monkeypatch):
    monkeypatch.setenv(memory.ENV_LIMIT, "0.0001")  # ~100 KiB: every stage's estimate fits, no cache does
    p = Project.create(tmp_path / "p", C.with_values(tiny_cfg, [("base", "epochs", 0)]))
    events = list(pipeline.run(p, until="collect"))
    texts = [e.text for e in events if isinstance(e, Progress) and e.step == "cache"]
    assert texts and all("exceed the cache's memory budget" in t for t in texts)


def test_out_of_memory_inside_a_stage_names_the_setting_and_loses_nothing(finished_project, monkeypatch):
    def oom(*a, **k):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(collect_stage, "features_accuracy", oom)
    files = {q: digest(q) for q in (finished_project.root / "collect").iterdir() if q.is_file()}
    good = finished_project.manifest()["stages"]["collect"]["run_id"]
    with pytest.raises(BendError) as e:
        list(pipeline.run(finished_project, force=("collect",)))
    msg = str(e.value)
    assert msg.startswith("collect: out of memory on cpu (CUDA out of memory. Tried to allocate 2.00 GiB)")
    assert "lower [collect] batch_size (now 32) or [run] cache_limit_gb" in msg
    after = {q: digest(q) for q in (finished_project.root / "collect").iterdir() if q.is_file()
             and not q.name.startswith("checkpoint")}
    assert after == {q: h for q, h in files.items() if not q.name.startswith("checkpoint")}
    entry = finished_project.manifest()["stages"]["collect"]
    assert entry["run_id"] == good and entry["attempt"]["state"] == "failed"


@pytest.mark.parametrize("batching", ["vmap", "auto"])
def test_vmap_out_of_memory_is_raised_not_a_silent_switch_to_the_loop(monkeypatch, batching):
    from bend_gui.core.ml import members

    def runner(*a, **k):
        def run(vectors, x):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 9.00 GiB")
        return run

    monkeypatch.setattr(members, "_vmap_runner", runner)
    model = build_model("smallcnn", 1, 10).eval()
    subset = resolve(model, ["bn4"])
    x = torch.zeros(4, 1, 28, 28, dtype=torch.uint8)
    feats = run_to_end(build_features(split_model(model, subset)[0], x, (0.5,), (0.25,), torch.device("cpu"),
                                      batch_size=2, limit_bytes=2**30, cancel=CancelFlag(), stage="t", label="t"))
    vectors = get_vector(model, subset).repeat(6, 1)
    gen = evaluate_members(model, subset, vectors, feats, torch.zeros(4).long(), batch_size=2,
                           batching=batching, cancel=CancelFlag(), stage="t", label="t", member_chunk=1)
    seen = []
    with pytest.raises(torch.OutOfMemoryError):
        for ev in gen:
            seen.append(ev)  # noqa: PERF402 - list(gen) would lose what came before the error
    assert not any(isinstance(e, Message) for e in seen)  # no "members run one after another" switch


def test_the_fast_path_is_off_on_the_cpu_whatever_the_settings():
    run = C.RunConfig(device="cpu", bf16=True, channels_last=True, tf32=True, cudnn_benchmark=True, compile=True)
    fast = FastPath.for_device(run, torch.device("cpu"))
    assert fast == FastPath()
    net = torch.nn.Conv2d(1, 2, 3)
    x = torch.randn(2, 1, 5, 5)
    assert fast.compiled(net) is net and fast.inputs(x) is x and fast.model(net) is net
    with fast.autocast():
        assert net(x).dtype == torch.float32


def test_data_stays_where_it_is_on_the_cpu():
    x, y = torch.zeros(4, 1, 2, 2, dtype=torch.uint8), torch.zeros(4).long()
    (px, py), where = place((x, y), torch.device("cpu"), free_bytes=0)
    assert px is x and py is y and where == "in memory"
