"""The accuracy–diversity frontier: each generator setting as a point of ensemble accuracy against the
members' disagreement, mean ± std over seeds, the Pareto front of each generator, the snapshots' own
point, and a paragraph that says, from these numbers, which generator dominates where.

Input: the points of the frontier's studies (core/studies/frontier.py runs them), as records of
core/studies/store.py. Output: rows a table, a CSV and the app's plot share. Everything here is plain
arithmetic on saved points, so the CSV, the CLI and the app always agree.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from .report import pct

ACCURACY = {"sbend": "sBEND", "soft": "soft vote"}
DIVERSITY = "disagree_gen"   # mean share of test images two members label differently (per pair)
REFERENCE = "snapshots"
CSV_COLUMNS = ("generator", "study", "knob", "value", "seeds", "failed", "sbend_mean", "sbend_std", "soft_mean",
               "soft_std", "disagree_mean", "disagree_std", "gen_mean_mean", "gen_mean_std", "front_sbend",
               "front_soft")


@dataclass
class Setting:
    """One setting of one generator's knob, summarised over the seeds whose points finished."""
    generator: str
    study: str
    knob: str            # the swept key, e.g. autoencoder.latent_noise
    value: object
    seeds: list[int] = field(default_factory=list)
    failed: int = 0
    stats: dict[str, tuple[float, float]] = field(default_factory=dict)   # column → (mean, std over seeds)
    front: dict[str, bool] = field(default_factory=dict)                 # accuracy key → on its generator's front

    @property
    def label(self) -> str:
        return f"{self.knob.split('.', 1)[1]} = {self.value:g}" if isinstance(self.value, float) \
            else f"{self.knob.split('.', 1)[1]} = {self.value}"

    def mean(self, column: str) -> float:
        return self.stats[column][0]

    def std(self, column: str) -> float:
        return self.stats[column][1]


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample std (ddof 1; 0 for a single seed)."""
    a = np.asarray(values, dtype=np.float64)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def summarise(generator: str, study: str, knob: str, records: list[dict]) -> list[Setting]:
    """One Setting per value of `knob` among a study's records, in the order the values first appear."""
    out: dict[str, Setting] = {}
    rows: dict[str, list[dict]] = {}
    for r in records:
        value = r["values"][knob]
        s = out.setdefault(repr(value), Setting(generator, study, knob, value))
        if r["state"] != "done":
            s.failed += 1
            continue
        s.seeds.append(int(r["seed"]))
        rows.setdefault(repr(value), []).append(r["row"])
    for key, s in out.items():
        for c in (*ACCURACY, DIVERSITY, "gen_mean"):
            if rows.get(key):
                s.stats[c] = mean_std([row[c] for row in rows[key]])
    return list(out.values())


