"""The errors of a training run, and the one message for a file that cannot be written.

:class:`TrainingError` and its subclasses are runs that cannot go on (the command line exits
with status 1); :class:`RunExistsError` is a usage error (status 2).
"""

from __future__ import annotations

import errno
from pathlib import Path

__all__ = [
    "CheckpointError",
    "DivergedError",
    "RunExistsError",
    "RunFolderError",
    "TrainingError",
    "write_problem",
]


class TrainingError(RuntimeError):
    """A run that cannot go on (the command line exits with status 1): the loss diverged, a
    checkpoint cannot be read, or the run folder cannot be written or is in use."""


class DivergedError(TrainingError):
    """The training loss became NaN or infinite; the weights are left as before that step."""


class CheckpointError(TrainingError):
    """A checkpoint that cannot be resumed: damaged, not a checkpoint, or non-finite weights."""


class RunFolderError(TrainingError):
    """The run folder cannot be written (read-only, disk full) or another run is writing it."""


class RunExistsError(ValueError):
    """A new run was asked to write into a folder that holds an earlier run (usage error)."""


def reason(err: OSError) -> str:
    """The operating system's words for ``err`` (``"No space left on device"``)."""
    return err.strerror or str(err) or type(err).__name__


def write_problem(path: Path, err: OSError) -> str:
    """One message for a failed write of ``path``: what happened and what to do (a full disk,
    a read-only folder, anything else)."""
    if err.errno == errno.ENOSPC:
        todo = (
            "the disk is full: free some space (or use --run-dir on another disk), then "
            "continue with --resume; the previous checkpoint is intact"
        )
    elif err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        todo = "the folder is read-only for you: choose a writable folder with --run-dir"
    else:
        todo = "check the folder (--run-dir) and try again; the previous files are intact"
    return f"cannot write {path}: {reason(err)}; {todo}"
