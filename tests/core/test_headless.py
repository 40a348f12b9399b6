"""Core and CLI work without Qt (the [gui] extra): `bend run` on a tiny project imports no Qt module, and
`bend-gui` without Qt says what to install.

A fresh venv with `pip install .` would need torch (~2.6 GB) per test run; instead a subprocess blocks
every Qt package through a sys.meta_path finder, so importing one fails exactly as on a node without it.
"""

import os
import subprocess
import sys
import textwrap

QT = ("PySide6", "pyqtgraph", "superqt", "shiboken6", "PyQt5", "PyQt6", "qtpy")

BLOCK = textwrap.dedent(f"""
    import sys
    QT = {QT!r}

    class NoQt:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in QT:
                raise ModuleNotFoundError(f"No module named {{name!r}} (blocked: a node without Qt)", name=name)
            return None

    sys.meta_path.insert(0, NoQt())
""")


def run_without_qt(code: str, tmp_path, *args):
    return subprocess.run([sys.executable, "-c", BLOCK + textwrap.dedent(code), *map(str, args)],
                          capture_output=True, text=True, timeout=900, check=False,
                          env=dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"),
                                   XDG_DATA_HOME=str(tmp_path / "data")))


def test_the_blocker_really_blocks(tmp_path):
    r = run_without_qt("import pyqtgraph", tmp_path)
    assert r.returncode != 0 and "blocked" in r.stderr


def test_bend_new_run_and_report_import_no_qt(tmp_path, tiny_cfg):
    from bend_gui.core.settings import config as C

    cfg = tiny_cfg.copy()
    cfg.base.epochs = 1
    cfg.collect.k = 4
    cfg.generate.m = 3
    toml = tmp_path / "tiny.toml"
    toml.write_text(C.dumps(cfg))
    r = run_without_qt("""
        import sys
        from pathlib import Path
        from bend_gui.cli import main
        from bend_gui.core.project.folder import Project
        from bend_gui.core.settings import config as C
        src, p = Path(sys.argv[1]), Path(sys.argv[2])
        Project.create(p, C.load(src))
        codes = [main(["run", str(p), "-q"]), main(["report", str(p)]), main(["status", str(p)])]
        qt = sorted(m for m in sys.modules if m.split(".")[0] in QT)
        print("CODES", codes, "QT", qt)
    """, tmp_path, toml, tmp_path / "p")
    assert "CODES [0, 0, 0] QT []" in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]
    assert (tmp_path / "p" / "results" / "metrics.json").is_file()


def test_bend_gui_without_qt_says_what_to_install(tmp_path):
    r = run_without_qt("""
        import sys
        from bend_gui.gui.app import main
        sys.exit(main([]))
    """, tmp_path)
    assert r.returncode == 2, r.stderr
    assert "bend-gui needs Qt" in r.stderr and "[gui]" in r.stderr and "Traceback" not in r.stderr
