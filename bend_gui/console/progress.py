"""Progress of a job on stderr: a live tqdm bar on a terminal, and plain lines at a modest rate otherwise
(`bend run > run.txt 2>&1`, a batch system's log), each with an ETA."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

log = logging.getLogger("bend_gui.cli")


def format_duration(seconds: float) -> str:
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class PlainProgress:
    """A line when a bar starts (its end is the caller's line: done, skipped, failed), then one per tenth of
    the work or per `heartbeat` seconds of slow work, never two within `min_interval` seconds: a seven-minute
    stage leaves about ten."""

    def __init__(self, label: str, min_interval: float = 10.0, heartbeat: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label, self.min_interval, self.heartbeat, self.clock = label, min_interval, heartbeat, clock
        self._key: tuple | None = None
        self._t0 = self._last = clock()
        self._done0 = self._tenth = 0
        log.info("%s: started", label)

    def update(self, done: int, total: int, text: str = "", step: str = "") -> None:
        now = self.clock()
        if (step, total) != self._key:  # a sub-step (the activation cache) counts again from zero
            self._key, self._t0, self._done0, self._tenth = (step, total), now, done, 0
        tenth = int(10 * done / total) if total > 0 else 0
        waited = now - self._last
        if waited < self.min_interval or (tenth <= self._tenth and waited < self.heartbeat):
            return
        self._tenth, self._last = tenth, now
        log.info("%s", self._line(done, total, text, step, now))

    def _line(self, done: int, total: int, text: str, step: str, now: float) -> str:
        where = f"{self.label}" + (f" ({step})" if step else "")
        if total <= 0:
            return f"{where}: {done}" + (f" · {text}" if text else "")
        line = f"{where}: {100 * done / total:3.0f} % ({done}/{total})"
        rate = (done - self._done0) / max(now - self._t0, 1e-9)
        if 0 < done < total and rate > 0:
            line += f" · ETA {format_duration((total - done) / rate)}"
        return line + (f" · {text}" if text else "")

    def close(self) -> None:
        pass


class BarProgress:
    """tqdm's bar, redrawn in place (a terminal)."""

    def __init__(self, label: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=1, desc=label, unit="step", dynamic_ncols=True, leave=True, file=sys.stderr)
        self._step = ""

    def update(self, done: int, total: int, text: str = "", step: str = "") -> None:
        if step != self._step or self.bar.total != total:
            self.bar.total, self._step = total, step
        self.bar.n = done
        self.bar.set_postfix_str(text, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


class NoProgress:
    def __init__(self, label: str) -> None:
        pass

    def update(self, done: int, total: int, text: str = "", step: str = "") -> None:
        pass

    def close(self) -> None:
        pass


def progress_kind(quiet: bool, tty: bool | None = None):
    """The display for this stderr: none with -q, a bar on a terminal, plain lines otherwise."""
    if quiet:
        return NoProgress
    return BarProgress if (sys.stderr.isatty() if tty is None else tty) else PlainProgress
