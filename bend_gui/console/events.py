"""A job's events shown on stderr: a progress display per stage (or one for a whole study) and messages as
log lines. The same events go to the run log file through the runner; this is only what the user sees."""

from __future__ import annotations

import logging

from ..core.events import Message, Metric, Progress, StageFinished, StageStarted
from ..core.project.folder import STAGE_TITLES

log = logging.getLogger("bend_gui.cli")


class EventPrinter:
    """Call it with each event. `kind` makes a progress display (see progress.progress_kind); `label` opens
    one at once, for a study whose events carry no stage boundaries. `finish_level`: DEBUG where stdout already
    says how each stage ended (`bend run`)."""

    def __init__(self, kind, label: str = "", finish_level: int = logging.INFO) -> None:
        self.kind, self.finish_level = kind, finish_level
        self.current = kind(label) if label else None

    def __call__(self, ev) -> None:
        if isinstance(ev, StageStarted):
            self.close()
            self.current = self.kind(STAGE_TITLES.get(ev.stage, ev.stage))
            if ev.resumed:
                log.info("%s: resuming from checkpoint", ev.stage)
        elif isinstance(ev, Progress):
            if self.current is None:
                self.current = self.kind(ev.stage)
            self.current.update(ev.done, ev.total, f"{ev.point} · {ev.text}" if ev.point else ev.text, ev.step)
        elif isinstance(ev, Message):
            log.info("%s: %s", f"{ev.stage} ({ev.point})" if ev.point else ev.stage, ev.text)
        elif isinstance(ev, Metric):
            self._metric(ev)
        elif isinstance(ev, StageFinished):
            self.close()
            log.log(self.finish_level, "%s: %s", STAGE_TITLES.get(ev.stage, ev.stage),
                    "up to date, skipped" if ev.skipped else f"done in {ev.seconds:.1f} s")

    @staticmethod
    def _metric(ev: Metric) -> None:
        v = ev.values
        if ev.stage == "base" and {"train_loss", "test_acc", "seconds"} <= v.keys():  # an epoch: worth a line
            log.info("base: epoch %d train loss %.4f test acc %.4f (%.1f s)", int(ev.x), v["train_loss"],
                     v["test_acc"], v["seconds"])
        elif log.isEnabledFor(logging.DEBUG):  # per-step losses, snapshots, study points: with -v
            cells = " ".join(f"{k}={x:.5g}" if isinstance(x, float) else f"{k}={x}" for k, x in v.items())
            log.debug("%s: %s %g: %s", ev.stage, ev.series, ev.x, cells)

    def close(self) -> None:
        if self.current is not None:
            self.current.close()
            self.current = None
