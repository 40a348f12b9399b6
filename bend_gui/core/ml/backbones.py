"""The backbone registry: each network is an nn.Sequential whose module names match torchvision's.

Being a Sequential (nested Sequentials allowed) lets the app cut a network anywhere between two chain
elements: the frozen prefix runs once and its activations are cached; only the tail runs per member.
torchvision's names (`layer4.1.bn2`, `fc`) are kept so subsets read as in the BEND and p-diff papers.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ..errors import ConfigError


@dataclass(frozen=True)
class Backbone:
    name: str
    title: str
    description: str
    build: Callable[[int, int], nn.Sequential]  # (in_channels, num_classes) -> network


class PoolTo(nn.Module):
    """Average-pool to a fixed size; a no-op when the map already has it (adaptive pooling's identity
    case costs as much as a convolution on the CPU)."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] == (self.size, self.size):
            return x
        return nn.functional.adaptive_avg_pool2d(x, self.size)


def _small_cnn(in_channels: int, num_classes: int) -> nn.Sequential:
    # Pooling before BatchNorm halves the BN work; the 2-layer head keeps the last two BN layers
    # (bn3, bn4) late and cheap, so a member's tail is ~4% of a full forward pass.
    w = 16
    layers = OrderedDict()
    chans = [in_channels, w, 2 * w, 4 * w]
    for i in (1, 2, 3):
        layers[f"conv{i}"] = nn.Conv2d(chans[i - 1], chans[i], 3, padding=1, bias=False)
        layers[f"pool{i}"] = nn.MaxPool2d(2)
        layers[f"bn{i}"] = nn.BatchNorm2d(chans[i])
        layers[f"relu{i}"] = nn.ReLU()
    layers["gap"] = PoolTo(3)  # fixes the head's input for any image size ≥ 8
    layers["flatten"] = nn.Flatten()
    layers["fc1"] = nn.Linear(4 * w * 9, 128, bias=False)
    layers["bn4"] = nn.BatchNorm1d(128)
    layers["relu4"] = nn.ReLU()
    layers["fc2"] = nn.Linear(128, num_classes)
    return nn.Sequential(layers)


def _resnet(factory) -> Callable[[int, int], nn.Sequential]:
    def build(in_channels: int, num_classes: int) -> nn.Sequential:
        m = factory(weights=None, num_classes=num_classes)
        # CIFAR practice for small images: a 3x3 stride-1 stem and no max-pool.
        conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        return nn.Sequential(OrderedDict(
            conv1=conv1, bn1=m.bn1, relu=m.relu, layer1=m.layer1, layer2=m.layer2, layer3=m.layer3,
            layer4=m.layer4, avgpool=m.avgpool, flatten=nn.Flatten(), fc=m.fc))
    return build


def _regnet(factory) -> Callable[[int, int], nn.Sequential]:
    def build(in_channels: int, num_classes: int) -> nn.Sequential:
        m = factory(weights=None, num_classes=num_classes)
        old = m.stem[0]
        m.stem[0] = nn.Conv2d(in_channels, old.out_channels, 3, stride=1, padding=1, bias=False)
        return nn.Sequential(OrderedDict(stem=m.stem, trunk_output=m.trunk_output, avgpool=m.avgpool,
                                         flatten=nn.Flatten(), fc=m.fc))
    return build


def _registry() -> dict[str, Backbone]:
    from torchvision import models as tv

    small = "images ≥ 8×8, 1 or 3 channels; 3×3 stem, no max-pool (CIFAR practice)"
    return {b.name: b for b in (
        Backbone("smallcnn", "Small CNN (CPU demo)",
                 "3 conv blocks (16-32-64 channels) and a 128-unit head; ~100k parameters; "
                 "an epoch of Fashion-MNIST takes about 15 s on 2 CPU cores", _small_cnn),
        Backbone("resnet18", "ResNet-18 (torchvision)", f"11 M parameters; {small}", _resnet(tv.resnet18)),
        Backbone("resnet50", "ResNet-50 (torchvision)", f"23.5 M parameters; {small}", _resnet(tv.resnet50)),
        Backbone("regnetx_400mf", "RegNetX-400MF (torchvision)", f"5.1 M parameters; {small}",
                 _regnet(tv.regnet_x_400mf)),
        Backbone("regnety_400mf", "RegNetY-400MF (torchvision)", f"3.9 M parameters; {small}",
                 _regnet(tv.regnet_y_400mf)),
    )}


_REGISTRY: dict[str, Backbone] | None = None


def backbones() -> dict[str, Backbone]:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _registry()
    return _REGISTRY


def get_backbone(name: str) -> Backbone:
    reg = backbones()
    if name not in reg:
        raise ConfigError(f"[model] backbone = {name!r}: unknown backbone; allowed: {', '.join(reg)}")
    return reg[name]


def build_model(name: str, in_channels: int, num_classes: int) -> nn.Sequential:
    return get_backbone(name).build(in_channels, num_classes)


@dataclass(frozen=True)
class ModuleInfo:
    """One row of the wizard's module tree."""

    name: str
    type: str
    own_params: int     # parameters held directly by this module (what selecting it adds to the subset)
    total_params: int   # including all submodules
    is_batchnorm: bool


def list_modules(model: nn.Module) -> list[ModuleInfo]:
    out = []
    for name, mod in model.named_modules():
        if not name:
            continue
        own = sum(p.numel() for p in mod.parameters(recurse=False))
        total = sum(p.numel() for p in mod.parameters())
        out.append(ModuleInfo(name, type(mod).__name__, own, total,
                              isinstance(mod, nn.modules.batchnorm._BatchNorm)))
    return out


def last_batchnorms(model: nn.Module, n: int = 2) -> list[str]:
    """The default subset of BEND and p-diff: the last n BatchNorm layers."""
    names = [m.name for m in list_modules(model) if m.is_batchnorm]
    return names[-n:]


def chain(model: nn.Module, prefix: str = "") -> list[tuple[str, nn.Module]]:
    """The network as a flat list of (name, module) whose composition is its forward pass."""
    out = []
    for name, child in model.named_children():
        full = f"{prefix}{name}"
        if isinstance(child, nn.Sequential):
            out += chain(child, full + ".")
        else:
            out.append((full, child))
    return out


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def describe(name: str, in_channels: int, num_classes: int) -> dict:
    """Parameter count and default subset, for the wizard's first page."""
    model = build_model(name, in_channels, num_classes)
    return {"params": count_params(model), "default_subset": last_batchnorms(model),
            "description": get_backbone(name).description, "title": get_backbone(name).title}


@torch.no_grad()
def load_pretrained(model: nn.Module, path: str) -> list[str]:
    """Copy matching tensors from a local state-dict file; returns the names that did not fit."""
    from ..fileio import load_tensors

    state = load_tensors(path)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ConfigError(f"[model] pretrained = {path!r}: not a state dict")
    own = model.state_dict()
    skipped = []
    for k, v in own.items():
        if k in state and isinstance(state[k], torch.Tensor) and state[k].shape == v.shape:
            v.copy_(state[k])
        else:
            skipped.append(k)
    if len(skipped) == len(own):
        raise ConfigError(f"[model] pretrained = {path!r}: no tensor matches this backbone's names and shapes")
    return skipped
