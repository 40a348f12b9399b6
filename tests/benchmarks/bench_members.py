"""Evaluating m members: one full forward pass each, against the cached frozen prefix with only the tails
run per member (member loop and torch.func.vmap), side by side in one run.

    python tests/benchmarks/bench_members.py --project /tmp/demo     # a run project: its network, members, test set
    python tests/benchmarks/bench_members.py --backbone resnet18 --n 100 --m 100 --batch 100
    add --skip-full to time only the cached paths (loop, vmap, and auto, which times both and keeps the faster)

With --project: the trained base network, the project's generated members and its test images. Without:
a freshly initialised backbone, members = its subset plus noise, random images (timing does not depend on
training). Prints seconds and ratios, and how many predictions of the cached paths differ from full passes.
"""

from __future__ import annotations

import argparse
import time

import torch

from bend_gui.core.events import CancelFlag, run_to_end
from bend_gui.core.ml.backbones import build_model, last_batchnorms
from bend_gui.core.ml.features import build_features
from bend_gui.core.ml.members import evaluate_members, full_forward_logits
from bend_gui.core.ml.subset import get_vector, resolve, split_model


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backbone", default="smallcnn")
    ap.add_argument("--channels", type=int, default=None)
    ap.add_argument("--size", type=int, default=None)
    ap.add_argument("--n", type=int, default=10_000, help="test images")
    ap.add_argument("--m", type=int, default=100, help="members")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--project", help="a project whose generate stage is done")
    ap.add_argument("--skip-full", action="store_true", help="time only the cached paths (no full forward)")
    args = ap.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    if args.project:
        from bend_gui.core.fileio import load_tensors
        from bend_gui.core.pipeline.context import StageContext
        from bend_gui.core.project.folder import Project

        project = Project.open(args.project)
        ctx = StageContext(project, project.load_config(), device, CancelFlag())
        data = run_to_end(ctx.data())
        model, subset = ctx.base_network(), ctx.subset()
        vectors = load_tensors(project.dir("generate") / "members.pt")["members"][: args.m].float()
        x, y, mean, std = data.test_x[: args.n], data.test_y[: args.n], data.mean, data.std
        name = f"{project.root.name} ({project.load_config().model.backbone}, trained)"
    else:
        channels = args.channels or (1 if args.backbone == "smallcnn" else 3)
        size = args.size or (28 if args.backbone == "smallcnn" else 32)
        model = build_model(args.backbone, channels, 10).to(device).eval()
        subset = resolve(model, last_batchnorms(model))
        vectors = get_vector(model, subset) + 0.05 * torch.randn(args.m, subset.d)
        x = torch.randint(0, 256, (args.n, channels, size, size), dtype=torch.uint8)
        y = torch.randint(0, 10, (args.n,))
        mean, std = (0.5,) * channels, (0.25,) * channels
        name = f"{args.backbone} (freshly initialised)"
    args.m, args.n = len(vectors), len(x)
    print(f"{name}: {args.n} images {tuple(x.shape[1:])}, m = {args.m}, subset d = {subset.d}, device {device}, "
          f"{torch.get_num_threads()} CPU threads")

    # Warm-up, so no path pays for first-call allocation.
    full_forward_logits(model, subset, vectors[0], x[: args.batch], mean, std, args.batch)

    full, t_full = None, None
    if not args.skip_full:
        sync(device)
        t = time.perf_counter()
        full = [full_forward_logits(model, subset, v, x, mean, std, args.batch).argmax(1) for v in vectors]
        sync(device)
        t_full = time.perf_counter() - t

    results = {}
    for batching in ("loop", "vmap", "auto"):
        sync(device)
        t = time.perf_counter()
        prefix, _, _ = split_model(model, subset)
        feats = run_to_end(build_features(prefix, x, mean, std, device, batch_size=args.batch, limit_bytes=8 * 2**30,
                                     cancel=CancelFlag(), stage="bench", label="test"))
        out = run_to_end(evaluate_members(model, subset, vectors, feats, y, batch_size=args.batch, batching=batching,
                                     cancel=CancelFlag(), stage="bench", label="bench"))
        sync(device)
        results[batching] = time.perf_counter() - t
        chose = f" (chose {out.batching})" if batching == "auto" else ""
        differ = ("" if full is None else f"   predictions that differ from the full forward: "
                  f"{sum(int((out.preds[i].long() != full[i]).sum()) for i in range(args.m))} of {args.m * args.n}")
        print(f"  cached prefix + {batching:<4} tails: {results[batching]:8.2f} s{chose}{differ}")
    if t_full is not None:
        print(f"  full forward per member:   {t_full:8.2f} s")
        for batching, secs in results.items():
            print(f"  ratio full / cached-{batching}: {t_full / secs:6.1f}x")
    print(f"  ratio loop / vmap: {results['loop'] / results['vmap']:.2f}; auto / best of the two: "
          f"{results['auto'] / min(results['loop'], results['vmap']):.2f}")


if __name__ == "__main__":
    main()
