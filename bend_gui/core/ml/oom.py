"""Telling an out-of-memory failure apart from other errors, on every device."""

from __future__ import annotations

import torch


def is_out_of_memory(e: BaseException) -> bool:
    """GPU and CPU allocation failures look different: torch.OutOfMemoryError, MemoryError, or a
    RuntimeError from the CPU (or MPS) allocator."""
    return isinstance(e, (MemoryError, torch.OutOfMemoryError)) or (
        isinstance(e, RuntimeError) and ("can't allocate memory" in str(e) or "out of memory" in str(e)))
