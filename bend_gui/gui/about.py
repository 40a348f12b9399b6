"""Help → About: versions and the compute device."""

from __future__ import annotations

import platform
import sys

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget


def versions() -> dict[str, str]:
    import numpy
    import pyqtgraph
    import PySide6
    import superqt
    import torch
    import torchvision

    from .. import __version__
    return {"BEND Studio": __version__, "Python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": numpy.__version__, "PySide6": PySide6.__version__,
            "pyqtgraph": pyqtgraph.__version__, "superqt": getattr(superqt, "__version__", "?"),
            "platform": f"{platform.system()} {platform.machine()}"}


class AboutDialog(QDialog):
    def __init__(self, device: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("About BEND Studio")
        rows = "".join(f"<tr><td>{k}</td><td>&nbsp;&nbsp;{v}</td></tr>" for k, v in versions().items())
        self.text = QLabel(
            "<h3>BEND Studio</h3><p>Set up, run, watch and analyse BEND experiments: bagging deep learning "
            "training based on efficient neural-network diffusion (Wei, Zhang &amp; Pedrycz), with the p-diff "
            f"generator (Wang et al.).</p><p><b>Compute device:</b> {device}</p><table>{rows}</table>"
            f"<p style='color:#777'>{sys.executable}</p>")
        self.text.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self.accept)
        lay = QVBoxLayout(self)
        lay.addWidget(self.text)
        lay.addWidget(buttons)
