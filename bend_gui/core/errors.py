"""Errors a user can act on. Their message is shown as is, in the GUI and on one CLI line."""


class BendError(Exception):
    """A problem with the user's input or files, explained in the message."""


class ConfigError(BendError):
    """A project setting is missing, of the wrong type, or out of range."""


class DataError(BendError):
    """A dataset is missing or unreadable."""


class ProjectError(BendError):
    """A project folder is missing, locked, corrupt, or not ready for what was asked."""


class Cancelled(Exception):
    """Raised inside a job when its cancel flag is set; the job saves what it can first."""


class DivergedError(BendError):
    """A training stage's loss or outputs became NaN or infinite; the message names the setting to change."""


class MemoryLimitError(BendError):
    """A stage would need more memory than is available; the message names the setting to lower."""


class ClusterError(BendError):
    """A compute cluster (Ray) cannot be reached or used; the message names the address and the remedy."""
