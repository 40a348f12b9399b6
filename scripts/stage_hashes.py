"""Run the tiny test pipeline (augmentation on) and print a hash of every tensor each stage saved, so two
checkouts can be compared bit for bit on the CPU:

    (cd OLD && python scripts/stage_hashes.py /tmp/h-old) > old.txt
    (cd NEW && python scripts/stage_hashes.py /tmp/h-new) > new.txt
    diff <(grep '\\.pt ' old.txt) <(grep '\\.pt ' new.txt)    # only the 'seconds' fields may differ

Extra arguments set config keys: section__key=JSON, e.g. run__cache_limit_gb=4.0.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path.cwd()))  # the checkout run from, with its tests/helpers.py

from bend_gui.core.fileio import load_tensors
from tests.helpers import run_all, tiny_config, write_tiny_idx


def digest(t):
    if isinstance(t, dict):
        return {k: digest(v) for k, v in sorted(t.items())}
    if isinstance(t, list):
        return [digest(v) for v in t]
    if torch.is_tensor(t):
        return hashlib.sha256(t.detach().contiguous().cpu().numpy().tobytes()).hexdigest()[:12]
    return t


def main() -> None:
    out = Path(sys.argv[1])
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    write_tiny_idx(out / "data", 400, 200)
    extra = {k: json.loads(v) for k, v in (a.split("=", 1) for a in sys.argv[2:])}
    root = run_all(out / "p", tiny_config(out / "data", base__augment=True, **extra))
    for f in sorted(root.rglob("*.pt")):
        if not f.name.startswith("checkpoint"):
            print(f.relative_to(root), json.dumps(digest(load_tensors(f)), sort_keys=True, default=str))


if __name__ == "__main__":
    main()
