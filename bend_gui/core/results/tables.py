"""The evaluate stage's results as the views and the exports read them: loading (and whether they are
stale), the numbers derived for the plots, and `export_results`, which writes every table as CSV.

Accuracies stay fractions here; `report.py` formats them. No Qt.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import ProjectError
from ..events import CancelFlag, Event, Progress
from ..fileio import read_csv, write_csv, write_json
from ..project import artifacts as A
from ..project.folder import STAGE_TITLES, Project, StageState, refuse_inside_project
from . import ensemble
from . import metrics as M
from .report import TABLE3_COLUMNS, table3_rows

# The set name of the project's own generator in predictions.pt and members.csv.
GENERATED, ORIGINAL = "generated", "original"


@dataclass
class IouMatrix:
    matrix: np.ndarray   # (m + k) × (m + k), generated members first
    generated: int       # m
    original: int        # k

    def off_diagonal_range(self) -> tuple[float, float]:
        """Smallest and largest IoU between two different members (the diagonal is 1 by definition)."""
        n = len(self.matrix)
        if n < 2:
            return (0.0, 1.0)
        vals = self.matrix[~np.eye(n, dtype=bool)]
        return float(vals.min()), float(vals.max())

    def label(self, i: int) -> str:
        """'generated 3' or 'snapshot 17': the set and the index within it."""
        return f"generated {i}" if i < self.generated else f"snapshot {i - self.generated}"


@dataclass
class Results:
    """One evaluate run's outputs. Large files load on first use."""

    project: Project
    metrics: dict
    members: list[dict]          # rows of members.csv: set, index, accuracy, nll
    state: str                   # the evaluate stage's state: "done" unless the results are stale
    detail: str                  # why: the first stage that is not done, and its reason
    seed: int                    # [run] seed: the seed of the stored aBEND repeats
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def stale(self) -> bool:
        return self.state != "done"

    def stale_note(self) -> str:
        """Why these results may not match the project's settings; empty when they do."""
        if self.state == "done":
            return ""
        if self.state == "running":
            return (f"A run is in progress ({self.detail or STAGE_TITLES['evaluate']}): these are the previous "
                    f"results; they update when the evaluate stage finishes.")
        if self.state in ("failed", "cancelled"):
            return f"The last evaluate run {self.state}: these are the results of the run before it."
        if self.state == "stale":
            why = f": {self.detail}" if self.detail else ""
            return (f"Stale results{why}. They come from the last evaluate run and no longer match the "
                    f"settings; run evaluate again to update them.")
        return "The manifest does not record an evaluate run: these results may not belong to this project."

    def sets(self) -> list[str]:
        return list(dict.fromkeys(r["set"] for r in self.members))

    def member_accuracies(self, set_name: str) -> np.ndarray:
        rows = sorted((r for r in self.members if r["set"] == set_name), key=lambda r: r["index"])
        return np.array([r["accuracy"] for r in rows], dtype=np.float64)

    def row(self, name: str) -> dict:
        """The Table 3 row of the project's generator ('generated' or its name) or of a baseline."""
        if name in (GENERATED, self.metrics.get("generator")):
            return self.metrics
        return self.metrics["baselines"][name]

    def iou(self) -> IouMatrix:
        if "iou" not in self._cache:
            d = A.IOU.load(self.project)
            self._cache["iou"] = IouMatrix(d["matrix"].float().numpy(), int(d["generated"]), int(d["original"]))
        return self._cache["iou"]

    def predictions(self, set_name: str) -> tuple[np.ndarray, np.ndarray]:
        """(preds (M, n), y (n,)) of one set: 'generated', 'original' or a baseline."""
        if "predictions" not in self._cache:
            self._cache["predictions"] = A.PREDICTIONS.load(self.project)
        p = self._cache["predictions"]
        if set_name not in p["preds"]:
            raise ProjectError(f"{A.PREDICTIONS.path(self.project)}: no predictions of {set_name!r}")
        return p["preds"][set_name].numpy().astype(np.int64), p["y"].numpy().astype(np.int64)


