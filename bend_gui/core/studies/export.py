"""'Export results' for a whole project: the results tables (results.tables.export_results) plus the saved
studies, the sweeps over m and k (Figure 5) and Table 5, in the same units (accuracies in %)."""

from __future__ import annotations

from pathlib import Path

from ..fileio import write_csv
from ..project.folder import Project
from ..results.tables import export_results, in_percent
from . import ablation, sweeps

TABLE5_COLUMNS = ["subset", "d", *ablation.ROW_KEYS, "m", "k", "state"]


def study_tables(project: Project) -> dict[str, tuple[list[str], list[dict]]]:
    """File name -> (columns, rows) of each saved study, accuracies as fractions; none for a study not run."""
    out = {}
    for over in sweeps.OVER:
        rows = sweeps.load_sweep(project, over)
        if rows:
            out[f"sweep_{over}.csv"] = (list(dict.fromkeys(k for r in rows for k in r)), rows)
    rows = ablation.table5(project)
    if len(rows) > 1:  # the project's own row alone is Table 3's sBEND again, not a comparison
        out["table5.csv"] = (TABLE5_COLUMNS, [{**r, "subset": " + ".join(r["layers"])} for r in rows])
    return out


def export_all(project: Project, folder: Path) -> list[Path]:
    """Every table of the project into `folder`: the results, then the studies that exist. Returns the paths."""
    written = export_results(project, Path(folder))
    for name, (columns, rows) in study_tables(project).items():
        path = Path(folder) / name
        write_csv(path, *in_percent(columns, rows))
        written.append(path)
    return written
