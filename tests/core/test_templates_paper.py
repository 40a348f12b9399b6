"""The paper's templates (ResNet-18/50 on CIFAR-10/100, RegNetX-400MF on CIFAR-10) and resnet18-fashion-mnist:
the paper's k, m and subset, and one clear message when CIFAR is not on disk."""

import os
import subprocess
import sys

import pytest

from bend_gui.core.ml.backbones import build_model, last_batchnorms
from bend_gui.core.settings.templates import list_templates, load_template

PAPER = ["resnet18-cifar10", "resnet18-cifar100", "resnet50-cifar10", "resnet50-cifar100", "regnetx_400mf-cifar10"]


@pytest.mark.parametrize("name", [*PAPER, "resnet18-fashion-mnist"])
def test_template_is_shipped_and_uses_the_last_two_batchnorm_layers(name):
    assert name in list_templates()
    cfg = load_template(name)
    assert cfg.name == name
    classes = 100 if cfg.data.dataset == "cifar100" else 10
    channels = 1 if cfg.data.dataset == "fashion-mnist" else 3
    assert cfg.subset.layers == last_batchnorms(build_model(cfg.model.backbone, channels, classes))


@pytest.mark.parametrize("name", PAPER)
def test_paper_templates_have_the_papers_k_m_and_epochs(name):
    cfg = load_template(name)
    assert (cfg.collect.k, cfg.generate.m, cfg.collect.save_every) == (200, 100, "epoch")
    assert cfg.base.epochs == (100 if cfg.data.dataset == "cifar10" else 200)
    assert cfg.run.device == "auto"


@pytest.mark.parametrize("name", PAPER)
def test_without_cifar_bend_new_says_where_it_looked_and_creates_nothing(tmp_path, name):
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"))
    r = subprocess.run([sys.executable, "-m", "bend_gui.cli", "new", str(tmp_path / "p"), "--template", name],
                       capture_output=True, text=True, timeout=300, env=env, check=False)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: dataset {load_template(name).data.dataset} not found")
    assert "looked in" in lines[0] and "To get it" in lines[0]
    assert not (tmp_path / "p").exists()
