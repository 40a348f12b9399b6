"""The app follows a run as it happens (issue 13): per-step points during the first epoch, curves read
back from steps.csv, and work done by a separate `bend run` process shown without reopening."""

import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import Qt

from bend_gui.core.project.folder import Project
from tests.gui.conftest import wait_job
from tests.helpers import tiny_config

ROOT = Path(__file__).resolve().parents[2]


def slow_base(tmp_path, tiny_data_root, **extra):
    """75 steps per epoch (an epoch takes a second or two here), the loss every 5 steps."""
    cfg = tiny_config(tiny_data_root, base__batch_size=8, run__log_every=5, **extra)
    return Project.create(tmp_path / "p", cfg)


def test_per_step_points_arrive_during_the_first_base_epoch(make_window, tmp_path, tiny_data_root, qtbot):
    project = slow_base(tmp_path, tiny_data_root)
    win = make_window(project.root)
    ws = win.workspace
    steps = ws.monitors.plot("Base training · loss per step")
    per_epoch = ws.monitors.plot("Base training · loss")
    ws.pipeline.select("base")
    qtbot.mouseClick(ws.pipeline.run_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(steps.data["loss"][0]) >= 3, timeout=120_000)
    assert not per_epoch.has_data(), "the first epoch has not ended yet"
    assert win.model.running_stage == "base"
    assert steps.data["loss"][0][:3] == [5.0, 10.0, 15.0]
    assert len(steps.lr[0]) >= 3  # the learning rate on the second axis
    steps.redraw()
    x, _ = steps.items["loss"].getData()
    assert len(x) >= 3  # drawn, not only kept
    wait_job(qtbot, win)
    assert win.model.state("base").state == "done"
    # 2 epochs × 75 steps, every 5th; each epoch's test loss as a marker at its last step
    assert len(steps.data["loss"][0]) == 30
    assert steps.data["test_loss"][0] == [75.0, 150.0]

    rows = project.read_curve("base", "steps")  # written while it ran, read back by a reopened project
    assert [r["step"] for r in rows] == [5.0 * i for i in range(1, 31)]
    win.close_project()
    assert win.open_project(project.root)
    again = win.workspace.monitors.plot("Base training · loss per step")
    assert again.data["loss"][0] == steps.data["loss"][0] and again.data["test_loss"][0] == [75.0, 150.0]


def test_the_app_shows_what_a_separate_bend_run_does(make_window, tmp_path, tiny_data_root, qtbot):
    # 60 epochs (several seconds): two ended before the app noticed once base training got faster
    project = slow_base(tmp_path, tiny_data_root, base__epochs=60)
    win = make_window(project.root)
    ws = win.workspace
    assert win.model.state("base").state == "not run"
    cmd = [sys.executable, "-c", "import sys; from bend_gui.cli import main; sys.exit(main())",
           "run", str(project.root), "--until", "base"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # while it runs: who holds the project, and no Run button that would only fail
        # (60 epochs of 75 steps hold the lock for several seconds: time enough for the watcher)
        qtbot.waitUntil(lambda: ws.pipeline.lock_banner.isVisible() or proc.poll() is not None, timeout=120_000)
        assert proc.poll() is None, "the run ended before the app noticed it"
        assert f"process {proc.pid}" in ws.pipeline.lock_banner.text()
        assert "bend run" in ws.pipeline.lock_banner.text()
        assert not ws.pipeline.run_all_btn.isEnabled() and not ws.pipeline.apply_btn.isEnabled()
        assert proc.wait(timeout=300) == 0, proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
    qtbot.waitUntil(lambda: win.model.state("base").state == "done", timeout=15_000)
    assert ws.pipeline.items["base"].text(1) == "done"
    qtbot.waitUntil(lambda: not ws.pipeline.lock_banner.isVisible(), timeout=15_000)
    assert ws.pipeline.run_all_btn.isEnabled()
    assert ws.monitors.plot("Base training · accuracy").has_data()  # its views refreshed too


def test_the_slow_poll_alone_sees_a_change(tiny_project, qtbot):
    """On a network filesystem the file watcher reports nothing: the poll must see the change itself."""
    from bend_gui.gui.folder_watch import FolderWatch

    watch = FolderWatch(tiny_project, poll_ms=200)
    watch.watcher.fileChanged.disconnect()
    watch.watcher.directoryChanged.disconnect()
    (tiny_project.dir("base")).mkdir(exist_ok=True)
    with qtbot.waitSignal(watch.changed, timeout=5000) as blocker:
        (tiny_project.dir("base") / "curve.csv").write_text("epoch,train_loss\n1,0.5\n")
    assert "base" in blocker.args[0]
    with qtbot.waitSignal(watch.changed, timeout=5000) as blocker, tiny_project.lock("bend run"):
        qtbot.wait(500)  # while it is held
    assert "" in blocker.args[0]
    watch.deleteLater()
