"""When a page of the results can act or draw a conclusion, and why not: the views show these reasons."""

from __future__ import annotations

from ..project.folder import STAGE_TITLES, STAGES, StageState

# Stages whose outputs the generate stage reads.
GENERATE_NEEDS = STAGES[:STAGES.index("generate")]


def missing_for_generate(states: list[StageState]) -> list[str]:
    """The stages generate reads that are not done, in pipeline order."""
    done = {s.stage for s in states if s.state == "done"}
    return [s for s in GENERATE_NEEDS if s not in done]


def generate_blocker(states: list[StageState], busy: bool) -> str:
    """Why Generate cannot start now, or '' when it can. A running job locks the settings it reads."""
    if busy:
        return "A job is running: settings are locked until it ends."
    missing = missing_for_generate(states)
    if missing:
        titles = ", ".join(STAGE_TITLES[s] for s in missing)
        return (f"Generate needs the stages before it: {titles} {'is' if len(missing) == 1 else 'are'} not done. "
                f"Run them in the pipeline first.")
    return ""


def traditional_cost_measured(eff: dict) -> bool:
    """Whether the efficiency numbers can be compared with traditional bagging: only when the base network
    was trained here, so one full-network epoch (t_orge) and the epochs (k_pre) were timed."""
    return eff["t_orge"] > 0 and eff["k_pre"] > 0
