"""TensorBoard event files from a run's own events (`[run] tensorboard = true`), for users who watch their
runs there: every Metric a stage yields becomes scalars `<stage>/<series>/<column>` at its x (the step of
a `steps` point, the epoch of a per-epoch one), in `<project>/tensorboard/<run start time>`, one folder
per run so TensorBoard shows runs side by side. The package is optional (`pip install
'bend-studio[tensorboard]'`); asking for it without it is a clear error before anything runs.
"""

from __future__ import annotations

import datetime as dt
import importlib.util

from ..errors import ConfigError
from ..events import Event, Metric
from ..project.folder import Project
from ..settings.config import ProjectConfig

INSTALL = "pip install tensorboard (or pip install 'bend-studio[tensorboard]')"


def check_available(cfg: ProjectConfig) -> None:
    if cfg.run.tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise ConfigError(f"[run] tensorboard = true, but the tensorboard package is not installed: {INSTALL}, "
                          f"or set it to false")


class TensorBoardLog:
    """Sees every event of a run (`see` returns it unchanged) and writes the metrics' numbers."""

    def __init__(self, project: Project):
        from torch.utils.tensorboard import (
            SummaryWriter,  # imported only when asked for: it is slow
        )

        self.path = project.tensorboard_dir() / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.writer = SummaryWriter(log_dir=str(self.path), flush_secs=5)  # TensorBoard follows a live run

    @classmethod
    def maybe(cls, project: Project, cfg: ProjectConfig) -> TensorBoardLog | None:
        return cls(project) if cfg.run.tensorboard else None

    def see(self, ev: Event) -> Event:
        if isinstance(ev, Metric) and not ev.point:
            x_name = next(iter(ev.values), None)  # a curve row starts with its x column
            step = round(ev.x)
            for key, value in ev.values.items():
                if key != x_name and isinstance(value, (int, float)) and not isinstance(value, bool):
                    self.writer.add_scalar(f"{ev.stage}/{ev.series}/{key}", float(value), step)
        return ev

    def close(self) -> None:
        self.writer.close()
