"""The `.pt` ensemble bundle: everything needed to use an exported BEND ensemble, nothing that runs code.

Plain tensors, numbers, strings, lists and dicts, so it loads with torch.load(weights_only=True):
format and version, backbone spec, input normalisation and class names, the frozen weights, the
subset's names and shapes, the m member subsets, the bagging rule, the metrics and the provenance.
This module is the format and the loader only; writing one from a project is `bundle_export`, so that
loading needs no project code (whose folder lock needs fcntl, absent on Windows).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import BendError, ProjectError
from ..fileio import load_tensors
from ..ml.backbones import build_model
from ..ml.data import normalize
from ..ml.subset import Subset, set_vector, split_model

FORMAT = "bend-ensemble"
FORMAT_VERSION = 1
RULES = ("sbend", "abend", "soft")


class BundleError(BendError):
    """A bundle file that cannot be used, and why."""


class BendEnsemble(nn.Module):
    """An exported ensemble: `predict(x)` applies the bundle's rule, `member_probs(x)` gives m × n × C.

    `x`: images (N, C, H, W), uint8 in [0, 255] or float in [0, 1]; the bundle's normalisation is applied.
    """

    def __init__(self, bundle: dict):
        super().__init__()
        b = bundle["backbone"]
        self.net = build_model(b["name"], b["in_channels"], b["num_classes"])
        self.net.load_state_dict(bundle["frozen_state"])
        self.net.eval()
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.subset = Subset.from_dict(bundle["subset"])
        self.register_buffer("members", bundle["members"].float())
        self.rule = bundle["rule"]
        self.classes = list(bundle["classes"])
        self.mean, self.std = tuple(bundle["normalization"]["mean"]), tuple(bundle["normalization"]["std"])
        self.metrics = bundle.get("metrics", {})
        self.provenance = bundle.get("provenance", {})
        self._prefix, self._tail, _ = split_model(self.net, self.subset)

    @property
    def m(self) -> int:
        return len(self.members)

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8:
            return normalize(x, self.mean, self.std)
        return (x.float() - torch.tensor(self.mean, device=x.device).view(1, -1, 1, 1)) / \
            torch.tensor(self.std, device=x.device).view(1, -1, 1, 1)

    @torch.no_grad()
    def member_logits(self, x: torch.Tensor) -> torch.Tensor:
        feats = self._prefix(self._inputs(x))  # the frozen part runs once for all members
        out = []
        for v in self.members:
            set_vector(self.net, self.subset, v)
            out.append(self._tail(feats).float())
        return torch.stack(out)

    @torch.no_grad()
    def member_probs(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.member_logits(x), -1)

    @torch.no_grad()
    def predict(self, x: torch.Tensor, rule: str | None = None, generator: torch.Generator | None = None
                ) -> torch.Tensor:
        rule = rule or self.rule
        if rule not in RULES:
            raise BundleError(f"rule {rule!r}: allowed: {', '.join(RULES)}")
        logits = self.member_logits(x)
        if rule == "soft":
            return torch.softmax(logits, -1).mean(0).argmax(-1)
        votes = logits.argmax(-1)  # (m, n), from logits as in the project's evaluation
        if rule == "abend":
            pick = torch.randint(0, self.m, (votes.shape[1],), generator=generator)
            return votes[pick.to(votes.device), torch.arange(votes.shape[1], device=votes.device)]
        counts = nn.functional.one_hot(votes, logits.shape[-1]).sum(0)  # (n, C)
        return counts.argmax(-1)  # ties: the smallest class index, as sBEND's Algorithm 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.predict(x)


def load(path: str | Path) -> BendEnsemble:
    """A bundle as a torch module, or a BundleError saying what is wrong with the file."""
    try:
        bundle = load_tensors(path)
    except ProjectError as e:
        raise BundleError(str(e)) from None
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise BundleError(f"{path}: not a BEND ensemble bundle (no format = {FORMAT!r})")
    if bundle.get("format_version") != FORMAT_VERSION:
        raise BundleError(f"{path}: bundle format_version {bundle.get('format_version')!r}; this version of "
                          f"BEND Studio reads version {FORMAT_VERSION}")
    missing = [k for k in ("backbone", "normalization", "classes", "frozen_state", "subset", "members", "rule")
               if k not in bundle]
    if missing:
        raise BundleError(f"{path}: bundle is missing {', '.join(missing)}")
    if bundle["rule"] not in RULES:
        raise BundleError(f"{path}: unknown rule {bundle['rule']!r}; allowed: {', '.join(RULES)}")
    try:
        subset = Subset.from_dict(bundle["subset"])
    except (KeyError, TypeError, ValueError):
        raise BundleError(f"{path}: the subset's names and shapes are unreadable") from None
    members = bundle["members"]
    if not isinstance(members, torch.Tensor) or members.dim() != 2 or members.shape[1] != subset.d:
        raise BundleError(f"{path}: members of shape {tuple(getattr(members, 'shape', ()))} do not fit a subset of "
                          f"d = {subset.d}")
    unknown = [n for n in subset.names if n not in bundle["frozen_state"]]
    if unknown:
        raise BundleError(f"{path}: subset parameters {', '.join(unknown[:3])} are not in the frozen weights")
    try:
        return BendEnsemble(bundle)
    except (KeyError, RuntimeError, ValueError) as e:
        raise BundleError(f"{path}: bundle does not fit its backbone ({str(e).splitlines()[0]})") from None
