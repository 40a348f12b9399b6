"""Pipeline presets: each is a valid config, applying one is independent of the previous settings, and
"CPU demo" equals the embedded demo's pipeline sections."""

import pytest

from bend_gui.core.errors import ConfigError
from bend_gui.core.settings import config as C
from bend_gui.core.settings.presets import PRESET_SECTIONS, PRESETS, apply_preset
from bend_gui.core.settings.templates import DEMO, load_template


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_validates_and_keeps_the_experiment(name):
    cfg = C.ProjectConfig(name="mine")
    cfg.model.backbone = "resnet18"
    cfg.data.dataset = "cifar10"
    cfg.subset.layers = ["layer4.1.bn1", "layer4.1.bn2"]
    cfg.run.device = "cpu"
    out = apply_preset(cfg, name)
    out.validate()
    assert (out.name, out.model, out.data, out.subset, out.run) == (cfg.name, cfg.model, cfg.data, cfg.subset,
                                                                     cfg.run)
    assert cfg.collect == C.CollectConfig()  # the input is not changed
    assert PRESETS[name].description and "\n" not in PRESETS[name].description


def test_cpu_demo_equals_the_embedded_demo():
    demo = load_template(DEMO)
    out = apply_preset(C.ProjectConfig(), "CPU demo")
    for section in PRESET_SECTIONS:
        assert out.section(section) == demo.section(section), section


def test_applying_a_preset_resets_earlier_edits():
    cfg = C.ProjectConfig()
    cfg.autoencoder.latent_dim = 7
    cfg.evaluate.abend_repeats = 3
    out = apply_preset(cfg, "p-diff v3: snapshots within one epoch")
    assert out.autoencoder.latent_dim == C.AutoencoderConfig().latent_dim
    assert out.evaluate.abend_repeats == C.EvaluateConfig().abend_repeats


def test_paper_and_v3_follow_their_recipes():
    paper = apply_preset(C.ProjectConfig(), "BEND paper: a snapshot per epoch, k=200, m=100")
    assert (paper.collect.save_every, paper.collect.k, paper.generate.m) == ("epoch", 200, 100)
    assert (paper.base.epochs, paper.collect.lr) == (100, 0.01)
    v3 = apply_preset(C.ProjectConfig(), "p-diff v3: snapshots within one epoch")
    assert (v3.collect.k, v3.collect.save_every, v3.collect.lr) == (200, 2, 0.1)
    assert (v3.autoencoder.normalize, v3.autoencoder.steps, v3.diffusion.steps) == ("tensor", 500, 2000)
    assert v3.autoencoder.batch_size == v3.diffusion.batch_size == 50


def test_unknown_preset_names_the_known_ones():
    with pytest.raises(ConfigError, match="CPU demo"):
        apply_preset(C.ProjectConfig(), "fast")
