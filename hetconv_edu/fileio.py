"""The one way the package writes a file: atomically.

Every writer (checkpoints, history, results files, downloads, copies of notebooks) goes
through :func:`atomic_writer`: the bytes go to a temporary file with a unique name in the
target's folder, are flushed to disk, and the temporary file is renamed over the target. A
reader sees the old file or the new one, never half of one; two processes writing the same path
never share a temporary file; a crash or Ctrl-C leaves the target as it was. Pure Python.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["TEMP_SUFFIX", "atomic_write", "atomic_writer"]

TEMP_SUFFIX = ".tmp"
"""Suffix of the temporary files (``.NAME.XXXXXXXX.tmp`` beside the target)."""


@contextlib.contextmanager
def atomic_writer(path: str | Path, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; on a clean exit it is flushed,
    fsynced and renamed over ``path``; on an exception it is removed and ``path`` untouched.

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
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    tmp = Path(tmp_name)
    try:
        text = "b" not in mode
        with os.fdopen(fd, mode, encoding=(encoding or "utf-8") if text else None) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
