"""The app's icon: an SVG drawn for BEND Studio, shipped as package data."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon

ICON_PATH = Path(__file__).resolve().parent / "resources" / "bend-studio.svg"


def app_icon() -> QIcon:
    return QIcon(str(ICON_PATH))
