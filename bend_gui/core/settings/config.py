"""Project configuration: one dataclass per pipeline stage, stored as sections of `project.toml`.

Every field carries its help text and constraints, so validation errors name the key and the allowed
values, and the written TOML documents itself.
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli_w

from ..errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SCHEMA_VERSION = 1

BACKBONES = ("smallcnn", "resnet18", "resnet50", "regnetx_400mf", "regnety_400mf")
DATASETS = ("fashion-mnist", "mnist", "cifar10", "cifar100", "imagefolder")
GENERATORS = ("diffusion", "snapshots", "noise", "average", "gaussian")
BASELINES = GENERATORS[1:]
DEVICE_PATTERN = re.compile(r"auto|cpu|cuda|cuda:\d+|mps")


def opt(default, help: str, *, choices=None, min=None, max=None, items=None):
    """A config field with its documentation and constraints."""
    meta = {"help": help, "choices": choices, "min": min, "max": max, "items": items}
    if isinstance(default, list):
        return field(default_factory=lambda d=default: list(d), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class ModelConfig:
    backbone: str = opt("smallcnn", "network architecture", choices=BACKBONES)
    pretrained: str = opt("", "optional local state-dict file to start from instead of random weights")


@dataclass
class DataConfig:
    dataset: str = opt("fashion-mnist", "which dataset", choices=DATASETS)
    root: str = opt("", "folder holding the data; empty = the usual places (see README)")
    download: bool = opt(False, "download with torchvision when the data is missing (needs internet)")
    train_size: int = opt(0, "use a seeded random subset of N training images (0 = all)", min=0)
    test_size: int = opt(0, "use a seeded random subset of N test images (0 = all)", min=0)
    image_size: int = opt(32, "image folder only: images are resized to this square size", min=8, max=512)
    test_fraction: float = opt(0.2, "image folder without train/ and test/ subfolders: held-out share",
                               min=0.01, max=0.9)


@dataclass
class SubsetConfig:
    layers: list = opt(["bn3", "bn4"], "modules (or parameters) whose weights form the subset; glob "
                       "patterns allowed, e.g. 'layer4.1.bn*'", items=str)


@dataclass
class BaseConfig:
    epochs: int = opt(4, "training epochs of the whole network (stage 0)", min=0)
    batch_size: int = opt(128, "mini-batch size", min=1)
    optimizer: str = opt("sgd", "optimizer", choices=("sgd", "adamw"))
    lr: float = opt(0.1, "peak learning rate", min=0.0)
    momentum: float = opt(0.9, "SGD momentum", min=0.0, max=1.0)
    weight_decay: float = opt(5e-4, "weight decay", min=0.0)
    schedule: str = opt("onecycle", "learning-rate schedule", choices=("onecycle", "cosine", "constant"))
    augment: bool = opt(False, "random crop (pad 4) and horizontal flip while training")


@dataclass
class CollectConfig:
    k: int = opt(200, "number of snapshots of the subset to save", min=2)
    save_every: Any = opt("epoch", "'epoch' (BEND: one snapshot per epoch) or a number of iterations "
                          "(p-diff v3: snapshots within an epoch)")
    optimizer: str = opt("sgd", "optimizer for the subset", choices=("sgd", "adamw"))
    lr: float = opt(0.01, "constant learning rate of subset training", min=0.0)
    momentum: float = opt(0.9, "SGD momentum", min=0.0, max=1.0)
    weight_decay: float = opt(0.0, "weight decay on the subset", min=0.0)
    batch_size: int = opt(128, "mini-batch size", min=1)


@dataclass
class AutoencoderConfig:
    steps: int = opt(1000, "most training steps (fewer when the stopping rule ends it, see patience)", min=1)
    batch_size: int = opt(50, "snapshots per step", min=1)
    lr: float = opt(1e-3, "AdamW learning rate", min=0.0)
    weight_decay: float = opt(2e-6, "AdamW weight decay", min=0.0)
    latent_dim: int = opt(64, "size of the latent vector the DDPM works in", min=2)
    channels: list = opt([64, 128, 128, 64], "channels of the 4 conv layers of encoder (and, reversed, decoder)",
                         items=int)
    normalize: str = opt("tensor", "'tensor': standardise each tensor by its own mean and std (p-diff v3); "
                         "'residual': subtract the mean snapshot, then scale each tensor",
                         choices=("tensor", "residual"))
    input_noise: float = opt(0.001, "noise added to the normalised parameters while training", min=0.0)
    latent_noise: float = opt(0.1, "noise added to the latent while training (p-diff's augmentation); on the "
                              "demo 0.5 gave less diverse members than 0.1", min=0.0)
    patience: int = opt(100, "stop early when the training loss (mean of 25-step windows) has not fallen by "
                        "min_delta for this many steps; 0 = always train all steps", min=0)
    min_delta: float = opt(0.01, "relative fall of the windowed training loss that counts as progress",
                           min=0.0, max=1.0)
    eval_every: int = opt(0, "also test the reconstructed snapshots as classifiers every N steps while "
                          "training (0 = only at the end)", min=0)
    eval_snapshots: int = opt(20, "how many snapshots (evenly spaced over the k) are reconstructed and tested; "
                              "0 = all", min=0)


@dataclass
class DiffusionConfig:
    steps: int = opt(2000, "most training steps (fewer when the stopping rule ends it, see patience)", min=1)
    batch_size: int = opt(50, "latents per step", min=1)
    lr: float = opt(1e-3, "AdamW learning rate", min=0.0)
    timesteps: int = opt(1000, "diffusion steps T", min=2)
    beta_start: float = opt(1e-4, "first beta of the linear schedule (for T = 1000; scaled by 1000/T)",
                            min=0.0, max=1.0)
    beta_end: float = opt(2e-2, "last beta of the linear schedule (for T = 1000; scaled by 1000/T)",
                          min=0.0, max=0.5)
    channels: list = opt([64, 128, 256], "channels of the 1-D conv denoiser's levels", items=int)
    ema_decay: float = opt(0.999, "EMA decay of the denoiser's weights (warmed up over the first steps)",
                           min=0.0, max=1.0)
    patience: int = opt(200, "stop early when the training loss (mean of 25-step windows) has not fallen by "
                        "min_delta for this many steps; 0 = always train all steps", min=0)
    min_delta: float = opt(0.01, "relative fall of the windowed training loss that counts as progress",
                           min=0.0, max=1.0)


# [generate] keys that only the diffusion generator reads: the baselines ignore them.
DIFFUSION_ONLY = ("sampler", "sampling_steps", "ddim_eta", "decode_noise")


@dataclass
class GenerateConfig:
    m: int = opt(100, "number of members to generate", min=1)
    generator: str = opt("diffusion", "what makes the members", choices=GENERATORS)
    sampler: str = opt("ddim", "diffusion sampler", choices=("ddim", "ddpm"))
    sampling_steps: int = opt(60, "DDIM steps (DDPM always takes all T)", min=1)
    ddim_eta: float = opt(0.0, "DDIM's eta: 0 = deterministic DDIM; 1 = fresh noise at every step as in DDPM "
                          "(a diversity knob)", min=0.0, max=1.0)
    decode_noise: float = opt(0.0, "extra noise on sampled latents before decoding (a diversity knob)", min=0.0)
    seed: int = opt(0, "seed of the sampling", min=0)
    baselines: list = opt(list(BASELINES), "baseline generators made beside it for comparison",
                          items=str)
    noise_sigma: float = opt(0.05, "noise baseline: sigma relative to each tensor's spread", min=0.0)
    average_size: int = opt(10, "average baseline: snapshots averaged per member", min=1)
    gaussian_scale: float = opt(1.0, "Gaussian baseline: multiplies the fitted per-coordinate std (1 = the fit)",
                                min=0.0)


@dataclass
class EvaluateConfig:
    abend_repeats: int = opt(100, "repeats of aBEND's random vote, mean ± std reported (the paper: 10; "
                             "10 left the demo's mean 0.03 points off its 10,000-repeat value)", min=1)
    batch_size: int = opt(1000, "test images per forward pass", min=1)
    ece_bins: int = opt(15, "bins of the expected calibration error", min=2)
    member_batching: str = opt("auto", "evaluate members one after another ('loop') or vectorised "
                               "('vmap'); auto = time both on the first members and keep the faster", choices=("auto", "loop", "vmap"))


@dataclass
class RunConfig:
    device: str = opt("auto", "where to compute: auto (the GPU when torch sees one), cpu, cuda, cuda:N or mps; "
                      "a device that is not there is an error")
    seed: int = opt(0, "seed of everything but the generation (see [generate])", min=0)
    threads: int = opt(0, "CPU threads for torch (0 = torch's default)", min=0)
    cache_limit_gb: float = opt(0.0, "cap on the activation cache; 0 = sized from the memory actually free "
                                "(on the GPU when it fits there); above it the frozen part runs per batch",
                                min=0.0)
    log_every: int = opt(10, "training stages report their loss and learning rate every N steps, so curves "
                         "grow while an epoch runs (written to <stage>/steps.csv)", min=1)
    tensorboard: bool = opt(False, "also write the curves as TensorBoard event files to <project>/tensorboard "
                            "(needs the tensorboard package)")
    # The CUDA fast path. Each is ignored on the CPU and MPS, so CPU numbers never depend on them.
    bf16: bool = opt(True, "CUDA only: bfloat16 autocast for the backbone's forward passes")
    channels_last: bool = opt(True, "CUDA only: channels-last memory layout for conv backbones")
    tf32: bool = opt(True, "CUDA only: TensorFloat-32 for float32 matrix products and convolutions")
    cudnn_benchmark: bool = opt(True, "CUDA only: let cuDNN time its convolution algorithms once per shape")
    compile: bool = opt(False, "CUDA only: torch.compile the training step's network (slow first steps)")


# Keys added after projects existed, with the value that reproduces what those projects computed: at that
# value a key is left out of the stage fingerprints, so adding it does not make finished stages stale.
LATER_KEYS: dict[tuple[str, str], Any] = {("generate", "ddim_eta"): 0.0, ("generate", "gaussian_scale"): 1.0}

SECTIONS: dict[str, type] = {
    "model": ModelConfig,
    "data": DataConfig,
    "subset": SubsetConfig,
    "base": BaseConfig,
    "collect": CollectConfig,
    "autoencoder": AutoencoderConfig,
    "diffusion": DiffusionConfig,
    "generate": GenerateConfig,
    "evaluate": EvaluateConfig,
    "run": RunConfig,
}


@dataclass
class ProjectConfig:
    name: str = "untitled"
    description: str = ""
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    subset: SubsetConfig = field(default_factory=SubsetConfig)
    base: BaseConfig = field(default_factory=BaseConfig)
    collect: CollectConfig = field(default_factory=CollectConfig)
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def section(self, name: str):
        return getattr(self, name)

    def copy(self) -> "ProjectConfig":
        return from_dict(to_dict(self))

    def validate(self) -> "ProjectConfig":
        for name in SECTIONS:
            _validate_section(name, self.section(name))
        c = self.collect
        if c.save_every != "epoch" and not (isinstance(c.save_every, int) and not isinstance(c.save_every, bool)
                                             and c.save_every >= 1):
            raise ConfigError(f"[collect] save_every = {c.save_every!r}: allowed: \"epoch\" or a whole "
                              f"number of iterations ≥ 1")
        if self.diffusion.beta_end <= self.diffusion.beta_start:
            raise ConfigError("[diffusion] beta_end must be larger than beta_start")
        if not self.subset.layers:
            raise ConfigError("[subset] layers is empty: name at least one module, e.g. \"bn3\"")
        for b in self.generate.baselines:
            if b not in BASELINES:
                raise ConfigError(f"[generate] baselines: unknown generator {b!r}; allowed: {', '.join(BASELINES)}")
        if len(self.autoencoder.channels) != 4:
            raise ConfigError("[autoencoder] channels: give exactly 4 numbers (one per conv layer)")
        if not DEVICE_PATTERN.fullmatch(self.run.device):
            raise ConfigError(f"[run] device = {self.run.device!r}: allowed: auto, cpu, cuda, cuda:N (N = 0, 1, …) "
                              f"or mps")
        if not self.diffusion.channels:
            raise ConfigError("[diffusion] channels: give at least one number")
        return self


def _validate_section(name: str, obj) -> None:
    for f in fields(obj):
        v = getattr(obj, f.name)
        meta = f.metadata
        where = f"[{name}] {f.name}"
        if f.type in ("int", int):
            if isinstance(v, bool) or not isinstance(v, int):
                raise ConfigError(f"{where} = {v!r}: expected a whole number")
        elif f.type in ("float", float):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ConfigError(f"{where} = {v!r}: expected a number")
            if not math.isfinite(v):
                raise ConfigError(f"{where} = {v!r}: expected a finite number")
            setattr(obj, f.name, float(v))
        elif f.type in ("bool", bool):
            if not isinstance(v, bool):
                raise ConfigError(f"{where} = {v!r}: expected true or false")
        elif f.type in ("str", str):
            if not isinstance(v, str):
                raise ConfigError(f"{where} = {v!r}: expected text")
        elif f.type in ("list", list):
            item = meta.get("items")
            if not isinstance(v, list) or not all(isinstance(x, item) and not isinstance(x, bool) for x in v):
                kind = "text" if item is str else "whole numbers"
                raise ConfigError(f"{where} = {v!r}: expected a list of {kind}")
        if meta.get("choices") and v not in meta["choices"]:
            raise ConfigError(f"{where} = {v!r}: allowed: {', '.join(meta['choices'])}")
        lo, hi = meta.get("min"), meta.get("max")
        if lo is not None and isinstance(v, (int, float)) and v < lo:
            raise ConfigError(f"{where} = {v!r}: must be ≥ {lo}")
        if hi is not None and isinstance(v, (int, float)) and v > hi:
            raise ConfigError(f"{where} = {v!r}: must be ≤ {hi}")


def fingerprint_dict(cfg: ProjectConfig, section: str) -> dict:
    """A section's settings as a stage fingerprint hashes them: keys of LATER_KEYS at their old value left out."""
    d = dataclasses.asdict(cfg.section(section))
    for (sec, key), old in LATER_KEYS.items():
        if sec == section and d.get(key) == old:
            d.pop(key)
    return d


