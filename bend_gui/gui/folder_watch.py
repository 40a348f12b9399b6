"""Notices when another process (a `bend run` in a terminal, a batch job) changes the open project.

A QFileSystemWatcher on the project folder, `manifest.json`, `.lock` and the stage folders reports
changes at once on a local disk; on network filesystems (NFS, SMB) it reports nothing, so a slow poll
compares a cheap signature (names, sizes and modification times of those files, and whether the lock is
held: a killed process releases it without touching any file) as well. Bursts of changes (a stage
writing several files) are merged into one report.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal, Slot

from ..core.project.folder import STAGES, Project

POLL_MS = 3000
SETTLE_MS = 300


def _stat(path: str) -> tuple:
    try:
        st = os.stat(path)
    except OSError:
        return ()
    return (st.st_mtime_ns, st.st_size)


class FolderWatch(QObject):
    """`changed(stages)` with the stages whose folder changed ("" for the project's own files)."""

    changed = Signal(list)

    def __init__(self, project: Project, parent: QObject | None = None, poll_ms: int = POLL_MS):
        super().__init__(parent)
        self.project = project
        root = str(project.root)
        self._files = {"": [os.path.join(root, n) for n in ("manifest.json", ".lock", "project.toml")]}
        self._dirs = {s: str(project.dir(s)) for s in STAGES}
        self._signature = self._sign()
        self.watcher = QFileSystemWatcher(self)
        self._rewatch()
        self.watcher.fileChanged.connect(self._soon)
        self.watcher.directoryChanged.connect(self._soon)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self.check)
        self._poll = QTimer(self)
        self._poll.setInterval(poll_ms)
        self._poll.timeout.connect(self.check)
        self._poll.start()

    def _rewatch(self) -> None:
        """Watch what exists now (a stage folder appears when its stage first runs; atomic writes
        replace files, which drops them from the watcher)."""
        want = [str(self.project.root), *self._files[""], *self._dirs.values()]
        have = set(self.watcher.files()) | set(self.watcher.directories())
        missing = [p for p in want if p not in have and os.path.exists(p)]
        if missing:
            self.watcher.addPaths(missing)

    def _sign(self) -> dict[str, tuple]:
        holder = self.project.lock_holder()
        sig = {"": (*(_stat(p) for p in self._files[""]), holder and holder.get("pid"))}
        for stage, d in self._dirs.items():
            try:
                with os.scandir(d) as it:
                    entries = sorted((e.name, _stat(e.path)) for e in it if e.is_file() and not e.name.startswith("."))
            except OSError:
                entries = []
            sig[stage] = tuple(entries)
        return sig

    @Slot(str)
    def _soon(self, _path: str) -> None:
        self._settle.start()

    @Slot()
    def check(self) -> list[str]:
        """Compare with the last signature now; emits and returns what changed."""
        new = self._sign()
        changed = [k for k, v in new.items() if self._signature.get(k) != v]
        self._signature = new
        self._rewatch()
        if changed:
            self.changed.emit(changed)
        return changed
