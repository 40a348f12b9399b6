"""The run log file: the run's events and the core's records from the thread driving it, nothing from another
thread (the app may run another project's job meanwhile), and how the run ended."""

import logging
import threading

import pytest

from bend_gui.core.errors import BendError
from bend_gui.core.events import Message, StageFinished, StageStarted
from bend_gui.core.project.runlog import log_event, run_log


def test_the_log_holds_this_runs_records_only(tmp_path):
    core = logging.getLogger("bend_gui.core.somewhere")
    with run_log(tmp_path, "bend run", ["base"]) as path:
        log_event(StageStarted("base"))
        log_event(Message("base", "loading"))
        core.info("from the core, this thread")
        other = threading.Thread(target=lambda: core.info("from another job's thread"))
        other.start()
        other.join()
        logging.getLogger("bend_gui.cli").info("a front end's own line")
        log_event(StageFinished("base", 1.5))
    text = path.read_text()
    assert path.parent == tmp_path / "logs" and path.name.endswith("-run.log")
    for line in ("bend run (pid", "stages base", "base: started", "base: loading", "from the core, this thread",
                 "base: done in 1.5 s", "finished"):
        assert line in text, text
    assert "another job's thread" not in text and "front end" not in text
    assert not any(isinstance(h, logging.FileHandler) for h in logging.getLogger("bend_gui.core").handlers)


def test_the_log_says_how_a_run_failed(tmp_path):
    with pytest.raises(BendError), run_log(tmp_path, "bend run", ["collect"]):
        raise BendError("collect: k must be ≥ 2")
    with pytest.raises(ZeroDivisionError), run_log(tmp_path, "bend run", ["collect"]) as path:
        1 / 0  # noqa: B018 - a bug inside a stage
    logs = sorted((tmp_path / "logs").glob("*.log"))
    text = "".join(p.read_text() for p in logs)
    assert "ERROR   failed: collect: k must be ≥ 2" in text
    assert "failed with an unexpected error" in path.read_text() and "ZeroDivisionError" in text
