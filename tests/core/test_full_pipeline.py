"""All six stages on the tiny dataset: results files, report, bundle export and loading."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from bend_gui.core.events import StageStarted
from bend_gui.core.fileio import load_tensors
from bend_gui.core.pipeline import runner as pipeline
from bend_gui.core.results import ensemble
from bend_gui.core.results.report import format_report, load_metrics
from tests.helpers import private_copy

REQUIRED = ["sbend", "abend_mean", "abend_std", "gen_max", "gen_mean", "gen_median", "orig_max", "orig_mean",
            "orig_median", "potential"]


@pytest.fixture(scope="module")
def done_project(tmp_path_factory, finished_project_root):
    # The session's finished tiny project (all six stages, run once), copied: these tests only read it.
    return private_copy(finished_project_root, tmp_path_factory.mktemp("full") / "p")


def test_metrics_json_has_the_papers_columns_as_fractions(done_project):
    m = json.loads((done_project.dir("evaluate") / "metrics.json").read_text())
    for k in REQUIRED:
        assert 0.0 <= m[k] <= 1.0, k
    assert m["m"] == 5 and m["k"] == 6
    for k in ("t_org", "t_ate", "t_ddpm", "t_gen_per_member", "break_even_m"):
        assert k in m["efficiency"]
    assert m["efficiency"]["t_ate"] > 0 and m["efficiency"]["t_ddpm"] > 0
    for k in ("d_i_gen", "d_i_orig", "d_o", "iou_gen", "iou_orig", "iou_cross"):
        assert k in m["diversity"]
    assert set(m["baselines"]) == {"snapshots", "noise", "average", "gaussian"}
    for row in m["baselines"].values():
        assert all(0.0 <= row[k] <= 1.0 for k in REQUIRED)
    assert {"soft", "sbend", "abend"} <= set(m["calibration"]["generated"])


def test_stored_predictions_reproduce_the_metrics(done_project):
    m = load_metrics(done_project)
    p = load_tensors(done_project.dir("evaluate") / "predictions.pt")
    y = p["y"].numpy()
    gen = p["preds"]["generated"].numpy().astype(int)
    assert ensemble.accuracy(ensemble.sbend(gen), y) == pytest.approx(m["sbend"])
    accs = (gen == y).mean(1)
    assert accs.mean() == pytest.approx(m["gen_mean"]) and np.median(accs) == pytest.approx(m["gen_median"])
    iou = load_tensors(done_project.dir("evaluate") / "iou.pt")
    assert iou["matrix"].shape == (11, 11)


def test_report_prints_every_section(done_project):
    text = format_report(load_metrics(done_project))
    for word in ("Table 3", "sBEND", "aBEND", "potential", "diffusion", "gaussian", "Diversity", "d_o",
                 "Calibration", "break-even m"):
        assert word in text
    r = subprocess.run([sys.executable, "-m", "bend_gui.cli", "report", str(done_project.root), "--json"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and json.loads(r.stdout)["sbend"] == load_metrics(done_project)["sbend"]


def test_bundle_reproduces_sbend_in_a_fresh_process(done_project, tmp_path, tiny_data_root):
    out = tmp_path / "ens.pt"
    r = subprocess.run([sys.executable, "-m", "bend_gui.cli", "export", str(done_project.root), str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    code = f"""
import sys, torch
import bend_gui.bundle as B
from bend_gui.core.settings.config import DataConfig
from bend_gui.core.ml.data import load_dataset
ens = B.load({str(out)!r})
x = load_dataset(DataConfig(root={str(tiny_data_root)!r})).test_x
pred = ens.predict(x)
assert ens.member_probs(x[:3]).shape == (5, 3, 10)
bad = [m for m in sys.modules if m.startswith('PySide6')]
assert not bad, bad
print(','.join(map(str, pred.tolist())))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    fresh = np.array([int(v) for v in r.stdout.strip().split(",")])
    stored = load_tensors(done_project.dir("evaluate") / "predictions.pt")["preds"]["generated"].numpy()
    assert (fresh == ensemble.sbend(stored.astype(int), 10)).all()


def test_bundle_rules_and_original_members(done_project, tmp_path):
    from bend_gui.core.results.bundle import load
    from bend_gui.core.results.bundle_export import export

    export(done_project, tmp_path / "o.pt", members="original", rule="soft")
    ens = load(tmp_path / "o.pt")
    assert ens.m == 6 and ens.rule == "soft"
    x = torch.randint(0, 256, (7, 1, 28, 28), dtype=torch.uint8)
    probs = ens.member_probs(x)
    assert torch.equal(ens.predict(x), probs.mean(0).argmax(-1))
    assert ens.predict(x, rule="abend", generator=torch.Generator().manual_seed(0)).shape == (7,)
    assert torch.equal(ens.predict(x.float() / 255), ens.predict(x))


def test_bad_bundles_get_clear_errors(done_project, tmp_path):
    from bend_gui.core.results.bundle import BundleError, load
    from bend_gui.core.results.bundle_export import export

    good = tmp_path / "good.pt"
    export(done_project, good)
    data = good.read_bytes()
    (tmp_path / "trunc.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="truncated or damaged"):
        load(tmp_path / "trunc.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a bundle at all")
    with pytest.raises(BundleError, match="not a file saved by torch.save"):
        load(tmp_path / "junk.pt")
    b = torch.load(good, weights_only=True)
    b["format_version"] = 99
    torch.save(b, tmp_path / "v99.pt")
    with pytest.raises(BundleError, match="format_version 99"):
        load(tmp_path / "v99.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(BundleError, match="not a BEND ensemble"):
        load(tmp_path / "other.pt")

    class Payload:
        def __reduce__(self):
            return (print, ("this would run",))
    torch.save({"format": "bend-ensemble", "x": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(BundleError, match="refused to load: it would run code"):
        load(tmp_path / "evil.pt")


def test_generate_with_a_baseline_generator_and_no_diffusion(finished_project):
    # Stages 0-3 read no [generate] setting: a finished project with the generator changed reruns 4 and 5.
    p = finished_project
    cfg = p.load_config()
    cfg.generate.generator = "noise"
    p.save_config(cfg)
    ran = [e.stage for e in pipeline.run(p) if isinstance(e, StageStarted)]
    assert ran == ["generate", "evaluate"]
    m = load_metrics(p)
    assert m["generator"] == "noise" and "noise" not in m["baselines"]
