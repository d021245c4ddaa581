"""A run's folder (``run_dir/name/``): never overwritten, one writer at a time.

* :data:`RUN_FILES` — what a run writes there; a folder holding any of them holds a run.
* :class:`RunFolder` — the lock a trainer holds while it may write the folder
  (:data:`LOCK_FILE`, ``fcntl.flock``), and the claim of a new run (refused where a run is,
  unless told to overwrite it).
* :func:`unused_run_name` — the first free name (``name``, ``name-2``, ...), what the Training
  app names its runs.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import IO

from hetconv_edu.train.checkpoint import CHECKPOINT
from hetconv_edu.train.errors import RunExistsError, RunFolderError, write_problem

try:
    import fcntl
except ImportError:  # Windows: run folders are not locked
    fcntl = None

__all__ = ["LOCK_FILE", "RUN_FILES", "RunFolder", "refuse_existing_run", "unused_run_name"]

LOCK_FILE = ".lock"
"""The lock file of a run folder: a training holds ``fcntl.flock`` on it while it may write
there (released, and the file deleted, at the end of :meth:`Trainer.step`/:meth:`Trainer.run`
and by :meth:`Trainer.close`; released by the operating system when the process ends or
crashes, which leaves the empty file behind, harmless)."""

RUN_FILES = (CHECKPOINT, "history.json", "history.csv", "steps.csv")
"""The files a run writes in its folder (``--overwrite`` replaces exactly these)."""


def unused_run_name(run_dir: str | Path, name: str) -> str:
    """``name``, or ``name-2``, ``name-3``, ... : the first whose folder in ``run_dir`` holds
    no run (none of :data:`RUN_FILES`). What the Training app names its runs, so that it never
    replaces a run (its own earlier ones, or one of the command line)."""
    candidate, number = name, 1
    while any((Path(run_dir) / candidate / f).exists() for f in RUN_FILES):
        number += 1
        candidate = f"{name}-{number}"
    return candidate


def refuse_existing_run(run_path: Path) -> None:
    """Refuse to start a new run in ``run_path`` if it holds one.

    Raises:
        RunExistsError: naming the folder, its run files and the ways forward (resume, another
            name, overwrite).
    """
    present = [name for name in RUN_FILES if (run_path / name).exists()]
    if present:
        raise RunExistsError(
            f"{run_path}/ already holds a run ({', '.join(present)}); a new run never replaces "
            "one. Continue it with --resume (Trainer(config, resume=True)), give the new run "
            "another --name or --run-dir, or replace it with --overwrite "
            "(Trainer(config, overwrite=True))"
        )


class RunFolder:
    """The folder of one run, seen by one trainer.

    Args:
        path: the run folder (created on :meth:`acquire`).
        writer: whether this process writes the folder (rank 0 of a distributed run); the
            others never lock, create or delete anything.
    """

    def __init__(self, path: Path, *, writer: bool = True) -> None:
        self.path = Path(path)
        self.writer = writer
        self._lock: IO | None = None

    @property
    def locked(self) -> bool:
        """This trainer holds the folder's lock."""
        return self._lock is not None

    def acquire(self) -> None:
        """Hold the folder's lock (a writer only; nothing when held already), creating the
        folder.

        Raises:
            RunFolderError: the folder cannot be created or written, or another training
                (process, notebook or app) holds its lock.
        """
        if not self.writer or self._lock is not None:
            return
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            if not os.access(self.path, os.W_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
            handle = open(self.path / LOCK_FILE, "a+b")  # noqa: SIM115 - held until release
        except OSError as err:
            raise RunFolderError(write_problem(self.path, err)) from None
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                # The holder deletes the file when it lets go: a lock taken on a file that is
                # no longer at that path (opened just before) is no lock at all.
                same = os.fstat(handle.fileno()).st_ino == os.stat(handle.name).st_ino
            except OSError:
                same = False
            if not same:
                handle.close()
                raise RunFolderError(
                    f"{self.path}/ is being written by another training right now (another "
                    "process, notebook or app); wait until it ends, or give this run another "
                    "name (--name)"
                ) from None
        self._lock = handle

    def release(self) -> None:
        """Delete the lock file (the folder keeps only the run's files), then let go."""
        if self._lock is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._lock.name)
            self._lock.close()  # closing the file releases its flock
            self._lock = None

    def claim(self, overwrite: bool) -> None:
        """Make the folder a new run's (a writer only): refuse a folder holding an earlier
        run, or (``overwrite``) delete that run's files.

        Raises:
            RunExistsError: the folder holds a run and ``overwrite`` is False.
            RunFolderError: a file of the earlier run cannot be deleted.
        """
        if not self.writer:
            return
        if not overwrite:
            refuse_existing_run(self.path)
        present = [name for name in RUN_FILES if (self.path / name).exists()]
        try:
            for name in present:
                (self.path / name).unlink()
        except OSError as err:
            raise RunFolderError(write_problem(self.path / name, err)) from None
