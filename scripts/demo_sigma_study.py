"""Issue 10's demo: a study over the latent noise σ started from the app, on a local Ray cluster.

    python scripts/demo_sigma_study.py PROJECT_DIR PNG_DIR [SIGMAS] [SEEDS]

Starts a Ray head and a second node on this machine (tests/ray_cluster.py: 1 CPU each, stopped at the end
by their own process ids), opens the real main window offscreen on PROJECT_DIR (a finished project, e.g.
`bend new /tmp/app-demo --template fashion-mnist-demo && bend run /tmp/app-demo`), and drives the Studies
page through its widgets: picks autoencoder.latent_noise in the key picker, types the σ values (default
0,0.05,0.1,0.3,1.0) and seeds (0,1,2), chooses the Ray cluster at the cluster's address, presses Run
study and waits. Then it plots sBEND and the generated members' disagreement against σ, saves
PNG_DIR/app-sigma-sbend.png and app-sigma-disagree.png, and prints mean ± std per σ, the nodes the points
ran on and the wall time.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp()  # the app remembers the address here, not in the user's file
# A private cluster on the loopback: no token authentication (Ray turns it on by itself when some other
# run left ~/.ray/auth_token, and the driver then failed with "InvalidAuthToken").
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from bend_gui.core.studies import study
from bend_gui.core.studies.ray_executor import connect
from bend_gui.gui.main_window import MainWindow
from bend_gui.gui.plots import configure_pyqtgraph
from tests.ray_cluster import Cluster

KEY = "autoencoder.latent_noise"
SHOWN = ("sbend", "gen_mean", "disagree_gen", "disagree_orig")


def pump(app: QApplication, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def main() -> int:
    root, png_dir = Path(sys.argv[1]), Path(sys.argv[2])
    sigmas = sys.argv[3] if len(sys.argv) > 3 else "0, 0.05, 0.1, 0.3, 1.0"
    seeds = sys.argv[4] if len(sys.argv) > 4 else "0, 1, 2"
    png_dir.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="app-demo-ray-")))
    try:
        cluster.wait_for_head()
        connect(cluster.address)
        cluster.start_second_node()
        print(f"Ray cluster at {cluster.address}: head pid {cluster.head.pid}, second node pid {cluster.node.pid}",
              flush=True)

        app = QApplication([])
        configure_pyqtgraph()
        win = MainWindow()
        win.resize(1440, 900)
        win.show()
        assert win.open_project(root), f"cannot open {root}"
        pump(app, 0.5)
        panel = win.workspace.show_page("Studies").study
        # The grid, through the widgets: the key picker, its values, Add; seeds; the cluster; Run study.
        panel.key_pick.setCurrentIndex(panel.key_pick.findText(KEY))
        print(f"{KEY}: {panel.key_help.text()}", flush=True)
        panel.values_edit.clear()
        QTest.keyClicks(panel.values_edit, sigmas)
        QTest.mouseClick(panel.add_btn, Qt.MouseButton.LeftButton)
        panel.seeds_edit.clear()
        QTest.keyClicks(panel.seeds_edit, seeds)
        panel.name_edit.clear()
        QTest.keyClicks(panel.name_edit, "sigma")
        panel.executor.setCurrentIndex(1)
        panel.address.clear()
        QTest.keyClicks(panel.address, cluster.address)
        print(f"grid: {panel.grid_edit.text()} · seeds {panel.seeds_edit.text()} · Ray at {panel.address.text()}",
              flush=True)
        t0 = time.perf_counter()
        QTest.mouseClick(panel.start_btn, Qt.MouseButton.LeftButton)
        if not panel.job.running:
            print(f"the study did not start: {panel.error.text()}", file=sys.stderr)
            return 1
        shot = 0
        while panel.job.running:
            pump(app, 2.0)
            states = Counter(r["state"] for r in panel.records.values())
            print(f"{time.perf_counter() - t0:6.0f} s  {dict(states)}  {panel.status.text()[:110]}", flush=True)
            if shot == 0 and states.get("running", 0) >= 2:   # points live on both nodes
                win.grab().save(str(png_dir / "app-sigma-live.png"))
                shot = 1
        wall = time.perf_counter() - t0
        pump(app, 0.5)
        if panel.error.text():
            print(f"error: {panel.error.text()}", file=sys.stderr)

        panel.x_pick.setCurrentText(KEY)
        for q, name in (("sbend", "app-sigma-sbend.png"), ("disagree_gen", "app-sigma-disagree.png")):
            panel.q_pick.setCurrentIndex(panel.q_pick.findData(q))
            pump(app, 0.3)
            win.grab().save(str(png_dir / name))

        _, records = study.load_study(win.model.project, "sigma")
        done = [r for r in records if r["state"] == "done"]
        print(f"\n{len(records)} points ({len(done)} done, {len(records) - len(done)} failed) in {wall:.0f} s wall")
        for r in records:
            if r["state"] == "failed":
                print(f"  failed: σ = {r['values'][KEY]}, seed {r['seed']}: {r['error']}")
        print("\n| σ | " + " | ".join(SHOWN) + " |")
        print("|---|" + "---|" * len(SHOWN))
        for s in sorted({r["values"][KEY] for r in done}):
            rows = [r["row"] for r in done if r["values"][KEY] == s]
            cells = []
            for q in SHOWN:
                v = np.array([row[q] for row in rows], dtype=float) * (100 if q in ("sbend", "gen_mean") else 1)
                cells.append(f"{v.mean():.2f} ± {v.std():.2f}" if q in ("sbend", "gen_mean")
                             else f"{v.mean():.4f} ± {v.std():.4f}")
            print(f"| {s:g} | " + " | ".join(cells) + f" |  (n = {len(rows)})")
        print("\nnodes: " + ", ".join(f"{n}: {c} points" for n, c in Counter(r["node"] for r in records).items()))
        print("point seconds: " + ", ".join(f"{r['seconds']:.0f}" for r in records))
        win.close()
        return 0
    finally:
        cluster.stop()
        print(f"stopped the Ray nodes (pids {cluster.head.pid}, {cluster.node.pid if cluster.node else '-'})",
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
