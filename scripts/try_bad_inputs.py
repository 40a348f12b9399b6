"""Feed the `bend` command bad inputs and sort what happens: a clear `error:` line with exit 2 (4 for a size
that cannot fit in memory), or a refusal that keeps the project usable; a raw traceback, a silent success, or
lost results.

    python scripts/try_bad_inputs.py [WORKDIR]

Each case starts from a private copy of one small finished project (built once, Fashion-MNIST subset),
breaks one thing, runs a command, puts the thing back and checks that `bend report` still gives the same
Table 3 as before. Prints one line per case and the counts.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BEND = [sys.executable, "-m", "bend_gui.cli"]
SMALL = ["--set", "data.train_size=2000", "--set", "data.test_size=500", "--set", "base.epochs=1",
         "--set", "collect.k=10", "--set", "collect.save_every=5", "--set", "autoencoder.steps=40",
         "--set", "autoencoder.eval_every=0", "--set", "diffusion.steps=40", "--set", "generate.m=5"]


def bend(*args, env=None, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([*BEND, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def set_key(p: Path, section: str, key: str, value: str) -> None:
    """Edit one key of project.toml by text (as a user would)."""
    lines, out, inside = (p / "project.toml").read_text().splitlines(), [], False
    for line in lines:
        if line.startswith("["):
            inside = line.strip() == f"[{section}]"
        if inside and line.split("=")[0].strip() == key:
            line = f"{key} = {value}"
        out.append(line)
    (p / "project.toml").write_text("\n".join(out) + "\n")


class Hostile:
    def __reduce__(self):
        return (os.system, ("true",))


def table3(p: Path) -> str | None:
    r = bend("report", p)
    return r.stdout.split("\n\n")[1] if r.returncode == 0 else None


def case_list(work: Path):
    """(name, break(P) -> command args, restore(P) or None, env). A break may return None: nothing to run."""
    data = work / "data"

    def pretrained(value):
        def brk(p):
            set_key(p, "model", "pretrained", json.dumps(str(value)))
            return ["run", p]
        return brk

    def unset_pretrained(p):
        set_key(p, "model", "pretrained", '""')

    def file_with(name, data):
        def brk(p):
            (work / name).write_bytes(data())
            return pretrained(work / name)(p)
        return brk

    def fmnist_copy(mutate):
        def brk(p):
            d = data / mutate.__name__
            shutil.copytree("/usr/share/datasets/fashion-mnist", d, dirs_exist_ok=True)
            mutate(d)
            set_key(p, "data", "root", json.dumps(str(d)))
            return ["run", p]
        return brk

    def truncated_images(d):
        f = next(d.glob("train-images*"))
        f.write_bytes(f.read_bytes()[:5000])

    def labels_out_of_range(d):
        f = next(d.glob("train-labels*"))
        raw = bytearray(gzip.decompress(f.read_bytes()))
        raw[8:108] = bytes([25]) * 100
        f.write_bytes(gzip.compress(bytes(raw)))

    def unset_root(p):
        set_key(p, "data", "root", '""')

    def setting(section, key, value, *extra):
        def brk(p):
            set_key(p, section, key, value)
            for s, k, v in zip(extra[::3], extra[1::3], extra[2::3]):
                set_key(p, s, k, v)
            return ["run", p]
        return brk

    def restore_toml(p):
        shutil.copyfile(p / ".toml.orig", p / "project.toml")

    def replace_file(rel, data_fn, command="export"):
        """Damage a project file, then run a command that reads it (`export` reads the base model, the
        snapshots, the members and the metrics)."""
        def brk(p):
            shutil.copyfile(p / rel, p / (rel + ".orig"))
            (p / rel).write_bytes(data_fn())
            return ["status", p] if command == "status" else ["export", p, work / "out.pt"]

        def restore(p):
            shutil.copyfile(p / (rel + ".orig"), p / rel)
        return brk, restore

    def not_utf8(p):
        (p / "project.toml").write_bytes(b"\xff\xfe[model]\n")
        return ["status", p]

    def export_to(rel):
        def brk(p):
            return ["export", p, p / rel]
        return brk

    cases = [
        ("pretrained: missing file", pretrained(work / "nope.pt"), unset_pretrained),
        ("pretrained: torch file that would run code", file_with("hostile.pt", lambda: _pt({"w": Hostile()})),
         unset_pretrained),
        ("pretrained: a bare pickle", file_with("pickle.pt", lambda: pickle.dumps(Hostile())), unset_pretrained),
        ("pretrained: random bytes", file_with("rand.pt", lambda: os.urandom(999)), unset_pretrained),
        ("pretrained: empty file", file_with("empty.pt", lambda: b""), unset_pretrained),
        ("dataset: truncated image file", fmnist_copy(truncated_images), unset_root),
        ("dataset: labels out of range", fmnist_copy(labels_out_of_range), unset_root),
        ("collect: lr 1e12 on every layer (NaN)", setting("collect", "lr", "1e12", "subset", "layers", '["*"]'),
         restore_toml),
        ("autoencoder: lr 1e12 (NaN)", setting("autoencoder", "lr", "1e12"), restore_toml),
        ("diffusion: lr 1e12 (NaN)", setting("diffusion", "lr", "1e12"), restore_toml),
        ("collect: k = 1", setting("collect", "k", "1"), restore_toml),
        ("subset: unknown layer", setting("subset", "layers", '["nope"]'), restore_toml),
        ("model: unknown backbone", setting("model", "backbone", '"resnet9000"'), restore_toml),
        ("run: device cuda without a GPU", setting("run", "device", '"cuda"'), restore_toml),
        ("generate: m = 100000 under a 0.05 GiB limit", setting("generate", "m", "100000"), restore_toml,
         {"BEND_MEMORY_LIMIT_GB": "0.05"}),
        ("export onto base/model.pt", export_to("base/model.pt"), None),
        ("export into results/", export_to("results/ensemble.pt"), None),
        ("project.toml not UTF-8", not_utf8, restore_toml),
        ("project.toml not TOML", lambda p: (p / "project.toml").write_text("[model\n") and ["run", p],
         restore_toml),
        ("manifest.json of the wrong shape", *replace_file("manifest.json", lambda: b"[1, 2, 3]\n", "status")),
        ("manifest.json, a stage of the wrong shape",
         *replace_file("manifest.json", lambda: b'{"schema_version": 1, "stages": {"base": 3}}', "status")),
        ("snapshots.pt with the wrong keys", *replace_file("collect/snapshots.pt", lambda: _pt({"x": 1}))),
        ("snapshots.pt truncated", *replace_file("collect/snapshots.pt", lambda: b"PK\x03\x04" + b"\0" * 50)),
        ("base/model.pt empty", *replace_file("base/model.pt", lambda: b"")),
        ("members.pt hostile", *replace_file("generate/members.pt", lambda: pickle.dumps(Hostile()))),
        ("metrics.json not JSON", *replace_file("results/metrics.json", lambda: b"{oops")),
    ]
    return [c if len(c) == 4 else (*c, None) for c in cases]


def _pt(obj) -> bytes:
    import io

    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def main() -> int:
    work = Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="bend-bad-"))
    work.mkdir(parents=True, exist_ok=True)
    base = work / "done"
    if not (base / "results" / "metrics.json").exists():
        shutil.rmtree(base, ignore_errors=True)
        assert bend("new", base, "--template", "fashion-mnist-demo", *SMALL).returncode == 0
        r = bend("run", base, "-q")
        assert r.returncode == 0, r.stderr
    reference = table3(base)
    counts = {"clear": 0, "raw": 0, "silent": 0, "lost": 0}
    for name, brk, restore, env in case_list(work):
        p = work / "case"
        shutil.rmtree(p, ignore_errors=True)
        shutil.copytree(base, p)
        shutil.copyfile(p / "project.toml", p / ".toml.orig")
        args = brk(p)
        r = bend(*args, env=env)
        err = r.stderr.strip().splitlines()
        raw = "Traceback" in r.stderr or (r.returncode not in (0, 2, 4))  # 4: out of memory
        if restore:
            restore(p)
        # Every case is a mistake: exit 0 means it went through unnoticed. After the thing is put back, the
        # last good results must report unchanged, without recomputing anything.
        lost = table3(p) != reference
        verdict = "raw" if raw else "lost" if lost else "silent" if r.returncode == 0 else "clear"
        counts[verdict] += 1
        last = next((line for line in reversed(err) if line.startswith("error:")), err[-1] if err else "")
        print(f"{verdict:6}  exit {r.returncode}  {name}: {last[:150]}")
    print(f"\n{sum(counts.values())} tried: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
