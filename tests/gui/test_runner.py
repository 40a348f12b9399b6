"""The job protocol in the GUI: a job's return value reaches the page that started it (on_done, in the GUI
thread), with its events before it; errors and cancels arrive as outcomes, never as exceptions."""

import threading

import pytest
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication

from bend_gui.core.errors import BendError
from bend_gui.core.events import Message, Progress
from bend_gui.gui.project_model import ProjectModel
from bend_gui.gui.runner import JobRunner, call_in_thread


@pytest.fixture
def model(tiny_project, qtbot):
    runner = JobRunner()
    m = ProjectModel(tiny_project, runner)
    yield m
    runner.cancel()
    assert runner.wait(30_000)


def _finish(qtbot, model, name, job) -> list:
    got = []
    assert model.start_job(name, job, on_done=got.append)
    qtbot.waitUntil(lambda: bool(got), timeout=30_000)
    return got


def test_a_jobs_result_reaches_on_done_after_its_events(model, qtbot):
    seen, gui_thread = [], QApplication.instance().thread()

    def job(cancel):
        for i in range(3):
            yield Progress("demo", i + 1, 3, f"step {i + 1}", point=f"p{i}")
        yield Message("demo", "almost", point="p2")
        return {"answer": 42, "worker": threading.current_thread().name}

    model.progress.connect(lambda ev, eta: seen.append(ev))  # direct connection: the model lives here
    model.message.connect(lambda ev: seen.append(ev))
    (outcome,) = _finish(qtbot, model, "demo job", job)
    assert (outcome.name, outcome.state, outcome.message) == ("demo job", "done", "")
    assert outcome.result["answer"] == 42 and outcome.result["worker"] != threading.main_thread().name
    assert QThread.currentThread() is gui_thread
    assert [getattr(e, "point", None) for e in seen][-1] == "p2" and isinstance(seen[-1], Message)
    assert not model.busy


def test_failures_and_cancels_arrive_as_outcomes(model, qtbot):
    def bad(cancel):
        yield Progress("demo", 0, 1)
        raise BendError("the data is gone")

    (outcome,) = _finish(qtbot, model, "bad job", bad)
    assert outcome.state == "failed" and outcome.result is None and outcome.error_line == "the data is gone"

    def crash(cancel):
        yield Progress("demo", 0, 1)
        raise ZeroDivisionError("boom")

    (outcome,) = _finish(qtbot, model, "crash", crash)
    assert outcome.state == "failed" and outcome.error_line == "ZeroDivisionError: boom"
    assert "Traceback" in outcome.message

    started = threading.Event()

    def slow(cancel):
        while True:
            started.set()
            cancel.check()
            yield Progress("demo", 0, 1)

    got = []
    assert model.start_job("slow", slow, on_done=got.append)
    assert not model.start_job("another", slow)  # one job at a time
    started.wait(10)
    model.cancel()
    qtbot.waitUntil(lambda: bool(got), timeout=30_000)
    assert got[0].state == "cancelled" and got[0].result is None


def test_call_in_thread_returns_in_the_gui_thread(qtbot):
    answers, errors = [], []
    gui = QThread.currentThread()

    def done(value):
        answers.append((value, QThread.currentThread() is gui))

    call_in_thread(lambda x: x * 2, 21, done=done, failed=errors.append)
    qtbot.waitUntil(lambda: bool(answers), timeout=10_000)
    assert answers == [(42, True)] and errors == []
    call_in_thread(lambda: 1 / 0, done=answers.append, failed=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=10_000)
    assert isinstance(errors[0], ZeroDivisionError)
