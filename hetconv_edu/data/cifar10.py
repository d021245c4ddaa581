"""CIFAR-10 from its official files, checked, as an :class:`~hetconv_edu.data.ImageDataset`.

An extracted ``cifar-10-batches-py/`` folder in the data folder (torchvision's layout), else
the official archive ``cifar-10-python.tar.gz`` there, else a download of it. The archive's md5
is checked before anything in it is read (only regular files of ``cifar-10-batches-py/`` are
extracted), every batch file's md5, shapes and labels when it is read; the batch pickles are
read with :mod:`hetconv_edu.data.pickles`' restricted unpickler.
"""

from __future__ import annotations

import concurrent.futures
import gzip
import http.client
import tarfile
import warnings
import zlib
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

import numpy as np
import torch

from hetconv_edu.checks import check_bool, check_int
from hetconv_edu.data.dataset import ImageDataset, Split, finish_dataset
from hetconv_edu.data.errors import (
    DataIntegrityError,
    DataNotOfficialWarning,
    DatasetNotFoundError,
    failure_reason,
    is_write_failure,
    missing_message,
    unreadable,
)
from hetconv_edu.data.fetch import bytes_md5, download, file_md5
from hetconv_edu.data.folder import DATA_DIR_ENV, resolve_root
from hetconv_edu.data.pickles import unpickle
from hetconv_edu.fileio import atomic_folder, remove_stale_temporaries

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_FOLDER = "cifar-10-batches-py"
_CIFAR10_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR10_BATCHES = (*_CIFAR10_TRAIN_BATCHES, "test_batch")
_CIFAR10_FILES = (*_CIFAR10_BATCHES, "batches.meta")
CIFAR10_FILE_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}
"""md5 of each official file of ``cifar-10-batches-py/`` (as torchvision's ``CIFAR10`` lists
them)."""
_CIFAR10_PIXELS = 3 * 32 * 32


def _read_cifar_batch(data: bytes, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3072) uint8 and labels (N,) int64 of one CIFAR-10 batch file."""
    batch = unpickle(data, path, CIFAR10_URL)
    images, labels = batch.get(b"data"), batch.get(b"labels")
    if not (
        isinstance(images, np.ndarray)
        and images.dtype == np.uint8
        and images.ndim == 2
        and images.shape[1] == _CIFAR10_PIXELS
    ):
        described = (
            f"{images.dtype} {images.shape}" if isinstance(images, np.ndarray) else repr(images)
        )
        raise DataIntegrityError(
            f"{path}: b'data' must be a uint8 array (N, {_CIFAR10_PIXELS}), got {described:.80}"
        )
    try:
        label_array = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError) as error:
        raise DataIntegrityError(f"{path}: b'labels' is not a list of ints ({error})") from error
    if label_array.shape != (len(images),) or (
        len(label_array) and (label_array.min() < 0 or label_array.max() > 9)
    ):
        raise DataIntegrityError(
            f"{path}: b'labels' must hold {len(images)} class numbers in 0..9, one per image"
        )
    return images, label_array


def _check_official_files(md5s: Mapping[str, str], source: Path) -> bool:
    """Whether the files of ``source`` (their ``md5s`` by name) are the official CIFAR-10 files.

    A copy none of whose batches is official (re-encoded, reordered, made by hand) is not
    official; one where some batches are official and others differ is damaged.

    Raises:
        DataIntegrityError: some batch files are the official ones and others are not.
    """
    differ = [name for name in _CIFAR10_FILES if md5s[name] != CIFAR10_FILE_MD5[name]]
    official_batches = [name for name in _CIFAR10_BATCHES if name not in differ]
    if differ and official_batches:
        details = ", ".join(
            f"{name} (md5 {md5s[name]}, official {CIFAR10_FILE_MD5[name]})" for name in differ
        )
        raise DataIntegrityError(
            f"{source} holds the official CIFAR-10 files {', '.join(official_batches)}, but "
            f"{details} differ from the official ones: they were damaged or changed (a flipped "
            f"byte, relabelled images). Replace them with the files extracted from the official "
            f"archive ({CIFAR10_URL}, md5 {CIFAR10_MD5}), or move {source} away and the loader "
            f"extracts or downloads it again."
        )
    return not differ


def _read_cifar_files(
    files: Mapping[str, bytes], source: Path
) -> tuple[Split, Split, tuple[str, ...]]:
    """Both splits and the class names from the files of ``cifar-10-batches-py/`` (by name),
    read from ``source`` (the folder, or the archive); every file's md5, every batch's shapes
    and labels are checked. The md5s are computed in a thread while the pickles are read
    (hashlib releases the GIL)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        md5s = pool.submit(lambda: {name: bytes_md5(files[name]) for name in _CIFAR10_FILES})
        try:
            batches = [
                _read_cifar_batch(files[name], source / name) for name in _CIFAR10_TRAIN_BATCHES
            ]
            test_data, test_labels = _read_cifar_batch(files["test_batch"], source / "test_batch")
            meta = unpickle(files["batches.meta"], source / "batches.meta", CIFAR10_URL)
        except DataIntegrityError:
            _check_official_files(md5s.result(), source)  # the clearer cause, where it applies
            raise
        official = _check_official_files(md5s.result(), source)
    names = meta.get(b"label_names")
    if not (
        isinstance(names, list) and len(names) == 10 and all(isinstance(n, bytes) for n in names)
    ):
        raise DataIntegrityError(
            f"{source / 'batches.meta'}: b'label_names' must list 10 class names, got {names!r:.80}"
        )
    if not official:
        warnings.warn(
            f"{source} is not the official CIFAR-10 release: none of its batch files has the "
            f"official md5 (a re-encoded, reordered or hand-made copy). It is used, as its "
            f"shapes and labels are valid, but accuracies on it are not comparable with "
            f"published ones; for the official files use {CIFAR10_URL} (md5 {CIFAR10_MD5}).",
            DataNotOfficialWarning,
            stacklevel=3,
        )

    def tensors(data: list[np.ndarray], labels: list[np.ndarray]) -> Split:
        images = torch.from_numpy(np.concatenate(data)).reshape(-1, 3, 32, 32)
        return images, torch.from_numpy(np.concatenate(labels))

    train = tensors([d for d, _ in batches], [labels for _, labels in batches])
    return train, tensors([test_data], [test_labels]), tuple(n.decode() for n in names)


