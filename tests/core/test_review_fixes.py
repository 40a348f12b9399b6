"""Regression tests for problems a review found: each would have given wrong or crashing results."""

import math

import numpy as np
import pytest
import torch

from bend_gui.core.errors import BendError, ConfigError
from bend_gui.core.events import CancelFlag, run_to_end
from bend_gui.core.fileio import save_tensors
from bend_gui.core.ml.backbones import build_model
from bend_gui.core.ml.features import build_features
from bend_gui.core.ml.members import evaluate_members
from bend_gui.core.ml.subset import resolve
from bend_gui.core.pipeline.runner import is_out_of_memory
from bend_gui.core.results import metrics as M
from bend_gui.core.results.report import format_report, load_metrics
from bend_gui.core.settings import config as C


def test_vmap_falls_back_to_the_loop_for_a_subset_on_a_resnet_shortcut():
    torch.manual_seed(0)
    model = build_model("resnet18", 3, 10).eval()
    subset = resolve(model, ["layer2.0.downsample.1"])
    vectors = torch.randn(3, subset.d)
    x = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    y = torch.zeros(4, dtype=torch.long)
    from bend_gui.core.ml.subset import split_model
    prefix, _, _ = split_model(model, subset)
    feats = run_to_end(build_features(prefix, x, (0.5,) * 3, (0.25,) * 3, torch.device("cpu"), batch_size=4,
                                  limit_bytes=2**30, cancel=CancelFlag(), stage="t", label="t"))
    outs = {b: run_to_end(evaluate_members(model, subset, vectors, feats, y, batch_size=4, batching=b,
                                       cancel=CancelFlag(), stage="t", label="t")) for b in ("loop", "vmap")}
    assert torch.equal(outs["loop"].preds, outs["vmap"].preds)


def test_a_non_finite_member_is_an_error_not_a_silent_result(finished_project, monkeypatch):
    from bend_gui.core.pipeline import runner as pipeline
    from bend_gui.core.pipeline.stages import generate

    cfg = finished_project.load_config()
    cfg.generate.generator = "gaussian"
    cfg.generate.seed = 9
    finished_project.save_config(cfg)
    monkeypatch.setattr(generate, "baseline", lambda name, snaps, m, *a, **k: torch.full((m, snaps.shape[1]), float("nan")))
    with pytest.raises(BendError, match="holds NaN"):
        list(pipeline.run(finished_project))
    assert finished_project.state("generate").state == "failed"


def test_report_prints_dashes_where_a_metric_is_undefined(finished_project):
    m = load_metrics(finished_project)
    for k in ("iou_gen", "disagree_gen", "d_i_gen"):
        m["diversity"][k] = None  # what a single member gives
    m["efficiency"] = M.efficiency(t_orge=0, k_pre=0, t_org=1, t_ate=1, t_ddpm=1, t_sgen=0.1, k=5)
    text = format_report(m)
    assert "—" in text and "not measurable" in text


def test_diversity_compares_sets_of_equal_size():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    pop = np.where(rng.random((300, 300)) < 0.2, rng.integers(0, 3, (300, 300)), y)
    d = M.diversity_block(pop[:50], pop[50:250], y, 3)
    assert d["d_i_size"] == 50
    # Same population, same size: comparable numbers (eq. 14 on 200 members would be about 4x larger).
    assert 0.7 < d["d_i_gen"] / d["d_i_orig"] < 1.3


def test_paper_accounting_uses_collection_epochs_not_snapshot_count():
    e = M.efficiency(t_orge=28, k_pre=100, t_org=3000, t_ate=931.39, t_ddpm=857.14, t_sgen=2.35, k=200,
                     collect_epochs=1.0)
    assert e["break_even_m_paper_accounting"] == pytest.approx((101 * 28 + 931.39 + 857.14) / (2800 - 2.35))


def test_soft_vote_nll_is_exact_like_the_members():
    p = np.array([[0.99999, 0.00001]])
    assert M.nll(p, np.array([1])) == pytest.approx(-math.log(0.00001))


def test_non_finite_settings_are_refused():
    with pytest.raises(ConfigError, match="finite"):
        C.with_values(C.ProjectConfig(), [("base", "lr", float("nan"))])
    with pytest.raises(ConfigError, match="beta_end"):
        C.with_values(C.ProjectConfig(), [("diffusion", "beta_end", 1.0)])


def test_a_container_module_in_the_subset_gets_a_useful_message():
    with pytest.raises(ConfigError, match="holds no parameters of its own.*layer4"):
        resolve(build_model("resnet18", 3, 10), ["layer4"])


def test_out_of_memory_is_recognised_on_cpu_and_gpu():
    assert is_out_of_memory(RuntimeError("[enforce fail] DefaultCPUAllocator: can't allocate memory: you tried"))
    assert is_out_of_memory(MemoryError())
    assert not is_out_of_memory(RuntimeError("shape mismatch"))


def test_a_checkpoint_that_cannot_be_applied_is_discarded(tmp_path, tiny_cfg):
    from bend_gui.core.pipeline import runner as pipeline
    from bend_gui.core.project.folder import Project

    p = Project.create(tmp_path / "p", tiny_cfg)
    list(pipeline.run(p, until="base"))
    save_tensors(p.checkpoint_path("collect"), {"fingerprint": p.fingerprint("collect"), "vector": "garbage"})
    list(pipeline.run(p, until="collect"))
    assert p.state("collect").state == "done" and not p.checkpoint_path("collect").exists()


def test_a_done_stage_whose_output_vanished_is_stale(finished_project):
    (finished_project.dir("generate") / "members.pt").unlink()
    st = {s.stage: s for s in finished_project.stage_states()}
    assert st["generate"].state == "stale" and "missing" in st["generate"].detail
    assert st["evaluate"].state == "stale"


def test_bundle_checks_its_contents_when_loading(finished_project, tmp_path):
    from bend_gui.core.results.bundle import BundleError, load
    from bend_gui.core.results.bundle_export import export

    export(finished_project, tmp_path / "b.pt")
    b = torch.load(tmp_path / "b.pt", weights_only=True)
    bad_rule = dict(b, rule="median")
    torch.save(bad_rule, tmp_path / "r.pt")
    with pytest.raises(BundleError, match="unknown rule"):
        load(tmp_path / "r.pt")
    torch.save(dict(b, members=b["members"][:, :-1]), tmp_path / "w.pt")
    with pytest.raises(BundleError, match="do not fit"):
        load(tmp_path / "w.pt")
