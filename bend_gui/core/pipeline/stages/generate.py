"""Stage 4: m new subsets from the chosen generator, and the baseline generators beside it."""

from __future__ import annotations

import time
from typing import Iterator

from ...events import Event, Message
from ...ml import finite
from ...ml.subset import Subset
from ...pdiff.baselines import baseline
from ...project import artifacts as A
from ..context import StageContext
from ..memory import sample_chunk

STAGE = "generate"


def run(ctx: StageContext) -> Iterator[Event]:
    g = ctx.cfg.generate
    saved = A.SNAPSHOTS.load(ctx.project)
    snaps, subset = saved["snapshots"].float(), Subset.from_dict(saved["subset"])
    t0 = time.perf_counter()
    if g.generator == "diffusion":
        gen = A.load_generator(ctx.project, ctx.device)
        # A project from before the training stages checked their outputs may hold broken weights.
        rerun = "rerun stages 2-3 (bend run --force autoencoder), with a lower lr if they fail"
        finite.check_state(gen.ae.state_dict(), STAGE, "the autoencoder's saved weights", rerun)
        finite.check_state(gen.denoiser.state_dict(), STAGE, "the denoiser's saved weights", rerun)
        t0 = time.perf_counter()  # loading is not generation
        # The bar moves while it samples (a few reports a second), not only at the end.
        members = yield from gen.sampling(g.m, sampler=g.sampler, steps=g.sampling_steps,
                                          decode_noise=g.decode_noise, seed=g.seed, eta=g.ddim_eta,
                                          chunk=sample_chunk(subset.d, ctx.cfg), cancel=ctx.cancel, stage=STAGE)
        how = f"{g.sampler.upper()}, {g.sampling_steps if g.sampler == 'ddim' else gen.schedule.T} steps" + \
            (f", eta {g.ddim_eta:g}" if g.sampler == "ddim" and g.ddim_eta else "")
    else:
        members = baseline(g.generator, snaps, g.m, g.seed, subset, noise_sigma=g.noise_sigma,
                           average_size=g.average_size, gaussian_scale=g.gaussian_scale)
        how = "baseline"
    seconds = time.perf_counter() - t0
    finite.check_rows(members, STAGE, "generated member", "the sampler diverged from finite weights: check "
                      "[diffusion] beta_end, timesteps and steps, or retrain stages 2-3"
                      if g.generator == "diffusion" else f"the {g.generator} baseline's settings broke it")
    yield Message(STAGE, f"{g.m} members from {g.generator} ({how}) in {seconds:.2f} s")
    baselines = {}
    for name in g.baselines:
        if name != g.generator:
            ctx.cancel.check()
            baselines[name] = baseline(name, snaps, g.m, g.seed + 1, subset, noise_sigma=g.noise_sigma,
                                       average_size=g.average_size, gaussian_scale=g.gaussian_scale)
            finite.check_rows(baselines[name], STAGE, f"{name} baseline member", "its snapshots or settings "
                              "are not finite: rerun collect, or lower [generate] noise_sigma")
    A.MEMBERS.save(ctx.project, {
        "generator": g.generator, "members": members, "baselines": baselines, "subset": subset.to_dict(),
        "seconds": seconds})
    return {"generator": g.generator, "m": g.m, "seconds": seconds, "seconds_per_member": seconds / g.m,
            "sampler": g.sampler if g.generator == "diffusion" else None}
