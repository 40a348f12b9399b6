"""Evaluation reports one bar across its member sets (issue 13/14): it never restarts or goes back, and the
metrics after it are a named sub-step."""

from bend_gui.core.events import Progress
from bend_gui.core.pipeline import runner as pipeline


def test_evaluation_is_one_bar_across_member_sets(finished_project):
    events = list(pipeline.run(finished_project, only="evaluate", force=("evaluate",)))
    own = [e for e in events if isinstance(e, Progress) and e.stage == "evaluate" and not e.step]
    assert len({e.total for e in own}) == 1, "one total for every member set"
    done = [e.done for e in own]
    assert done == sorted(done) and done[-1] == own[-1].total
    assert any("set 1/" in e.text for e in own) and any("set 2/" in e.text for e in own)
    metrics = [e for e in events if isinstance(e, Progress) and e.step == "metrics"]
    assert [(e.done, e.total) for e in metrics] == [(0, 1), (1, 1)]
    assert finished_project.state("evaluate").state == "done"
