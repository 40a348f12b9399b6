"""The `bend` command as a user runs it: a subprocess, its exit code and its output."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from bend_gui.core.project.folder import Project
from bend_gui.core.settings import config as C


def bend(*args, **kw):
    return subprocess.run([sys.executable, "-m", "bend_gui.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=600, **kw)


def tiny_sets(cfg):
    """--set flags that turn the default config into `cfg`."""
    out = []
    for section in C.SECTIONS:
        for key, value in vars(cfg.section(section)).items():
            out += ["--set", f"{section}.{key}={C._toml_value(value)}"]
    return out


@pytest.mark.parametrize("flag, words", [
    ("subset.layers=['layer9.bn']", ["layer9.bn", "matches no module"]),
    ("collect.k=1", ["[collect] k", "≥ 2"]),
    ("model.backbone='vgg16'", ["vgg16", "resnet18"]),
    ("data.root='/nonexistent/fmnist'", ["not found", "looked in", "/nonexistent/fmnist"]),
])
def test_bad_input_is_one_error_line_and_nonzero_exit(tmp_path, flag, words):
    r = bend("new", tmp_path / "p", "--template", "fashion-mnist-demo", "--set", flag)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    for w in words:
        assert w in lines[0]
    assert not (tmp_path / "p").exists()


def test_new_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "notes.txt").write_text("mine")
    r = bend("new", tmp_path / "p", "--no-data-check")
    assert r.returncode == 2 and "not empty" in r.stderr
    assert (tmp_path / "p" / "notes.txt").read_text() == "mine"


def test_bad_layer_in_an_existing_project_keeps_its_outputs(tmp_path, tiny_cfg):
    p = tmp_path / "p"
    assert bend("new", p, *tiny_sets(tiny_cfg)).returncode == 0
    assert bend("run", p, "--until", "base", "-q").returncode == 0
    model = (p / "base" / "model.pt").read_bytes()
    text = (p / "project.toml").read_text().replace('layers = ["bn3", "bn4"]', 'layers = ["bn9"]')
    (p / "project.toml").write_text(text)
    r = bend("run", p)
    assert r.returncode == 2 and "bn9" in r.stderr
    assert (p / "base" / "model.pt").read_bytes() == model
    st = json.loads(bend("status", p, "--json").stdout)
    assert st["stages"][0]["state"] == "done"


def test_killed_during_collection_then_rerun_does_not_retrain_the_base(tmp_path, tiny_cfg):
    p = tmp_path / "p"
    cfg = tiny_cfg.copy()
    cfg.collect.k = 400  # long enough to be killed in the middle
    assert bend("new", p, *tiny_sets(cfg)).returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "bend_gui.cli", "run", str(p), "--until", "collect", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    project = Project.open(p)
    deadline = time.time() + 300
    while time.time() < deadline:
        holder = project.lock_holder()
        if holder and holder.get("stage") == "collect":
            break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("collection never started")
    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    base_model = (p / "base" / "model.pt").read_bytes()
    r = bend("run", p, "--until", "collect")
    assert r.returncode == 0, r.stderr
    assert "0 · Base training: up to date, skipped" in r.stdout
    assert (p / "base" / "model.pt").read_bytes() == base_model
    assert project.state("collect").state == "done"


def test_status_json_lists_every_stage(tmp_path, tiny_cfg):
    p = tmp_path / "p"
    assert bend("new", p, *tiny_sets(tiny_cfg)).returncode == 0
    st = json.loads(bend("status", p, "--json").stdout)
    assert [s["stage"] for s in st["stages"]] == ["base", "collect", "autoencoder", "diffusion", "generate",
                                                  "evaluate"]
    assert all(s["state"] == "not run" for s in st["stages"])
