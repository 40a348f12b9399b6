"""[run] device: auto, cpu, cuda, cuda:N, mps; one asked for by name and not there is one clear error
(exit code 2) and nothing on disk changes."""

import subprocess
import sys

import pytest
import torch

from bend_gui.core.errors import ConfigError
from bend_gui.core.ml.device import resolve_device
from bend_gui.core.settings import config as C

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
_mps = getattr(torch.backends, "mps", None)
ABSENT = ["cuda", "cuda:1"] if not torch.cuda.is_available() else []
ABSENT += ["mps"] if not (_mps and _mps.is_available()) else []


def bend(*args):
    return subprocess.run([sys.executable, "-m", "bend_gui.cli", *map(str, args)], capture_output=True, check=False,
                          text=True, timeout=300)


def files_of(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", ["auto", "cpu", "cuda", "cuda:0", "cuda:12", "mps"])
def test_device_names_are_valid_settings(name):
    cfg = C.ProjectConfig()
    cfg.run.device = name
    cfg.validate()


@pytest.mark.parametrize("name", ["gpu", "cuda:", "cuda:-1", "cuda:x", "CPU", "mps:0"])
def test_unknown_device_names_are_refused(name):
    cfg = C.ProjectConfig()
    cfg.run.device = name
    with pytest.raises(ConfigError, match=r"\[run\] device.*auto, cpu, cuda, cuda:N"):
        cfg.validate()


def test_auto_and_cpu_resolve_here():
    assert resolve_device(C.RunConfig(device="cpu")).type == "cpu"
    assert resolve_device(C.RunConfig(device="auto")).type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("name", ABSENT)
def test_absent_device_is_a_config_error(name):
    with pytest.raises(ConfigError, match=f'device = "{name}" but torch sees'):
        resolve_device(C.RunConfig(device=name))


@pytest.mark.parametrize("name", ABSENT)
def test_cli_new_with_an_absent_device_fails_and_creates_nothing(tmp_path, tiny_cfg, name):
    r = bend("new", tmp_path / "p", "--set", f"data.root='{tiny_cfg.data.root}'", "--set", f"run.device='{name}'")
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and f'"{name}"' in lines[0]
    assert not (tmp_path / "p").exists()


@no_gpu
@pytest.mark.parametrize("name", ABSENT)
def test_cli_run_with_an_absent_device_fails_and_changes_nothing(tmp_path, finished_project_root, name):
    import shutil

    p = tmp_path / "p"
    shutil.copytree(finished_project_root, p)
    toml = p / "project.toml"
    toml.write_text(toml.read_text().replace('device = "cpu"', f'device = "{name}"'))
    before = files_of(p)
    for args in (("run", p), ("run", p, "--force", "evaluate")):
        r = bend(*args)
        assert r.returncode == 2, r.stderr
        assert f'device = "{name}" but torch sees' in r.stderr and "Traceback" not in r.stderr
        assert files_of(p) == before
