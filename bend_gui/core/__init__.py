"""The headless core of BEND Studio. Nothing under this package imports Qt."""
