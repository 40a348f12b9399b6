"""The results as text: `bend report` prints this, and the GUI's views format numbers with the same
functions, so both agree to the printed precision."""

from __future__ import annotations

import math
import textwrap

from ..errors import ProjectError
from ..project import artifacts as A
from ..project.folder import Project

TABLE3_COLUMNS = ("sbend", "abend", "soft", "gen_max", "gen_mean", "gen_median", "orig_max", "orig_mean",
                  "orig_median", "potential")
TABLE3_HEADERS = {"sbend": "sBEND", "abend": "aBEND", "soft": "soft", "gen_max": "max", "gen_mean": "mean",
                  "gen_median": "median", "orig_max": "orig_max", "orig_mean": "orig_mean",
                  "orig_median": "orig_median", "potential": "potential"}


def load_metrics(project: Project) -> dict:
    """The evaluate stage's metrics: of its last good run when a later attempt stopped (see
    Project.require_last_good, whose note says so)."""
    project.require_last_good("evaluate")
    if not A.METRICS.exists(project):
        raise ProjectError(f"{A.METRICS.path(project)}: missing; rerun the evaluate stage")
    return A.METRICS.load(project)


def pct(x: float | None) -> str:
    """An accuracy fraction as a percentage with two decimals, as the paper prints them."""
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.2f}"


def pct_pm(mean: float | None, std: float | None) -> str:
    if mean is None or std is None:
        return "—"
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


def fixed(x: float | None, digits: int, scale: float = 1.0) -> str:
    """A number with `digits` decimals, or "—" where there is none (e.g. diversity with a single member)."""
    return "—" if x is None else f"{scale * x:.{digits}f}"


def duration(s: float) -> str:
    """A span a person reads at a glance: 45 s, 12.5 min, 3.2 h."""
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.1f} min" if s < 5400 else f"{s / 3600:.1f} h"


def seconds(x: float | None) -> str:
    return "—" if x is None else f"{x:.1f} s" if x >= 1 else f"{1000 * x:.1f} ms"


def number(x: float | None, digits: int = 3) -> str:
    """Break-even m: None in metrics.json stands for infinity (never cheaper)."""
    if x is None:
        return "∞"
    return f"{x:.{digits}f}"


def table3_cells(row: dict) -> dict[str, str]:
    """The printed cell of each Table 3 column for one row."""
    cells = {c: pct(row.get(c)) for c in TABLE3_COLUMNS if c != "abend"}
    cells["abend"] = pct_pm(row["abend_mean"], row["abend_std"])
    return cells


def table3_rows(metrics: dict) -> list[tuple[str, dict]]:
    """(generator, row) for the project's generator first, then each baseline."""
    return [(metrics.get("generator", "generated"), metrics), *metrics.get("baselines", {}).items()]


def verdicts(metrics: dict) -> list[str]:
    """Plain answers to the questions a researcher asks first, whatever the answers are."""
    out = []
    g = metrics.get("generator", "generated")
    for rule, key in (("sBEND", "sbend"), ("aBEND", "abend_mean")):
        v = metrics[key]
        beats = [name for name, ref in (("member mean", "gen_mean"), ("member median", "gen_median"),
                                        ("snapshot mean", "orig_mean"), ("snapshot median", "orig_median"))
                 if v > metrics[ref]]
        loses = [name for name, ref in (("member mean", "gen_mean"), ("member median", "gen_median"),
                                        ("snapshot mean", "orig_mean"), ("snapshot median", "orig_median"))
                 if v < metrics[ref]]
        out.append(f"{rule} {pct(v)}: above {', '.join(beats) or 'none of the means and medians'}"
                   + (f"; below {', '.join(loses)}" if loses else ""))
    base = metrics.get("baselines", {})
    if base:
        best = max(base.items(), key=lambda kv: kv[1]["sbend"])
        better = metrics["sbend"] > best[1]["sbend"]
        tie = metrics["sbend"] == best[1]["sbend"]
        word = "ties with" if tie else "beats" if better else "does not beat"
        out.append(f"{g} {word} the best baseline by sBEND: {pct(metrics['sbend'])} vs {pct(best[1]['sbend'])} "
                   f"({best[0]})")
        best_mean = max(base.items(), key=lambda kv: kv[1]["gen_mean"])
        out.append(f"member mean: {g} {pct(metrics['gen_mean'])} vs best baseline {pct(best_mean[1]['gen_mean'])} "
                   f"({best_mean[0]}); snapshots {pct(metrics['orig_mean'])}")
    return out


