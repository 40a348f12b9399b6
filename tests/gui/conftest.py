"""GUI fixtures: windows built on temporary projects; a test fails if it leaks a window or a worker."""

import pytest
from PySide6.QtCore import QThreadPool
from PySide6.QtWidgets import QApplication

from bend_gui.core.project.folder import Project
from bend_gui.gui.main_window import MainWindow
from bend_gui.gui.plots import configure_pyqtgraph
from bend_gui.gui.project_model import ProjectModel
from bend_gui.gui.runner import JobRunner


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
def open_page(qtbot):
    """open_page(cls, project[, model]) -> a shown page on its own ProjectModel; no job may outlive the test."""
    configure_pyqtgraph()
    models = []

    def make(cls, project, model=None):
        model = model or ProjectModel(project, JobRunner())
        models.append(model)
        page = cls(model)
        qtbot.addWidget(page)
        page.resize(1000, 760)
        page.show()
        qtbot.waitExposed(page)
        return page

    yield make
    for model in models:
        if model.busy:
            model.cancel()
    assert QThreadPool.globalInstance().waitForDone(60_000), "a worker thread is still running"
    assert not any(m.busy for m in models)


@pytest.fixture
def tiny_project(tmp_path, tiny_cfg):
    return Project.create(tmp_path / "proj", tiny_cfg)


def wait_job(qtbot, win, timeout=120_000):
    """Wait until the runner is idle and the GUI has processed its end."""
    qtbot.waitUntil(lambda: not win.runner.busy, timeout=timeout)
    qtbot.wait(50)


@pytest.fixture(autouse=True)
def _delete_widgets_now(qapp):
    """After each test (and after pytest-qt's deleteLater of its widgets): run the deferred deletes, then
    collect the Python garbage they leave, here rather than at a random allocation in a later test. Left to
    chance, a collection inside a later test's page construction freed earlier pages' pyqtgraph widgets in
    an order that crashed in ~QWidget (SIGSEGV, reproducible with tests/gui/test_views.py alone)."""
    yield
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()
