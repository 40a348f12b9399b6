"""Telling an out-of-memory failure apart from other errors, on every device."""

from __future__ import annotations


def is_out_of_memory(e: BaseException) -> bool:
    """GPU and CPU allocation failures look different: torch.OutOfMemoryError, MemoryError, or a
    RuntimeError from the CPU (or MPS) allocator. Told by the class's name, not by importing torch, so the
    CLI can ask it about any error without paying torch's start-up."""
    return isinstance(e, MemoryError) or any(c.__name__ == "OutOfMemoryError" for c in type(e).__mro__) or (
        isinstance(e, RuntimeError) and ("can't allocate memory" in str(e) or "out of memory" in str(e)))