NOVELTY_TEXT = (
    "nn = distance to the nearest snapshot in normalised parameter space (each tensor minus the snapshots' mean, "
    "divided by the spread of its snapshot residuals; Euclidean / √d, so an RMS per coordinate in spreads); "
    "the snapshots' row is each snapshot's distance to its nearest other snapshot (leave-one-out). "
    "IoU = each member's largest IoU of wrong predictions with any snapshot (snapshots: with any other). "
    "copies = share of members with nn ≤ the snapshots' median leave-one-out distance")


def spread(summary: dict, digits: int) -> str:
    """A per-member summary as 'median [p10–p90]'."""
    return f"{summary['median']:.{digits}f} [{summary['p10']:.{digits}f}–{summary['p90']:.{digits}f}]"


def novelty_lines(metrics: dict) -> list[str]:
    """The novelty section: is each generator's member a new classifier or a copy of a snapshot?"""
    nov = metrics.get("novelty")
    if not nov:
        return ["Novelty: not in these results (evaluated by an older version); rerun the evaluate stage"]
    out = ["Novelty · are the members new, or copies of snapshots? median [10th–90th percentile] over members",
           f"{'':<26}{'nn distance':>22}{'largest IoU':>22}{'copies':>9}"]
    for name, row in nov["sets"].items():
        label = name if name == metrics.get("generator") else "  baseline " + name
        out.append(f"{label:<26}{spread(row['nn_distance'], 3):>22}{spread(row['largest_iou'], 3):>22}"
                   f"{pct(row['copy_share']):>8}%")
    ref = nov["snapshots"]
    out.append(f"{'snapshots (leave-one-out)':<26}{spread(ref['loo_distance'], 3):>22}{spread(ref['largest_iou'], 3):>22}"
               f"{'—':>9}")
    out += textwrap.wrap(NOVELTY_TEXT + f" (here {nov['copy_threshold']:.3f}).", 110)
    return out


def varied_keys(grid: dict) -> list[str]:
    """The keys a saved study's grid (study.json's "grid") gives more than one value."""
    return [k for k, v in grid["keys"].items() if len(v) > 1]


def seed_stats(records: list[dict]) -> dict[str, tuple[float, float]]:
    """Each Table 3 column's mean and std (ddof 1) over a study's finished points (aBEND: over the points'
    aBEND means, so its ± is the spread over seeds, not over aBEND's own repeats)."""
    done = [r["row"] for r in records if r["state"] == "done"]
    out = {}
    for c in TABLE3_COLUMNS:
        key = "abend_mean" if c == "abend" else c
        vals = [row[key] for row in done if row.get(key) is not None]
        if vals:
            mean = math.fsum(vals) / len(vals)
            var = math.fsum((v - mean) ** 2 for v in vals) / (len(vals) - 1) if len(vals) > 1 else 0.0
            out[c] = (mean, math.sqrt(var))
    return out


def seeds_lines(metrics: dict, definition: dict, records: list[dict]) -> list[str]:
    """Table 3 over the seeds of a study whose only varied axis is the seed, beside the project's own row."""
    name, grid = definition["name"], definition["grid"]
    done = [r for r in records if r["state"] == "done"]
    failed = len(records) - len(done)
    fixed_ = ", ".join(f"{k} = {v[0]}" for k, v in grid["keys"].items()) or "the project's settings"
    gens = grid["keys"].get("generate.generator", [metrics.get("generator", "diffusion")])
    what = ("generator training (autoencoder, DDPM) and sampling" if definition.get("level") == "generator"
            else "sampling only: every point keeps the project's trained generator" if "diffusion" in gens
            else "the baseline's draw (it has no training)")
    stats = seed_stats(records)
    widths = {c: 14 for c in TABLE3_COLUMNS}
    lines = [(f"Table 3 over seeds · study {name} · {fixed_} · seeds {', '.join(str(r['seed']) for r in done)} "
              f"({len(done)} done" + (f", {failed} failed" if failed else "") + ")"),
             f"each seed reruns {what}; mean ± std (ddof 1) over seeds; aBEND: of its per-seed means",
             f"{'':<16}" + "".join(f"{TABLE3_HEADERS[c]:>{widths[c]}}" for c in TABLE3_COLUMNS)]
    own = table3_cells(metrics)
    lines.append(f"{'this project':<16}" + "".join(f"{own[c]:>{widths[c]}}" for c in TABLE3_COLUMNS))
    lines.append(f"{f'{len(done)} seeds':<16}" + "".join(
        f"{pct_pm(*stats[c]) if c in stats else '—':>{widths[c]}}" for c in TABLE3_COLUMNS))
    return lines


