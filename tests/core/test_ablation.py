"""Layer ablation (Table 5): variants as child projects sharing the parent's base, run in turn, compared
in one table, and flagged when the parent's base or settings change."""

import subprocess
import sys

import pytest

from bend_gui.core.errors import ConfigError, ProjectError
from bend_gui.core.events import (
    CACHE_STEP,
    METRICS_STEP,
    Message,
    Metric,
    Progress,
    StageFinished,
    StageStarted,
)
from bend_gui.core.fileio import read_json
from bend_gui.core.pipeline import runner as pipeline
from bend_gui.core.project.folder import Project
from bend_gui.core.studies import ablation
from tests.core.test_sweeps import drain
from tests.helpers import hard_config, private_copy


@pytest.fixture
def parent(tmp_path, hard_project_root):
    return private_copy(hard_project_root, tmp_path / "p")


def test_add_variant_validates_and_refuses_duplicates(parent):
    with pytest.raises(ConfigError, match="'bn9' matches no module"):
        ablation.add_variant(parent, ["bn9"])
    with pytest.raises(ConfigError, match="empty"):
        ablation.add_variant(parent, [" "])
    with pytest.raises(ProjectError, match="the project's own subset"):
        ablation.add_variant(parent, ["bn4", "bn3"])
    child = ablation.add_variant(parent, "fc2")
    assert child.root == parent.root / "ablation" / "fc2"
    with pytest.raises(ProjectError, match="the variant fc2 already holds these parameters"):
        ablation.add_variant(parent, ["fc2.*"])  # other words, the same parameters
    assert [v.slug for v in ablation.variants(parent)] == ["fc2"]
    assert ablation.preview(parent, ["bn*"]) == (32 + 64 + 128 + 256, 8)
    assert [m.name for m in ablation.candidate_modules(parent)][-2:] == ["bn4", "fc2"]
    # The child's settings are the parent's but for the subset; its base is the parent's, already done.
    pc, cc = parent.load_config(), child.load_config()
    assert cc.subset.layers == ["fc2"] and cc.collect == pc.collect and cc.base == pc.base
    assert child.state("base").state == "done" and child.state("collect").state == "not run"
    assert (child.dir("base") / "model.pt").read_bytes() == (parent.dir("base") / "model.pt").read_bytes()


def test_variants_skip_base_run_in_turn_and_fill_table5(parent):
    ablation.add_variant(parent, ["fc2"])
    ablation.add_variant(parent, ["bn4"])
    rows = ablation.table5(parent)
    assert [r["slug"] for r in rows] == ["project", "fc2", "bn4"]
    assert [r["d"] for r in rows] == [384, 1290, 256]
    assert rows[1]["state"] == "not run" and rows[1]["sbend"] is None
    events, _ = drain(ablation.run_variants(parent))
    # The children's stages reach the GUI as the ablation's messages and progress with the variant as their
    # point, never as the parent's stages; the activation cache is a sub-step, not a stage of its own.
    assert not [e for e in events if isinstance(e, (StageStarted, StageFinished))]
    assert not [e for e in events if isinstance(e, Metric) and e.stage != "ablation"]
    progress = [e for e in events if isinstance(e, Progress)]
    assert {e.stage for e in progress} == {"ablation"} and {e.point for e in progress} == {"fc2", "bn4"}
    assert {e.step for e in progress} == {"", CACHE_STEP, METRICS_STEP}
    texts = [e.text for e in events if isinstance(e, Message)]
    assert "variant 1/2 fc2: 0 · Base training up to date" in texts
    assert "variant 2/2 bn4: 0 · Base training up to date" in texts
    finished = [e for e in events if isinstance(e, Metric)]
    assert [e.values["slug"] for e in finished] == ["fc2", "bn4"]

    rows = ablation.table5(parent)
    own = read_json(parent.dir("evaluate") / "metrics.json")
    assert rows[0]["sbend"] == own["sbend"] and rows[0]["orig_mean"] == own["orig_mean"]
    for row in rows[1:]:
        m = read_json(parent.root / "ablation" / row["slug"] / "results" / "metrics.json")
        assert row["state"] == "done" and row["detail"] == ""
        assert (row["sbend"], row["abend_mean"], row["abend_std"], row["orig_mean"]) == \
            (m["sbend"], m["abend_mean"], m["abend_std"], m["orig_mean"])
    assert rows[1]["orig_mean"] != rows[0]["orig_mean"]  # another subset, other snapshots
    child = Project.open(parent.root / "ablation" / "fc2")
    assert child.manifest()["stages"]["base"]["run_id"] == parent.manifest()["stages"]["base"]["run_id"]
    assert read_json(child.dir("collect") / ".." / "manifest.json")["stages"]["collect"]["info"]["d"] == 1290

    # Done variants are skipped.
    events, _ = drain(ablation.run_variants(parent))
    assert [e.text for e in events if isinstance(e, Message)][:2] == ["variant 1/2 fc2: up to date",
                                                                      "variant 2/2 bn4: up to date"]
    text = ablation.format_table5(ablation.table5(parent))
    assert "bn3, bn4 (project)" in text and "1,290" in text


def test_a_rerun_base_or_changed_settings_make_variants_stale_until_run_again(parent):
    ablation.add_variant(parent, ["fc2"])
    drain(ablation.run_variants(parent))
    list(pipeline.run(parent, only="base", force=("base",)))
    row = ablation.table5(parent)[1]
    assert row["state"] == "stale" and "base model was retrained" in row["detail"]
    assert row["sbend"] is not None  # the old numbers stay visible beside the note
    drain(ablation.run_variants(parent))
    row = ablation.table5(parent)[1]
    assert row["state"] == "done", row
    child = Project.open(parent.root / "ablation" / "fc2")
    assert child.manifest()["stages"]["base"]["run_id"] == parent.manifest()["stages"]["base"]["run_id"]

    cfg = parent.load_config()
    cfg.evaluate.abend_repeats = 4
    parent.save_config(cfg)
    row = ablation.table5(parent)[1]
    assert row["state"] == "stale" and "settings changed" in row["detail"]
    cfg.run.threads = 1  # [run] settings other than the seed change no result
    cfg.evaluate.abend_repeats = 3
    parent.save_config(cfg)
    assert ablation.table5(parent)[1]["state"] == "done"


def test_remove_and_refusals(parent, tmp_path, tiny_data_root):
    ablation.add_variant(parent, ["bn4"])
    ablation.remove_variant(parent, "bn4")
    assert not (parent.root / "ablation" / "bn4").exists() and ablation.variants(parent) == []
    with pytest.raises(ProjectError, match="no variants yet"):
        drain(ablation.run_variants(parent))
    fresh = Project.create(tmp_path / "fresh", hard_config(tiny_data_root))
    child = ablation.add_variant(fresh, ["fc2"])
    assert child.state("base").state == "not run"  # nothing to copy yet
    with pytest.raises(ProjectError, match="run it first"):
        drain(ablation.run_variants(fresh))


def test_cli_ablation_adds_runs_and_prints_table5(parent):
    r = subprocess.run([sys.executable, "-m", "bend_gui.cli", "ablation", str(parent.root), "--add", "fc2",
                        "--run", "-q"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    row = ablation.table5(parent)[1]
    assert row["state"] == "done"
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("fc2"))
    assert f"{100 * row['sbend']:.2f}" in line and "1,290" in line and line.rstrip().endswith("done")
