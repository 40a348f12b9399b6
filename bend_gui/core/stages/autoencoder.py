"""Stage 2: the p-diff parameter autoencoder on the k normalised snapshots.

Noise on the input and on the latent while training (the latent σ trades accuracy for diversity).
Every eval_every steps the snapshots are reconstructed and tested as classifiers: the reconstruction
accuracy says whether the decoder's outputs are still working networks.
"""

from __future__ import annotations

import time
from typing import Iterator

import torch
import torch.nn.functional as F

from ..context import Checkpoint, Curve, StageContext
from ..errors import Cancelled
from ..events import Event, Message, Progress
from ..fileio import load_tensors, save_tensors
from ..members import evaluate_members, resolve_batching
from ..metrics import member_accuracies
from ..pdiff.autoencoder import ParamAutoencoder
from ..pdiff.normalize import Normalizer
from ..subset import Subset

STAGE = "autoencoder"


def reconstruction_accuracy(ctx: StageContext, ae, norm, snaps: torch.Tensor, subset: Subset,
                            rows: torch.Tensor) -> Iterator[Event]:
    """Generator returning the test accuracies of the reconstructed snapshots `rows`."""
    data = yield from ctx.data()
    feats = yield from ctx.features("test")
    ae.eval()
    with torch.no_grad():
        x = norm.encode(snaps[rows]).to(ctx.device)
        vecs = norm.decode(ae.decode(ae.encode(x))).cpu()
    out = yield from evaluate_members(ctx.base_network(), subset, vecs, feats, data.test_y,
                                      batch_size=ctx.cfg.evaluate.batch_size,
                                      batching=resolve_batching(ctx.cfg.evaluate.member_batching, ctx.device),
                                      cancel=ctx.cancel, stage=STAGE, label="reconstruction accuracy")
    ae.train()
    return member_accuracies(out.preds.numpy(), data.test_y.numpy())


def run(ctx: StageContext) -> Iterator[Event]:
    cfg, a, dev = ctx.cfg, ctx.cfg.autoencoder, ctx.device
    saved = load_tensors(ctx.project.dir("collect") / "snapshots.pt")
    snaps, subset = saved["snapshots"].float(), Subset.from_dict(saved["subset"])
    k, d = snaps.shape
    norm = Normalizer.fit(snaps, subset, a.normalize)
    x_all = norm.encode(snaps).to(dev)
    torch.manual_seed(ctx.seed(2))
    ae = ParamAutoencoder(d, a.latent_dim, a.channels).to(dev)
    opt = torch.optim.AdamW(ae.parameters(), lr=a.lr, weight_decay=a.weight_decay)
    n_params = sum(p.numel() for p in ae.parameters())
    yield Message(STAGE, f"autoencoder: d = {d:,} → latent {a.latent_dim}, {n_params:,} parameters; "
                         f"{k} snapshots, normalisation '{a.normalize}'")
    ckpt = Checkpoint(ctx.project, STAGE, ctx.project.fingerprint(STAGE, cfg))
    curve = Curve(ctx.project, STAGE, "curve")
    recon = Curve(ctx.project, STAGE, "reconstruction")
    g = torch.Generator().manual_seed(ctx.seed(2))
    step, elapsed, loss_acc = 0, 0.0, []
    state = ckpt.load()
    if state:
        ae.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        g.set_state(state["rng"])
        step, elapsed = state["step"], state["elapsed"]
        curve.rows, recon.rows = list(state["curve"]), list(state["recon"])
        torch.set_rng_state(state["torch_rng"])
        yield Message(STAGE, f"resumed at step {step}")

    def checkpoint_state() -> dict:
        return {"model": ae.state_dict(), "optimizer": opt.state_dict(), "rng": g.get_state(), "step": step,
                "elapsed": elapsed + time.perf_counter() - t0, "curve": curve.rows, "recon": recon.rows,
                "torch_rng": torch.get_rng_state()}

    probe = torch.linspace(0, k - 1, min(k, 20)).round().long()
    orig_acc = saved["test_acc"].float()
    t0 = time.perf_counter()
    ae.train()
    try:
        while step < a.steps:
            ctx.cancel.check()
            idx = torch.randint(0, k, (min(a.batch_size, k),), generator=g)
            batch = x_all[idx.to(dev)]
            loss = F.mse_loss(ae(batch, a.input_noise, a.latent_noise), batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            loss_acc.append(loss.item())
            if step % 10 == 0 or step == a.steps:
                yield curve.add("step", step, loss=sum(loss_acc) / len(loss_acc))
                loss_acc = []
                yield Progress(STAGE, step, a.steps, f"loss {curve.rows[-1]['loss']:.4g}")
            if a.eval_every and step % a.eval_every == 0 and step < a.steps:
                accs = yield from reconstruction_accuracy(ctx, ae, norm, snaps, subset, probe)
                yield recon.add("step", step, recon_acc_mean=accs.mean(), recon_acc_min=accs.min(),
                                orig_acc_mean=float(orig_acc[probe].mean()), snapshots=len(probe))
            ckpt.maybe_save(checkpoint_state)
    except Cancelled:
        ckpt.save(checkpoint_state())
        curve.flush()
        recon.flush()
        raise
    seconds = elapsed + time.perf_counter() - t0
    accs = yield from reconstruction_accuracy(ctx, ae, norm, snaps, subset, torch.arange(k))
    yield recon.add("step", step, recon_acc_mean=accs.mean(), recon_acc_min=accs.min(),
                    orig_acc_mean=float(orig_acc.mean()), snapshots=k)
    with torch.no_grad():
        ae.eval()
        mse = float(F.mse_loss(ae.decode(ae.encode(x_all)), x_all))
    save_tensors(ctx.project.dir(STAGE) / "model.pt", {
        "spec": ae.spec(), "state_dict": {k_: v.cpu() for k_, v in ae.state_dict().items()},
        "normalizer": norm.to_dict(), "recon_acc": torch.tensor(accs)})
    curve.flush()
    recon.flush()
    ckpt.clear()
    yield Message(STAGE, f"reconstructed snapshots: test accuracy mean {accs.mean():.4f} "
                         f"(originals {orig_acc.mean():.4f}); reconstruction MSE {mse:.3g}")
    return {"compute_seconds": seconds, "recon_acc_mean": float(accs.mean()), "recon_acc_min": float(accs.min()),
            "orig_acc_mean": float(orig_acc.mean()), "recon_mse": mse, "params": n_params}
