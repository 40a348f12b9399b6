"""What a stage's folder held before an attempt, so that a failed or cancelled attempt leaves the last good
run as it was: the CSV files it rewrote as it went (curves, written every epoch) are put back, and if it
replaced any other file of the last good run (stopped between writing two outputs), that run is no longer
whole and must not be offered as done again."""

from __future__ import annotations

from ..fileio import atomic_write_bytes
from .folder import Project


class StageFiles:
    def __init__(self, project: Project, stage: str):
        self.folder = project.dir(stage)
        self._skip = project.checkpoint_path(stage).name  # the attempt's own, kept for resuming
        self.before = self._stat()
        self.csv = {n: (self.folder / n).read_bytes() for n in self.before if n.endswith(".csv")}

    def _stat(self) -> dict[str, tuple[int, int]]:
        if not self.folder.is_dir():
            return {}
        out = {}
        for p in self.folder.iterdir():
            if p.is_file() and not p.name.startswith(".") and p.name != self._skip:
                st = p.stat()
                out[p.name] = (st.st_mtime_ns, st.st_size)
        return out

    def roll_back(self) -> bool:
        """Put the CSV files back as they were; True when every other file is untouched."""
        now = self._stat()
        for name, data in self.csv.items():
            if now.get(name) != self.before[name]:
                atomic_write_bytes(self.folder / name, data)
        for name in now.keys() - self.before.keys():
            if name.endswith(".csv"):  # a curve the last good run did not have
                (self.folder / name).unlink(missing_ok=True)
        return all(now.get(n) == v for n, v in self.before.items() if not n.endswith(".csv"))
