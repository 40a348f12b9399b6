"""Stage 4: m new subsets from the chosen generator, and the baseline generators beside it."""

from __future__ import annotations

import time
from typing import Iterator

import torch

from ...errors import BendError
from ...events import Event, Message, Progress
from ...ml.subset import Subset
from ...pdiff.baselines import baseline
from ...project import artifacts as A
from ..context import StageContext

STAGE = "generate"


def run(ctx: StageContext) -> Iterator[Event]:
    g = ctx.cfg.generate
    saved = A.SNAPSHOTS.load(ctx.project)
    snaps, subset = saved["snapshots"].float(), Subset.from_dict(saved["subset"])
    events: list[Progress] = []
    t0 = time.perf_counter()
    if g.generator == "diffusion":
        gen = A.load_generator(ctx.project, ctx.device)
        t0 = time.perf_counter()  # loading is not generation

        def on_step(i, n):
            ctx.cancel.check()
            events.append(Progress(STAGE, i, n, f"{g.sampler.upper()} step {i}/{n}"))

        members = gen.sample(g.m, sampler=g.sampler, steps=g.sampling_steps, decode_noise=g.decode_noise,
                             seed=g.seed, on_step=on_step)
        yield from events[-1:]
        how = f"{g.sampler.upper()}, {g.sampling_steps if g.sampler == 'ddim' else gen.schedule.T} steps"
    else:
        members = baseline(g.generator, snaps, g.m, g.seed, subset, noise_sigma=g.noise_sigma,
                           average_size=g.average_size)
        how = "baseline"
    seconds = time.perf_counter() - t0
    bad = int((~torch.isfinite(members).all(1)).sum())
    if bad:
        raise BendError(f"{bad} of {g.m} generated members hold non-finite numbers: the generator diverged "
                        f"(check [diffusion] beta_end, timesteps and steps, or retrain stages 2-3)")
    yield Message(STAGE, f"{g.m} members from {g.generator} ({how}) in {seconds:.2f} s")
    baselines = {}
    for name in g.baselines:
        if name != g.generator:
            ctx.cancel.check()
            baselines[name] = baseline(name, snaps, g.m, g.seed + 1, subset, noise_sigma=g.noise_sigma,
                                       average_size=g.average_size)
    A.MEMBERS.save(ctx.project, {
        "generator": g.generator, "members": members, "baselines": baselines, "subset": subset.to_dict(),
        "seconds": seconds})
    return {"generator": g.generator, "m": g.m, "seconds": seconds, "seconds_per_member": seconds / g.m,
            "sampler": g.sampler if g.generator == "diffusion" else None}