def pareto(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point dominates, maximising both coordinates (a point dominates
    another when it is at least as good in both and better in one); sorted by the first coordinate."""
    keep = []
    for i, (x, y) in enumerate(points):
        if not any((a >= x and b >= y) and (a > x or b > y) for j, (a, b) in enumerate(points) if j != i):
            keep.append(i)
    return sorted(keep, key=lambda i: points[i])


def mark_fronts(settings: list[Setting]) -> None:
    """Sets each setting's `front` flags: on its own generator's Pareto front (accuracy, disagreement)."""
    for acc in ACCURACY:
        for gen in {s.generator for s in settings}:
            mine = [s for s in settings if s.generator == gen and s.stats]
            front = set(pareto([(s.mean(DIVERSITY), s.mean(acc)) for s in mine]))
            for i, s in enumerate(mine):
                s.front[acc] = i in front
        for s in settings:
            s.front.setdefault(acc, False)


@dataclass
class Frontier:
    settings: list[Setting]
    reference: Setting | None          # the k snapshots as one ensemble
    seeds: list[int]

    def generators(self) -> list[str]:
        return list(dict.fromkeys(s.generator for s in self.settings))

    def front(self, generator: str, acc: str) -> list[Setting]:
        """A generator's front, by increasing disagreement."""
        return sorted((s for s in self.settings if s.generator == generator and s.front.get(acc)),
                      key=lambda s: s.mean(DIVERSITY))

    def rows(self) -> list[dict]:
        """The CSV's rows: every setting, then the snapshots' point."""
        out = []
        for s in self.settings + ([self.reference] if self.reference else []):
            row = {"generator": s.generator, "study": s.study, "knob": s.knob, "value": s.value,
                   "seeds": " ".join(str(x) for x in s.seeds), "failed": s.failed,
                   "front_sbend": int(s.front.get("sbend", False)), "front_soft": int(s.front.get("soft", False))}
            for c, name in [*((a, a) for a in ACCURACY), (DIVERSITY, "disagree"), ("gen_mean", "gen_mean")]:
                m, sd = s.stats.get(c, (math.nan, math.nan))
                row[f"{name}_mean"], row[f"{name}_std"] = m, sd
            out.append(row)
        return out


def build(studies: list[tuple[str, str, str, list[dict]]], reference: list[dict] | None = None) -> Frontier:
    """The frontier from (generator, study name, knob, records) of each study, and the snapshots'
    study's records (its points are all k snapshots, so every seed gives the same numbers)."""
    settings = [s for gen, name, knob, recs in studies for s in summarise(gen, name, knob, recs)]
    mark_fronts(settings)
    ref = None
    if reference:
        done = [r for r in reference if r["state"] == "done"]
        if done:
            ref = Setting(REFERENCE, "", "generate.m", done[0]["row"]["m"], seeds=[r["seed"] for r in done])
            for c in (*ACCURACY, DIVERSITY, "gen_mean"):
                ref.stats[c] = mean_std([r["row"][c] for r in done])
    seeds = sorted({x for s in settings for x in s.seeds})
    return Frontier(settings, ref, seeds)


def _point(s: Setting, acc: str) -> str:
    return (f"{s.generator} ({s.label}): {pct(s.mean(acc))} ± {pct(s.std(acc))} % at "
            f"{pct(s.mean(DIVERSITY))} ± {pct(s.std(DIVERSITY))} %")


def describe(f: Frontier, acc: str) -> str:
    """A paragraph, computed from the numbers, on who dominates where for one accuracy measure."""
    done = [s for s in f.settings if s.stats]
    if not done:
        return f"{ACCURACY[acc]}: no finished points yet."
    name = ACCURACY[acc]
    pts = [(s.mean(DIVERSITY), s.mean(acc)) for s in done]
    overall = [done[i] for i in pareto(pts)]
    parts = [f"By {name} against disagreement per pair, the front over all generators (low to high "
             f"disagreement) is: " + "; ".join(_point(s, acc) for s in overall) + "."]
    # Which generator holds which stretch of disagreement on the overall front.
    stretches: list[tuple[str, float, float]] = []
    for s in overall:
        d = s.mean(DIVERSITY)
        if stretches and stretches[-1][0] == s.generator:
            stretches[-1] = (s.generator, stretches[-1][1], d)
        else:
            stretches.append((s.generator, d, d))
    if len({g for g, _, _ in stretches}) == 1:
        parts.append(f"{stretches[0][0]} dominates everywhere: every other generator's settings lie below "
                     f"or left of its front.")
    else:
        parts.append("Who dominates where: " + ", ".join(
            f"{g} for disagreement {pct(lo)}–{pct(hi)} %" if hi > lo else f"{g} at {pct(lo)} %"
            for g, lo, hi in stretches) + ".")
    absent = [g for g in f.generators() if g not in {s.generator for s in overall}]
    for g in absent:
        mine = [s for s in done if s.generator == g]
        if not mine:
            continue
        best = max(mine, key=lambda s: s.mean(acc))
        beaters = [o for o in overall if o.mean(acc) >= best.mean(acc) and o.mean(DIVERSITY) >= best.mean(DIVERSITY)]
        by = max(beaters, key=lambda o: o.mean(acc)) if beaters else overall[0]
        parts.append(f"{g} has no setting on the front: its most accurate, {_point(best, acc)}, is dominated "
                     f"by {by.generator} ({by.label}).")
    ref = f.reference
    if ref is not None and ref.stats:
        r_acc, r_div = ref.mean(acc), ref.mean(DIVERSITY)
        better = [s for s in done if s.mean(acc) > r_acc and s.mean(DIVERSITY) > r_div]
        where = f"the {ref.value} snapshots themselves ({pct(r_acc)} % at {pct(r_div)} %)"
        if better:
            parts.append(f"{len(better)} setting(s) are both more accurate and more diverse than {where}: "
                         + "; ".join(_point(s, acc) for s in sorted(better, key=lambda s: -s.mean(acc))[:3]) + ".")
        else:
            top = max(done, key=lambda s: s.mean(acc))
            diverse = [s for s in done if s.mean(DIVERSITY) >= r_div]
            tail = (f"; of the settings at least as diverse, the most accurate is "
                    f"{_point(max(diverse, key=lambda s: s.mean(acc)), acc)}") if diverse else \
                "; no setting is as diverse as the snapshots"
            parts.append(f"No setting is both more accurate and more diverse than {where}: the most accurate "
                         f"setting is {_point(top, acc)}{tail}.")
    noisy = [s for s in overall if len(s.seeds) > 1 and s.std(acc) > 0]
    if len(overall) > 1 and noisy:
        gaps = [abs(a.mean(acc) - b.mean(acc)) for a, b in itertools.pairwise(overall)]
        spread_ = max(s.std(acc) for s in noisy)
        if max(gaps) < spread_:
            parts.append(f"Caution: neighbouring front points differ by at most {pct(max(gaps))} points of "
                         f"{name}, less than the largest std over seeds ({pct(spread_)}); more seeds would be "
                         f"needed to rank them.")
    return " ".join(parts)


def text(f: Frontier) -> str:
    """The frontier's words: one paragraph per accuracy measure."""
    seeds = ", ".join(str(s) for s in f.seeds)
    head = (f"Accuracy–diversity frontier · {len(f.settings)} settings · mean ± std over seeds {seeds} · "
            f"accuracy and disagreement in %")
    return "\n\n".join([head, *(describe(f, acc) for acc in ACCURACY)])


def table(f: Frontier) -> str:
    """The settings as a fixed-width table (the CLI prints it)."""
    lines = [f"{'generator':<10}{'setting':<26}{'seeds':>6}{'sBEND':>16}{'soft':>16}{'disagree':>16}  front"]
    for s in f.settings + ([f.reference] if f.reference else []):
        if not s.stats:
            lines.append(f"{s.generator:<10}{s.label:<26}{0:>6}   all {s.failed} point(s) failed")
            continue
        cells = "".join(f"{pct(s.mean(c)) + ' ± ' + pct(s.std(c)):>16}" for c in (*ACCURACY, DIVERSITY))
        front = "/".join(a for a in ("sbend", "soft") if s.front.get(a)) or ("ref" if s.generator == REFERENCE
                                                                           else "")
        label = s.label if s.generator != REFERENCE else f"all k = {s.value}"
        lines.append(f"{s.generator:<10}{label:<26}{len(s.seeds):>6}{cells}  {front}"
                     + (f"  ({s.failed} failed)" if s.failed else ""))
    return "\n".join(lines)
