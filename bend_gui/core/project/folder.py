"""A project folder: `project.toml`, one subfolder per stage, and `manifest.json` saying which stages are
done and from which inputs.

A stage's fingerprint hashes the config sections it reads and the run id of the stage before it, so
editing a setting or rerunning an earlier stage makes everything downstream stale, and a stage whose
fingerprint matches is not rerun. Outputs are replaced atomically only when a stage finishes: a failed or
cancelled run leaves the previous outputs in place, and the manifest keeps that last good run as the stage's
entry, the stopped attempt beside it. When the inputs are back to those of the last good run, the stage is
done again without recomputing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import hashlib
import json
import os
import socket
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..errors import ProjectBusyError, ProjectError
from ..fileio import atomic_write_text, json_safe, read_csv, read_json, remove_temp_files, write_json
from ..settings import config as C
from ..settings.toml_edit import update_text
from .artifacts import STAGE_OUTPUTS

STAGES = ("base", "collect", "autoencoder", "diffusion", "generate", "evaluate")
STAGE_TITLES = {
    "base": "0 · Base training",
    "collect": "1 · Snapshot collection",
    "autoencoder": "2 · Parameter autoencoder",
    "diffusion": "3 · Latent diffusion",
    "generate": "4 · Generate members",
    "evaluate": "5 · Evaluate ensembles",
}
# The config sections each stage reads (run.seed only: device and threads change no result).
STAGE_INPUTS = {
    "base": ("model", "data", "base"),
    "collect": ("subset", "collect"),
    "autoencoder": ("autoencoder",),
    "diffusion": ("diffusion",),
    "generate": ("generate",),
    "evaluate": ("evaluate",),
}
# Output folders: evaluation writes the results the views and `bend report` read.
STAGE_DIRS = {s: s for s in STAGES} | {"evaluate": "results"}
MANIFEST_VERSION = 1


def _normalised(entry: dict) -> dict:
    """A manifest entry in today's shape: older versions recorded a failure as the entry, with the last
    good run under "previous"; now the last good run is the entry and the failure its "attempt"."""
    if entry.get("state") in ("failed", "cancelled") and isinstance(entry.get("previous"), dict):
        return {**entry["previous"], "attempt": {"state": entry["state"], "detail": entry.get("detail", ""),
                                                 "fingerprint": None}}
    return entry


def last_good_entry(entry: dict) -> dict | None:
    """The entry of a stage's last successful run (with its later attempt, if any), or None."""
    e = _normalised(entry)
    return e if e.get("state") == "done" else None


def enclosing_project(path: Path) -> Path | None:
    """The project folder that `path` is or lies in (any project: a folder holding project.toml), or None."""
    p = Path(path).expanduser().resolve()
    for folder in (p, *p.parents):
        if (folder / "project.toml").is_file():
            return folder
    return None


def refuse_inside_project(path: Path, what: str) -> None:
    """Exports never write into a project: they could replace its outputs behind the manifest's back."""
    root = enclosing_project(path)
    if root is not None:
        raise ProjectError(f"{path}: refused: that is inside the project folder {root}, where {what} could "
                           f"overwrite the project's own files; choose a path outside any project")


def stage_index(stage: str) -> int:
    if stage not in STAGES:
        raise ProjectError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    return STAGES.index(stage)


@dataclass
class StageState:
    stage: str
    state: str            # "not run" | "done" | "stale" | "failed" | "cancelled" | "running"
    detail: str = ""      # why stale, the error of a failure, ...
    seconds: float = 0.0
    resumable: bool = False
    info: dict = dataclasses.field(default_factory=dict)


