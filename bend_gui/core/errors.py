"""Errors a user can act on. Their message is shown as is, in the GUI and on one CLI line.

`exit_code` is what `bend` exits with, so a scheduler can tell what to retry: 2 bad input (fix it first),
3 project busy (retry later), 4 out of memory (retry with more memory or smaller settings).
"""

EXIT_OK, EXIT_BUG, EXIT_BAD_INPUT, EXIT_BUSY, EXIT_OUT_OF_MEMORY, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130


class BendError(Exception):
    """A problem with the user's input or files, explained in the message."""

    exit_code = EXIT_BAD_INPUT


class ConfigError(BendError):
    """A project setting is missing, of the wrong type, or out of range."""


class DataError(BendError):
    """A dataset is missing or unreadable."""


class ProjectError(BendError):
    """A project folder is missing, locked, corrupt, or not ready for what was asked."""


class ProjectBusyError(ProjectError):
    """Another job (in this process or another) holds the project's lock; the message names its pid."""

    exit_code = EXIT_BUSY


class Cancelled(Exception):
    """Raised inside a job when its cancel flag is set; the job saves what it can first."""


class DivergedError(BendError):
    """A training stage's loss or outputs became NaN or infinite; the message names the setting to change."""


class MemoryLimitError(BendError):
    """A stage needs, or ran out of, more memory than is available; the message names the setting to lower."""

    exit_code = EXIT_OUT_OF_MEMORY


class ClusterError(BendError):
    """A compute cluster (Ray) cannot be reached or used; the message names the address and the remedy."""
