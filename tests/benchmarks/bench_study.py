"""Studies here and on Ray, side by side: the per-point overhead of the Ray executor, and the wall time of a
12-point grid with each executor.

    python tests/benchmarks/bench_study.py                       # the tiny test project, built in /tmp
    python tests/benchmarks/bench_study.py --project /tmp/demo   # a finished project of your own (copied)
    add --cpus N for the Ray head's CPUs (default: all of this machine's), --gpus-per-point 0.25 on a GPU box

The Ray cluster is a head node started by this script (tests/ray_cluster.py) and stopped at the end.
- overhead: 12 points that cost almost nothing (m = 2-5 raw snapshots, 3 seeds) run one at a time (on Ray
  each point reserves all the head's CPUs), after a warm-up study that starts Ray's workers: per point,
  Ray's time minus local's is what the executor adds (submit, ship the result back, write).
- grid: autoencoder.latent_noise ∈ {0, 0.05, 0.1, 0.3} × seeds {0, 1, 2} (every point retrains the
  autoencoder and DDPM), local one after another against Ray with 1 CPU per point.
Both executors use one torch thread per point ([run] threads = 1), so their points are the same numbers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bend_gui.core.events import run_to_end
from bend_gui.core.project.folder import Project
from bend_gui.core.studies import study
from bend_gui.core.studies.executors import make_executor

CHEAP = {"generate.generator": ["snapshots"], "generate.m": [2, 3, 4, 5]}
GRID = {"autoencoder.latent_noise": [0.0, 0.05, 0.1, 0.3]}
SEEDS = [0, 1, 2]


def tiny_project(root: Path) -> Path:
    from tests.helpers import hard_config, run_all, write_tiny_idx

    write_tiny_idx(root / "data", n_train=600, n_test=200)
    return run_all(root / "p", hard_config(root / "data"))


def copy_with_one_thread(src: Path, dst: Path) -> Project:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("studies", ".lock"))
    p = Project.open(dst)
    cfg = p.load_config()
    cfg.run.threads = 1
    p.save_config(cfg)
    return p


def timed(project: Project, name: str, keys: dict, executor) -> tuple[float, list[dict]]:
    t0 = time.perf_counter()
    records = run_to_end(study.run_study(project, *study.define(project, keys, SEEDS, name), executor))
    return time.perf_counter() - t0, records


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--project", help="a finished project (default: the tiny test project, built here)")
    ap.add_argument("--cpus", type=int, default=os.cpu_count(), help="the Ray head's CPUs")
    ap.add_argument("--gpus-per-point", type=float, default=0.0)
    args = ap.parse_args()
    from tests.ray_cluster import Cluster

    work = Path(tempfile.mkdtemp(prefix="bench-study-"))
    src = Path(args.project) if args.project else tiny_project(work / "tiny")
    local_p = copy_with_one_thread(src, work / "local")
    ray_p = copy_with_one_thread(src, work / "ray")
    cfg = local_p.load_config()
    print(f"project {src} · {cfg.model.backbone} on {cfg.data.dataset} · autoencoder {cfg.autoencoder.steps} + "
          f"DDPM {cfg.diffusion.steps} steps · {os.cpu_count()} CPUs · load {os.getloadavg()[0]:.1f}")
    cluster = Cluster(work / "rc", head_cpus=args.cpus)
    try:
        t0 = time.perf_counter()
        cluster.wait_for_head()
        ray_one = make_executor("ray", address=cluster.address, cpus_per_point=args.cpus)
        ray_par = make_executor("ray", address=cluster.address, cpus_per_point=1,
                                gpus_per_point=args.gpus_per_point)
        ray_one.prepare()
        t_start = time.perf_counter() - t0
        t_warm, _ = timed(ray_p, "warmup", {"generate.generator": ["snapshots"], "generate.m": [1]}, ray_one)
        local = make_executor("local")
        t_lc, rec_lc = timed(local_p, "cheap", CHEAP, local)
        t_rc, _ = timed(ray_p, "cheap", CHEAP, ray_one)
        t_lg, rec_lg = timed(local_p, "grid", GRID, local)
        t_rg, rec_rg = timed(ray_p, "grid", GRID, ray_par)
    finally:
        cluster.stop()
    n_c, n_g = len(rec_lc), len(rec_lg)
    same = [{k: v for k, v in r["row"].items() if k != "seconds"} for r in rec_lg] == \
        [{k: v for k, v in r["row"].items() if k != "seconds"} for r in rec_rg]
    compute = sum(r["seconds"] for r in rec_lg)
    print(f"Ray head start + connect: {t_start:.1f} s; warm-up study (starts the workers, 3 points): {t_warm:.1f} s")
    print()
    print(f"{'':<44}{'local':>10}{'ray':>10}{'ray/local':>11}")
    print(f"{'cheap points, one at a time: s per point':<44}{t_lc / n_c:>10.3f}{t_rc / n_c:>10.3f}"
          f"{t_rc / t_lc:>11.2f}")
    print(f"{'  → Ray overhead per point (s)':<44}{'':>10}{(t_rc - t_lc) / n_c:>10.3f}")
    print(f"{f'{n_g}-point grid (AE + DDPM per point): wall s':<44}{t_lg:>10.1f}{t_rg:>10.1f}{t_rg / t_lg:>11.2f}")
    print(f"  grid points' own compute, summed (local): {compute:.1f} s; Ray ran {args.cpus} at a time on "
          f"{len({r['node'] for r in rec_rg})} node(s); points identical to local: {same}")
    sbend = ", ".join(f"{100 * r['row']['sbend']:.1f}" for r in rec_lg)
    print(f"  sBEND per point (local): {sbend}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
