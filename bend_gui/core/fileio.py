"""Atomic writes and safe tensor loading for everything in a project folder."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import pickle
import tempfile
import zipfile
from pathlib import Path

import torch

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
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_tensors(path: Path, map_location="cpu"):
    """Load a .pt file with weights_only=True; a corrupt, truncated or code-carrying file gets a clear error."""
    path = Path(path)
    if not path.exists():
        raise ProjectError(f"{path}: file not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        detail = _unpickler_detail(str(e))
        if "Unsupported global" in detail:
            what = detail.split("Unsupported global:", 1)[1].split(" was not", 1)[0].strip()
            raise ProjectError(f"{path}: refused to load: it holds Python objects other than tensors and "
                               f"plain data, which could run code ({what})") from None
        raise ProjectError(f"{path}: corrupt or truncated file, or not one saved by torch.save "
                           f"({detail or 'unreadable'})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as e:
        raise ProjectError(f"{path}: corrupt or truncated file ({str(e).splitlines()[0]})") from None


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
