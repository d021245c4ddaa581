"""The one way the package writes a file: atomically.

Every writer (checkpoints, history, results files, downloads, copies of notebooks) goes
through :func:`atomic_writer`: the bytes go to a temporary file with a unique name in the
target's folder, are flushed to disk, and the temporary file is renamed over the target. A
reader sees the old file or the new one, never half of one; two processes writing the same path
never share a temporary file; a crash or Ctrl-C leaves the target as it was. A folder that must
appear complete or not at all (an extracted archive) is written with :func:`atomic_folder`.

What a killed process leaves behind (``.NAME.XXXXXXXX.tmp`` beside ``NAME``) is removed by the
next write of ``NAME`` (:func:`remove_stale_temporaries`). A temporary file or folder is stale
when no process holds its lock any more: the writer holds an exclusive ``flock`` on it while it
writes, and the lock dies with the process, so a file that a live process is writing is never
taken for a leftover. Where locks are not available (Windows) a temporary is stale when it can
be removed and is older than :data:`STALE_AFTER_S`. Pure Python.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # Windows: an open file cannot be removed there, which protects it instead
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "STALE_AFTER_S",
    "TEMP_SUFFIX",
    "atomic_folder",
    "atomic_write",
    "atomic_writer",
    "remove_stale_temporaries",
]

TEMP_SUFFIX = ".tmp"
"""Suffix of the temporary files (``.NAME.XXXXXXXX.tmp`` beside the target)."""

_RANDOM_CHARS = 8
"""Length of the random part of :mod:`tempfile`'s names: only names of exactly that shape are
ever taken for temporaries."""

STALE_AFTER_S = 10.0
"""A temporary younger than this is never removed, locked or not: it may be one that its writer
has just created and not yet locked."""


@contextlib.contextmanager
def atomic_writer(path: str | Path, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; on a clean exit it is flushed,
    fsynced and renamed over ``path``; on an exception it is removed and ``path`` untouched.

    Leftover temporaries of ``path`` from killed processes are removed first.

    Args:
        path: the file to (re)place; its folder is created when missing.
        mode: ``"wb"`` or ``"w"``.
        encoding: for text mode (default UTF-8).

    Raises:
        ValueError: ``mode`` is not ``"w"`` or ``"wb"``.
        OSError: the folder cannot be written (read-only, disk full, ...); nothing is left
            behind.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    tmp = Path(tmp_name)
    text = "b" not in mode
    handle = os.fdopen(fd, mode, encoding=(encoding or "utf-8") if text else None)
    try:
        _lock(handle.fileno())
        yield handle
        handle.flush()
        os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        if fcntl is None:  # Windows renames no open file
            handle.close()
        os.replace(tmp, path)  # still locked: a cleaner never takes it for a leftover
    except BaseException:
        handle.close()
        tmp.unlink(missing_ok=True)
        raise
    finally:
        handle.close()
    _sync_folder(path.parent)


def atomic_write(path: str | Path, data: bytes | str, encoding: str = "utf-8") -> Path:
    """Write ``data`` (bytes, or text in ``encoding``) to ``path`` atomically; returns ``path``."""
    path = Path(path)
    if isinstance(data, str):
        with atomic_writer(path, "w", encoding=encoding) as handle:
            handle.write(data)
    else:
        with atomic_writer(path, "wb") as handle:
            handle.write(data)
    return path


@contextlib.contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``path`` to fill; on a clean exit it is renamed to
    ``path``, on an exception removed with what it holds.

    When ``path`` already exists at the end (another process was faster), the new folder is
    removed and the existing one kept. Leftover temporaries of ``path`` are removed first.

    Raises:
        OSError: the parent folder cannot be written (read-only, disk full, ...); nothing is
            left behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    scratch = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent))
    fd = os.open(scratch, os.O_RDONLY)
    try:
        _lock(fd)
        yield scratch
        for file in scratch.rglob("*"):
            if file.is_file():
                _sync_file(file)
        try:
            os.replace(scratch, path)
        except OSError:
            if not path.is_dir():
                raise
    finally:
        os.close(fd)
        shutil.rmtree(scratch, ignore_errors=True)
    _sync_folder(path.parent)


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Remove the temporary files and folders of ``path`` that killed writers left behind.

    A temporary ``.NAME.XXXXXXXX.tmp`` (eight random characters) beside ``path`` is removed
    when it is older than :data:`STALE_AFTER_S` and no process holds its lock; one that a live
    process is writing is kept, and so is any other name. Errors (a read-only folder, ...) are
    ignored: the leftovers then stay.

    Returns:
        The temporaries removed.
    """
    path = Path(path)
    removed = []
    with contextlib.suppress(OSError):
        pattern = f".{_glob_escape(path.name)}.{'?' * _RANDOM_CHARS}{TEMP_SUFFIX}"
        candidates = list(path.parent.glob(pattern))
        for candidate in candidates:
            if _is_stale(candidate):
                if candidate.is_dir() and not candidate.is_symlink():
                    shutil.rmtree(candidate, ignore_errors=True)
                else:
                    candidate.unlink(missing_ok=True)
                if not candidate.exists():
                    removed.append(candidate)
    return removed


def _is_stale(candidate: Path) -> bool:
    """Whether a temporary is old enough and held by no process (see the module's text)."""
    try:
        if time.time() - candidate.lstat().st_mtime < STALE_AFTER_S:
            return False
        if fcntl is None or candidate.is_symlink():
            return True
        fd = os.open(candidate, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held by a live writer, or locks unsupported here: keep it
        return False
    finally:
        os.close(fd)
    return True


def _lock(fd: int) -> None:
    """Hold an exclusive lock on ``fd`` until it is closed (nothing where unsupported)."""
    if fcntl is not None:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def _sync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        _sync_file(folder)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
