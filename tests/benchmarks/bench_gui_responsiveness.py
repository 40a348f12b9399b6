"""How responsive the GUI stays while a job trains: gaps between ticks of a 10 ms timer in the GUI thread
while the main window (monitors visible) runs base training of the demo's small CNN on real Fashion-MNIST.

    QT_QPA_PLATFORM=offscreen python tests/benchmarks/bench_gui_responsiveness.py [--epochs 1]

Prints the largest gap, the 99th percentile and how many gaps exceeded 50 ms and 100 ms.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=1)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    os.environ["XDG_CONFIG_HOME"] = str(tmp / "config")

    import numpy as np
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from bend_gui.core.project import Project
    from bend_gui.core.templates import load_template
    from bend_gui.gui.main_window import MainWindow
    from bend_gui.gui.plots import configure_pyqtgraph

    app = QApplication([])
    configure_pyqtgraph()
    cfg = load_template("fashion-mnist-demo")
    cfg.base.epochs = args.epochs
    project = Project.create(tmp / "p", cfg)
    win = MainWindow()
    win.show()
    win.open_project(project.root)
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    done: list[str] = []
    win.runner.finished.connect(lambda name, outcome, msg: done.append(outcome))
    t0 = time.perf_counter()
    timer.start()
    win.model.run_pipeline(until="base")
    while not done:
        app.processEvents()
        time.sleep(0.001)
    timer.stop()
    wall = time.perf_counter() - t0
    gaps = np.diff(np.array(ticks)) * 1000
    print(f"base training, {args.epochs} epoch(s) of Fashion-MNIST in the main window: {wall:.1f} s, outcome {done[0]}")
    print(f"  10 ms timer: {len(ticks)} ticks; largest gap {gaps.max():.0f} ms; 99th percentile {np.percentile(gaps, 99):.0f} ms; "
          f"median {np.median(gaps):.1f} ms; gaps > 50 ms: {(gaps > 50).sum()}; > 100 ms: {(gaps > 100).sum()}")
    win.close()


if __name__ == "__main__":
    main()
