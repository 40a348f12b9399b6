"""`bend-gui [PROJECT_DIR] [--demo]`: the desktop app."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bend-gui", description="BEND Studio, the desktop app")
    ap.add_argument("project", nargs="?", help="a project folder to open")
    ap.add_argument("--demo", action="store_true", help="open the embedded demo project (created on first use)")
    args = ap.parse_args(argv)

    try:
        from PySide6.QtWidgets import QApplication
    except ImportError as e:  # core and CLI install without Qt; the app is the [gui] extra
        print(f"error: bend-gui needs Qt, which is not installed here ({e}). Install the app with "
              f"`pip install 'bend-studio[gui]'` (or scripts/setup.sh); the `bend` command works without it.",
              file=sys.stderr)
        return 2

    from .icon import app_icon
    from .main_window import MainWindow
    from .plots import configure_pyqtgraph

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("BEND Studio")
    app.setOrganizationName("bend-studio")
    app.setWindowIcon(app_icon())
    configure_pyqtgraph()
    win = MainWindow()
    if args.demo:
        win.open_demo()
    elif args.project:
        win.open_project(args.project)
    win.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
