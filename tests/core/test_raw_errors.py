"""Every input that once ended in a raw traceback (issue 13) now gives one `error:` line that names the file
and what is wrong, exit code 2, and changes nothing in the project: each case breaks one thing in a copy of
a finished project and runs the `bend` command a user would."""

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from bend_gui.core.project.folder import Project
from bend_gui.core.settings import config as C
from tests.helpers import write_tiny_idx


def bend(*args, prefix=()):
    return subprocess.run([*prefix, sys.executable, "-m", "bend_gui.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=600, check=False)


def set_values(p: Project, **values) -> None:
    p.save_config(C.with_values(p.load_config(), [(*k.split("__"), v) for k, v in values.items()]))


def tree(p: Project) -> dict:
    """sha256 of every file a command could lose. Left out: the lock file, the run logs (a run that starts
    writes one), and the manifest, compared by its last good runs instead (a failed attempt is recorded)."""
    out = {}
    for f in sorted(p.root.rglob("*")):
        rel = f.relative_to(p.root)
        if f.is_file() and rel.parts[0] != "logs" and rel.name not in (".lock", "manifest.json"):
            out[str(rel)] = hashlib.sha256(f.read_bytes()).hexdigest()
    try:
        stages = json.loads(p.manifest_path.read_text())["stages"]
        out["manifest.json: last good runs"] = {s: {k: v for k, v in e.items() if k != "attempt"}
                                                for s, e in stages.items()}
    except (ValueError, KeyError, TypeError, AttributeError):  # the case broke the manifest itself
        out["manifest.json"] = hashlib.sha256(p.manifest_path.read_bytes()).hexdigest()
    return out


def labels_out_of_range(p, tmp_path):
    data = tmp_path / "bad-labels"
    write_tiny_idx(data, n_train=600, n_test=200)
    f = data / "train-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(f.read_bytes()))
    raw[8:108] = bytes([25]) * 100
    f.write_bytes(gzip.compress(bytes(raw)))
    set_values(p, data__root=str(data))
    return ["run", p.root], ["train-labels-idx1-ubyte.gz", "labels run up to 25", "10 classes"]


def image_folder(damage):
    def brk(p, tmp_path):
        from PIL import Image

        root = tmp_path / "images"
        rng = np.random.default_rng(0)
        for c in ("cat", "dog"):
            (root / c).mkdir(parents=True)
            for i in range(6):
                Image.fromarray(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)).save(root / c / f"{i}.png")
        bad = root / "dog" / "3.png"
        damage(bad)
        set_values(p, data__dataset="imagefolder", data__root=str(root), data__image_size=8)
        return ["run", p.root], [str(bad), "not a readable image"]
    return brk


def corrupt(path):
    path.write_bytes(b"this is not a picture" * 10)


def truncated(path):
    path.write_bytes(path.read_bytes()[:60])


def manifest(text):
    def brk(p, tmp_path):
        p.manifest_path.write_text(text)
        return ["status", p.root], ["manifest.json", "not a manifest"]
    return brk


def snapshots_with_wrong_keys(p, tmp_path):
    buf = io.BytesIO()
    torch.save({"x": torch.zeros(3)}, buf)
    (p.root / "collect" / "snapshots.pt").write_bytes(buf.getvalue())
    return ["run", p.root, "--only", "autoencoder", "--force", "autoencoder"], \
        ["collect/snapshots.pt", "subset", "snapshots"]


def not_writable(p, tmp_path):
    set_values(p, generate__m=4)  # generate and evaluate are stale: the run needs the lock
    os.chmod(p.root, 0o555)
    return ["run", p.root], [str(p.root), "not writable"]


def not_utf8(p, tmp_path):
    p.config_path.write_bytes(p.config_path.read_bytes().replace(b"# BEND", b"\xff\xfe BEND", 1))
    return ["status", p.root], ["project.toml", "not UTF-8"]


def cuda_without_gpu(p, tmp_path):
    set_values(p, run__device="cuda")
    return ["run", p.root], ["[run] device", "no GPU"]


# Root may write anywhere: the read-only folder case drops that capability, as an ordinary user has none.
AS_A_USER = ("setpriv", "--bounding-set=-dac_override,-dac_read_search",
             "--inh-caps=-dac_override,-dac_read_search") if os.geteuid() == 0 else ()

CASES = {
    "labels outside the class range": labels_out_of_range,
    "a corrupt image in an image folder": image_folder(corrupt),
    "a truncated image in an image folder": image_folder(truncated),
    "manifest.json of the wrong shape": manifest("[1, 2, 3]\n"),
    "manifest.json, a stage of the wrong shape": manifest('{"schema_version": 1, "stages": {"base": 3}}'),
    "collect/snapshots.pt with the wrong keys": snapshots_with_wrong_keys,
    "a project folder the user may not write": not_writable,
    "project.toml not UTF-8": not_utf8,
    'device = "cuda" without a GPU': cuda_without_gpu,
}


@pytest.mark.parametrize("case", CASES)
def test_a_raw_error_is_one_clear_line_and_changes_nothing(finished_project, tmp_path, case):
    if case.startswith("device") and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    if case.startswith("a project folder") and AS_A_USER and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv to drop the right to write anywhere")
    args, words = CASES[case](finished_project, tmp_path)
    before = tree(finished_project)
    r = bend(*args, prefix=AS_A_USER if case.startswith("a project folder") else ())
    os.chmod(finished_project.root, 0o755)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, r.stderr
    for w in words:
        assert w in errors[0], errors[0]
    assert tree(finished_project) == before