def to_dict(cfg: ProjectConfig) -> dict:
    d = {"schema_version": SCHEMA_VERSION, "name": cfg.name, "description": cfg.description}
    for name in SECTIONS:
        d[name] = dataclasses.asdict(cfg.section(name))
    return d


def from_dict(d: dict) -> ProjectConfig:
    d = dict(d)
    version = d.pop("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise ConfigError(f"schema_version = {version!r}: this version of BEND Studio reads schema_version "
                          f"{SCHEMA_VERSION}")
    cfg = ProjectConfig(name=str(d.pop("name", "untitled")), description=str(d.pop("description", "")))
    for key, value in d.items():
        if key not in SECTIONS:
            raise ConfigError(f"unknown section or key {key!r}; known sections: {', '.join(SECTIONS)}")
        if not isinstance(value, dict):
            raise ConfigError(f"[{key}] must be a table of settings")
        cls = SECTIONS[key]
        known = {f.name for f in fields(cls)}
        for k in value:
            if k not in known:
                raise ConfigError(f"[{key}] {k}: unknown key; known keys: {', '.join(sorted(known))}")
        setattr(cfg, key, cls(**value))
    return cfg.validate()


def loads(text: str) -> ProjectConfig:
    try:
        return from_dict(tomllib.loads(text))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"project.toml is not valid TOML: {e}") from None


