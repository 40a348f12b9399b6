"""The per-step curve of a training stage, `<stage>/steps.csv`: a point every [run] log_every steps.

The losses of the steps in between are summed on the device; reading that sum at a point is the stage's one
host synchronisation per log_every steps, and it doubles as the NaN guard (a NaN or infinite loss anywhere in
the window makes the sum non-finite). The file is rewritten at most every few seconds, not at every point.
"""

from __future__ import annotations

import time

import torch

from ..events import Metric
from ..ml import finite
from ..project.folder import Project
from .context import Curve


class StepLog:
    def __init__(self, project: Project, stage: str, every: int, flush_seconds: float = 5.0):
        self.curve = Curve(project, stage, "steps")
        self.stage, self.every, self.flush_seconds = stage, every, flush_seconds
        self._sum: torch.Tensor | None = None
        self._n = 0
        self._flushed = time.monotonic()

    def add(self, loss: torch.Tensor) -> None:
        """One step's loss; stays on the device."""
        loss = loss.detach().float()
        self._sum = loss if self._sum is None else self._sum + loss
        self._n += 1

    def due(self, step: int) -> bool:
        return step % self.every == 0 and self._n > 0

    def point(self, step: int, lr: float, where: str, hint: str) -> Metric:
        """The mean loss of the steps since the last point, checked and recorded; the event to yield."""
        loss = float(self._sum) / self._n
        finite.check_loss(loss, self.stage, where, hint)
        self._sum, self._n = None, 0
        event = self.curve.add("step", step, loss=loss, lr=lr)
        if time.monotonic() - self._flushed >= self.flush_seconds:
            self.flush()
        return event

    def flush(self) -> None:
        self.curve.flush()
        self._flushed = time.monotonic()