class Project:
    def __init__(self, root: Path):
        self.root = Path(root).expanduser().resolve()
        self._lock_fd: int | None = None

    # --- creation and config ------------------------------------------------------------------------

    @classmethod
    def create(cls, root: Path, cfg: C.ProjectConfig, like: str | None = None) -> "Project":
        """A new project with settings cfg; `like` is a project.toml text (a template's) whose comments and
        layout the new file keeps."""
        root = Path(root).expanduser()
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise ProjectError(f"{root}: already exists and is not empty; choose a new folder")
        cfg.validate()
        root.mkdir(parents=True, exist_ok=True)
        p = cls(root)
        if like is None:
            p.save_config(cfg)
        else:
            atomic_write_text(p.config_path, update_text(like, cfg))
        write_json(p.manifest_path, {"schema_version": MANIFEST_VERSION, "stages": {}})
        return p

    @classmethod
    def open(cls, root: Path) -> "Project":
        p = cls(root)
        if not p.config_path.is_file():
            raise ProjectError(f"{p.root}: not a BEND project (no project.toml)")
        return p

    @property
    def config_path(self) -> Path:
        return self.root / "project.toml"

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    @property
    def name(self) -> str:
        return self.root.name

    def load_config(self) -> C.ProjectConfig:
        return C.load(self.config_path)

    def save_config(self, cfg: C.ProjectConfig) -> None:
        """Write cfg; an existing file keeps its comments and layout (see settings/toml_edit)."""
        try:
            old = self.config_path.read_text(encoding="utf-8")
        except (FileNotFoundError, UnicodeDecodeError):
            old = None
        atomic_write_text(self.config_path, C.dumps(cfg) if old is None else update_text(old, cfg))

    def dir(self, stage: str) -> Path:
        return self.root / STAGE_DIRS[stage]

    def tensorboard_dir(self) -> Path:
        """TensorBoard event files of runs with `[run] tensorboard = true` (see pipeline/tensorboard)."""
        return self.root / "tensorboard"

    def checkpoint_path(self, stage: str) -> Path:
        return self.dir(stage) / "checkpoint.pt"

    def remove_temp_files(self) -> list[Path]:
        """Delete what writes cut off by a crash left (`.NAME.<random>.tmp`); only under the lock. In the root, only
        old ones: the GUI saves project.toml there without taking the lock."""
        gone = remove_temp_files(self.root, min_age_s=60.0)
        return gone + [p for s in STAGES if self.dir(s).is_dir() for p in remove_temp_files(self.dir(s))]

    # --- manifest -----------------------------------------------------------------------------------

    def manifest(self) -> dict:
        if not self.manifest_path.exists():
            return {"schema_version": MANIFEST_VERSION, "stages": {}}
        m = read_json(self.manifest_path)
        if not isinstance(m, dict) or not isinstance(m.get("stages"), dict) or \
                not all(isinstance(e, dict) for e in m["stages"].values()):
            raise ProjectError(f"{self.manifest_path}: not a manifest of BEND Studio (expected an object whose "
                               f"'stages' maps each stage to its record); restore it or delete it to start over")
        if m.get("schema_version") != MANIFEST_VERSION:
            raise ProjectError(f"{self.manifest_path}: schema_version {m.get('schema_version')!r} is not "
                               f"{MANIFEST_VERSION}")
        return m

    def _update_stage(self, stage: str, **entry) -> None:
        m = self.manifest()
        m["stages"][stage] = entry
        write_json(self.manifest_path, json_safe(m))  # a NaN in a stage's info (or an older file) → null

    def record_copied_stage(self, stage: str, entry: dict) -> None:
        """A stage whose outputs were copied from another project (an ablation variant's base), as done."""
        self._update_stage(stage, **entry)

    def fingerprint(self, stage: str, cfg: C.ProjectConfig | None = None) -> str:
        cfg = cfg or self.load_config()
        parts = {s: C.fingerprint_dict(cfg, s) for s in STAGE_INPUTS[stage]}
        if stage == "base":
            parts["seed"] = cfg.run.seed
        i = stage_index(stage)
        if i > 0:
            prev = last_good_entry(self.manifest()["stages"].get(STAGES[i - 1], {})) or {}
            parts["upstream"] = prev.get("run_id")
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]

    def mark_done(self, stage: str, seconds: float, info: dict, cfg: C.ProjectConfig) -> None:
        i = stage_index(stage)
        upstream = (last_good_entry(self.manifest()["stages"].get(STAGES[i - 1], {})) or {}).get("run_id") if i else None
        self._update_stage(stage, state="done", fingerprint=self.fingerprint(stage, cfg),
                           run_id=uuid.uuid4().hex[:12], upstream=upstream, seconds=round(seconds, 3),
                           finished=dt.datetime.now().isoformat(timespec="seconds"), info=info)

    def mark_stopped(self, stage: str, state: str, detail: str = "", fingerprint: str | None = None,
                     keep_last_good: bool = True) -> None:
        """Record a failure or cancel as the stage's `attempt`, beside its last successful run, which stays
        the entry's own fields (run id, fingerprint, info): successors and readers of the manifest keep
        seeing the outputs that are on disk. `keep_last_good=False` when the attempt replaced some of them."""
        old = last_good_entry(self.manifest()["stages"].get(stage, {}))
        attempt = {"state": state, "detail": detail, "fingerprint": fingerprint,
                   "when": dt.datetime.now().isoformat(timespec="seconds")}
        if old and keep_last_good:
            self._update_stage(stage, **{**old, "attempt": attempt})
        else:
            self._update_stage(stage, **attempt)

    def last_good(self, stage: str) -> dict | None:
        """The manifest entry of the stage's last successful run (without its later attempt), or None."""
        e = last_good_entry(self.manifest()["stages"].get(stage, {}))
        return {k: v for k, v in e.items() if k != "attempt"} if e else None

    def output_problem(self, stage: str) -> str:
        """Why the output a finished stage leaves is not usable ('' when it looks whole); cheap, no load."""
        return STAGE_OUTPUTS[stage].problem(self)

    def stage_states(self, cfg: C.ProjectConfig | None = None) -> list[StageState]:
        try:
            cfg = cfg or self.load_config()
        except C.ConfigError:
            cfg = None
        stages = self.manifest()["stages"]
        running = self.lock_holder()
        out: list[StageState] = []
        upstream_ok = True
        for s in STAGES:
            e = _normalised(stages.get(s, {}))
            resumable = self.checkpoint_path(s).exists()
            st = StageState(s, "not run", seconds=float(e.get("seconds", 0.0)), resumable=resumable,
                            info=e.get("info", {}))
            attempt = e.get("attempt") if e.get("state") == "done" else None
            if e.get("state") == "done":
                fp = self.fingerprint(s, cfg) if cfg is not None else None
                stopped_here = attempt is not None and attempt.get("fingerprint") in (fp, None)
                if cfg is None:
                    st.state, st.detail = "stale", "project.toml is invalid"
                elif e.get("fingerprint") != fp and stopped_here:
                    # the inputs are those of the failed attempt: say so, not just "stale"
                    st.state, st.detail = attempt["state"], attempt.get("detail", "")
                elif not upstream_ok:
                    st.state, st.detail = "stale", "an earlier stage is not done or is stale"
                elif problem := self.output_problem(s):
                    st.state, st.detail = "stale", problem
                elif e.get("fingerprint") != fp:
                    st.state, st.detail = "stale", f"settings in {', '.join('[' + x + ']' for x in STAGE_INPUTS[s])} or the stage before changed"
                else:
                    st.state = "done"
                    if attempt is not None and attempt.get("fingerprint") == fp:
                        st.detail = (f"outputs of the last good run ({e.get('finished', '?')}); a rerun after it "
                                     f"was {attempt['state']}: {attempt.get('detail', '')}")
            elif e.get("state") in ("failed", "cancelled"):
                st.state, st.detail = e["state"], e.get("detail", "")
            if running and running.get("stage") == s:
                st.state, st.detail = "running", (f"by {running.get('what') or 'a job'} (process {running.get('pid')} "
                                                  f"on {running.get('host') or 'this machine'})")
            upstream_ok = upstream_ok and st.state == "done"
            out.append(st)
        return out

    def state(self, stage: str) -> StageState:
        return self.stage_states()[stage_index(stage)]

    def require_done(self, stage: str) -> None:
        st = self.state(stage)
        if st.state != "done":
            raise ProjectError(f"stage {stage} is {st.state}: run it first (bend run {self.root} --until {stage})")

    def require_last_good(self, stage: str) -> str:
        """Like require_done, but a stage kept from done only by a failed or cancelled attempt (its own or an
        earlier stage's) passes when the last good runs up to it form one chain and their outputs are whole:
        returns a note saying the outputs are the last good run's ('' when the stage is simply done)."""
        states = self.stage_states()
        i = stage_index(stage)
        if states[i].state == "done":
            return ""
        stopped = next((x for x in states[:i + 1] if x.state in ("failed", "cancelled")), None)
        chain = [self.last_good(s) for s in STAGES[:i + 1]]
        whole = all(chain) and all(chain[j].get("upstream") == chain[j - 1]["run_id"] for j in range(1, i + 1)) \
            and not any(self.output_problem(s) for s in STAGES[:i + 1])
        if stopped is None or not whole:
            self.require_done(stage)
        return (f"from the last good run ({chain[i].get('finished', '?')}): {STAGE_TITLES[stopped.stage]} is "
                f"{stopped.state} ({stopped.detail})")

    # --- a lock so the CLI and the GUI never run the same project at once ---------------------------
    # An OS file lock (flock) on `.lock`: the kernel releases it when its process dies, so a killed run
    # leaves no stale lock, and a second job (in this process or another) is refused. The file itself
    # only tells others what holds it.

    @property
    def lock_path(self) -> Path:
        return self.root / ".lock"

    def lock_holder(self) -> dict | None:
        """What holds the lock ({"pid", "host", "what", "stage"}), or None when nothing does."""
        try:
            fd = os.open(self.lock_path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                try:
                    return json.loads(os.pread(fd, 65536, 0).decode() or "{}") or {"what": "a job"}
                except json.JSONDecodeError:
                    return {"what": "a job"}
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def lock(self, what: str):
        try:  # a job writes here: say so before any stage starts (a .lock left by another user may be writable)
            with tempfile.TemporaryFile(dir=self.root):
                pass
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except PermissionError as e:
            raise ProjectError(f"{self.root}: the project folder is not writable for this user ({e.strerror}: "
                               f"{e.filename or self.root}); fix its permissions or copy the project somewhere "
                               f"writable") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = self.lock_holder() or {}
            raise ProjectBusyError(f"{self.root}: busy: {holder.get('what', 'a job')} is running there "
                                   f"(pid {holder.get('pid', '?')} on {holder.get('host', '?')})") from None
        self._lock_fd = fd
        try:
            self._write_lock_info({"pid": os.getpid(), "host": socket.gethostname(), "what": what, "stage": None})
            yield self
        finally:
            self._lock_fd = None
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _write_lock_info(self, info: dict) -> None:
        data = json.dumps(info).encode()
        os.ftruncate(self._lock_fd, 0)
        os.pwrite(self._lock_fd, data, 0)

    def set_running_stage(self, stage: str | None) -> None:
        if getattr(self, "_lock_fd", None) is None:
            return
        info = json.loads(os.pread(self._lock_fd, 65536, 0).decode() or "{}")
        info["stage"] = stage
        self._write_lock_info(info)

    # --- curves -------------------------------------------------------------------------------------

    def curve_path(self, stage: str, series: str) -> Path:
        return self.dir(stage) / f"{series}.csv"

    def read_curve(self, stage: str, series: str) -> list[dict]:
        p = self.curve_path(stage, series)
        return read_csv(p)[1] if p.exists() else []
