"""Load an exported BEND ensemble: `bend_gui.bundle.load(path)` returns a torch module with
`predict(x)` and `member_probs(x)`. Importing this imports no Qt."""

from .core.results.bundle import FORMAT, FORMAT_VERSION, BendEnsemble, BundleError, load

# No export here: writing a bundle reads a project folder (bend_gui.core.results.bundle_export).
__all__ = ["FORMAT", "FORMAT_VERSION", "BendEnsemble", "BundleError", "load"]
