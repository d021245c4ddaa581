"""What can go wrong with data, and the messages that say what to do about it.

The exceptions and warning the loaders raise, and the shared wording of their messages: a data
set that is missing (where to put it, how to point the loader at a copy), a folder that cannot
be written (read-only, disk full) or a file that cannot be read.
"""

from __future__ import annotations

import errno
from pathlib import Path

from hetconv_edu.data.folder import DATA_DIR_ENV


class DataIntegrityError(ValueError):
    """A data file is not what it should be: wrong checksum, malformed, or unsafe to read."""


class DataNotOfficialWarning(UserWarning):
    """A data set is used that is valid in form but not the official release (its checksums
    differ): results on it are not comparable with published ones."""


class DatasetNotFoundError(FileNotFoundError):
    """No usable copy of a data set was found and none could be downloaded.

    The message says which file to fetch, where to put it, and how to point the loader at an
    existing copy.
    """


_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_WRITE_ERRNOS = {*_FULL_ERRNOS, errno.EACCES, errno.EPERM, errno.EROFS}


def is_write_failure(error: BaseException) -> bool:
    """Whether ``error`` says that a folder cannot be written (read-only, disk full)."""
    return isinstance(error, OSError) and error.errno in _WRITE_ERRNOS


def failure_reason(error: BaseException, folder: Path) -> str:
    """What went wrong, for a teacher: a read-only folder or a full disk said plainly."""
    if isinstance(error, OSError) and error.errno in _FULL_ERRNOS:
        return (
            f"the disk holding {folder} is full ({error.strerror}): free some space there, or "
            f"use a data folder on another disk"
        )
    if is_write_failure(error):
        return (
            f"{folder} cannot be written ({error.strerror}): make it writable, or use a data "
            f"folder you can write to"
        )
    return f"{type(error).__name__}: {error}"


def unreadable(error: PermissionError) -> str:
    """What a file that cannot be read means for a teacher, and what to do."""
    return (
        f"{error.filename or 'a data file'} cannot be read ({error.strerror}): make it readable "
        f"(chmod a+r), or use a data folder you can read"
    )


def missing_message(what: str, reason: str, fetch: str, alternative: str, layout: str) -> str:
    """The message of a :class:`DatasetNotFoundError`: ``what`` is missing and why (``reason``),
    then the three ways to provide it: ``fetch`` it, the ``alternative``, or point the loader at
    a copy laid out as ``layout``."""
    return (
        f"{what} is not available ({reason}). To provide it, either\n"
        f"  - {fetch}, or\n"
        f"  - {alternative}, or\n"
        f"  - if you have a copy elsewhere ({layout}), point the loader at its folder: pass "
        f"root=..., or set the environment variable {DATA_DIR_ENV}=/path/to/folder."
    )
