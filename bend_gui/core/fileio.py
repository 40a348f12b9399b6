"""Atomic writes and safe tensor loading for everything in a project folder."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import pickle
import re
import tempfile
import time
from pathlib import Path

from .errors import ProjectError

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file beside `path`, then rename: a crash leaves the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a project file is as readable as any other
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj) -> None:
    """Strict JSON: a NaN or infinity raises here instead of leaving a file other readers reject; callers
    turn the numbers they may hold into null with `json_safe` first."""
    try:
        text = json.dumps(obj, indent=2, sort_keys=False, allow_nan=False)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    atomic_write_text(path, text + "\n")


def json_safe(x):
    """`x` with non-finite floats as None (null) and numpy scalars as Python numbers, for write_json."""
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if hasattr(x, "item") and getattr(x, "ndim", None) == 0:  # a numpy or torch scalar
        x = x.item()
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    return x


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ProjectError(f"{path}: not valid JSON ({e})") from None


def save_tensors(path: Path, obj) -> None:
    """torch.save through a buffer, then an atomic write. `obj` holds tensors, numbers, strings, lists, dicts."""
    import torch  # here, not at the top: commands that read no tensors (`bend status`) start without torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_tensors(path: Path, map_location="cpu", mmap: bool = False):
    """Load a .pt file with weights_only=True. Each way it can fail gets its own message: missing, empty,
    refused (it names Python code to run), truncated or damaged, or not a torch.save file at all."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ProjectError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise ProjectError(f"{path}: empty file (0 bytes); it was cut off while being written or copied")
    try:
        # mmap: tensors are mapped, not read, for a caller that only looks at the plain data beside them
        return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as e:  # noqa: BLE001 - torch raises many types for bad bytes; all become one message
        raise ProjectError(f"{path}: {_load_problem(path, e)}") from None


def _load_problem(path: Path, e: Exception) -> str:
    text = str(e)
    named = re.search(r"GLOBAL\s+([\w.]+)", text, re.IGNORECASE)
    if isinstance(e, pickle.UnpicklingError) and named:
        return (f"refused to load: it would run code ({named.group(1)}); only tensors and plain data are "
                f"loaded. Open it only if you trust its source, and save it again as a plain state dict")
    first = (_unpickler_detail(text) or (text.splitlines()[0] if text else type(e).__name__)).split(". ")[0]
    with open(path, "rb") as f:
        zipped = f.read(4) == b"PK\x03\x04"
    if zipped:
        return f"truncated or damaged file ({first})"
    return f"not a file saved by torch.save (unrecognised content: {first})"


def looks_like_torch_zip(path: Path) -> bool:
    """Whether a file starts and ends as a whole zip archive (torch.save's format): a cheap check for
    truncation that reads a few bytes, not the file."""
    try:
        with open(path, "rb") as f:
            if f.read(4) != b"PK\x03\x04":
                return False
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 22 - 65535))  # the end record, after at most a 64 KiB comment
            return b"PK\x05\x06" in f.read()
    except OSError:
        return False


def remove_temp_files(folder: Path, min_age_s: float = 0.0) -> list[Path]:
    """Delete the temp files `atomic_write_bytes` leaves when a process dies mid-write (`.NAME.<random>.tmp`)
    and older than `min_age_s`. Call it only while no one else writes into `folder` (under the project lock)."""
    gone, now = [], time.time()
    for p in Path(folder).glob(".*.tmp"):
        if p.is_file() and now - p.stat().st_mtime >= min_age_s:
            p.unlink(missing_ok=True)
            gone.append(p)
    return gone


def _unpickler_detail(message: str) -> str:
    """The one useful line of torch's weights-only error ("Unsupported global: ...", "Unsupported operand ...")."""
    for line in message.splitlines():
        if "WeightsUnpickler error:" in line:
            rest = line.split("WeightsUnpickler error:", 1)[1].strip()
            if rest:
                return rest
    for line in message.splitlines():
        if line.strip().startswith("Unsupported"):
            return line.strip()
    return ""


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: _fmt(v) for k, v in r.items()})
    atomic_write_text(path, buf.getvalue())


def read_csv(path: Path) -> tuple[list[str], list[dict]]:
    """Rows as dicts of floats (empty cells dropped); non-numeric cells stay strings."""
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.DictReader(f)
        rows = [{k: _parse(v) for k, v in row.items() if v not in ("", None)} for row in r]
        return list(r.fieldnames or []), rows


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.8g}"
    return v


def _parse(v: str):
    try:
        return float(v)
    except ValueError:
        return v
