"""A regular (non-editable) install works away from the checkout: the templates travel as package data."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_a_regular_install_has_the_templates(tmp_path):
    pytest.importorskip("setuptools", reason="--no-build-isolation builds with this environment's setuptools")
    # Build from a copy: a stale build/ folder in the checkout would put deleted modules in the wheel.
    src = tmp_path / "src"
    shutil.copytree(ROOT / "bend_gui", src / "bend_gui", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    site = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                        "--no-index", "--target", str(site), str(src)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr

    elsewhere = tmp_path / "elsewhere"  # not the checkout, whose bend_gui `python -m` would find first
    elsewhere.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_DATA_HOME=str(tmp_path / "data"))
    env.pop("BEND_TEMPLATES", None)  # the shipped templates only

    def py(*args):
        return subprocess.run([sys.executable, *args], cwd=elsewhere, env=env, capture_output=True, text=True,
                              timeout=300)

    r = py("-c", "import bend_gui; print(bend_gui.__file__)")
    assert r.returncode == 0 and Path(r.stdout.strip()).is_relative_to(site), r.stdout + r.stderr
    r = py("-m", "bend_gui.cli", "templates")
    assert r.returncode == 0 and "fashion-mnist-demo" in r.stdout, r.stdout + r.stderr
    r = py("-m", "bend_gui.cli", "new", str(tmp_path / "demo"), "--template", "fashion-mnist-demo")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "demo" / "project.toml").is_file()
