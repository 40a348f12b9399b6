"""What a running stage gets: the project, its config, the device, the cancel flag, and lazily loaded
inputs that later stages of the same run reuse (dataset, base network, subset, activation caches).

The base network handed out by `base_network()` is shared and read-only: a stage that trains or edits it
asks for its own `network_copy()`. It is keyed by the base stage's run id, so when the base stage reruns
within a run, every later request sees the new network and its new activations.
"""

from __future__ import annotations

import copy
import time
from typing import Iterator

import torch
from torch import nn

from ..events import CancelFlag, Message, Metric
from ..fileio import load_tensors, save_tensors, write_csv
from ..ml.backbones import build_model
from ..ml.data import Dataset, load_dataset
from ..ml.features import Features, build_features
from ..ml.subset import Subset, resolve, split_model
from ..project import artifacts as A
from ..project.folder import Project
from ..settings.config import ProjectConfig
from .memory import cache_limits

STAGE_SEED_OFFSETS = {"base": 0, "collect": 1, "autoencoder": 2, "diffusion": 3}


def stage_seed(run_seed: int, stage: str) -> int:
    """The seed of a training stage's random numbers: one per run seed and stage, so studies that retrain
    a stage with seed s get exactly what the pipeline gets with `[run] seed = s`."""
    return run_seed * 1000 + STAGE_SEED_OFFSETS[stage]


class StageContext:
    def __init__(self, project: Project, cfg: ProjectConfig, device: torch.device, cancel: CancelFlag):
        self.project, self.cfg, self.device, self.cancel = project, cfg, device, cancel
        self._data: Dataset | None = None
        self._base: tuple[str, nn.Sequential] | None = None  # (base run id, network)
        self._features: dict[tuple[str, str], Features] = {}  # (base run id, split) -> activations

    def data(self) -> Iterator[Message]:
        """Generator returning the dataset (loaded once per run)."""
        if self._data is None:
            yield Message("data", f"loading {self.cfg.data.dataset}")
            self._data = load_dataset(self.cfg.data)
            d = self._data
            yield Message("data", f"{d.name}: {len(d.train_x)} training and {len(d.test_x)} test images, "
                                  f"{d.channels}×{d.image_size}×{d.image_size}, {d.num_classes} classes, "
                                  f"from {d.source}")
        return self._data

    def _base_run(self) -> str:
        return str(self.project.manifest()["stages"].get("base", {}).get("run_id", ""))

    def base_network(self) -> nn.Sequential:
        """The trained base network on the device, in eval mode: shared, so never change it (see module doc)."""
        run = self._base_run()
        if self._base is None or self._base[0] != run:
            saved = A.BASE_MODEL.load(self.project)
            # Its random init is overwritten at once; forking keeps the global RNG of the running stage
            # untouched, so results do not depend on whether the network was loaded earlier in the run.
            with torch.random.fork_rng(devices=[]):
                net = build_model(saved["backbone"], saved["in_channels"], saved["num_classes"])
            net.load_state_dict(saved["state_dict"])
            self._base = (run, net.to(self.device).eval())
        return self._base[1]

    def network_copy(self) -> nn.Sequential:
        """A private copy of the base network, for a stage that trains or edits it."""
        return copy.deepcopy(self.base_network())

    def subset(self) -> Subset:
        return resolve(self.base_network(), self.cfg.subset.layers, self.cfg.model.backbone)

    def features(self, split: str, stage: str) -> Iterator:
        """Generator returning the tail's inputs for the train or test images (cached once per run); its
        progress is `stage`'s, as the CACHE_STEP sub-step."""
        key = (self._base_run(), split)
        if key not in self._features:
            data = yield from self.data()
            x = data.train_x if split == "train" else data.test_x
            self._features = {k: v for k, v in self._features.items() if k[0] == key[0]}  # older bases'
            self._features[key] = yield from tail_inputs(self.base_network(), self.subset(), x, data.mean, data.std,
                                                         self.cfg, self.device, self.cancel, stage, split)
        return self._features[key]

    def seed(self, stage: str) -> int:
        return stage_seed(self.cfg.run.seed, stage)


