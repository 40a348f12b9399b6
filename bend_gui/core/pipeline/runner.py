"""Runs a project's stages in order: the one entry point of the CLI, the GUI and the tests."""

from __future__ import annotations

import contextlib
import functools
import time
from typing import Iterator

from ..errors import BendError, Cancelled, MemoryLimitError, ProjectError
from ..events import CancelFlag, Event, StageFinished, StageStarted
from ..ml.device import resolve_device
from ..ml.oom import is_out_of_memory
from ..project.attempt import StageFiles
from ..project.folder import STAGES, Project, stage_index
from ..project.runlog import log_event, logged, run_log
from . import memory, preflight
from .context import Checkpoint, StageContext
from .stages import RUNNERS
from .tensorboard import TensorBoardLog, check_available


def _record_stop(project: Project, stage: str, fingerprint: str, files: StageFiles | None, state: str,
                 detail: str) -> None:
    """Record a stopped attempt; the last good run stays the stage's entry if the attempt left its files."""
    intact = files.roll_back() if files else True
    project.mark_stopped(stage, state, detail, fingerprint=fingerprint, keep_last_good=intact)


def stages_between(until: str | None = None, only: str | None = None) -> list[str]:
    if only:
        stage_index(only)
        return [only]
    end = stage_index(until) + 1 if until else len(STAGES)
    return [s for s in STAGES[:end] if s in RUNNERS]


def run(project: Project, *, until: str | None = None, only: str | None = None, force: tuple = (),
        cancel: CancelFlag | None = None, what: str = "bend run") -> Iterator[Event]:
    """Run the stages up to `until` (or just `only`), skipping those done with unchanged inputs.

    A cancel or an error is recorded in the manifest for the stage it stopped, and re-raised; outputs
    of earlier runs stay on disk, and the stage's last good run stays recorded (see StageFiles). `force`
    names stages to rerun even when done.
    """
    cfg = project.load_config()
    cancel = cancel or CancelFlag()
    todo = stages_between(until, only)
    states = {s.stage: s for s in project.stage_states(cfg)}
    pending = [s for s in todo if states[s].state != "done" or s in force]
    device = resolve_device(cfg.run)  # a device that is not there is an error even when all is done
    if not pending:
        with contextlib.suppress(ProjectError), project.lock(what):  # busy: the job there cleans up
            project.remove_temp_files()
        for s in todo:
            yield StageFinished(s, 0.0, skipped=True)
        return
    first = stage_index(pending[0])
    for s in STAGES[:first]:
        if states[s].state != "done" and s not in todo:
            raise BendError(f"stage {pending[0]} needs {s}, which is {states[s].state}; run it first")
    preflight.check(cfg, need_data=True, memory_for=tuple(pending))
    check_available(cfg)
    ctx = StageContext(project, cfg, device, cancel)
    with project.lock(what), run_log(project.root, what, pending):
        project.remove_temp_files()  # a crash mid-write left them; nothing else writes here now
        tb = TensorBoardLog.maybe(project, cfg)
        see = tb.see if tb else (lambda ev: ev)
        try:
            for s in todo:
                if s not in force and project.state(s).state == "done":
                    yield log_event(StageFinished(s, 0.0, skipped=True))
                    continue
                project.set_running_stage(s)
                fp = project.fingerprint(s, cfg)
                # announce a resume only when the stage will accept the checkpoint (not a stale or broken one)
                yield log_event(StageStarted(s, resumed=Checkpoint(project, s, fp).load(peek=True) is not None))
                files = StageFiles(project, s) if project.last_good(s) else None
                stopped = functools.partial(_record_stop, project, s, fp, files)
                t0 = time.perf_counter()
                try:
                    info = yield from logged(RUNNERS[s](ctx), also=see)
                except Cancelled:
                    stopped("cancelled", "cancelled; resumable from the last checkpoint")
                    raise
                except BendError as e:
                    stopped("failed", str(e))
                    raise
                except Exception as e:
                    if is_out_of_memory(e):
                        msg = memory.out_of_memory_message(s, cfg, device, e)
                        stopped("failed", msg)
                        raise MemoryLimitError(msg) from None
                    stopped("failed", f"{type(e).__name__}: {e}")
                    raise
                seconds = time.perf_counter() - t0
                project.mark_done(s, seconds, info or {}, cfg)
                yield log_event(StageFinished(s, seconds))
        finally:
            project.set_running_stage(None)
            if tb:
                tb.close()
