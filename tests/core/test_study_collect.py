"""Study points that recollect: a [collect] key (other than k alone) or [subset] layers makes a point run
the collect stage's own loop on the project's base network with its settings and seed, then train its
generator, sample and evaluate. At the project's own values it gives the pipeline's own Table 3 row; a
point with another subset equals a project made with that subset; bad layers and the sections a study
still cannot sweep are refused with one message."""

import pytest
import torch

from bend_gui.core.errors import ConfigError
from bend_gui.core.events import run_to_end
from bend_gui.core.fileio import read_json
from bend_gui.core.project import artifacts as A
from bend_gui.core.project.folder import Project
from bend_gui.core.studies import grid as G
from bend_gui.core.studies import store, study
from tests.helpers import hard_config, run_all

COMPARED = ("sbend", "abend_mean", "abend_std", "gen_mean", "gen_median", "orig_max", "orig_mean", "orig_median",
            "potential")


def _same_as_metrics(row: dict, metrics: dict) -> None:
    for c in COMPARED:
        assert row[c] == pytest.approx(metrics[c], abs=1e-12), c
    assert row["d_i"] == pytest.approx(metrics["diversity"]["d_i_gen"], abs=1e-12)
    assert row["d_i_orig"] == pytest.approx(metrics["diversity"]["d_i_orig"], abs=1e-12)


def test_a_collect_lr_point_recollects_and_reproduces_the_pipelines_numbers(hard):
    cfg = hard.load_config()
    other = cfg.collect.lr / 5
    name, grid = study.define(hard, {"collect.lr": [cfg.collect.lr, other]}, [cfg.run.seed], "lr")
    assert grid.level == "collect"
    records = run_to_end(study.run_study(hard, name, grid))
    assert [r["state"] for r in records] == ["done", "done"], [r["error"] for r in records]
    # Recollecting reads only the base network: the study's upstream is the base stage's run.
    assert set(read_json(store.study_dir(hard, name) / "study.json")["upstream"]["runs"]) == {"base"}
    own, slow = records
    _same_as_metrics(own["row"], A.METRICS.load(hard))
    assert own["row"]["k"] == cfg.collect.k and own["row"]["m"] == cfg.generate.m
    # Another lr gives other snapshots: the originals' columns come from the point's own snapshots.
    assert slow["row"]["orig_mean"] != own["row"]["orig_mean"]


def test_a_subset_point_equals_a_project_made_with_that_subset(hard, tiny_data_root, tmp_path):
    """bn4 alone ends the frozen prefix later than the project's bn3+bn4: the point builds its own
    activations, and its numbers are those of a project whose [subset] layers is bn4 (same seed, same
    untrained base network)."""
    name, grid = study.define(hard, dict([G.parse_grid_arg("subset.layers=bn4")]), [0], "bn4")
    assert grid.keys == {"subset.layers": [["bn4"]]} and grid.level == "collect"
    records = run_to_end(study.run_study(hard, name, grid))
    assert records[0]["state"] == "done", records[0]["error"]
    other = Project.open(run_all(tmp_path / "bn4", hard_config(tiny_data_root, subset__layers=["bn4"])))
    mine, theirs = A.BASE_MODEL.load(hard)["state_dict"], A.BASE_MODEL.load(other)["state_dict"]
    assert all(torch.equal(mine[k], theirs[k]) for k in mine)
    _same_as_metrics(records[0]["row"], A.METRICS.load(other))
    assert records[0]["values"] == {"subset.layers": ["bn4"]}


def test_subset_values_are_checked_and_other_sections_still_refused(hard, capsys):
    from bend_gui.cli import main

    cfg = hard.load_config()
    assert G.parse_grid_arg('subset.layers=bn4,bn3+bn4,["conv3", "bn3"]') == \
        ("subset.layers", ["bn4", "bn3+bn4", ["conv3", "bn3"]])
    grid = G.make_grid(cfg, dict([G.parse_grid_arg('subset.layers=bn4,bn3+bn4,["bn4"]')]), [0])
    assert grid.keys == {"subset.layers": [["bn4"], ["bn3", "bn4"]]}
    with pytest.raises(ConfigError, match=r"--grid subset.layers=bn9: \[subset\] layers: 'bn9' matches no module"):
        G.make_grid(cfg, {"subset.layers": ["bn4", "bn9"]}, [0])
    assert main(["sweep", str(hard.root), "--grid", "subset.layers=bn4,bn9"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: --grid subset.layers=bn9:") and "bn9" in err[0]
    assert not (hard.root / "studies").exists() or not any((hard.root / "studies").iterdir())
    # What a point reruns: collect.k alone keeps the snapshots; with another [collect] key it recollects.
    assert G.make_grid(cfg, {"collect.k": [3]}, [0]).level == "generator"
    assert G.make_grid(cfg, {"collect.k": [3], "collect.momentum": [0.5]}, [0]).level == "collect"
    assert G.make_grid(cfg, {"collect.save_every": ["epoch", 5], "generate.m": [2]}, [0]).level == "collect"
    for key, value, what in (("model.backbone", "resnet18", "network"), ("data.image_size", 32, "data"),
                             ("base.lr", 0.1, "base network"), ("run.threads", 1, "where and how fast")):
        with pytest.raises(ConfigError, match=rf"cannot sweep \[{key.split('.')[0]}\]: .*{what}"):
            G.make_grid(cfg, {key: [value]}, [0])
