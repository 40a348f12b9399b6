"""BEND Studio: bagging with neural-network diffusion, as a desktop app and a headless command."""

__version__ = "0.1.0"
