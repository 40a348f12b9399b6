"""The embedded demo exactly as a user runs it, on the real Fashion-MNIST (about 3 minutes on 2 cores).

Guards the science, not just the plumbing: the base model reaches 88% on the 10k test images and the
generated members are real classifiers, within one point of the snapshots they were learned from.
"""

import subprocess
import sys

import numpy as np
import pytest

from bend_gui.core.fileio import load_tensors
from bend_gui.core.ml.data import DEBIAN_FASHION_MNIST
from bend_gui.core.project.folder import Project
from bend_gui.core.results import ensemble
from bend_gui.core.results.report import load_metrics

pytestmark = pytest.mark.skipif(not DEBIAN_FASHION_MNIST.is_dir(),
                                reason="needs Debian's dataset-fashion-mnist (scripts/setup.sh installs it)")


def bend(*args):
    return subprocess.run([sys.executable, "-m", "bend_gui.cli", *map(str, args)], capture_output=True, text=True)


def test_demo_runs_end_to_end_and_its_members_are_real_classifiers(tmp_path):
    root = tmp_path / "demo"
    assert bend("new", root, "--template", "fashion-mnist-demo").returncode == 0
    r = bend("run", root, "-q")
    assert r.returncode == 0, r.stderr
    project = Project.open(root)
    info = {s.stage: s.info for s in project.stage_states()}
    assert all(s.state == "done" for s in project.stage_states())
    assert info["base"]["test_acc"] >= 0.88
    m = load_metrics(project)
    assert m["n_test"] == 10_000 and m["k"] == 200 and m["m"] == 100
    assert abs(m["gen_mean"] - m["orig_mean"]) <= 0.01
    report = bend("report", root)
    assert report.returncode == 0 and "Table 3" in report.stdout
    print("\n" + report.stdout)

    out = tmp_path / "demo.pt"
    assert bend("export", root, out).returncode == 0
    code = (f"import torch, bend_gui.bundle as B\n"
            f"from bend_gui.core.settings.config import DataConfig\nfrom bend_gui.core.ml.data import load_dataset\n"
            f"x = load_dataset(DataConfig()).test_x\n"
            f"print(','.join(map(str, B.load({str(out)!r}).predict(x).tolist())))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    fresh = np.array([int(v) for v in r.stdout.strip().split(",")])
    stored = load_tensors(project.dir("evaluate") / "predictions.pt")["preds"]["generated"].numpy().astype(int)
    assert (fresh == ensemble.sbend(stored, 10)).all()
