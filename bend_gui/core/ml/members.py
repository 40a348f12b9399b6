"""Test-set outputs of many members that differ only in the subset.

The features (activations entering the first subset layer) of each test batch are produced once, then
every member's tail runs on them. 'loop' sets each member's subset into the shared tail in turn;
'vmap' runs a chunk of members at once with torch.func. Which is faster depends on the tail, not only the
device: on these 2-core CPUs the loop is 1.9× faster for the small CNN's fully connected tail, vmap 2× faster
for ResNet-18's last block (one big convolution over all members' inputs beats m small ones); see
tests/benchmarks/RESULTS.md. So 'auto' runs the first chunks of members both ways, times them, and keeps the
faster; nothing is computed twice.

Out of memory is never a reason to switch paths: it propagates, and the pipeline names the setting to lower.
Only a tail that vmap cannot run at all (an in-place op it cannot batch) runs the loop, and says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ..events import CancelFlag, Message, Progress
from .data import normalize
from .features import Features
from .oom import is_out_of_memory
from .subset import Subset, get_vector, set_vector, split_model, tail_param_names


@dataclass
class MemberOutputs:
    preds: torch.Tensor       # (M, n) int16: each member's predicted class
    mean_probs: torch.Tensor  # (n, C) float32: the members' mean probability (soft voting)
    nll: torch.Tensor         # (M,) each member's test negative log-likelihood
    confidence: torch.Tensor  # (M, n) float16: each member's top probability (for calibration)
    batching: str             # the path that ran: 'loop' or 'vmap' (what 'auto' chose; 'auto' if too few chunks)


def _vmap_runner(model: nn.Module, subset: Subset, tail: nn.Module):
    from torch.func import functional_call, vmap

    names = tail_param_names(model, subset)
    fixed = {k: v for k, v in tail.state_dict().items()}

    def one(params: dict, x: torch.Tensor) -> torch.Tensor:
        return functional_call(tail, {**fixed, **params}, (x,))

    batched = vmap(one, in_dims=(0, None))

    def run(vectors: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        parts = {names[n]: t for n, t in unflatten_batch(vectors, subset).items()}
        return batched(parts, x)
    return run


def unflatten_batch(vectors: torch.Tensor, subset: Subset) -> dict[str, torch.Tensor]:
    parts = torch.split(vectors, subset.sizes, dim=1)
    return {n: p.reshape(len(vectors), *s) for n, p, s in zip(subset.names, parts, subset.shapes)}


def evaluate_members(model: nn.Module, subset: Subset, vectors: torch.Tensor, feats: Features,
                     y: torch.Tensor, *, batch_size: int, batching: str, cancel: CancelFlag,
                     stage: str, label: str, member_chunk: int = 25) -> Iterator[Progress | Message]:
    """Generator: yields progress (and a message if vmap cannot run this tail), returns MemberOutputs. The model's own subset is restored afterwards."""
    device = next(model.parameters()).device
    _, tail, _ = split_model(model, subset)
    tail.eval()
    original = get_vector(model, subset)
    M, n = len(vectors), len(feats)
    preds = torch.empty((M, n), dtype=torch.int16)
    conf = torch.empty((M, n), dtype=torch.float16)
    nll = torch.zeros(M, dtype=torch.float64)
    prob_sum = None
    y_dev = y.to(device)
    vec_dev = vectors.to(device)
    if batching not in ("auto", "loop", "vmap"):
        raise ValueError(f"batching: {batching!r} is not one of auto, loop, vmap")
    run_vmap = _vmap_runner(model, subset, tail) if batching != "loop" else None

    def loop(chunk: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        outs = []
        for v in chunk:
            set_vector(model, subset, v)
            outs.append(tail(x))
        return torch.stack(outs)
    chooser = _Chooser(loop, run_vmap, device) if batching == "auto" else None
    n_batches = (n + batch_size - 1) // batch_size
    try:
        with torch.no_grad():
            for b, start in enumerate(range(0, n, batch_size)):
                x = feats.get(slice(start, start + batch_size))
                yb = y_dev[start:start + batch_size]
                for c in range(0, M, member_chunk):
                    cancel.check()
                    chunk = vec_dev[c:c + member_chunk]
                    logits = None
                    if batching == "auto":
                        logits = chooser(chunk, x)
                        if chooser.unvmappable:
                            yield _loop_instead(stage, chooser.unvmappable)
                            chooser.unvmappable = ""
                        if chooser.choice is not None:
                            batching = chooser.choice
                            run_vmap = run_vmap if batching == "vmap" else None
                    elif run_vmap is not None:
                        try:
                            logits = run_vmap(chunk, x)
                        except RuntimeError as e:
                            if is_out_of_memory(e):
                                raise
                            run_vmap, batching = None, "loop"
                            yield _loop_instead(stage, str(e))
                    if logits is None:
                        logits = loop(chunk, x)
                    logits = logits.float()
                    logp = F.log_softmax(logits, dim=-1)                    # (chunk, B, C)
                    p = logp.exp()
                    top = p.max(-1).values
                    arg = logits.argmax(-1)  # from the logits: rounding in softmax can create false ties
                    preds[c:c + len(chunk), start:start + len(yb)] = arg.to(torch.int16).cpu()
                    conf[c:c + len(chunk), start:start + len(yb)] = top.to(torch.float16).cpu()
                    nll[c:c + len(chunk)] -= logp.gather(-1, yb.view(1, -1, 1).expand(len(chunk), -1, 1)
                                                         ).sum((1, 2)).double().cpu()
                    # A non-finite member must not poison the soft vote of all the others.
                    s = torch.nan_to_num(p, nan=0.0, posinf=0.0, neginf=0.0).sum(0).cpu()
                    if prob_sum is None:
                        prob_sum = torch.zeros((n, s.shape[-1]), dtype=torch.float64)
                    prob_sum[start:start + len(yb)] += s.double()
                yield Progress(stage, b + 1, n_batches, f"{label}: {M} members")
    finally:
        set_vector(model, subset, original)
    return MemberOutputs(preds, (prob_sum / M).float(), (nll / n).float(), conf, batching)


class _Chooser:
    """'auto': the first chunks run loop, vmap, loop, vmap (each path's first call untimed, it pays for
    allocation and tracing); the lower time per member-image decides the rest."""

    PLAN = ("loop", "vmap", "loop", "vmap")

    def __init__(self, loop, run_vmap, device: torch.device):
        self.paths = {"loop": loop, "vmap": run_vmap}
        self.device = device
        self.seconds_per_unit: dict[str, float] = {}
        self.calls = 0
        self.choice: str | None = None
        self.unvmappable = ""  # why vmap could not run, once it failed

    def __call__(self, chunk: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        name = self.PLAN[self.calls]
        _sync(self.device)
        t0 = time.perf_counter()
        try:
            logits = self.paths[name](chunk, x)
        except RuntimeError as e:  # vmap cannot run this tail (see _loop_instead); never on out of memory
            if is_out_of_memory(e):
                raise
            self.choice, self.unvmappable = "loop", str(e)
            return self.paths["loop"](chunk, x)
        _sync(self.device)
        if self.calls >= 2:
            self.seconds_per_unit[name] = (time.perf_counter() - t0) / (len(chunk) * len(x))
        self.calls += 1
        if self.calls == len(self.PLAN):
            self.choice = min(self.seconds_per_unit, key=self.seconds_per_unit.get)
        return logits


def _loop_instead(stage: str, why: str) -> Message:
    # e.g. a subset on a ResNet shortcut: torchvision's in-place `out += identity` cannot broadcast a
    # per-member branch. The loop gives the same numbers.
    first = why.splitlines()[0] if why else "no detail"
    return Message(stage, f"vmap cannot run this subset's layers ({first[:160]}); members run one after "
                          f"another ('loop')")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def full_forward_logits(model: nn.Module, subset: Subset, vector: torch.Tensor, x: torch.Tensor, mean, std,
                        batch_size: int = 1000) -> torch.Tensor:
    """One member's logits through the whole network: the reference the cached path must match."""
    original = get_vector(model, subset)
    device = next(model.parameters()).device
    set_vector(model, subset, vector)
    try:
        model.eval()
        return torch.cat([model(normalize(x[i:i + batch_size].to(device), mean, std)).float().cpu()
                          for i in range(0, len(x), batch_size)])
    finally:
        set_vector(model, subset, original)
