"""Help → About: what the app is, its licence, how to cite the methods it runs, versions and the device."""

from __future__ import annotations

import platform
import sys

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from .icon import app_icon

LICENCE = "MIT"
# The titles as the papers give them (see the design notes' seeds).
CITATIONS = [
    ("BEND", ("Jia Wei, Xingjun Zhang and Witold Pedrycz. <i>BEND: Bagging Deep Learning Training Based on "
              "Efficient Neural Network Diffusion.</i>")),
    ("p-diff", ("Kai Wang, Zhaopan Xu, Zhuang Liu, Yukun Zhou, Zelin Zang, Trevor Darrell and Yang You. "
                "<i>Neural Network Diffusion.</i> arXiv preprint, 2024.")),
]


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
        self.setWindowIcon(app_icon())
        rows = "".join(f"<tr><td>{k}</td><td>&nbsp;&nbsp;{v}</td></tr>" for k, v in versions().items())
        cites = "".join(f"<li><b>{name}</b>: {text}</li>" for name, text in CITATIONS)
        self.text = QLabel(
            "<h3>BEND Studio</h3><p>Set up, run, watch and analyse BEND experiments: bagging deep learning "
            "training based on efficient neural-network diffusion (Wei, Zhang &amp; Pedrycz), with the p-diff "
            f"generator (Wang et al.).</p><p><b>Licence:</b> {LICENCE}. Free to use, change and share; "
            "provided without warranty.</p>"
            f"<p><b>If you publish results made with it, please cite the methods:</b></p><ul>{cites}</ul>"
            f"<p><b>Compute device:</b> {device}</p><table>{rows}</table>"
            f"<p style='color:#777'>{sys.executable}</p>")
        self.text.setWordWrap(True)
        self.text.setMinimumWidth(560)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # copy a citation
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self.accept)
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(64, 64))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        row = QHBoxLayout()
        row.addWidget(icon)
        row.addWidget(self.text, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(row)
        lay.addWidget(buttons)