def results_signature(project: Project) -> tuple:
    """Changes whenever an evaluate run rewrites its files: views redraw only then."""
    out = []
    for artifact in A.RESULT_FILES:
        try:
            st = artifact.path(project).stat()
            out.append((st.st_mtime_ns, st.st_size))
        except FileNotFoundError:
            out.append(None)
    return tuple(out)


def staleness(states: list[StageState]) -> tuple[str, str]:
    """(the evaluate stage's state, why): the first stage that is not done explains a stale evaluate."""
    ev = next(s for s in states if s.stage == "evaluate")
    running = next((s for s in states if s.state == "running"), None)
    if running is not None:
        return "running", STAGE_TITLES[running.stage]
    if ev.state != "stale":
        return ev.state, ev.detail
    first = next((s for s in states if s.state != "done"), ev)
    why = first.detail if first.stage == "evaluate" else f"{STAGE_TITLES[first.stage]} is {first.state}" + (
        f": {first.detail}" if first.detail else "")
    return ev.state, why


def load_results(project: Project, states: list[StageState] | None = None) -> Results | None:
    """The results on disk, or None when the evaluate stage never wrote them. Stale results load too
    (with `stale` set): a researcher still wants to see the last ones. A damaged file raises ProjectError."""
    if not A.METRICS.exists(project):
        return None
    state, detail = staleness(states or project.stage_states())
    metrics = A.METRICS.load(project)
    if not isinstance(metrics, dict) or "sbend" not in metrics:
        raise ProjectError(f"{A.METRICS.path(project)}: not a metrics file of the evaluate stage")
    members = []
    if A.MEMBERS_CSV.exists(project):
        _, rows = A.MEMBERS_CSV.load(project)
        members = [{"set": str(r["set"]), "index": int(r["index"]), "accuracy": float(r["accuracy"]),
                    "nll": float(r.get("nll", math.nan))} for r in rows]
    try:
        seed = project.load_config().run.seed
    except Exception:  # noqa: BLE001 - an invalid project.toml only loses the seed note
        seed = 0
    return Results(project, metrics, members, state, detail, seed)


# --- member accuracies ---------------------------------------------------------------------------------

def accuracy_bins(values: list[np.ndarray], resolution: float, bins: int = 20) -> np.ndarray:
    """Shared bin edges for accuracy histograms. Accuracies on n test images are multiples of 1/n, so the
    bin width is a whole number of those steps and every edge sits half a step between two possible
    values: no bin gets an extra value from rounding."""
    vals = np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in values]) if values else np.zeros(0)
    if len(vals) == 0:
        return np.array([0.0, 1.0])
    res = resolution if resolution > 0 else 1e-4
    lo_steps, hi_steps = math.floor(vals.min() / res + 0.5), math.floor(vals.max() / res + 0.5)
    width = max(1, math.ceil((hi_steps - lo_steps + 1) / max(bins, 1)))
    count = math.ceil((hi_steps - lo_steps + 1) / width)
    return (lo_steps - 0.5 + width * np.arange(count + 1)) * res