def tail_inputs(net: nn.Module, subset: Subset, x: torch.Tensor, mean, std, cfg: ProjectConfig,
                device: torch.device, cancel: CancelFlag, stage: str, split: str) -> Iterator:
    """Generator returning the Features of images `x` (what enters the tail of `subset`): the one way
    the stages, and a study point that recollects with another subset, build them."""
    prefix, _, cut = split_model(net, subset)
    on_device, on_host = cache_limits(cfg, device)  # from the memory free now
    return (yield from build_features(prefix, x, mean, std, device, batch_size=cfg.evaluate.batch_size,
                                      limit_bytes=on_device, host_limit_bytes=on_host, cancel=cancel, stage=stage,
                                      label=f"{split} (input of {cut})"))


class Checkpoint:
    """A stage's resumable state in `<stage>/checkpoint.pt`, ignored when its fingerprint is stale."""

    def __init__(self, project: Project, stage: str, fingerprint: str, every_seconds: float = 30.0):
        self.path = project.checkpoint_path(stage)
        self.fingerprint, self.every = fingerprint, every_seconds
        self._last = time.monotonic()

    def load(self, peek: bool = False) -> dict | None:
        """The matching checkpoint's state, or None. `peek` maps its tensors instead of reading them: enough
        to tell whether the stage will resume, without reading a large checkpoint twice."""
        if not self.path.exists():
            return None
        try:
            state = load_tensors(self.path, mmap=peek)
        except Exception:  # noqa: BLE001 - an unreadable checkpoint only means starting over
            return None
        return state if state.get("fingerprint") == self.fingerprint else None

    def restore(self, apply) -> bool:
        """Call `apply(state)` with a matching checkpoint; True if resumed. A checkpoint that cannot be applied
        (written by another version, say) is discarded, so the stage starts over instead of failing forever."""
        state = self.load()
        if state is None:
            return False
        try:
            apply(state)
        except Exception:  # noqa: BLE001 - whatever the mismatch, starting over is the remedy
            self.clear()
            return False
        return True

    def save(self, state: dict) -> None:
        save_tensors(self.path, {**state, "fingerprint": self.fingerprint})
        self._last = time.monotonic()

    def maybe_save(self, make_state) -> None:
        """Save `make_state()` if the last save is older than `every`; the state is only built then
        (building state dicts every step is pure-Python work that slows training and the GUI thread)."""
        if time.monotonic() - self._last >= self.every:
            self.save(make_state())

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


class Curve:
    """The rows of one curve; `add` returns the event to yield, `flush` writes `<stage>/<series>.csv`
    (nothing when the curve has no project: a study point's, which keeps no files)."""

    FLUSH_EVERY = 5.0  # seconds between the writes of `maybe_flush`

    def __init__(self, project: Project | None, stage: str, series: str, rows: list[dict] | None = None):
        self.project, self.stage, self.series = project, stage, series
        self.rows: list[dict] = list(rows or [])
        self._flushed = time.monotonic()

    def add(self, x_name: str, x: float, **values) -> Metric:
        row = {x_name: x, **{k: float(v) for k, v in values.items() if v is not None}}
        self.rows.append(row)
        return Metric(self.stage, self.series, float(x), row)

    def flush(self) -> None:
        if self.project is None:
            return
        cols: list[str] = []
        for r in self.rows:
            cols += [c for c in r if c not in cols]
        write_csv(self.project.curve_path(self.stage, self.series), cols, self.rows)
        self._flushed = time.monotonic()

    def maybe_flush(self) -> None:
        """Flush if the last write is older than FLUSH_EVERY: the file grows while a stage runs (another
        process or a reopened project sees it) without rewriting it at every point."""
        if time.monotonic() - self._flushed >= self.FLUSH_EVERY:
            self.flush()
