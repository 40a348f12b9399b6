"""What the results views say about their numbers in words: the efficiency verdict and its accounting, and
the members' accuracies against the snapshots'. (Table 3's verdicts are `report.verdicts`, printed by the
CLI too.) Plain text; the views only lay it out."""

from __future__ import annotations

import math

import numpy as np

from .readiness import traditional_cost_measured
from .report import number, pct
from .tables import GENERATED


def efficiency_verdict(metrics: dict) -> str:
    """Whether BEND is cheaper than training the project's m members one by one (eq. 13)."""
    e = metrics["efficiency"]
    be = e.get("break_even_m")
    if not traditional_cost_measured(e):
        return ("The base network was not trained here (no timed epochs), so traditional bagging has no "
                "measured cost to compare with.")
    if be is None or not math.isfinite(be):
        return "Generating one member costs at least as much as training one: BEND never breaks even with these times."
    cheaper = metrics["m"] > be
    return (f"BEND costs less than training every member once m > {number(be, 2)}; with m = {metrics['m']} it is "
            f"{'cheaper' if cheaper else 'not yet cheaper'}.")


def efficiency_accounting(eff: dict) -> str:
    """Eq. 13 and how the measured t_org differs from the paper's accounting of it."""
    return ("Eq. 13: break-even m = (t_org + t_ate + t_ddpm) / (k_pre·t_orge − t_gen). The measured t_org is this "
            "project's base training plus snapshot collection; the paper counts (k_pre + collection epochs)·t_orge "
            "instead, one epoch per snapshot in BEND's recipe (break-even "
            f"{number(eff.get('break_even_m_paper_accounting'), 2)}).")


def member_set_name(kind: str, size: int, generator: str) -> str:
    """'generated (diffusion, m = 20)' or 'snapshots (k = 50)'."""
    return f"generated ({generator}, m = {size})" if kind == GENERATED else f"snapshots (k = {size})"


def member_accuracy_summary(groups: dict[str, np.ndarray], generator: str) -> list[tuple[str, str]]:
    """(set name, its accuracies' mean, median, min and max in %) per set of members, in the given order."""
    return [(member_set_name(kind, len(v), generator),
             f"mean {pct(v.mean())} %, median {pct(float(np.median(v)))} %, min {pct(v.min())} %, "
             f"max {pct(v.max())} %") for kind, v in groups.items()]
