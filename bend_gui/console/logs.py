"""`bend`'s messages go through the standard `logging` module to stderr; stdout carries only results (a
table, JSON), so `bend sweep … > table.txt` holds just the table."""

from __future__ import annotations

import logging
import sys

PACKAGE = "bend_gui"
EVENTS = "bend_gui.core.events"  # core/project/runlog.py's logger
_PREFIX = {logging.DEBUG: "debug: ", logging.WARNING: "warning: ", logging.ERROR: "error: ",
           logging.CRITICAL: "error: "}
_installed: logging.Handler | None = None


class _Stderr(logging.Handler):
    """Writes to the *current* sys.stderr (a test may have swapped it), through tqdm on a terminal so that a
    line never lands inside a progress bar."""

    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = _PREFIX.get(record.levelno, "") + self.format(record)
            if self.tty:
                from tqdm import tqdm

                tqdm.write(msg, file=sys.stderr)
            else:
                sys.stderr.write(msg + "\n")
                sys.stderr.flush()
        except Exception:  # noqa: BLE001 - logging's own rule: a failing handler reports, never raises
            self.handleError(record)


def level_for(verbosity: int) -> int:
    """-q: warnings and errors only; default: messages; -v: also debug lines (per-step losses and the like)."""
    return logging.WARNING if verbosity < 0 else logging.DEBUG if verbosity > 0 else logging.INFO


def setup(verbosity: int, tty: bool | None = None) -> None:
    """Send the package's log records to stderr at the level -q/-v chose. The pipeline's event records
    (`bend_gui.core.events`, meant for the run log file) are left out: the command shows those events itself."""
    global _installed
    pkg = logging.getLogger(PACKAGE)
    if _installed is not None:  # main() called again in one process (tests)
        pkg.removeHandler(_installed)
    handler = _Stderr(sys.stderr.isatty() if tty is None else tty)
    handler.setLevel(level_for(verbosity))
    handler.addFilter(lambda r: r.name != EVENTS)
    pkg.addHandler(handler)
    pkg.setLevel(min(handler.level, logging.INFO))  # INFO at least: the run log file records messages
    _installed = handler
