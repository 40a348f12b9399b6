"""The parameter subset: which tensors BEND keeps training, flattens to a d-vector and generates.

A pattern names modules (all their own parameters join) or single parameters, with glob wildcards.
Everything outside the subset is frozen, BatchNorm running statistics included: every BatchNorm layer
runs in eval mode during collection and evaluation, so running statistics stay as the base model left
them, for the originals and the generated members alike, and the frozen part is bit-identical across
all members. (BatchNorm layers inside the subset therefore act as per-channel affine maps whose
weight and bias are the subset; their statistics are never recalibrated.)
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ConfigError
from .backbones import chain


@dataclass(frozen=True)
class Subset:
    names: tuple[str, ...]               # parameter names, in the network's order
    shapes: tuple[tuple[int, ...], ...]

    @property
    def sizes(self) -> list[int]:
        return [int(torch.Size(s).numel()) for s in self.shapes]

    @property
    def d(self) -> int:
        return sum(self.sizes)

    def to_dict(self) -> dict:
        return {"names": list(self.names), "shapes": [list(s) for s in self.shapes]}

    @classmethod
    def from_dict(cls, d: dict) -> "Subset":
        return cls(tuple(d["names"]), tuple(tuple(int(x) for x in s) for s in d["shapes"]))


def resolve(model: nn.Module, patterns: list[str], backbone: str = "") -> Subset:
    """The subset named by `patterns`, or a ConfigError naming the pattern that matches nothing."""
    params = dict(model.named_parameters())
    modules = dict(model.named_modules())
    chosen: set[str] = set()
    for pat in patterns:
        hit = {n for n in params if fnmatch.fnmatchcase(n, pat)}
        for mname, mod in modules.items():
            if mname and fnmatch.fnmatchcase(mname, pat):
                hit |= {f"{mname}.{p}" for p, _ in mod.named_parameters(recurse=False)}
        if not hit:
            containers = [m for m in modules if m and fnmatch.fnmatchcase(m, pat)]
            if containers:
                raise ConfigError(f"[subset] layers: {pat!r} names {containers[0]}, which holds no parameters of its "
                                  f"own; name its layers (e.g. '{containers[0]}.*' for all of them, or "
                                  f"'{containers[0]}.*bn*' for its BatchNorm layers)")
            holders = [m for m, mod in modules.items() if m and any(True for _ in mod.parameters(recurse=False))]
            close = difflib.get_close_matches(pat, holders, n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            where = f" of {backbone}" if backbone else ""
            raise ConfigError(f"[subset] layers: {pat!r} matches no module or parameter{where}{hint} "
                              f"(`bend layers` lists them)")
        chosen |= hit
    names = tuple(n for n in params if n in chosen)
    return Subset(names, tuple(tuple(params[n].shape) for n in names))


def flatten(state: dict[str, torch.Tensor], subset: Subset) -> torch.Tensor:
    """The subset of a state dict (or a dict of named parameters) as one float32 vector."""
    return torch.cat([state[n].detach().reshape(-1).float().cpu() for n in subset.names])


def unflatten(vec: torch.Tensor, subset: Subset) -> dict[str, torch.Tensor]:
    if vec.numel() != subset.d:
        raise ValueError(f"vector of {vec.numel()} numbers does not fit a subset of d = {subset.d}")
    parts = torch.split(vec.reshape(-1), subset.sizes)
    return {n: p.reshape(s) for n, p, s in zip(subset.names, parts, subset.shapes)}


def get_vector(model: nn.Module, subset: Subset) -> torch.Tensor:
    return flatten(dict(model.named_parameters()), subset)


@torch.no_grad()
def set_vector(model: nn.Module, subset: Subset, vec: torch.Tensor) -> None:
    params = dict(model.named_parameters())
    for n, t in unflatten(vec, subset).items():
        params[n].copy_(t.to(params[n].device, params[n].dtype))


def freeze_outside(model: nn.Module, subset: Subset) -> list[nn.Parameter]:
    """Only subset parameters get gradients; every module in eval mode (BN statistics frozen)."""
    model.eval()
    keep = set(subset.names)
    trainable = []
    for n, p in model.named_parameters():
        p.requires_grad_(n in keep)
        if n in keep:
            trainable.append(p)
    return trainable


def split_index(model: nn.Module, subset: Subset) -> int:
    """Index in `chain(model)` of the first element holding a subset parameter."""
    for i, (name, _) in enumerate(chain(model)):
        if any(n.startswith(name + ".") for n in subset.names):
            return i
    raise ValueError("subset parameters not found in the network's chain")


def split_model(model: nn.Module, subset: Subset) -> tuple[nn.Sequential, nn.Sequential, str]:
    """(frozen prefix, tail with every subset parameter, name of the first tail element).

    The tail keeps the original parameter names relative to itself through a name map: use
    `tail_names(subset, split_name)`. Both halves share the model's modules (no copies).
    """
    items = chain(model)
    i = split_index(model, subset)
    prefix = nn.Sequential(*[m for _, m in items[:i]])
    tail = nn.Sequential(*[m for _, m in items[i:]])
    return prefix, tail, items[i][0]


def tail_param_names(model: nn.Module, subset: Subset) -> dict[str, str]:
    """Map from a subset parameter's network name to its name inside the tail built by split_model."""
    items = chain(model)
    i = split_index(model, subset)
    out = {}
    for n in subset.names:
        for j, (cname, _) in enumerate(items[i:]):
            if n.startswith(cname + "."):
                out[n] = f"{j}.{n[len(cname) + 1:]}"
                break
    return out
