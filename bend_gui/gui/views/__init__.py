"""Results pages of an open project, each built from the ProjectModel: `(model, parent=None)`.

RESULT_PAGES lists them with the tab titles the workspace shows them under.
"""

from __future__ import annotations

from .ablation import AblationPage
from .diversity import DiversityPage
from .efficiency import EfficiencyPage
from .frontier import FrontierPage
from .generation import GenerationPage
from .studies import StudiesPage
from .sweeps import SweepsPage
from .table3 import Table3Page
from .votes import VotesPage

RESULT_PAGES = [
    ("Generate", GenerationPage),
    ("Table 3", Table3Page),
    ("sBEND vs aBEND", VotesPage),
    ("Diversity", DiversityPage),
    ("Efficiency", EfficiencyPage),
    ("Studies", StudiesPage),
    ("Frontier", FrontierPage),
    ("Ablation", AblationPage),
]

__all__ = ["RESULT_PAGES", "AblationPage", "DiversityPage", "EfficiencyPage", "FrontierPage", "GenerationPage",
           "StudiesPage", "SweepsPage", "Table3Page", "VotesPage"]
