"""Layer ablation (Table 5): the variants are the points of the study `ablation` over [subset] layers,
recollected from the project's base network; a variant's row equals a project run with that subset; rows
are marked stale when the project's base or settings change; an earlier version's child projects are
taken into the study's grid and left on disk."""

import subprocess
import sys

import pytest

from bend_gui.core.errors import ConfigError, ProjectError
from bend_gui.core.events import Message, Metric, Progress, StageFinished, StageStarted
from bend_gui.core.fileio import read_json
from bend_gui.core.pipeline import runner as pipeline
from bend_gui.core.project import artifacts as A
from bend_gui.core.project.folder import Project
from bend_gui.core.studies import ablation, store
from tests.core.test_sweeps import drain
from tests.helpers import hard_config, private_copy, run_all


@pytest.fixture
def parent(tmp_path, hard_project_root):
    return private_copy(hard_project_root, tmp_path / "p")


def _study(p: Project) -> dict:
    return read_json(p.root / "studies" / "ablation" / "study.json")


def test_add_variant_validates_refuses_duplicates_and_computes_nothing(parent):
    with pytest.raises(ConfigError, match="'bn9' matches no module"):
        ablation.add_variant(parent, ["bn9"])
    with pytest.raises(ConfigError, match="empty"):
        ablation.add_variant(parent, [" "])
    with pytest.raises(ProjectError, match="the project's own subset"):
        ablation.add_variant(parent, ["bn4", "bn3"])
    variant = ablation.add_variant(parent, "fc2")
    assert (variant.slug, variant.layers, variant.d) == ("fc2", ["fc2"], 1290)
    with pytest.raises(ProjectError, match="the variant fc2 already holds these parameters"):
        ablation.add_variant(parent, ["fc2.*"])  # other words, the same parameters
    assert [v.slug for v in ablation.variants(parent)] == ["fc2"]
    assert ablation.preview(parent, ["bn*"]) == (32 + 64 + 128 + 256, 8)
    assert [m.name for m in ablation.candidate_modules(parent)][-2:] == ["bn4", "fc2"]
    # The study's grid: the variants' layer lists, one seed (the project's); no point computed yet.
    d = _study(parent)
    assert d["grid"] == {"keys": {"subset.layers": [["fc2"]]}, "seeds": [parent.load_config().run.seed]}
    assert not list((parent.root / "studies" / "ablation").glob("points/*.json"))
    assert not (parent.root / "ablation").exists()


def test_variants_are_study_points_equal_to_projects_with_their_subset(parent, tiny_data_root, tmp_path):
    ablation.add_variant(parent, ["fc2"])
    ablation.add_variant(parent, ["bn4"])
    rows = ablation.table5(parent)
    assert [r["slug"] for r in rows] == ["project", "fc2", "bn4"]
    assert [r["d"] for r in rows] == [384, 1290, 256]
    assert rows[1]["state"] == "missing" and rows[1]["sbend"] is None
    events, _ = drain(ablation.run_variants(parent))
    # The study's events reach the GUI as the ablation's, with the variant as their point, never as the
    # project's own stages.
    assert not [e for e in events if isinstance(e, (StageStarted, StageFinished))]
    assert not [e for e in events if isinstance(e, Metric) and e.stage != "ablation"]
    progress = [e for e in events if isinstance(e, Progress)]
    assert {e.stage for e in progress} == {"ablation"} and {"fc2", "bn4"} <= {e.point for e in progress}
    finished = [e for e in events if isinstance(e, Metric)]
    assert [(e.x, e.values["slug"], e.values["state"]) for e in finished] == [(0.0, "fc2", "done"),
                                                                              (1.0, "bn4", "done")]

    rows = ablation.table5(parent)
    own = read_json(parent.dir("evaluate") / "metrics.json")
    assert rows[0]["sbend"] == own["sbend"] and rows[0]["orig_mean"] == own["orig_mean"]
    for row, v in zip(rows[1:], ablation.variants(parent)):
        rec = read_json(row["path"])
        assert row["state"] == "done" and row["detail"] == "" and rec["values"] == {"subset.layers": v.layers}
        assert [row[c] for c in ablation.ROW_KEYS] == [rec["row"][c] for c in ablation.ROW_KEYS]
    assert rows[1]["orig_mean"] != rows[0]["orig_mean"]  # another subset, other snapshots
    # bn4's row is the Table 3 row of a project made with [subset] layers = bn4 (same seed, same base).
    other = Project.open(run_all(tmp_path / "bn4", hard_config(tiny_data_root, subset__layers=["bn4"])))
    m = A.METRICS.load(other)
    for c in ablation.ROW_KEYS:
        assert rows[2][c] == pytest.approx(m[c], abs=1e-12), c
    assert (rows[2]["m"], rows[2]["k"]) == (m["m"], m["k"])

    # Done variants are not computed again; the table is the study's own.
    events, _ = drain(ablation.run_variants(parent))
    assert any("2 saved, 0 to compute" in e.text for e in events if isinstance(e, Message))
    assert [e.values["slug"] for e in events if isinstance(e, Metric)] == ["fc2", "bn4"]  # the saved ones
    text = ablation.format_table5(ablation.table5(parent))
    assert "bn3, bn4 (project)" in text and "1,290" in text
    assert (parent.root / "studies" / "ablation" / "table.csv").is_file()