def accuracy_histogram(groups: dict[str, np.ndarray], resolution: float, bins: int = 20
                       ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(edges, {group: counts}) on the same bins."""
    edges = accuracy_bins(list(groups.values()), resolution, bins)
    return edges, {k: np.histogram(np.asarray(v, dtype=np.float64), edges)[0] for k, v in groups.items()}


# --- aBEND repeats -------------------------------------------------------------------------------------

def abend_distribution(preds: np.ndarray, y: np.ndarray, repeats: int, seed: int,
                       cancel: CancelFlag | None = None, stage: str = "aBEND") -> Iterator[Event]:
    """aBEND's accuracy over `repeats` draws, the same draws as `metrics.abend_repeats` with this seed (the
    evaluate stage's stored runs are the first of them). A generator: yields progress, returns the array."""
    rng = np.random.default_rng(seed)
    out = np.empty(repeats, dtype=np.float64)
    step = max(1, repeats // 50)
    for r in range(repeats):
        out[r] = ensemble.accuracy(ensemble.abend(preds, rng), y)
        if (r + 1) % step == 0 or r + 1 == repeats:
            if cancel is not None:
                cancel.check()
            yield Progress(stage, r + 1, repeats, f"aBEND repeat {r + 1}/{repeats}")
    return out


def vote_summary(row: dict, runs: np.ndarray, n_test: int) -> dict:
    """The numbers the sBEND-vs-aBEND view shows: the reference lines, aBEND's mean ± std over `runs`, and
    how often a repeat of aBEND beats, ties or trails sBEND (the paper's Figure 3 question)."""
    runs = np.asarray(runs, dtype=np.float64)
    s = row["sbend"]
    # Accuracies are multiples of 1/n: compare in whole test images, not in floating point.
    a, b = np.rint(runs * n_test), round(s * n_test)
    above, tie = int((a > b).sum()), int((a == b).sum())
    return {"sbend": s, "soft": row["soft"], "gen_mean": row["gen_mean"], "gen_median": row["gen_median"],
            "potential": row["potential"], "abend_mean": float(runs.mean()) if len(runs) else math.nan,
            "abend_std": float(runs.std()) if len(runs) else math.nan,
            "abend_max": float(runs.max()) if len(runs) else math.nan, "repeats": int(len(runs)),
            "above": above, "tie": tie, "below": int(len(runs)) - above - tie}


# --- diversity -----------------------------------------------------------------------------------------

def diversity_rows(metrics: dict) -> list[dict]:
    """One row per set: d_i (eq. 14; d_o of eq. 15 for the generated-vs-original row), the mean share of
    test images on which two members disagree, and the mean IoU of their wrong predictions.

    d_i = Σ_{i≠j} D_ij / (m − 1) = m · mean_{i≠j} D_ij, so the per-pair rate of a baseline is d_i / (m·n)."""
    d, n, m, k = metrics["diversity"], metrics["n_test"], metrics["m"], metrics["k"]
    rows = [
        {"set": "generated", "label": f"generated ({metrics.get('generator', 'generated')})", "size": m,
         "d": d["d_i_gen"], "measure": "d_i", "disagree": d["disagree_gen"], "mean_iou": d["iou_gen"]},
        {"set": "original", "label": "original (snapshots)", "size": k, "d": d["d_i_orig"], "measure": "d_i",
         "disagree": d["disagree_orig"], "mean_iou": d["iou_orig"]},
        {"set": "cross", "label": "generated vs original", "size": min(m, k), "d": d["d_o"], "measure": "d_o",
         "disagree": d["disagree_cross"], "mean_iou": d["iou_cross"]},
    ]
    for name, b in metrics.get("baselines", {}).items():
        size = b.get("m", m)
        rows.append({"set": name, "label": f"baseline {name}", "size": size, "d": b["d_i"], "measure": "d_i",
                     "disagree": b["d_i"] / (size * n) if size and n else math.nan, "mean_iou": b["iou_within"]})
    return rows


# --- efficiency ----------------------------------------------------------------------------------------

def t_diff_paper(eff: dict, m: int) -> float:
    """t_diff with the paper's accounting of the original training: t_org = (k_pre + collection epochs)·t_orge
    (BEND collects one snapshot per epoch, so there the collection epochs are k)."""
    epochs = eff.get("collect_epochs")
    epochs = eff["k"] if epochs is None else epochs
    return (eff["k_pre"] + epochs) * eff["t_orge"] + eff["t_ate"] + eff["t_ddpm"] + m * eff["t_gen_per_member"]


def efficiency_curves(eff: dict, ms: np.ndarray) -> dict[str, np.ndarray]:
    """t_diff(m), t_trad(m) (eq. 10-12) and t_diff under the paper's accounting, in seconds."""
    ms = np.asarray(ms, dtype=np.float64)
    return {"m": ms, "t_diff": np.array([M.t_diff(eff, m) for m in ms]),
            # None where no base training was timed (a pretrained start): not measurable, not zero.
            "t_trad": np.array([np.nan if M.t_trad(eff, m) is None else M.t_trad(eff, m) for m in ms]),
            "t_diff_paper": np.array([t_diff_paper(eff, m) for m in ms])}


def efficiency_m_range(eff: dict, m: int) -> np.ndarray:
    """The m axis of the efficiency plot: from 1 past the project's m and both break-even points."""
    top = max(m, 2)
    for key in ("break_even_m", "break_even_m_paper_accounting"):
        v = eff.get(key)
        if v is not None and math.isfinite(v):
            top = max(top, v)
    top = int(math.ceil(top * 2))
    return np.unique(np.round(np.geomspace(1, top, 200)).astype(int))


def efficiency_rows(metrics: dict) -> list[dict]:
    """The measured times and the derived totals, each with its key, a label and a unit."""
    e, m = metrics["efficiency"], metrics["m"]
    return [
        {"key": "t_orge", "label": "t_orge · one full-network training epoch", "value": e["t_orge"], "unit": "s"},
        {"key": "k_pre", "label": "k_pre · base training epochs", "value": e["k_pre"], "unit": "epochs"},
        {"key": "k", "label": "k · snapshots collected", "value": e.get("k", metrics["k"]), "unit": "snapshots"},
        {"key": "t_org", "label": "t_org · base training + snapshot collection", "value": e["t_org"], "unit": "s"},
        {"key": "t_ate", "label": "t_ate · autoencoder training", "value": e["t_ate"], "unit": "s"},
        {"key": "t_ddpm", "label": "t_ddpm · latent diffusion training", "value": e["t_ddpm"], "unit": "s"},
        {"key": "t_gen_per_member", "label": "t_gen · generation, per member", "value": e["t_gen_per_member"],
         "unit": "s"},
        {"key": "t_trad_per_member", "label": "k_pre·t_orge · one member trained traditionally",
         "value": e["t_trad_per_member"], "unit": "s"},
        {"key": "t_diff", "label": f"t_diff at m = {m} (eq. 10)", "value": M.t_diff(e, m), "unit": "s"},
        {"key": "t_trad", "label": f"t_trad at m = {m} (eq. 12)", "value": M.t_trad(e, m), "unit": "s"},
        {"key": "break_even_m", "label": "break-even m (eq. 13)", "value": e.get("break_even_m"), "unit": "members"},
        {"key": "break_even_m_paper_accounting", "label": "break-even m, paper's accounting (k_pre + collection epochs)·t_orge",
         "value": e.get("break_even_m_paper_accounting"), "unit": "members"},
    ]


# --- tables for export ---------------------------------------------------------------------------------

def table3_records(metrics: dict) -> list[dict]:
    """Table 3 as records (accuracies as fractions): the project's generator first, then each baseline."""
    out = []
    for i, (name, row) in enumerate(table3_rows(metrics)):
        rec = {"generator": name, "role": "project" if i == 0 else "baseline"}
        for c in TABLE3_COLUMNS:
            if c == "abend":
                rec["abend_mean"], rec["abend_std"] = row["abend_mean"], row["abend_std"]
            else:
                rec[c] = row.get(c)
        rec.update(gen_min=row.get("gen_min"), m=row.get("m"), k=row.get("k"))
        out.append(rec)
    return out


TABLE3_RECORD_COLUMNS = ["generator", "role", "sbend", "abend_mean", "abend_std", "soft", "gen_max", "gen_mean",
                         "gen_median", "gen_min", "orig_max", "orig_mean", "orig_median", "potential", "m", "k"]


def calibration_records(metrics: dict) -> list[dict]:
    out = []
    for name, c in metrics.get("calibration", {}).items():
        for rule in ("soft", "sbend", "abend"):
            out.append({"set": name, "rule": rule, "ece": c[rule]["ece"], "nll": c[rule]["nll"]})
        if "members" in c:
            out.append({"set": name, "rule": "members (mean)", "ece": c["members"]["ece_mean"],
                        "nll": c["members"]["nll_mean"]})
    return out


# Accuracies in the exported CSV files are percentages, as the app shows them; each such column says so in
# its header ("sbend (%)"). metrics.json keeps the stored fractions.
ACCURACY_KEYS = frozenset(TABLE3_RECORD_COLUMNS[2:-2]) | {"accuracy", "disagree"}
EXPORT_UNITS = ("accuracies and disagreement rates are percentages (their columns say %); IoU and ECE are "
                "fractions in [0, 1]; times are seconds; metrics.json keeps accuracies as fractions")


def percent_column(key: str) -> str:
    return f"{key} (%)"


def in_percent(columns: list[str], rows: list[dict]) -> tuple[list[str], list[dict]]:
    """Columns and rows with every accuracy column (ACCURACY_KEYS) as a percentage, named so."""
    def pct(v):
        return 100.0 * float(v) if isinstance(v, (int, float)) else v
    cols = [percent_column(c) if c in ACCURACY_KEYS else c for c in columns]
    out = [{(percent_column(k) if k in ACCURACY_KEYS else k): (pct(v) if k in ACCURACY_KEYS else v)
            for k, v in r.items()} for r in rows]
    return cols, out


def export_results(project: Project, folder: Path) -> list[Path]:
    """Write every results table into `folder` (created if needed): Table 3 with the baselines, diversity,
    efficiency, calibration, the members' accuracies, the aBEND runs, the IoU matrix, metrics.json and a
    note of where they come from. Accuracies in percent (EXPORT_UNITS), times in seconds. Returns the
    written paths."""
    folder = Path(folder)
    refuse_inside_project(folder, "the exported tables")
    res = load_results(project)
    if res is None:
        raise ProjectError(f"{project.root}: no results yet; run the evaluate stage first")
    folder.mkdir(parents=True, exist_ok=True)
    mt = res.metrics
    written = []

    def csv(name: str, columns: list[str], rows: list[dict]) -> None:
        write_csv(folder / name, *in_percent(columns, rows))
        written.append(folder / name)

    csv("table3.csv", TABLE3_RECORD_COLUMNS, table3_records(mt))
    csv("diversity.csv", ["set", "label", "size", "measure", "d", "disagree", "mean_iou"], diversity_rows(mt))
    csv("efficiency.csv", ["key", "label", "value", "unit"],
        [{**r, "value": "" if r["value"] is None else r["value"]} for r in efficiency_rows(mt)])
    csv("calibration.csv", ["set", "rule", "ece", "nll"], calibration_records(mt))
    csv("abend_runs.csv", ["generator", "repeat", "accuracy"],
        [{"generator": name, "repeat": i, "accuracy": a} for name, row in table3_rows(mt)
         for i, a in enumerate(row.get("abend_runs", []))])
    if A.MEMBERS_CSV.exists(project):
        csv("members.csv", *read_csv(A.MEMBERS_CSV.path(project)))
    if A.IOU.exists(project):
        iou = res.iou()
        labels = [iou.label(i) for i in range(len(iou.matrix))]
        csv("iou_matrix.csv", ["member", *labels],
            [{"member": labels[i], **dict(zip(labels, map(float, iou.matrix[i])))} for i in range(len(labels))])
    write_json(folder / "metrics.json", mt)
    written.append(folder / "metrics.json")
    ev = project.manifest()["stages"].get("evaluate", {})
    write_json(folder / "export_info.json", {
        "project": str(project.root), "exported": dt.datetime.now().isoformat(timespec="seconds"),
        "evaluated": ev.get("finished") or ev.get("previous", {}).get("finished"),
        "evaluate_state": res.state, "stale_note": res.stale_note(),
        "units": EXPORT_UNITS})
    written.append(folder / "export_info.json")
    return written
