"""The whole pipeline of a template in a temporary project, measured per stage, beside the BEND paper's
Table 4 (A100, ResNet-50, CIFAR-10).

    python tests/benchmarks/bench_pipeline.py --template resnet18-fashion-mnist
    python tests/benchmarks/bench_pipeline.py --template resnet18-fashion-mnist --device cuda \
        --set data.train_size=0 --set base.epochs=5
    add --keep DIR to keep the project (bend report DIR afterwards)

Prints per stage: seconds, images per second (base training, subset training, member evaluation), the peak
resident memory of this process while the stage ran, and the peak GPU memory torch allocated (on CUDA).
It runs the same core functions as `bend run`, so the figures are the CLI's.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

from bend_gui.core.events import StageFinished, StageStarted
from bend_gui.core.ml.data import load_dataset
from bend_gui.core.ml.device import describe_device, resolve_device
from bend_gui.core.pipeline import runner
from bend_gui.core.pipeline.memory import _sets
from bend_gui.core.project.folder import STAGE_TITLES, Project
from bend_gui.core.settings import config as C
from bend_gui.core.settings.templates import load_template

# The paper's Table 4 (A100, ResNet-50, CIFAR-10, k = 200, m = 100), in seconds.
PAPER = {"base": "28 s / epoch", "autoencoder": "931.39 s", "diffusion": "857.14 s", "generate": "2.35 s / member"}


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class PeakRSS:
    """The peak resident memory since the last `reset`, sampled every 50 ms in a thread (a per-stage peak,
    which the process-wide ru_maxrss cannot give)."""

    def __init__(self):
        self.peak, self._stop = rss_bytes(), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_bytes())

    def reset(self) -> None:
        self.peak = rss_bytes()

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, rss_bytes())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--template", required=True)
    ap.add_argument("--device", default=None, help="[run] device (auto, cpu, cuda, cuda:N, mps)")
    ap.add_argument("--set", action="append", default=[], help="section.key=value, as for bend new")
    ap.add_argument("--keep", default=None, help="keep the project in this folder")
    args = ap.parse_args()

    sets = list(args.set) + ([f"run.device='{args.device}'"] if args.device else [])
    cfg = C.with_values(load_template(args.template), [C.parse_assignment(s) for s in sets])
    device = resolve_device(cfg.run)
    data = load_dataset(cfg.data)
    n_train, n_test = len(data.train_x), len(data.test_x)
    del data
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-pipeline-")) / "p"
    project = Project.create(root, cfg)
    cuda = device.type == "cuda"
    print(f"{args.template} on {describe_device(device)}, torch {torch.__version__}; {n_train:,} training and "
          f"{n_test:,} test images; project {root}", flush=True)

    rss = PeakRSS()
    rows, t_all = {}, time.perf_counter()
    try:
        for ev in runner.run(project, what="bench_pipeline"):
            if isinstance(ev, StageStarted):
                rss.reset()
                if cuda:
                    torch.cuda.synchronize(device)
                    torch.cuda.reset_peak_memory_stats(device)
            elif isinstance(ev, StageFinished):
                gpu = torch.cuda.max_memory_allocated(device) if cuda else None
                rows[ev.stage] = (ev.seconds, rss.peak, gpu)
                print(f"  {STAGE_TITLES[ev.stage]}: {ev.seconds:.1f} s", flush=True)
    finally:
        rss.stop()
    total = time.perf_counter() - t_all

    info = {s: project.state(s).info or {} for s in rows}
    b, c, g = cfg.base, cfg.collect, cfg.generate
    members = _sets(cfg) * g.m + c.k

    def rate(stage: str) -> str:
        i = info.get(stage, {})
        if stage == "base" and b.epochs and i.get("train_seconds_per_epoch"):
            return f"{n_train / i['train_seconds_per_epoch']:,.0f} train"
        if stage == "collect" and i.get("compute_seconds"):
            return f"{i['iterations'] * c.batch_size / i['compute_seconds']:,.0f} train (tail)"
        if stage == "evaluate" and rows[stage][0]:
            return f"{members * n_test / rows[stage][0]:,.0f} eval ({members} members × {n_test:,})"
        if stage == "generate" and rows[stage][0]:
            return f"{rows[stage][0] / g.m:.3f} s / member"
        return ""

    print("\n| stage | seconds | images/s | peak host memory | peak GPU memory | paper (A100, ResNet-50, CIFAR-10) |")
    print("|---|---:|---|---:|---:|---|")
    for stage, (secs, host, gpu) in rows.items():
        gpu_text = f"{gpu / 2**30:.2f} GiB" if gpu is not None else "—"
        print(f"| {STAGE_TITLES[stage]} | {secs:.1f} | {rate(stage)} | {host / 2**30:.2f} GiB | {gpu_text} | "
              f"{PAPER.get(stage, '')} |")
    print(f"\nwhole pipeline: {total:.1f} s")
    if "base" in info:
        print(f"base test accuracy {info['base'].get('test_acc', float('nan')):.4f}")
    if not args.keep:
        shutil.rmtree(root.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