def load(path: Path) -> ProjectConfig:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start}); save it as UTF-8") from None
    return loads(text)


def dumps(cfg: ProjectConfig) -> str:
    """TOML with each key's help as a comment; reads back to the same config."""
    cfg.validate()
    out = ["# BEND Studio project. Edit freely; `bend status` shows which stages a change makes stale.",
           tomli_w.dumps({"schema_version": SCHEMA_VERSION, "name": cfg.name, "description": cfg.description}).rstrip()]
    for name in SECTIONS:
        out.append(f"\n[{name}]")
        section = cfg.section(name)
        for f in fields(section):
            line = f"{f.name} = {_toml_value(getattr(section, f.name))}"
            out.append(f"{line:<40} # {f.metadata['help']}")
    return "\n".join(out) + "\n"


def _toml_value(v) -> str:
    if isinstance(v, list):  # inline, so the comment stays on the line
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return tomli_w.dumps({"v": v})[4:].strip()


def parse_assignment(text: str) -> tuple[str, str, Any]:
    """`section.key=value` from the command line; the value is read as TOML, else taken as text."""
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise ConfigError(f"--set {text!r}: write section.key=value, e.g. collect.k=50")
    lhs, raw = text.split("=", 1)
    section, key = lhs.strip().split(".", 1)
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return section, key, value


def with_values(cfg: ProjectConfig, assignments: list[tuple[str, str, Any]]) -> ProjectConfig:
    """A validated copy of `cfg` with the given section.key values replaced."""
    d = to_dict(cfg)
    for section, key, value in assignments:
        if section not in SECTIONS:
            raise ConfigError(f"unknown section {section!r}; known sections: {', '.join(SECTIONS)}")
        d[section][key] = value
    return from_dict(d)


def field_help(section: str, key: str) -> dict:
    """Help text and constraints of one field, for the GUI's forms."""
    for f in fields(SECTIONS[section]):
        if f.name == key:
            return dict(f.metadata)
    raise KeyError(f"{section}.{key}")
