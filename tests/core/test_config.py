import pytest

from bend_gui.core.errors import ConfigError
from bend_gui.core.settings import config as C


def test_roundtrip_keeps_every_value():
    cfg = C.ProjectConfig(name="x", description="d")
    cfg.collect.save_every = 7
    cfg.subset.layers = ["layer4.1.bn*", "fc"]
    cfg.autoencoder.latent_noise = 0.3
    text = C.dumps(cfg)
    assert C.loads(text) == cfg
    assert text.splitlines()[1] == "schema_version = 1"
    assert "[collect]" in text and "# number of snapshots" in text


@pytest.mark.parametrize("assignment, words", [
    ("collect.k=1", ["[collect] k", "≥ 2"]),
    ("model.backbone='vgg'", ["[model] backbone", "resnet18", "smallcnn"]),
    ("generate.sampler='euler'", ["[generate] sampler", "ddim", "ddpm"]),
    ("collect.save_every='batch'", ["[collect] save_every", "epoch"]),
    ("collect.save_every=0", ["[collect] save_every"]),
    ("base.epochs=2.5", ["[base] epochs", "whole number"]),
    ("base.augment=1", ["[base] augment", "true or false"]),
    ("subset.layers=[]", ["[subset] layers"]),
    ("generate.baselines=['noise','magic']", ["baselines", "magic", "gaussian"]),
    ("collect.kk=3", ["[collect] kk", "unknown key", "save_every"]),
    ("diffusion.beta_end=0.00001", ["beta_end"]),
])
def test_validation_names_key_and_allowed_values(assignment, words):
    with pytest.raises(ConfigError) as e:
        C.with_values(C.ProjectConfig(), [C.parse_assignment(assignment)])
    for w in words:
        assert w in str(e.value)


def test_parse_assignment_reads_toml_values_and_bare_text():
    assert C.parse_assignment("collect.k=50") == ("collect", "k", 50)
    assert C.parse_assignment("collect.save_every=epoch") == ("collect", "save_every", "epoch")
    assert C.parse_assignment('subset.layers=["bn3","bn4"]') == ("subset", "layers", ["bn3", "bn4"])
    assert C.parse_assignment("base.lr=1e-2") == ("base", "lr", 0.01)
    with pytest.raises(ConfigError):
        C.parse_assignment("k=50")


def test_unknown_section_and_schema_version_are_refused():
    with pytest.raises(ConfigError, match="unknown section"):
        C.loads('schema_version = 1\n[colect]\nk = 3\n')
    with pytest.raises(ConfigError, match="schema_version"):
        C.loads("schema_version = 99\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        C.loads("[base\n")


def test_ints_are_accepted_for_float_fields():
    cfg = C.loads('schema_version = 1\n[base]\nlr = 1\n')
    assert cfg.base.lr == 1.0 and isinstance(cfg.base.lr, float)


def test_update_text_keeps_comments_order_and_adds_missing_keys():
    from bend_gui.core.settings.toml_edit import update_text

    text = ('# mine\nschema_version = 1\nname = "p"\n\n[run]\nseed = 3  # lucky\n\n'
            '[base]\n# fast\nepochs = 2\nlr = 0.1 # hand-tuned\n')
    cfg = C.loads(text)
    cfg.base.lr = 0.05
    out = update_text(text, cfg)
    assert out.startswith('# mine\nschema_version = 1\nname = "p"\n\n[run]\nseed = 3  # lucky\n')
    assert "# fast\nepochs = 2\nlr = 0.05 # hand-tuned\n" in out
    assert C.loads(out) == cfg
    assert "[collect]" not in out  # left out = default: a short file stays short
    cfg.collect.k = 7
    cfg.description = "more"
    out = update_text(out, cfg)
    assert C.loads(out) == cfg
    assert out.index("[run]") < out.index("[base]") < out.index("[collect]")
    assert "\nk = 7 # " in out and 'description = "more"' in out.split("[run]")[0]


def test_later_keys_at_their_old_value_leave_finished_stages_done(finished_project):
    """ddim_eta and gaussian_scale came after projects existed: at 0 and 1 they compute what those projects
    computed, so they must not make the generate stage stale; another value does."""
    def states():
        return {s.stage: s.state for s in finished_project.stage_states()}
    assert set(states().values()) == {"done"}
    text = finished_project.config_path.read_text()
    older = "\n".join(line for line in text.splitlines() if not line.startswith(("ddim_eta", "gaussian_scale")))
    assert older != text
    finished_project.config_path.write_text(older + "\n")  # a project.toml written before the keys existed
    assert set(states().values()) == {"done"}
    cfg = finished_project.load_config()
    assert (cfg.generate.ddim_eta, cfg.generate.gaussian_scale) == (0.0, 1.0)
    cfg.generate.ddim_eta = 0.5
    finished_project.save_config(cfg)
    assert states()["generate"] == "stale" and states()["collect"] == "done"
    cfg.generate.ddim_eta, cfg.generate.gaussian_scale = 0.0, 2.0
    finished_project.save_config(cfg)
    assert states()["generate"] == "stale"
    with pytest.raises(ConfigError, match=r"ddim_eta = 1.5: must be ≤ 1"):
        C.with_values(cfg, [("generate", "ddim_eta", 1.5)])