def format_report(metrics: dict, title: str = "") -> str:
    lines = []
    if title:
        lines += [title, ""]
    lines.append(f"Table 3 · test accuracy (%) · {metrics['n_test']} test images · k = {metrics['k']} snapshots, "
                 f"m = {metrics['m']} members each")
    widths = {c: max(len(TABLE3_HEADERS[c]), 6) for c in TABLE3_COLUMNS}
    widths["abend"] = 14
    lines.append(f"{'generator':<11}" + "".join(f"{TABLE3_HEADERS[c]:>{widths[c] + 2}}" for c in TABLE3_COLUMNS))
    for name, row in table3_rows(metrics):
        cells = table3_cells(row)
        lines.append(f"{name:<11}" + "".join(f"{cells[c]:>{widths[c] + 2}}" for c in TABLE3_COLUMNS))
    lines += ["", *("· " + v for v in verdicts(metrics))]

    d = metrics["diversity"]
    size = d.get("d_i_size")
    lines += ["", "Diversity of predictions (eq. 14-15) and IoU of wrong predictions"
              + (f" · d_i on {size} members of each set, sampler {metrics.get('sampler') or '—'}" if size else ""),
              f"{'':<22}{'d_i':>10}{'disagree/pair':>15}{'mean IoU':>10}",
              f"{'generated':<22}{fixed(d['d_i_gen'], 1):>10}{fixed(d['disagree_gen'], 2, 100):>14}%"
              f"{fixed(d['iou_gen'], 3):>10}",
              f"{'original (snapshots)':<22}{fixed(d['d_i_orig'], 1):>10}{fixed(d['disagree_orig'], 2, 100):>14}%"
              f"{fixed(d['iou_orig'], 3):>10}",
              f"{'generated vs original':<22}{fixed(d['d_o'], 1):>10}{fixed(d['disagree_cross'], 2, 100):>14}%"
              f"{fixed(d['iou_cross'], 3):>10}   (d_o pairs member i with snapshot i)"]
    for name, b in metrics.get("baselines", {}).items():
        lines.append(f"{'  baseline ' + name:<22}{fixed(b['d_i'], 1):>10}{'':>15}{fixed(b['iou_within'], 3):>10}")

    lines += ["", *novelty_lines(metrics)]

    cal = metrics.get("calibration", {})
    if cal:
        lines += ["", "Calibration · ECE / NLL", f"{'':<12}{'soft':>16}{'sBEND':>16}{'aBEND':>16}{'members (mean)':>18}"]
        for name, c in cal.items():
            cells = [f"{fixed(c[r]['ece'], 4)} / {fixed(c[r]['nll'], 3)}" for r in ("soft", "sbend", "abend")]
            mem = f"{fixed(c['members']['ece_mean'], 4)} / {fixed(c['members']['nll_mean'], 3)}"
            lines.append(f"{name:<12}" + "".join(f"{x:>16}" for x in cells) + f"{mem:>18}")

    e = metrics["efficiency"]
    m = metrics["m"]
    t_diff = e["t_org"] + e["t_ate"] + e["t_ddpm"] + m * e["t_gen_per_member"]
    lines += ["", "Efficiency (eq. 10-13, measured)",
              f"t_orge {seconds(e['t_orge'])} per full-network epoch (training steps only) · k_pre {e['k_pre']} epochs",
              f"t_org {seconds(e['t_org'])} (base + collection) · t_ate {seconds(e['t_ate'])} · "
              f"t_ddpm {seconds(e['t_ddpm'])} · t_gen {seconds(e['t_gen_per_member'])} per member"]
    if e.get("t_trad_per_member") is None:
        lines.append("break-even m (eq. 13): not measurable: no base training was timed (k_pre = 0)")
    else:
        epochs = e.get("collect_epochs", e["k"])
        lines += [f"m = {m}: t_diff {seconds(t_diff)} vs t_trad {seconds(m * e['t_trad_per_member'])}",
                  f"break-even m (eq. 13): {number(e.get('break_even_m'), 2)} · with the paper's accounting "
                  f"t_org = (k_pre + {fixed(epochs, 1)} collection epochs)·t_orge: "
                  f"{number(e.get('break_even_m_paper_accounting'), 2)}"]
    return "\n".join(lines)