def test_a_rerun_base_or_changed_settings_make_variants_stale_until_run_again(parent):
    ablation.add_variant(parent, ["fc2"])
    drain(ablation.run_variants(parent))
    before = ablation.table5(parent)[1]
    list(pipeline.run(parent, only="base", force=("base",)))
    row = ablation.table5(parent)[1]
    assert row["state"] == "stale" and "stage base was rerun" in row["detail"]
    assert row["sbend"] == before["sbend"]  # the old numbers stay visible beside the note
    events, _ = drain(ablation.run_variants(parent))
    kept = [e.text for e in events if isinstance(e, Message) and "kept as study ablation-" in e.text]
    assert len(kept) == 1
    assert ablation.table5(parent)[1]["state"] == "done"
    assert [s for s in store.list_studies(parent) if s.startswith("ablation-")]  # the old points are kept

    cfg = parent.load_config()
    cfg.evaluate.abend_repeats = 4
    parent.save_config(cfg)
    row = ablation.table5(parent)[1]
    assert row["state"] == "stale" and "abend_repeats" in row["detail"]
    cfg.run.threads = 1  # [run] settings other than the seed change no result
    cfg.evaluate.abend_repeats = 3
    parent.save_config(cfg)
    assert ablation.table5(parent)[1]["state"] == "done"


def test_remove_refusals_and_an_earlier_versions_child_projects(parent, tmp_path, tiny_data_root):
    ablation.add_variant(parent, ["bn4"])
    ablation.remove_variant(parent, "bn4")
    assert ablation.variants(parent) == [] and _study(parent)["grid"]["keys"]["subset.layers"] == []
    with pytest.raises(ProjectError, match="no variant 'bn4'"):
        ablation.remove_variant(parent, "bn4")
    with pytest.raises(ProjectError, match="no variants yet"):
        drain(ablation.run_variants(parent))
    fresh = Project.create(tmp_path / "fresh", hard_config(tiny_data_root))
    ablation.add_variant(fresh, ["fc2"])  # allowed before the base is trained; running is not
    with pytest.raises(ProjectError, match="run it first"):
        drain(ablation.run_variants(fresh))

    # A project from before the studies: its variants were child projects in ablation/<slug>/.
    old = private_copy(parent.root, tmp_path / "old")
    (old.root / "studies" / "ablation" / "study.json").unlink()
    child = Project.create(old.root / "ablation" / "fc2",
                           ablation.variant_config(old.load_config(), ["fc2"]))
    toml = (child.root / "project.toml").read_bytes()
    rows = ablation.table5(old)
    assert [(r["slug"], r["state"]) for r in rows[1:]] == [("fc2", "missing")]
    ablation.add_variant(old, ["bn4"])  # the first write takes the old variants into the study's grid
    assert _study(old)["grid"]["keys"]["subset.layers"] == [["fc2"], ["bn4"]]
    assert (child.root / "project.toml").read_bytes() == toml  # left untouched


def test_cli_ablation_adds_runs_and_prints_table5(parent):
    r = subprocess.run([sys.executable, "-m", "bend_gui.cli", "ablation", str(parent.root), "--add", "fc2",
                        "--run", "-q"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "added variant fc2" in r.stdout
    row = ablation.table5(parent)[1]
    assert row["state"] == "done"
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("fc2"))
    assert f"{100 * row['sbend']:.2f}" in line and "1,290" in line and line.rstrip().endswith("done")
