"""Nothing silently wrong: a diverged stage fails with the setting to change and leaves the last good outputs
alone; project JSON is strict; a size that cannot fit in memory is refused before anything runs."""

import hashlib
import json
import math
import os
import subprocess
import sys

import pytest
import torch

from bend_gui.core.errors import DivergedError
from bend_gui.core.fileio import json_safe, read_json, write_json
from bend_gui.core.pipeline import memory
from bend_gui.core.project import artifacts as A
from bend_gui.core.settings import config as C


def bend(*args, env=None):
    return subprocess.run([sys.executable, "-m", "bend_gui.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600, env={**os.environ, **(env or {})})


def strict_text(text):
    """Parsed as strict JSON: a bare NaN or Infinity fails."""
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


def strict(path):
    return strict_text(path.read_text())


def digests(project):
    """sha256 of every file outside the manifest, checkpoints and run logs: what a failed run must not change."""
    return {p.relative_to(project.root): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(project.root.rglob("*")) if p.is_file() and p.name not in ("manifest.json", "project.toml")
            and not p.name.startswith("checkpoint") and p.parent.name not in (".bend", "logs")}


def change(project, **values):
    cfg = C.with_values(project.load_config(), [(*k.split("__"), v) for k, v in values.items()])
    project.save_config(cfg)


@pytest.mark.parametrize("stage, setting, words", [
    ("base", {"base__lr": 1e12}, ["base:", "diverged", "[base] lr"]),
    ("collect", {"collect__lr": 1e12, "subset__layers": ["*"]}, ["collect:", "snapshot", "of 6", "[collect] lr"]),
    ("autoencoder", {"autoencoder__lr": 1e12}, ["autoencoder:", "diverged", "[autoencoder] lr"]),
    ("diffusion", {"diffusion__lr": 1e12}, ["diffusion:", "diverged", "[diffusion] lr"]),
])
def test_a_diverged_stage_fails_and_keeps_the_last_good_outputs(finished_project, stage, setting, words):
    before = digests(finished_project)
    good = finished_project.manifest()["stages"][stage]
    change(finished_project, **setting)
    r = bend("run", finished_project.root, "--quiet")
    assert r.returncode == 2, r.stderr
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ") and ("NaN" in line or "infini" in line), line
    for w in words:
        assert w in line, line
    entry = strict(finished_project.manifest_path)["stages"][stage]
    # The entry stays the last good run; the failed attempt is recorded beside it, and it is what the
    # stage's state shows while the settings are those of the attempt.
    assert entry["run_id"] == good["run_id"] and entry["attempt"]["state"] == "failed"
    assert finished_project.state(stage).state == "failed"
    assert digests(finished_project) == before  # weights, snapshots, curves, results: untouched
    status = bend("status", finished_project.root, "--json")
    assert status.returncode == 0 and strict_text(status.stdout)["stages"][0]["stage"] == "base"
    # The last good outputs still load (whether `bend report` shows them again is the recovery work's).
    assert A.STAGE_OUTPUTS[stage].load(finished_project)
    assert strict(A.METRICS.path(finished_project))["sbend"] is not None


def test_json_is_strict_and_metrics_hold_null(tmp_path):
    with pytest.raises(ValueError, match="not JSON compliant"):
        write_json(tmp_path / "x.json", {"loss": math.nan})
    assert not (tmp_path / "x.json").exists()
    import numpy as np
    safe = json_safe({"a": math.nan, "b": [np.float32("inf"), np.int64(3)], "c": 0.5, "d": "text"})
    assert safe == {"a": None, "b": [None, 3], "c": 0.5, "d": "text"}
    write_json(tmp_path / "y.json", safe)
    assert strict(tmp_path / "y.json")["a"] is None


def test_a_manifest_holding_nan_is_written_back_strict(finished_project):
    # A project from before this check: a bare NaN in a stage's info.
    text = finished_project.manifest_path.read_text()
    m = json.loads(text)
    m["stages"]["diffusion"]["info"]["final_loss"] = math.nan
    finished_project.manifest_path.write_text(json.dumps(m))
    finished_project.mark_stopped("evaluate", "failed", "test")
    assert strict(finished_project.manifest_path)["stages"]["diffusion"]["info"]["final_loss"] is None
    strict(A.METRICS.path(finished_project))


def test_generate_refuses_weights_a_diverged_stage_left(finished_project):
    saved = A.DIFFUSION.load(finished_project)
    first = next(iter(saved["ema_state_dict"]))
    saved["ema_state_dict"][first] = torch.full_like(saved["ema_state_dict"][first], math.nan)
    A.DIFFUSION.save(finished_project, saved)
    change(finished_project, generate__m=4)  # generate and evaluate are stale: they rerun
    r = bend("run", finished_project.root, "--quiet")
    assert r.returncode == 2
    assert "generate:" in r.stderr and "denoiser's saved weights hold NaN" in r.stderr and "rerun" in r.stderr
    assert read_json(finished_project.manifest_path)["stages"]["generate"]["attempt"]["state"] == "failed"
    assert finished_project.state("generate").state == "failed"


def test_diverged_training_raises_in_process(tiny_cfg):
    from bend_gui.core.events import CancelFlag
    from bend_gui.core.ml.subset import Subset
    from bend_gui.core.pdiff.training import train_autoencoder

    snaps = torch.randn(6, 40)
    snaps[2, 5] = math.nan
    subset = Subset(names=("w",), shapes=((40,),))
    with pytest.raises(DivergedError, match=r"autoencoder: snapshot 3 of 6 holds NaN; the collect stage diverged"):
        list(train_autoencoder(snaps, subset, tiny_cfg.autoencoder, torch.device("cpu"), CancelFlag(), 0))


# --- memory -------------------------------------------------------------------------------------------------

def test_new_refuses_a_subset_whose_autoencoder_cannot_fit(tmp_path):
    r = bend("new", tmp_path / "p", "--set", "model.backbone='resnet18'", "--set", "subset.layers=['*']",
             "--no-data-check")
    assert r.returncode == 4  # out of memory
    line = r.stderr.strip()
    assert line.startswith("error: autoencoder: needs about") and "d = 11,172,810" in line
    assert "is available" in line and "the subset" in line and "Table 5" in line
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("setting, words", [
    ({"generate__m": 100_000}, ["generate:", "m = 100,000", "[generate] m (now 100,000)"]),
    ({"collect__k": 200_000}, ["collect:", "200000 snapshots", "[collect] k"]),
])
def test_a_run_that_cannot_fit_is_refused_before_it_starts(finished_project, setting, words):
    before, manifest = digests(finished_project), finished_project.manifest_path.read_bytes()
    change(finished_project, **setting)
    r = bend("run", finished_project.root, "--quiet", env={memory.ENV_LIMIT: "0.05"})
    assert r.returncode == 4  # out of memory
    for w in words + ["is available", f"{memory.ENV_LIMIT} = 0.05"]:
        assert w in r.stderr, r.stderr
    assert finished_project.manifest_path.read_bytes() == manifest and digests(finished_project) == before


def test_available_memory_is_read_and_capped(monkeypatch):
    have, where = memory.available(torch.device("cpu"))
    assert have is None or have > 0
    monkeypatch.setenv(memory.ENV_LIMIT, "0.5")
    assert memory.available(torch.device("cpu")) == (2**29, f"{memory.ENV_LIMIT} = 0.5")


def test_sampling_in_chunks(finished_project):
    gen = A.load_generator(finished_project, torch.device("cpu"))
    cfg = finished_project.load_config()
    kw = dict(sampler="ddim", steps=3, decode_noise=0.0, seed=1)
    steps = []
    whole = gen.sample(7, **kw)
    assert torch.equal(gen.sample(7, **kw, chunk=7), whole)  # a chunk ≥ m is the one-batch result
    chunked = gen.sample(7, **kw, chunk=3, on_step=lambda i, n: steps.append((i, n)))
    assert chunked.shape == whole.shape and torch.isfinite(chunked).all()
    assert torch.equal(chunked, gen.sample(7, **kw, chunk=3))  # a given chunk size is reproducible
    assert steps[-1][0] == steps[-1][1] and len({n for _, n in steps}) == 1  # progress over all chunks
    assert memory.sample_chunk(10**6, cfg, 10**5) * memory.sample_bytes_per_member(10**6, cfg) \
        <= memory.SAMPLE_CHUNK_BYTES
    assert memory.sample_chunk(384, cfg) == cfg.generate.m  # small sizes stay one batch
