"""`bend frontier`: one study per generator knob (study.define / run_study, so resume, Ray and failed points
come with it), each with [generate] generator fixed to its generator, plus the snapshots as one ensemble
for reference; then the frontier (results/frontier.py), written to `frontier/` of the project.

Default values are chosen on the demo (Fashion-MNIST, d = 384) to reach from "almost the snapshots" to
"clearly worse members", so each generator's trade-off shows: e.g. the noise baseline's σ from 0.02 (members
nearly the snapshots) to 1.0 (members about a point less accurate, several times more disagreement).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..events import CancelFlag, Event, Message
from ..fileio import atomic_write_text, write_csv
from ..project import artifacts as A
from ..project.folder import Project
from ..results import frontier as F
from . import store, study
from .grid import parse_grid_arg

PREFIX = "frontier-"


@dataclass(frozen=True)
class Knob:
    generator: str
    name: str                    # the study's name (studies/<name>/)
    key: str                     # the swept setting
    values: tuple
    fixed: dict = field(default_factory=dict)   # settings held for the whole study besides the generator

    def keys(self, values: list | None = None, m: int | None = None) -> dict[str, list]:
        fixed = {**self.fixed, **({"generate.m": m} if m else {})}
        return {"generate.generator": [self.generator], **{k: [v] for k, v in fixed.items()},
                self.key: list(values if values is not None else self.values)}


# In the order they run: the cheap sampling-only studies first, so their points exist early.
KNOBS = (
    # Sampling only, with the project's generator: noise on the sampled latents, in raw latent units (on the
    # demo the snapshots' latents spread 0.6 per coordinate, and the autoencoder trained with noise 0.1) ...
    Knob("diffusion", PREFIX + "diffusion-decode", "generate.decode_noise", (0.0, 0.1, 0.25, 0.5, 1.0)),
    # ... and DDIM's η from deterministic to DDPM-like fresh noise per step.
    Knob("diffusion", PREFIX + "diffusion-eta", "generate.ddim_eta", (0.0, 0.25, 0.5, 0.75, 1.0),
         {"generate.sampler": "ddim"}),
    Knob("noise", PREFIX + "noise", "generate.noise_sigma", (0.02, 0.05, 0.1, 0.3, 1.0)),
    Knob("average", PREFIX + "average", "generate.average_size", (1, 2, 5, 20, 50)),
    Knob("gaussian", PREFIX + "gaussian", "generate.gaussian_scale", (0.25, 0.5, 1.0, 1.5, 2.0)),
    # Retrains the autoencoder and DDPM per point (the costly study): p-diff's latent augmentation.
    Knob("diffusion", PREFIX + "diffusion", "autoencoder.latent_noise", (0.0, 0.05, 0.1, 0.3, 1.0)),
)
REFERENCE_STUDY = PREFIX + "snapshots"   # every snapshot as the members: m = k, one seed is enough


def parse_values(texts: list[str] | None) -> dict[str, list]:
    """`--values KEY=V1,V2` (repeatable) → {key: values}, for knobs of KNOBS only."""
    known = {k.key for k in KNOBS}
    out = {}
    for text in texts or []:
        key, values = parse_grid_arg(text)
        if key not in known:
            raise ConfigError(f"--values {key}: not a frontier knob; knobs: {', '.join(sorted(known))}")
        out[key] = values
    return out


def paths(project: Project) -> dict[str, Path]:
    """Where the frontier is written: `frontier/frontier.csv` (one row per setting) and `frontier.txt`."""
    folder = A.study_dir(project, "frontier")
    return {"csv": folder / "frontier.csv", "text": folder / "frontier.txt"}


def run_frontier(project: Project, seeds: list[int], executor=None, cancel: CancelFlag | None = None,
                 values: dict[str, list] | None = None, knobs=KNOBS, m: int | None = None) -> Iterator[Event]:
    """Generator: runs (or resumes) every knob's study and the snapshots' reference; returns the Frontier
    and writes it. Each study saves its points as they finish, so a cancel or a crash loses none. `m`
    fixes the members per point (default: the project's [generate] m; a study keeps what it was made with,
    so another m needs other study names: delete studies/frontier-* first)."""
    cancel = cancel or CancelFlag()
    values = values or {}
    defined = []
    for knob in knobs:  # define all first: a bad value stops the command before any point runs
        defined.append((knob, *study.define(project, knob.keys(values.get(knob.key), m), seeds, knob.name)))
    k = project.load_config().collect.k
    ref = study.define(project, {"generate.generator": ["snapshots"], "generate.m": [k]}, seeds[:1],
                       REFERENCE_STUDY)
    for i, (knob, name, grid) in enumerate(defined, 1):
        cancel.check()
        yield Message(study.STAGE, f"frontier {i}/{len(defined)}: {knob.generator} over {knob.key} "
                                   f"({', '.join(str(v) for v in grid.keys[knob.key])}) × seeds "
                                   f"{', '.join(str(s) for s in grid.seeds)}")
        yield from study.run_study(project, name, grid, executor, cancel)
    yield Message(study.STAGE, f"frontier: the {k} snapshots as one ensemble, for reference")
    yield from study.run_study(project, *ref, executor, cancel)
    f = load(project, knobs)
    save(project, f)
    yield Message(study.STAGE, f"frontier: {paths(project)['csv']}")
    return f


def load(project: Project, knobs=KNOBS) -> F.Frontier:
    """The frontier of the saved points (of whichever frontier studies exist; missing ones are left out)."""
    have = set(store.list_studies(project))
    studies = []
    for knob in knobs:
        if knob.name in have:
            _, records = study.load_study(project, knob.name)
            studies.append((knob.generator, knob.name, knob.key, records))
    reference = study.load_study(project, REFERENCE_STUDY)[1] if REFERENCE_STUDY in have else None
    return F.build(studies, reference)


def save(project: Project, f: F.Frontier) -> dict[str, Path]:
    p = paths(project)
    rows = f.rows()
    with store.briefly_locked(project, "frontier: saving the table"):
        write_csv(p["csv"], list(F.CSV_COLUMNS), rows)
        atomic_write_text(p["text"], F.text(f) + "\n")
    return p
