"""GUI fixtures: windows built on temporary projects; a test fails if it leaks a window or a worker."""

import pytest
from PySide6.QtCore import QThreadPool
from PySide6.QtWidgets import QApplication

from bend_gui.core.project import Project
from bend_gui.gui.main_window import MainWindow
from bend_gui.gui.plots import configure_pyqtgraph


@pytest.fixture
def make_window(qtbot, user_dirs):
    configure_pyqtgraph()
    made = []

    def make(project_root=None) -> MainWindow:
        win = MainWindow()
        qtbot.addWidget(win)
        win.show()
        qtbot.waitExposed(win)
        if project_root is not None:
            assert win.open_project(project_root)
        made.append(win)
        return win

    yield make
    for win in made:
        if win.runner.busy:
            win.runner.cancel()
        win.close()
    assert QThreadPool.globalInstance().waitForDone(60_000), "a worker thread is still running"
    QApplication.processEvents()
    leaked = [w for w in QApplication.topLevelWidgets() if w.isVisible()]
    assert not leaked, f"windows left open: {leaked}"


@pytest.fixture
def tiny_project(tmp_path, tiny_cfg):
    return Project.create(tmp_path / "proj", tiny_cfg)


def wait_job(qtbot, win, timeout=120_000):
    """Wait until the runner is idle and the GUI has processed its end."""
    qtbot.waitUntil(lambda: not win.runner.busy, timeout=timeout)
    qtbot.wait(50)
