"""Generator training, old settings against new, side by side in one run on a project's snapshots.

    python tests/benchmarks/bench_generator.py --project /tmp/demo        # collect must be done
    add --full-epoch to time a whole base-training epoch (default: --base-steps timed steps, scaled up),
    --threads 1 on a machine others keep busy (two threads then wait on each other at every small op)

For each setting: seconds of autoencoder training and of its reconstruction tests (as the stage runs them),
seconds of DDPM training, both as a ratio to one base-training epoch timed in the same run (the training
steps only, t_orge of eq. 11), seconds to sample 100 members, and the members' mean / median test accuracy
against the snapshots'. The same trainers, tests and sampler as the pipeline's stages, with the stages'
seeds; "old" is the demo template before issue 12, "new" the project's own settings.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from bend_gui.core.events import CancelFlag, run_to_end
from bend_gui.core.ml.backbones import build_model
from bend_gui.core.ml.data import normalize
from bend_gui.core.ml.members import evaluate_members
from bend_gui.core.ml.subset import Subset
from bend_gui.core.ml.training import epoch_permutation, make_optimizer, make_schedule, steps_per_epoch
from bend_gui.core.pdiff.training import AutoencoderTrainer, DiffusionTrainer, train_steps
from bend_gui.core.pipeline.context import StageContext
from bend_gui.core.pipeline.stages.autoencoder import tested_rows
from bend_gui.core.project import artifacts as A
from bend_gui.core.project.folder import Project
from bend_gui.core.results.metrics import member_accuracies
from bend_gui.core.settings import config as C

# The demo template's generator settings before issue 12 (everything else: that version's defaults).
OLD = [("autoencoder", "steps", 500), ("autoencoder", "channels", [16, 32, 32, 16]),
       ("autoencoder", "normalize", "residual"), ("autoencoder", "eval_every", 125),
       ("autoencoder", "eval_snapshots", 0), ("autoencoder", "patience", 0),
       ("diffusion", "steps", 1000), ("diffusion", "channels", [32, 64]), ("diffusion", "patience", 0),
       ("generate", "sampler", "ddim"), ("generate", "sampling_steps", 60)]


def base_epoch_seconds(ctx: StageContext, steps: int | None) -> tuple[float, int, int]:
    """Seconds of one base-training epoch's steps (the stage's optimiser and schedule, a fresh network),
    timed over `steps` steps and scaled to the epoch (all of them when None); (seconds, timed, per epoch)."""
    cfg, b = ctx.cfg, ctx.cfg.base
    data = run_to_end(ctx.data())
    torch.manual_seed(0)
    model = build_model(cfg.model.backbone, data.channels, data.num_classes).to(ctx.device).train()
    spe = steps_per_epoch(len(data.train_x), b.batch_size)
    opt = make_optimizer(b.optimizer, model.parameters(), b.lr, b.momentum, b.weight_decay)
    sched = make_schedule(b.schedule, opt, b.lr, b.epochs * spe)
    perm = epoch_permutation(len(data.train_x), 0, 0)
    n = spe if steps is None else min(steps, spe)
    t0 = time.perf_counter()
    for i in range(n):
        idx = perm[i * b.batch_size:(i + 1) * b.batch_size]
        x = normalize(data.train_x[idx].to(ctx.device), data.mean, data.std)
        loss = F.cross_entropy(model(x), data.train_y[idx].to(ctx.device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    float(loss.detach())  # waits for the last step (a GPU runs ahead)
    return (time.perf_counter() - t0) * spe / n, n, spe


def accuracies(ctx: StageContext, subset: Subset, vectors: torch.Tensor, feats, y) -> np.ndarray:
    e = ctx.cfg.evaluate
    out = run_to_end(evaluate_members(ctx.base_network(), subset, vectors, feats, y, batch_size=e.batch_size,
                                      batching=e.member_batching, cancel=ctx.cancel, stage="bench", label="bench"))
    return member_accuracies(out.preds.numpy(), y.numpy())


def one_setting(ctx: StageContext, cfg: C.ProjectConfig, snaps, subset, feats, y) -> dict:
    a, c, g, dev, cancel = cfg.autoencoder, cfg.diffusion, cfg.generate, ctx.device, ctx.cancel
    ae = AutoencoderTrainer(snaps, subset, a, dev, ctx.seed("autoencoder"))
    rows = tested_rows(len(snaps), a.eval_snapshots)
    checks = [s for s in range(a.eval_every, a.steps, a.eval_every)] if a.eval_every else []
    t0 = time.perf_counter()
    ae_steps = run_to_end(train_steps(ae, a.steps, cancel, log_every=cfg.run.log_every,
                                      record=lambda *_: None, progress=lambda *_: None))
    t_ae = time.perf_counter() - t0
    # The stage's reconstruction tests: len(checks) during training (only where training got there), one at the end.
    t0 = time.perf_counter()
    for _ in range(1 + len([s for s in checks if s < ae_steps])):
        recon = accuracies(ctx, subset, ae.reconstruct(snaps[rows]), feats, y)
    t_test = time.perf_counter() - t0
    dt = DiffusionTrainer(ae.ae.eval(), ae.norm, snaps, c, dev, ctx.seed("diffusion"))
    t0 = time.perf_counter()
    ddpm_steps = run_to_end(train_steps(dt, c.steps, cancel, log_every=cfg.run.log_every,
                                        record=lambda *_: None, progress=lambda *_: None))
    t_ddpm = time.perf_counter() - t0
    gen = dt.generator()
    gen.sample(4, sampler=g.sampler, steps=g.sampling_steps, decode_noise=g.decode_noise, seed=g.seed)  # warm-up
    t0 = time.perf_counter()
    members = gen.sample(100, sampler=g.sampler, steps=g.sampling_steps, decode_noise=g.decode_noise, seed=g.seed)
    t_sample = time.perf_counter() - t0
    acc = accuracies(ctx, subset, members, feats, y)
    return {"ae_steps": ae_steps, "t_ae": t_ae, "t_test": t_test, "tests": len(rows), "recon": float(recon.mean()),
            "ddpm_steps": ddpm_steps, "t_ddpm": t_ddpm, "t_sample": t_sample,
            "mean": float(acc.mean()), "median": float(np.median(acc))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--project", required=True, help="a project whose collect stage is done")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--base-steps", type=int, default=150, help="base-training steps timed for the epoch")
    ap.add_argument("--full-epoch", action="store_true", help="time a whole base-training epoch")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    project = Project.open(args.project)
    new = project.load_config()
    old = C.with_values(new, OLD)
    ctx = StageContext(project, new, torch.device(args.device), CancelFlag())
    saved = A.SNAPSHOTS.load(project)
    snaps, subset = saved["snapshots"].float(), Subset.from_dict(saved["subset"])
    orig = saved["test_acc"].float().numpy()
    data = run_to_end(ctx.data())
    feats = run_to_end(ctx.features("test", "bench"))
    print(f"{project.root.name}: k = {len(snaps)} snapshots, d = {subset.d}, {len(data.test_y)} test images, "
          f"device {args.device}, {torch.get_num_threads()} CPU threads")
    epoch, timed, spe = base_epoch_seconds(ctx, None if args.full_epoch else args.base_steps)
    print(f"one base-training epoch: {epoch:.1f} s ({timed} of its {spe} steps timed)")
    results = {}
    for name, cfg in (("old", old), ("new", new)):
        results[name] = one_setting(ctx, cfg, snaps, subset, feats, data.test_y)
        r = results[name]
        print(f"  {name}: AE {r['ae_steps']} steps, DDPM {r['ddpm_steps']} steps", flush=True)
    rows = [("AE steps (trained)", "ae_steps", "{:.0f}"), ("AE training (s)", "t_ae", "{:.1f}"),
            ("AE reconstruction tests (s)", "t_test", "{:.1f}"), ("DDPM steps (trained)", "ddpm_steps", "{:.0f}"),
            ("DDPM training (s)", "t_ddpm", "{:.1f}")]
    print(f"\n{'':<34}{'old':>10}{'new':>10}{'new/old':>10}")
    for label, key, fmt in rows:
        o, n = results["old"][key], results["new"][key]
        print(f"{label:<34}{fmt.format(o):>10}{fmt.format(n):>10}{n / o if o else float('nan'):>10.2f}")
    for name in ("old", "new"):
        r = results[name]
        r["gen_total"] = r["t_ae"] + r["t_test"] + r["t_ddpm"]
    extra = [("generator total: AE + tests + DDPM (s)", "gen_total", "{:.1f}")]
    for label, key, fmt in extra:
        o, n = results["old"][key], results["new"][key]
        print(f"{label:<34}{fmt.format(o):>10}{fmt.format(n):>10}{n / o:>10.2f}")
    for label, key in (("AE training / base epoch", "t_ae"), ("DDPM training / base epoch", "t_ddpm"),
                       ("generator total / base epoch", "gen_total")):
        print(f"{label:<34}{results['old'][key] / epoch:>10.2f}{results['new'][key] / epoch:>10.2f}")
    print(f"{'sample 100 members (s)':<34}{results['old']['t_sample']:>10.2f}{results['new']['t_sample']:>10.2f}")
    print(f"{'reconstructed snapshots mean (%)':<34}{100 * results['old']['recon']:>10.2f}"
          f"{100 * results['new']['recon']:>10.2f}   ({results['old']['tests']} / {results['new']['tests']} tested)")
    for label, key in (("members mean (%)", "mean"), ("members median (%)", "median")):
        print(f"{label:<34}{100 * results['old'][key]:>10.2f}{100 * results['new'][key]:>10.2f}")
    print(f"{'snapshots mean / median (%)':<34}{100 * orig.mean():>10.2f}{100 * np.median(orig):>10.2f}")
    for name in ("old", "new"):
        gap = 100 * (results[name]["mean"] - orig.mean())
        print(f"{name}: members mean − snapshots mean = {gap:+.2f} points (the bar: ≥ −0.50)")


if __name__ == "__main__":
    main()
