"""[run] tensorboard = true writes the run's curves as TensorBoard event files; without the package it is
one clear error before anything runs (issue 13)."""

import importlib.util

import pytest

from bend_gui.core.errors import BendError
from bend_gui.core.events import run_to_end
from bend_gui.core.pipeline import runner as pipeline
from bend_gui.core.project.folder import Project
from tests.helpers import tiny_config


def test_the_base_curves_become_tensorboard_scalars(tmp_path, tiny_data_root):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = tiny_config(tiny_data_root, run__tensorboard=True, run__log_every=3)
    project = Project.create(tmp_path / "p", cfg)
    run_to_end(pipeline.run(project, until="base"))
    runs = list(project.tensorboard_dir().iterdir())
    assert len(runs) == 1
    acc = EventAccumulator(str(runs[0]))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"base/steps/loss", "base/steps/lr", "base/curve/test_acc", "base/curve/train_loss"} <= tags
    steps = [e.step for e in acc.Scalars("base/steps/loss")]
    csv_steps = [int(r["step"]) for r in project.read_curve("base", "steps")]
    assert steps == csv_steps and steps[:2] == [3, 6]
    assert [e.step for e in acc.Scalars("base/curve/test_acc")] == [1, 2]


def test_asking_for_tensorboard_without_the_package_is_one_clear_error(tmp_path, tiny_data_root, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    project = Project.create(tmp_path / "p", tiny_config(tiny_data_root, run__tensorboard=True))
    before = sorted(p.name for p in project.root.iterdir())
    with pytest.raises(BendError, match=r"tensorboard package is not installed: pip install tensorboard"):
        run_to_end(pipeline.run(project, until="base"))
    assert sorted(p.name for p in project.root.iterdir()) == before
    assert project.state("base").state == "not run"