def _cifar_folder_files(folder: Path) -> dict[str, bytes]:
    """The files of an extracted ``cifar-10-batches-py/`` folder, by name."""
    missing = [name for name in _CIFAR10_FILES if not (folder / name).is_file()]
    if missing:
        raise DataIntegrityError(
            f"{folder} lacks {', '.join(missing)}; it needs {', '.join(_CIFAR10_FILES)}. Move "
            f"the folder away (it is then extracted again from {CIFAR10_ARCHIVE}) or complete it."
        )
    return {name: (folder / name).read_bytes() for name in _CIFAR10_FILES}


def _cifar_archive_files(archive: Path) -> dict[str, bytes]:
    """The files of ``cifar-10-batches-py/`` in the archive, by name, read into memory.

    Only regular files directly inside ``cifar-10-batches-py/`` are accepted (any other member,
    a link, an absolute path or ``..`` makes the archive rejected).

    Raises:
        DataIntegrityError: an unsafe member, a missing file, or a truncated or damaged archive.
    """
    files = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                path = PurePosixPath(member.name)
                if member.isdir() and path.parts == (CIFAR10_FOLDER,):
                    continue
                if not (
                    member.isfile()
                    and len(path.parts) == 2
                    and path.parts[0] == CIFAR10_FOLDER
                    and path.parts[1] != ".."
                ):
                    raise DataIntegrityError(
                        f"{archive} contains {member.name!r}, which is not a file in "
                        f"{CIFAR10_FOLDER}/; refusing to extract it. Move the archive away and "
                        f"use the official one ({CIFAR10_URL})."
                    )
                extracted = tar.extractfile(member)
                files[path.parts[1]] = extracted.read() if extracted is not None else b""
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise DataIntegrityError(
            f"{archive} is truncated or damaged ({type(error).__name__}: {error}). Move it away "
            f"and download it again ({CIFAR10_URL}, md5 {CIFAR10_MD5})."
        ) from error
    missing = [name for name in _CIFAR10_FILES if name not in files]
    if missing:
        raise DataIntegrityError(
            f"{archive} lacks {CIFAR10_FOLDER}/{', '.join(missing)}; it is not a CIFAR-10 "
            f"archive. Move it away and use the official one ({CIFAR10_URL})."
        )
    return files


def _save_extracted(files: Mapping[str, bytes], archive: Path, folder: Path) -> Path:
    """Write ``files`` as the extracted ``folder`` (all at once: :func:`atomic_folder`); return
    where the data were read from: ``folder``, or ``archive`` when ``folder`` cannot be written
    (a warning says why and what to do)."""
    try:
        with atomic_folder(folder) as scratch:
            for name, content in files.items():
                (scratch / name).write_bytes(content)
    except OSError as error:
        if not is_write_failure(error):
            raise
        warnings.warn(
            f"could not extract {archive} into {folder}: {failure_reason(error, folder.parent)}. "
            f"CIFAR-10 was read from the archive in memory instead, which is slower and happens "
            f"again at every load.",
            stacklevel=4,
        )
        return archive
    return folder


def _official_content(archive: Path) -> dict[str, bytes] | None:
    """The files of ``archive`` when they are the official ones (a recompressed official
    archive), else None."""
    try:
        files = _cifar_archive_files(archive)
    except DataIntegrityError:
        return None
    official = all(bytes_md5(files[name]) == CIFAR10_FILE_MD5[name] for name in _CIFAR10_FILES)
    return files if official else None


