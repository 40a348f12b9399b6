"""The training loss of the generator's trainers, kept on the device between reads, and the stopping rule
that reads it.

The loss is summed on the device and read on the host only at a log point (every [run] log_every steps,
for the curves) and at the end of each plateau window: one host sync per read, not per step.

Stopping rule (training side only, never the test set): the loss is averaged over windows of WINDOW
steps; a window counts as progress when its mean is below the best earlier window mean by more than the
relative `min_delta`. Training stops at the end of the first window that leaves `patience` steps without
progress. The windows do not depend on log_every, so where a run stops is a function of its settings and
seed alone (a study that logs differently stops at the same step).
"""

from __future__ import annotations

import math

import torch

WINDOW = 25  # steps per plateau window


class LossTracker:
    def __init__(self, patience: int, min_delta: float):
        self.patience, self.min_delta = patience, min_delta
        self.log_sum: torch.Tensor | None = None
        self.log_n = 0
        self.win_sum: torch.Tensor | None = None
        self.win_n = 0
        self.best, self.best_step = math.inf, 0
        self.stopped_at: int | None = None

    def add(self, loss: torch.Tensor) -> None:
        loss = loss.detach()
        self.log_sum = loss if self.log_sum is None else self.log_sum + loss
        self.win_sum = loss if self.win_sum is None else self.win_sum + loss
        self.log_n += 1
        self.win_n += 1

    def take_log(self) -> float:
        """The mean loss since the last log point (a host read), and a fresh start."""
        value = float(self.log_sum) / self.log_n if self.log_n else math.nan
        self.log_sum, self.log_n = None, 0
        return value

    def window_done(self) -> bool:
        return self.win_n >= WINDOW

    def take_window(self, step: int) -> tuple[float, bool]:
        """The window's mean loss (a host read) and whether the rule says stop at `step`."""
        mean = float(self.win_sum) / self.win_n
        self.win_sum, self.win_n = None, 0
        if self.best == math.inf or mean < self.best * (1 - self.min_delta):
            self.best, self.best_step = mean, step
        stop = self.patience > 0 and step - self.best_step >= self.patience
        if stop:
            self.stopped_at = step
        return mean, stop

    def state(self) -> dict:
        return {"log_sum": self.log_sum, "log_n": self.log_n, "win_sum": self.win_sum, "win_n": self.win_n,
                "best": self.best, "best_step": self.best_step}

    def restore(self, state: dict) -> None:
        self.log_sum, self.log_n = state["log_sum"], state["log_n"]
        self.win_sum, self.win_n = state["win_sum"], state["win_n"]
        self.best, self.best_step = state["best"], state["best_step"]
