"""Fetching files: checksums and checked, atomic downloads.

:func:`download` streams a URL into a temporary file beside its destination and renames it
there only once its md5 is right; a user's file with another md5 is moved aside, never deleted.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
import warnings
from pathlib import Path
from typing import BinaryIO

from tqdm.auto import tqdm

from hetconv_edu.data.errors import DataIntegrityError
from hetconv_edu.fileio import atomic_writer

_CHUNK_BYTES = 1 << 20
_TIMEOUT_S = 60


def file_md5(path: str | Path) -> str:
    """Hex md5 of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def bytes_md5(data: bytes) -> str:
    """Hex md5 of bytes in memory."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def download(url: str, dest: str | Path, md5: str, desc: str | None = None) -> Path:
    """Download ``url`` to ``dest`` and check its md5; return ``dest``.

    A ``dest`` that already has the right md5 is kept as it is. One with another md5 is never
    deleted nor used: once the new file is downloaded and checked, the old one is moved aside to
    ``NAME.mismatch-<first 8 hex digits of its md5>`` (a warning says where); when the download
    fails, it stays where it was. The bytes are streamed (with a progress bar) into a temporary
    file beside ``dest`` (:func:`hetconv_edu.fileio.atomic_writer`), renamed to ``dest`` only once
    its md5 is right: an interrupted or corrupt transfer leaves ``dest`` as it was and no
    temporary file, and those that killed processes left behind are removed. Works for
    ``http(s)://`` and ``file://`` URLs.

    Raises:
        DataIntegrityError: the downloaded bytes do not have md5 ``md5``.
        OSError: the transfer failed (``urllib.error.URLError`` is one; a connection that
            closes before the announced length is a ``ConnectionError``), or ``dest``'s folder
            cannot be written (read-only, disk full).
    """
    dest = Path(dest)
    found = file_md5(dest) if dest.is_file() else None
    if found == md5:
        return dest
    aside = None
    try:
        with atomic_writer(dest) as handle:
            downloaded = _stream(url, handle, desc or dest.name)
            if downloaded != md5:
                raise DataIntegrityError(
                    f"the file downloaded from {url} has md5 {downloaded}, expected {md5}; it was "
                    f"not kept. The server sent a damaged or different file: try again later, or "
                    f"fetch it by hand and save it as {dest}."
                )
            if found is not None:
                aside = _move_aside(dest, found)
    except BaseException:
        if aside is not None and not dest.exists():
            os.replace(aside, dest)  # the user's file back where it was
        raise
    if aside is not None:
        warnings.warn(
            f"{dest} had md5 {found}, not the expected {md5} (a damaged, truncated or different "
            f"file); it was replaced by a fresh download from {url}. Your file was not deleted: "
            f"it is now {aside}.",
            stacklevel=2,
        )
    return dest


def _move_aside(path: Path, md5: str) -> Path:
    """Rename ``path`` to ``NAME.mismatch-<md5 prefix>`` beside it; return the new path."""
    aside = path.with_name(f"{path.name}.mismatch-{md5[:8]}")
    os.replace(path, aside)  # an older one of that name has the same md5 prefix: the same file
    return aside


def _stream(url: str, out: BinaryIO, desc: str) -> str:
    """Copy ``url`` into ``out`` with a progress bar; return the md5 of what was copied."""
    digest = hashlib.md5(usedforsecurity=False)
    with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length is not None else None
        copied = 0
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc) as bar:
            while chunk := response.read(_CHUNK_BYTES):
                out.write(chunk)
                digest.update(chunk)
                copied += len(chunk)
                bar.update(len(chunk))
    if total is not None and copied != total:
        raise ConnectionError(f"the transfer of {url} stopped after {copied} of {total} bytes")
    return digest.hexdigest()
