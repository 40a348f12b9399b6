"""Test data and configs shared by the core and GUI tests."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from bend_gui.core.settings import config as C


def idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def tiny_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """28x28 noise with a bright 7x7 square at one of 10 places (the label), so a CNN can learn it."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.integers(0, 90, (n, 28, 28))
    for i, c in enumerate(y):
        r, col = divmod(int(c), 5)
        x[i, 2 + 12 * r: 9 + 12 * r, 1 + 5 * col: 6 + 5 * col] += 150
    return x.clip(0, 255).astype(np.uint8), y.astype(np.uint8)


def write_tiny_idx(root: Path, n_train: int, n_test: int, gz: bool = True) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for split, n, seed in (("train", n_train, 1), ("t10k", n_test, 2)):
        x, y = tiny_images(n, seed)
        for kind, arr, nd in (("images", x, 3), ("labels", y, 1)):
            name = f"{split}-{kind}-idx{nd}-ubyte"
            data = idx_bytes(arr)
            if gz:
                with gzip.open(root / (name + ".gz"), "wb") as f:
                    f.write(data)
            else:
                (root / name).write_bytes(data)


def tiny_config(root: Path, **overrides) -> C.ProjectConfig:
    """A project that runs every stage in seconds on the tiny dataset."""
    cfg = C.ProjectConfig(name="tiny")
    cfg.data.root = str(root)
    cfg.base.epochs = 2
    cfg.base.batch_size = 32
    cfg.base.lr = 0.05
    cfg.collect.k = 6
    cfg.collect.save_every = 5
    cfg.collect.batch_size = 32
    cfg.autoencoder.steps = 30
    cfg.autoencoder.batch_size = 6
    cfg.autoencoder.latent_dim = 8
    cfg.autoencoder.channels = [8, 8, 8, 8]
    cfg.autoencoder.eval_every = 15
    cfg.diffusion.steps = 200
    cfg.diffusion.batch_size = 6
    cfg.diffusion.timesteps = 50
    cfg.diffusion.channels = [8, 16]
    cfg.generate.m = 5
    cfg.generate.sampling_steps = 5
    cfg.generate.average_size = 2
    cfg.evaluate.abend_repeats = 3
    cfg.evaluate.batch_size = 100
    cfg.run.device = "cpu"
    assignments = []
    for key, value in overrides.items():
        section, name = key.split("__")
        assignments.append((section, name, value))
    return C.with_values(cfg, assignments) if assignments else cfg.validate()


def hard_config(data_root, **overrides) -> C.ProjectConfig:
    """The tiny project with an untrained base and a large subset learning rate: its snapshots and members
    score 8-26 % and disagree, so every number a sweep computes is informative (the usual tiny project
    scores 100 % everywhere)."""
    return tiny_config(data_root, base__epochs=0, collect__lr=0.5, collect__save_every=10, **overrides)


# A real pipeline run whose members differ (an under-trained base and the noise generator with a large σ):
# the shared tiny project is right on every test image, so every number there is 100 %.
VARIED = dict(base__epochs=1, base__lr=0.003, collect__lr=0.02, generate__generator="noise",
              generate__noise_sigma=0.5, generate__m=8)


def run_all(root: Path, cfg: C.ProjectConfig) -> Path:
    """Create a project and run every stage; for session fixtures that tests copy before changing."""
    from bend_gui.core.pipeline import runner as pipeline
    from bend_gui.core.project.folder import Project

    p = Project.create(root, cfg)
    list(pipeline.run(p))
    return p.root


def private_copy(src: Path, dst: Path):
    """A copy of a shared finished project that a test may change."""
    import shutil

    from bend_gui.core.project.folder import Project

    shutil.copytree(src, dst)
    return Project.open(dst)


def drain(gen):
    """All events of a job generator and its return value."""
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            return events, stop.value
