"""Non-finite checks for the training stages: a stage whose loss or outputs hold NaN or infinity fails with
a DivergedError that names the stage, what went bad and the setting to try, before it writes anything."""

from __future__ import annotations

import math

import torch

from ..errors import DivergedError


def kind(t: torch.Tensor) -> str:
    """'NaN' or 'infinity' for a tensor that holds one (call only when it is not all finite)."""
    return "NaN" if bool(torch.isnan(t).any()) else "infinity"


def check_loss(loss: float, stage: str, where: str, hint: str) -> None:
    """`loss` is a Python float the stage already has (no extra device sync)."""
    if not math.isfinite(loss):
        raise DivergedError(f"{stage}: the training loss became {'NaN' if math.isnan(loss) else 'infinite'} "
                            f"{where}; {hint}")


def check_tensor(t: torch.Tensor, stage: str, what: str, hint: str) -> None:
    if not bool(torch.isfinite(t).all()):
        raise DivergedError(f"{stage}: {what} holds {kind(t)}; {hint}")


def check_rows(rows: torch.Tensor, stage: str, noun: str, hint: str, total: int | None = None) -> None:
    """Each row of `rows` is one {noun} (snapshot, member); names the first bad one, e.g. 'snapshot 3 of 10'."""
    ok = torch.isfinite(rows.reshape(len(rows), -1)).all(1)
    if bool(ok.all()):
        return
    bad = (~ok).nonzero().flatten()
    first = int(bad[0])
    more = f" ({len(bad)} of them)" if len(bad) > 1 else ""
    raise DivergedError(f"{stage}: {noun} {first + 1} of {total or len(rows)} holds {kind(rows[first])}{more}; "
                        f"{hint}")


def check_state(state: dict, stage: str, what: str, hint: str) -> None:
    """Every floating tensor of a state dict finite, or an error naming the first bad tensor."""
    for name, t in state.items():
        if torch.is_tensor(t) and t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise DivergedError(f"{stage}: {what} hold {kind(t)} (in {name}); {hint}")
