"""Layering rules: pyproject.toml's import contracts hold (the layers, no Qt in the core, nothing of a
project behind the bundle loader), and hold at run time; loading tensors is always weights-only."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
QT = ("PySide6", "pyqtgraph", "superqt", "qtpy", "PyQt5", "PyQt6")


def _lint_imports() -> str:
    # The console script of the environment running the tests, not some other one on PATH.
    beside = Path(sys.executable).with_name("lint-imports")
    exe = str(beside) if beside.exists() else shutil.which("lint-imports")
    assert exe, "lint-imports not found: install the test extra (pip install -e '.[test]')"
    return exe


def test_the_import_contracts_hold():
    # lint-imports reads [tool.importlinter] from the pyproject.toml in its working directory.
    r = subprocess.run([_lint_imports(), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


def test_importing_core_cli_and_bundle_loads_no_qt():
    code = ("import sys, importlib, pkgutil, bend_gui.core as c, bend_gui.cli;"
            "[importlib.import_module(m.name) for m in pkgutil.walk_packages(c.__path__, 'bend_gui.core.')];"
            "import bend_gui.bundle;"
            f"bad=[m for m in sys.modules if m.split('.')[0] in {QT!r}]; print(bad); sys.exit(bool(bad))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_torch_load_is_weights_only():
    for p in (ROOT / "bend_gui").rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "load" and \
                    getattr(node.func.value, "id", "") == "torch":
                kws = {k.arg: k.value for k in node.keywords}
                assert "weights_only" in kws and getattr(kws["weights_only"], "value", None) is True, p


def test_a_bundle_loads_and_predicts_without_fcntl(finished_project, tmp_path):
    """As on Windows, where fcntl (the project folder's lock) does not exist: bend_gui.bundle still works."""
    from bend_gui.core.results.bundle import load
    from bend_gui.core.results.bundle_export import export

    path = tmp_path / "ens.pt"
    export(finished_project, path)
    x = torch.randint(0, 256, (9, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    torch.save(x, tmp_path / "x.pt")
    code = f"""
import sys
sys.modules["fcntl"] = None  # importing it now raises ImportError
import torch
import bend_gui.bundle as B
ens = B.load({str(path)!r})
x = torch.load({str(tmp_path / "x.pt")!r}, weights_only=True)
print(",".join(map(str, ens.predict(x).tolist())))
loaded = [m for m in sys.modules if m.startswith(("bend_gui.core.project", "bend_gui.core.pipeline",
                                                   "bend_gui.core.studies", "bend_gui.core.results.bundle_export"))]
assert not loaded, loaded
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [",".join(map(str, load(path).predict(x).tolist()))]


def test_only_the_project_layer_builds_paths_into_a_project_folder():
    """Every file of a project is named in core/project (artifacts, folder): other layers ask it."""
    import re

    pattern = re.compile(r"\.dir\(|\.root\s*/|manifest_path")
    offenders = [f"{p.relative_to(ROOT)}:{i}" for p in (ROOT / "bend_gui" / "core").rglob("*.py")
                 if "project" not in p.relative_to(ROOT / "bend_gui" / "core").parts[:1]
                 for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []
