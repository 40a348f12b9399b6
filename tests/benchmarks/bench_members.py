"""Evaluating m members: one full forward pass each, against the cached frozen prefix with only the tails
run per member (member loop and torch.func.vmap), side by side in one run.

    python tests/benchmarks/bench_members.py                       # smallcnn, 10k images, m = 100
    python tests/benchmarks/bench_members.py --backbone resnet18 --n 200 --m 100 --device cuda

Members are the base subset plus noise (timing does not depend on training). Prints seconds and ratios,
and checks that every path gives the same predictions.
"""

from __future__ import annotations

import argparse
import time

import torch

from bend_gui.core.backbones import build_model, last_batchnorms
from bend_gui.core.events import CancelFlag
from bend_gui.core.features import build_features
from bend_gui.core.members import evaluate_members, full_forward_logits
from bend_gui.core.subset import get_vector, resolve, split_model


def drain(gen):
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value


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
    args = ap.parse_args()
    device = torch.device(args.device)
    channels = args.channels or (1 if args.backbone == "smallcnn" else 3)
    size = args.size or (28 if args.backbone == "smallcnn" else 32)
    torch.manual_seed(0)
    model = build_model(args.backbone, channels, 10).to(device).eval()
    subset = resolve(model, last_batchnorms(model))
    vectors = get_vector(model, subset) + 0.05 * torch.randn(args.m, subset.d)
    x = torch.randint(0, 256, (args.n, channels, size, size), dtype=torch.uint8)
    y = torch.randint(0, 10, (args.n,))
    mean, std = (0.5,) * channels, (0.25,) * channels
    print(f"{args.backbone}: {args.n} images {channels}×{size}×{size}, m = {args.m}, subset "
          f"{', '.join(last_batchnorms(model))} (d = {subset.d}), device {device}, "
          f"{torch.get_num_threads()} CPU threads")

    # Warm-up, so no path pays for first-call allocation.
    full_forward_logits(model, subset, vectors[0], x[: args.batch], mean, std, args.batch)

    sync(device)
    t = time.perf_counter()
    full = [full_forward_logits(model, subset, v, x, mean, std, args.batch).argmax(1) for v in vectors]
    sync(device)
    t_full = time.perf_counter() - t

    results = {}
    for batching in ("loop", "vmap"):
        sync(device)
        t = time.perf_counter()
        prefix, _, _ = split_model(model, subset)
        feats = drain(build_features(prefix, x, mean, std, device, batch_size=args.batch, limit_bytes=8 * 2**30,
                                     cancel=CancelFlag(), stage="bench", label="test"))
        out = drain(evaluate_members(model, subset, vectors, feats, y, batch_size=args.batch, batching=batching,
                                     cancel=CancelFlag(), stage="bench", label="bench"))
        sync(device)
        results[batching] = time.perf_counter() - t
        same = all(torch.equal(out.preds[i].long(), full[i]) for i in range(args.m))
        print(f"  cached prefix + {batching:<4} tails: {results[batching]:8.2f} s   same predictions: {same}")
    print(f"  full forward per member:   {t_full:8.2f} s")
    for batching, secs in results.items():
        print(f"  ratio full / cached-{batching}: {t_full / secs:6.1f}x")


if __name__ == "__main__":
    main()
