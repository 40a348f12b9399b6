"""Open the real main window on a finished project and check that every number the results views show is
the number `bend report` prints (same precision); with a second argument, grab a PNG of every page there.

    python scripts/check_views_vs_report.py PROJECT_DIR [PNG_DIR]

Prints how many numbers it compared and each one that differs; exits 1 when any differs.
"""
import os
import re
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp()  # keep the user's recent-projects list out of it
from PySide6.QtWidgets import QApplication

from bend_gui.core.results.report import TABLE3_COLUMNS
from bend_gui.gui.main_window import MainWindow
from bend_gui.gui.plots import configure_pyqtgraph

root = sys.argv[1]
report = subprocess.run([sys.executable, "-m", "bend_gui.cli", "report", root], capture_output=True, text=True).stdout
app = QApplication([])
configure_pyqtgraph()
w = MainWindow()
w.resize(1440, 900)
w.show()
w.open_project(root)
for _ in range(50):
    app.processEvents()
ws = w.workspace
checked = mismatched = 0
def cmp(what, shown, printed):
    global checked, mismatched
    checked += 1
    if shown != printed:
        mismatched += 1
        print(f"  MISMATCH {what}: view {shown!r} vs report {printed!r}")

lines = report.splitlines()
t3 = ws.page("Table 3")
i = next(i for i, l in enumerate(lines) if l.startswith("generator"))
for line in lines[i + 1:]:
    if not line.strip():
        break
    cells = re.split(r"\s{2,}", line.strip())
    name, values = cells[0], cells[1:]
    for col, printed in zip(TABLE3_COLUMNS, values):
        cmp(f"Table 3 {name}/{col}", t3.cell_text(name, col), printed)
div = ws.page("Diversity")
for set_name, prefix in (("generated", "generated "), ("original", "original (snapshots)"), ("cross", "generated vs original")):
    line = next(l for l in lines if l.startswith(prefix))
    nums = re.findall(r"[\d.]+%?", line[len(prefix):])
    cmp(f"Diversity {set_name}/d", div.table_text(set_name, 1), nums[0])
    if set_name != "cross" or len(nums) > 2:
        cmp(f"Diversity {set_name}/disagree", div.table_text(set_name, 2) + "%", nums[1])
        cmp(f"Diversity {set_name}/IoU", div.table_text(set_name, 3), nums[2])
for name in ("snapshots", "noise", "average", "gaussian"):
    line = next(l for l in lines if l.strip().startswith(f"baseline {name}"))
    nums = re.findall(r"[\d.]+", line.split(name, 1)[1])
    cmp(f"Diversity baseline {name}/d", div.table_text(name, 1), nums[0])
    cmp(f"Diversity baseline {name}/IoU", div.table_text(name, 3), nums[-1])
eff = ws.page("Efficiency")
print("Efficiency view:", {row["key"]: eff.value_text(row["key"]) for row in eff.rows})
print("Efficiency report:", [l for l in lines if l.startswith(("t_org", "m =", "break-even"))])
print(f"{checked} numbers compared, {mismatched} differ")
if len(sys.argv) > 2:
    os.makedirs(sys.argv[2], exist_ok=True)
    for i in range(ws.tabs.count()):
        ws.tabs.setCurrentIndex(i)
        for _ in range(30):
            app.processEvents()
        time.sleep(0.1)
        for _ in range(30):
            app.processEvents()
        w.grab().save(os.path.join(sys.argv[2], f"{i}_{ws.tabs.tabText(i).replace(' ', '_')}.png"))
w.close()
sys.exit(1 if mismatched else 0)
