"""Runs a project's stages in order: the one entry point of the CLI, the GUI and the tests."""

from __future__ import annotations

import time
from typing import Iterator

import torch

from ..errors import BendError, Cancelled
from ..events import CancelFlag, Event, StageFinished, StageStarted
from ..ml.device import resolve_device
from ..project.folder import STAGES, Project, stage_index
from . import preflight
from .context import StageContext
from .stages import RUNNERS


def is_out_of_memory(e: BaseException) -> bool:
    """GPU and CPU allocation failures look different: torch.OutOfMemoryError, MemoryError, or a
    RuntimeError from the CPU allocator."""
    return isinstance(e, (MemoryError, torch.OutOfMemoryError)) or (
        isinstance(e, RuntimeError) and ("can't allocate memory" in str(e) or "out of memory" in str(e)))


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
    of earlier runs stay on disk. `force` names stages to rerun even when done.
    """
    cfg = project.load_config()
    cancel = cancel or CancelFlag()
    todo = stages_between(until, only)
    states = {s.stage: s for s in project.stage_states(cfg)}
    pending = [s for s in todo if states[s].state != "done" or s in force]
    if not pending:
        for s in todo:
            yield StageFinished(s, 0.0, skipped=True)
        return
    first = stage_index(pending[0])
    for s in STAGES[:first]:
        if states[s].state != "done" and s not in todo:
            raise BendError(f"stage {pending[0]} needs {s}, which is {states[s].state}; run it first")
    preflight.check(cfg, need_data=True, memory_for=tuple(pending))
    device = resolve_device(cfg.run)
    ctx = StageContext(project, cfg, device, cancel)
    with project.lock(what):
        try:
            for s in todo:
                if s not in force and project.state(s).state == "done":
                    yield StageFinished(s, 0.0, skipped=True)
                    continue
                project.set_running_stage(s)
                yield StageStarted(s, resumed=project.checkpoint_path(s).exists())
                t0 = time.perf_counter()
                try:
                    info = yield from RUNNERS[s](ctx)
                except Cancelled:
                    project.mark_stopped(s, "cancelled", "cancelled; Run resumes from the last checkpoint")
                    raise
                except BendError as e:
                    project.mark_stopped(s, "failed", str(e))
                    raise
                except Exception as e:
                    if is_out_of_memory(e):
                        msg = (f"{s}: out of memory on {device} ({str(e).splitlines()[0] if str(e) else 'no detail'}); "
                               f"lower the batch size or [run] cache_limit_gb, or choose a smaller subset")
                        project.mark_stopped(s, "failed", msg)
                        raise BendError(msg) from None
                    project.mark_stopped(s, "failed", f"{type(e).__name__}: {e}")
                    raise
                seconds = time.perf_counter() - t0
                project.mark_done(s, seconds, info or {}, cfg)
                yield StageFinished(s, seconds)
        finally:
            project.set_running_stage(None)
