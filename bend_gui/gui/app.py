"""`bend-gui`: the desktop app's entry point."""

import sys


def main() -> int:
    print("bend-gui: the desktop app is not built yet; use the headless `bend` command meanwhile.",
          file=sys.stderr)
    return 1
