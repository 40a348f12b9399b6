"""How responsive the GUI stays while a job trains: gaps between ticks of a 10 ms timer in the GUI thread
while the main window (monitors visible) runs base training of the demo's small CNN on real Fashion-MNIST.

    QT_QPA_PLATFORM=offscreen python tests/benchmarks/bench_gui_responsiveness.py [--epochs 1]

Prints the largest gap, the 99th percentile and how many gaps exceeded 50 ms and 100 ms, and the same stage's
wall time headless (as `bend run` drives it) beside the window's, as a ratio.
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
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from bend_gui.core.project.folder import Project
    from bend_gui.core.settings.templates import load_template
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
    settle = QEventLoop()  # let the new window paint once first: that paint is not the job's doing
    QTimer.singleShot(500, settle.quit)
    settle.exec()
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    done: list[str] = []
    win.runner.finished.connect(lambda name, outcome, msg: done.append(outcome))
    loop = QEventLoop()
    win.runner.finished.connect(lambda *a: loop.quit())
    t0_gui = t0 = time.perf_counter()
    timer.start()
    win.model.run_pipeline(until="base")
    loop.exec()  # the app's own event loop, as a user has it (polling would steal a core)
    timer.stop()
    wall = time.perf_counter() - t0
    gaps = np.diff(np.array(ticks)) * 1000
    win.close()

    # The same stage headless, as `bend run` drives it: what the window costs the job.
    from bend_gui.core.events import CancelFlag
    from bend_gui.core.pipeline import runner as pipeline

    t0 = time.perf_counter()
    for _ in pipeline.run(Project.create(tmp / "headless", cfg), until="base", cancel=CancelFlag()):
        pass
    headless = time.perf_counter() - t0
    print(f"base training, {args.epochs} epoch(s) of Fashion-MNIST: in the main window {wall:.1f} s "
          f"(outcome {done[0]}), headless {headless:.1f} s, ratio {wall / headless:.2f}")
    print(f"  10 ms timer: {len(ticks)} ticks; largest gap {gaps.max():.0f} ms; 99th percentile {np.percentile(gaps, 99):.0f} ms; "
          f"median {np.median(gaps):.1f} ms; gaps > 50 ms: {(gaps > 50).sum()}; > 100 ms: {(gaps > 100).sum()}")
    late = np.flatnonzero(gaps > 50)
    if len(late):
        print("  gaps > 50 ms at (s after Run): " + ", ".join(f"{ticks[i] - t0_gui:.1f} ({gaps[i]:.0f} ms)" for i in late))


if __name__ == "__main__":
    main()
