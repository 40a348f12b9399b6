"""The CUDA fast path for conv backbones: bf16 autocast, channels-last layout, TF32, cudnn.benchmark and an
optional torch.compile, each a [run] setting.

Every switch is off unless the device is CUDA: on the CPU (and MPS) the stages run exactly the float32 code
they ran before these settings existed, so CPU numbers never depend on them (tests/core/test_fastpath.py).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from ..settings.config import RunConfig


@dataclass(frozen=True)
class FastPath:
    bf16: bool = False
    channels_last: bool = False
    compile: bool = False

    @classmethod
    def for_device(cls, run: RunConfig, device: torch.device) -> FastPath:
        if device.type != "cuda":
            return cls()
        # Process-wide flags: set from the running project's settings at each stage start.
        torch.backends.cuda.matmul.allow_tf32 = run.tf32
        torch.backends.cudnn.allow_tf32 = run.tf32
        torch.backends.cudnn.benchmark = run.cudnn_benchmark
        return cls(run.bf16, run.channels_last, run.compile)

    def autocast(self):
        """Around forward passes and losses: bf16 needs no loss scaling (its range is float32's)."""
        return torch.autocast("cuda", dtype=torch.bfloat16) if self.bf16 else contextlib.nullcontext()

    def model(self, net: nn.Module) -> nn.Module:
        """Lay out the weights for channels-last convolutions (in place; state-dict keys unchanged)."""
        return net.to(memory_format=torch.channels_last) if self.channels_last else net

    def compiled(self, net: nn.Module) -> nn.Module:
        """The module to call in the training step. The caller keeps `net` for its state dict (a compiled
        module prefixes every key with `_orig_mod.`)."""
        return torch.compile(net) if self.compile else net

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last and x.dim() == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x