def _cifar10_files(
    root: Path, download_missing: bool, url: str, md5: str
) -> tuple[dict[str, bytes], Path]:
    """The files of ``cifar-10-batches-py/`` by name and where they were read from: the folder
    in ``root``, else the archive in ``root`` (downloaded first if missing or not the expected
    one), extracted into the folder when ``root`` can be written."""
    folder = root / CIFAR10_FOLDER
    archive = root / CIFAR10_ARCHIVE
    for written in (folder, archive):  # what killed extractions and downloads left behind
        remove_stale_temporaries(written)
    if folder.is_dir():
        return _cifar_folder_files(folder), folder
    files = None
    reasons = []
    if archive.is_file():
        found = file_md5(archive)
        if found == md5:
            files = _cifar_archive_files(archive)
        elif md5 == CIFAR10_MD5:  # the same content recompressed is the official data too
            files = _official_content(archive)
        if files is None:
            reasons.append(
                f"{archive} has md5 {found}, expected {md5}: it is truncated, damaged or another "
                f"file (it was left as it is)"
            )
    if files is None:
        if not download_missing:
            reason = "; ".join(["download=False", *reasons])
            raise DatasetNotFoundError(_cifar_missing_message(root, url, md5, reason))
        try:
            download(url, archive, md5, desc="CIFAR-10")
        except (OSError, http.client.HTTPException) as error:
            reason = "; ".join([f"downloading it failed: {failure_reason(error, root)}", *reasons])
            raise DatasetNotFoundError(_cifar_missing_message(root, url, md5, reason)) from error
        files = _cifar_archive_files(archive)
    return files, _save_extracted(files, archive, folder)


def _cifar_missing_message(root: Path, url: str, md5: str, reason: str) -> str:
    return missing_message(
        f"CIFAR-10 (no {CIFAR10_FOLDER}/ folder or {CIFAR10_ARCHIVE} in {root})",
        reason,
        f"download {url} (md5 {md5})\n    and save it as {root / CIFAR10_ARCHIVE}",
        f"copy an extracted {CIFAR10_FOLDER}/ folder (torchvision's works) to "
        f"{root / CIFAR10_FOLDER}",
        f"a folder holding {CIFAR10_ARCHIVE} or {CIFAR10_FOLDER}/",
    )


def load_cifar10(
    root: str | Path | None = None,
    *,
    download: bool = True,
    url: str = CIFAR10_URL,
    md5: str = CIFAR10_MD5,
    subset: int | None = None,
    test_subset: int | None = None,
    seed: int = 0,
) -> ImageDataset:
    """CIFAR-10 (50,000 training and 10,000 test images, 3×32×32) as an :class:`ImageDataset`.

    What is checked, always: every batch's shapes (uint8 images N×3072, one label in 0..9 per
    image) and the files' md5s against :data:`CIFAR10_FILE_MD5`. A copy whose batches all
    differ from the official ones (re-encoded or reordered, made by hand) is used with a
    :class:`DataNotOfficialWarning`; one where some batches are official and others differ is
    refused as damaged. The pickles are read with an unpickler that builds numpy arrays,
    bytes and numbers and nothing else (any pickle protocol, Python 2 or 3).

    Nothing the user put in ``root`` is deleted: an archive with another md5 is moved aside
    (``cifar-10-python.tar.gz.mismatch-<md5 prefix>``) only once a download replaced it. An
    archive whose md5 differs from the official one but whose files are the official ones (the
    same content recompressed) is used as it is.

    Args:
        root: the data folder (default :func:`default_data_dir`). Uses ``root/cifar-10-batches-py/``
            if present, else extracts ``root/cifar-10-python.tar.gz`` (downloaded if missing);
            when ``root`` cannot be written (read-only, disk full) the archive is read in
            memory instead, with a warning.
        download: whether a missing archive may be downloaded from ``url``.
        url: where to download the archive from.
        md5: the archive's md5; keep the official one except for a different archive (tests).
        subset: use only this many training images, a random class-balanced subset.
        test_subset: likewise for the test images.
        seed: seed of the subsets' random choice.

    Raises:
        DatasetNotFoundError: no copy found and none could be downloaded (offline, a read-only
            folder or a full disk for the download); says what happened and what to do.
        DataIntegrityError: a file is truncated, damaged or refused as unsafe.
    """
    download = check_bool("download", download)
    seed = check_int("seed", seed, minimum=0)
    root = resolve_root(root)
    try:
        files, source = _cifar10_files(root, download, url, md5)
    except PermissionError as error:  # writes that fail are handled inside: this is a read
        raise DatasetNotFoundError(
            f"CIFAR-10 in {root} is not available: {unreadable(error)}; or point the loader at "
            f"a copy you can read: pass root=..., or set {DATA_DIR_ENV}=/path/to/folder."
        ) from error
    train, test, classes = _read_cifar_files(files, source)
    return finish_dataset("cifar10", train, test, classes, subset, test_subset, seed)
