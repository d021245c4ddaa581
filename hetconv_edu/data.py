"""The lessons' data: CIFAR-10 and Fashion-MNIST in memory, batched and augmented in torch.

Each data set is read once from its official files into uint8 tensors (:class:`ImageDataset`).
:class:`Batches` then serves shuffled, augmented, normalised batches on any device, with the same
data order for every model trained with the same seed, and a disjoint shard per distributed rank.

Where the files come from, in order:

* CIFAR-10: an extracted ``cifar-10-batches-py/`` folder in the data folder (torchvision's
  layout), else the official archive ``cifar-10-python.tar.gz`` there, else a download of it.
  The archive's md5 is checked before anything in it is read, every batch file's md5, shapes
  and labels when it is read; the batch pickles are read with an unpickler that can build numpy
  arrays and bytes and nothing else.
* Fashion-MNIST: the four official ``*-ubyte.gz`` files in ``fashion-mnist/`` in the data folder,
  else in Debian's ``/usr/share/datasets/fashion-mnist/`` (``apt install dataset-fashion-mnist``),
  else a download of them. Every file's checksum is checked.

The data folder is ``$HETCONV_EDU_DATA`` if set, else the project's ``data/`` folder; every
loader also takes ``root=``. Importing this module reads, writes and downloads nothing. Every
file is written atomically (:mod:`hetconv_edu.fileio`); a file the user put in the data folder
is never deleted (one with a wrong checksum is moved aside once a download replaced it).
"""

from __future__ import annotations

import _compat_pickle
import concurrent.futures
import errno
import gzip
import hashlib
import http.client
import io
import math
import os
import pickle
import tarfile
import urllib.request
import warnings
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from hetconv_edu.checks import check_bool, check_choice, check_int, check_positive_int
from hetconv_edu.fileio import atomic_folder, atomic_writer, remove_stale_temporaries

__all__ = [
    "CIFAR10_ARCHIVE",
    "CIFAR10_FILE_MD5",
    "CIFAR10_FOLDER",
    "CIFAR10_MD5",
    "CIFAR10_URL",
    "DATASET_NAMES",
    "DATA_DIR_ENV",
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_FOLDER",
    "FASHION_MNIST_MD5",
    "FASHION_MNIST_SYSTEM_DIRS",
    "FASHION_MNIST_URL",
    "Batches",
    "DataIntegrityError",
    "DataNotOfficialWarning",
    "DatasetNotFoundError",
    "ImageDataset",
    "augment",
    "default_data_dir",
    "download",
    "file_md5",
    "load_cifar10",
    "load_dataset",
    "load_fashion_mnist",
    "normalize",
    "parse_idx",
]

DATA_DIR_ENV = "HETCONV_EDU_DATA"
"""Environment variable naming the data folder (default: the project's ``data/``)."""

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
_NUMPY_CORES = ("core", "_core")
_CIFAR10_PIXELS = 3 * 32 * 32

FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION_MNIST_FOLDER = "fashion-mnist"
_DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_SYSTEM_DIRS: tuple[Path, ...] = (_DEBIAN_FASHION_MNIST_DIR,)
"""Folders searched after ``root/fashion-mnist/`` (Debian's package ``dataset-fashion-mnist``)."""
FASHION_MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
"""md5 of each official ``.gz`` file."""
_FASHION_MNIST_RAW_MD5 = {
    "train-images-idx3-ubyte.gz": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte.gz": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte.gz": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte.gz": "15d484375f8d13e6eb1aabb0c3f46965",
}
"""md5 of each official file's decompressed content. Debian's copies were gzipped anew (their
headers lack the original file name and time), so their ``.gz`` md5s differ while their content
is the official one; a local copy is accepted when either md5 matches."""
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

_CHUNK_BYTES = 1 << 20
_TIMEOUT_S = 60
_ORDER_STREAM = 0
_AUGMENT_STREAM = 1

_Split = tuple[torch.Tensor, torch.Tensor]
"""Images (N, C, H, W) uint8 and labels (N,) int64 of one split."""


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


def default_data_dir() -> Path:
    """The folder data sets are read from and downloaded to.

    ``$HETCONV_EDU_DATA`` if set (and not empty), else the project's ``data/`` folder.
    """
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path(__file__).resolve().parents[1] / "data"


def _resolve_root(root: str | Path | None) -> Path:
    return default_data_dir() if root is None else Path(root).expanduser()


def file_md5(path: str | Path) -> str:
    """Hex md5 of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _bytes_md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


# --------------------------------------------------------------------------------------------
# Downloading
# --------------------------------------------------------------------------------------------


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


_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_WRITE_ERRNOS = {*_FULL_ERRNOS, errno.EACCES, errno.EPERM, errno.EROFS}


def _is_write_failure(error: BaseException) -> bool:
    """Whether ``error`` says that a folder cannot be written (read-only, disk full)."""
    return isinstance(error, OSError) and error.errno in _WRITE_ERRNOS


def _reason(error: BaseException, folder: Path) -> str:
    """What went wrong, for a teacher: a read-only folder or a full disk said plainly."""
    if isinstance(error, OSError) and error.errno in _FULL_ERRNOS:
        return (
            f"the disk holding {folder} is full ({error.strerror}): free some space there, or "
            f"use a data folder on another disk"
        )
    if _is_write_failure(error):
        return (
            f"{folder} cannot be written ({error.strerror}): make it writable, or use a data "
            f"folder you can write to"
        )
    return f"{type(error).__name__}: {error}"


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


# --------------------------------------------------------------------------------------------
# The in-memory data set
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageDataset:
    """A labelled image data set held in memory: both splits as uint8 tensors.

    Build one with :meth:`from_tensors` to have ``mean`` and ``std`` computed.
    """

    name: str
    train_images: torch.Tensor
    """uint8, (N, C, H, W)."""
    train_labels: torch.Tensor
    """int64, (N,), values in ``range(num_classes)``."""
    test_images: torch.Tensor
    test_labels: torch.Tensor
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    """Per-channel mean of the training images, in [0, 1] units."""
    std: tuple[float, ...]
    """Per-channel standard deviation of the training images, in [0, 1] units."""

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            images = getattr(self, f"{split}_images")
            labels = getattr(self, f"{split}_labels")
            if images.dtype != torch.uint8 or images.ndim != 4:
                raise ValueError(
                    f"{self.name}: {split}_images must be a uint8 tensor (N, C, H, W), got "
                    f"{images.dtype} with shape {tuple(images.shape)}"
                )
            if labels.dtype != torch.int64 or labels.shape != images.shape[:1]:
                raise ValueError(
                    f"{self.name}: {split}_labels must be an int64 tensor ({len(images)},) like "
                    f"its images, got {labels.dtype} with shape {tuple(labels.shape)}"
                )
            if len(labels) and (labels.min() < 0 or labels.max() >= len(self.classes)):
                raise ValueError(
                    f"{self.name}: {split}_labels must lie in 0..{len(self.classes) - 1} "
                    f"(one per class), got values {int(labels.min())}..{int(labels.max())}"
                )
        if self.train_images.shape[1:] != self.test_images.shape[1:]:
            raise ValueError(
                f"{self.name}: train images are {tuple(self.train_images.shape[1:])} but test "
                f"images are {tuple(self.test_images.shape[1:])}; both splits need one shape"
            )
        height, width = self.train_images.shape[2:]
        if height != width:
            raise ValueError(f"{self.name}: images must be square, got {height}×{width}")
        if len(self.mean) != self.in_channels or len(self.std) != self.in_channels:
            raise ValueError(
                f"{self.name}: mean and std need one value per channel ({self.in_channels}), "
                f"got {len(self.mean)} and {len(self.std)}"
            )

    @classmethod
    def from_tensors(
        cls,
        name: str,
        train_images: torch.Tensor,
        train_labels: torch.Tensor,
        test_images: torch.Tensor,
        test_labels: torch.Tensor,
        classes: tuple[str, ...],
    ) -> ImageDataset:
        """A data set whose ``mean`` and ``std`` are computed from ``train_images``."""
        if train_images.dtype != torch.uint8 or train_images.ndim != 4 or not len(train_images):
            raise ValueError(
                f"{name}: train_images must be a non-empty uint8 tensor (N, C, H, W), got "
                f"{train_images.dtype} with shape {tuple(train_images.shape)}"
            )
        mean, std = _channel_mean_std(train_images)
        return cls(name, train_images, train_labels, test_images, test_labels, classes, mean, std)

    @property
    def in_channels(self) -> int:
        """Channels per image (3 for CIFAR-10, 1 for Fashion-MNIST)."""
        return self.train_images.shape[1]

    @property
    def image_size(self) -> int:
        """Side length of the square images in pixels."""
        return self.train_images.shape[2]

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)


def _channel_mean_std(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Exact per-channel mean and (population) std in [0, 1] units, from value histograms."""
    values = torch.arange(256, dtype=torch.float64)
    means, stds = [], []
    for channel in range(images.shape[1]):
        counts = torch.bincount(images[:, channel].reshape(-1), minlength=256).double()
        total = counts.sum()
        mean = (counts * values).sum() / total
        variance = (counts * (values - mean) ** 2).sum() / total
        means.append(float(mean) / 255)
        stds.append(math.sqrt(float(variance)) / 255)
    return tuple(means), tuple(stds)


def _balanced_indices(
    labels: torch.Tensor, count: int, num_classes: int, seed: int, what: str
) -> torch.Tensor:
    """Sorted indices of a random class-balanced subset of ``count`` labels.

    Every class gets ``count // num_classes`` items; the remainder goes to randomly chosen
    classes, one each. Deterministic given ``seed``.
    """
    count = check_positive_int(what, count)
    if count > len(labels):
        raise ValueError(f"{what}={count} is larger than the {len(labels)} images available")
    generator = torch.Generator().manual_seed(seed)
    quota = torch.full((num_classes,), count // num_classes)
    quota[torch.randperm(num_classes, generator=generator)[: count % num_classes]] += 1
    chosen = []
    for label in range(num_classes):
        members = torch.nonzero(labels == label).flatten()
        want = int(quota[label])
        if want > len(members):
            raise ValueError(
                f"{what}={count} needs {want} images of class {label} for a class-balanced "
                f"subset, but there are only {len(members)}; ask for at most "
                f"{num_classes * int(torch.bincount(labels, minlength=num_classes).min())}"
            )
        chosen.append(members[torch.randperm(len(members), generator=generator)[:want]])
    return torch.cat(chosen).sort().values


def _finish(
    name: str,
    train: _Split,
    test: _Split,
    classes: tuple[str, ...],
    subset: int | None,
    test_subset: int | None,
    seed: int,
) -> ImageDataset:
    """Apply the requested subsets and build the :class:`ImageDataset`."""
    if subset is not None:
        keep = _balanced_indices(train[1], subset, len(classes), seed, "subset")
        train = (train[0][keep], train[1][keep])
    if test_subset is not None:
        keep = _balanced_indices(test[1], test_subset, len(classes), seed, "test_subset")
        test = (test[0][keep], test[1][keep])
    return ImageDataset.from_tensors(name, *train, *test, classes)


def _missing_message(what: str, reason: str, fetch: str, alternative: str, layout: str) -> str:
    return (
        f"{what} is not available ({reason}). To provide it, either\n"
        f"  - {fetch}, or\n"
        f"  - {alternative}, or\n"
        f"  - if you have a copy elsewhere ({layout}), point the loader at its folder: pass "
        f"root=..., or set the environment variable {DATA_DIR_ENV}=/path/to/folder."
    )


# --------------------------------------------------------------------------------------------
# CIFAR-10
# --------------------------------------------------------------------------------------------


def _latin1_bytes(text: object, encoding: object) -> bytes:
    """What Python 3's pickle protocols 0-2 call to rebuild a bytes object
    (``_codecs.encode(text, "latin1")``), and nothing else ``codecs.encode`` can do."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(
            f"_codecs.encode is only allowed to rebuild bytes from latin-1 text, got "
            f"{type(text).__name__} and encoding {encoding!r}"
        )
    return text.encode("latin-1")


def _empty_bytes(*arguments: object) -> bytes:
    """What Python 3's pickle protocols 0-2 call to rebuild ``b""`` (``bytes()``)."""
    if arguments:
        raise pickle.UnpicklingError(
            "builtins.bytes is only allowed without arguments (to rebuild b'')"
        )
    return b""


_NUMPY_RECONSTRUCT = np.ndarray.__reduce__(np.empty(0))[0]
_NUMPY_FROMBUFFER = np.empty(1).__reduce_ex__(5)[0]
_NUMPY_SCALAR = np.int64(0).__reduce__()[0]
_CIFAR_SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    **{(f"numpy.{core}.multiarray", "_reconstruct"): _NUMPY_RECONSTRUCT for core in _NUMPY_CORES},
    **{(f"numpy.{core}.numeric", "_frombuffer"): _NUMPY_FROMBUFFER for core in _NUMPY_CORES},
    **{(f"numpy.{core}.multiarray", "scalar"): _NUMPY_SCALAR for core in _NUMPY_CORES},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_bytes,
    ("builtins", "bytes"): _empty_bytes,
    ("__builtin__", "bytes"): _empty_bytes,
}
"""Every global a pickle of numpy arrays, numpy scalars and bytes names, in pickle protocols 0 to
5 written by Python 2 or 3 with numpy 1 (``numpy.core``) or 2 (``numpy._core``): the functions
that rebuild data, none that can run code. ``_codecs.encode`` and ``bytes`` are narrowed to
the one use pickle makes of them."""


class _CifarUnpickler(pickle.Unpickler):
    """Reads CIFAR-10 batch pickles, building numpy arrays, bytes and numbers and nothing else.

    Lists, dicts, bytes and ints come from pickle opcodes; every other object must be looked up
    through :meth:`find_class`, which knows only :data:`_CIFAR_SAFE_GLOBALS`. A pickle that
    names anything else (``os.system``, ``builtins.eval``, ...) is refused before it runs.
    """

    def __init__(self, file: BinaryIO, source: Path) -> None:
        super().__init__(file, encoding="bytes")
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _CIFAR_SAFE_GLOBALS:
            return _CIFAR_SAFE_GLOBALS[(module, name)]
        named = f"{module}.{name}"
        module3, name3 = _compat_pickle.NAME_MAPPING.get(
            (module, name), (_compat_pickle.IMPORT_MAPPING.get(module, module), name)
        )
        if f"{module3}.{name3}" != named:
            named += f" (Python 3's {module3}.{name3})"
        raise DataIntegrityError(
            f"{self._source} asks for the Python object {named}, which is not needed to "
            f"rebuild numpy arrays, lists, bytes or numbers and could run code; refused to load "
            f"it (nothing in it was run). If you wrote this file, store the batch as a dict of "
            f"numpy arrays, lists of ints and bytes (any pickle protocol works); otherwise it "
            f"is damaged or was tampered with: replace {self._source.parent} with the folder "
            f"extracted from the official archive ({CIFAR10_URL})."
        )


def _unpickle(data: bytes, path: Path) -> dict:
    """One CIFAR-10 pickle (the bytes of ``path``) as a dict, read with :class:`_CifarUnpickler`."""
    try:
        content = _CifarUnpickler(io.BytesIO(data), path).load()
    except DataIntegrityError:
        raise
    except Exception as error:
        raise DataIntegrityError(
            f"{path} could not be read as a CIFAR-10 pickle ({type(error).__name__}: {error}); "
            f"it is truncated or damaged. Replace {path.parent} with the folder extracted from "
            f"the official archive (move it away and the loader extracts or downloads it again)."
        ) from error
    if not isinstance(content, dict):
        raise DataIntegrityError(
            f"{path} holds a {type(content).__name__}, not the dict of a CIFAR-10 batch; "
            f"move the folder {path.parent} away or replace it with a good copy"
        )
    return content


def _read_cifar_batch(data: bytes, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3072) uint8 and labels (N,) int64 of one CIFAR-10 batch file."""
    batch = _unpickle(data, path)
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
) -> tuple[_Split, _Split, tuple[str, ...]]:
    """Both splits and the class names from the files of ``cifar-10-batches-py/`` (by name),
    read from ``source`` (the folder, or the archive); every file's md5, every batch's shapes
    and labels are checked. The md5s are computed in a thread while the pickles are read
    (hashlib releases the GIL)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        md5s = pool.submit(lambda: {name: _bytes_md5(files[name]) for name in _CIFAR10_FILES})
        try:
            batches = [
                _read_cifar_batch(files[name], source / name) for name in _CIFAR10_TRAIN_BATCHES
            ]
            test_data, test_labels = _read_cifar_batch(files["test_batch"], source / "test_batch")
            meta = _unpickle(files["batches.meta"], source / "batches.meta")
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

    def tensors(data: list[np.ndarray], labels: list[np.ndarray]) -> _Split:
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
        if not _is_write_failure(error):
            raise
        warnings.warn(
            f"could not extract {archive} into {folder}: {_reason(error, folder.parent)}. "
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
    official = all(_bytes_md5(files[name]) == CIFAR10_FILE_MD5[name] for name in _CIFAR10_FILES)
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
            reason = "; ".join([f"downloading it failed: {_reason(error, root)}", *reasons])
            raise DatasetNotFoundError(_cifar_missing_message(root, url, md5, reason)) from error
        files = _cifar_archive_files(archive)
    return files, _save_extracted(files, archive, folder)


def _unreadable(error: PermissionError) -> str:
    return (
        f"{error.filename or 'a data file'} cannot be read ({error.strerror}): make it readable "
        f"(chmod a+r), or use a data folder you can read"
    )


def _cifar_missing_message(root: Path, url: str, md5: str, reason: str) -> str:
    return _missing_message(
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
    root = _resolve_root(root)
    try:
        files, source = _cifar10_files(root, download, url, md5)
    except PermissionError as error:  # writes that fail are handled inside: this is a read
        raise DatasetNotFoundError(
            f"CIFAR-10 in {root} is not available: {_unreadable(error)}; or point the loader at "
            f"a copy you can read: pass root=..., or set {DATA_DIR_ENV}=/path/to/folder."
        ) from error
    train, test, classes = _read_cifar_files(files, source)
    return _finish("cifar10", train, test, classes, subset, test_subset, seed)


# --------------------------------------------------------------------------------------------
# Fashion-MNIST
# --------------------------------------------------------------------------------------------


def parse_idx(data: bytes, source: str = "IDX data") -> np.ndarray:
    """Decode an (uncompressed) IDX file of unsigned bytes, like MNIST's, into an array.

    The header is two zero bytes, the type code 0x08 (unsigned byte), the number of
    dimensions, and each dimension as a big-endian uint32; the values follow.

    Raises:
        DataIntegrityError: the header is malformed or the size does not match it.
    """
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08 or data[3] == 0:
        raise DataIntegrityError(
            f"{source} is not an IDX file of unsigned bytes: its magic number is "
            f"{data[:4].hex() or 'missing'}, expected 000008 followed by the number of "
            f"dimensions (00000803 for images, 00000801 for labels)"
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataIntegrityError(f"{source} ends inside its IDX header ({len(data)} bytes)")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(data) - header != math.prod(shape):
        raise DataIntegrityError(
            f"{source}: the IDX header announces shape {shape} ({math.prod(shape)} values), but "
            f"{len(data) - header} bytes follow it; the file is truncated or corrupt"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()


def _gunzip(data: bytes, source: Path) -> bytes:
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise DataIntegrityError(f"{source} is not a valid gzip file ({error})") from error


def _verified_content(path: Path, md5: str, raw_md5: str | None) -> bytes | None:
    """The decompressed content of ``path`` if it is the expected file, else None."""
    data = path.read_bytes()
    if _bytes_md5(data) == md5:
        return _gunzip(data, path)
    if raw_md5 is not None:
        try:
            content = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            return None
        if _bytes_md5(content) == raw_md5:
            return content
    return None


def _fashion_mnist_file(
    name: str, folder: Path, download_missing: bool, base_url: str, md5s: Mapping[str, str] | None
) -> bytes:
    """The decompressed content of one Fashion-MNIST file, found, checked or downloaded."""
    md5 = FASHION_MNIST_MD5[name] if md5s is None else md5s[name]
    raw_md5 = _FASHION_MNIST_RAW_MD5[name] if md5s is None else None
    dest = folder / name
    remove_stale_temporaries(dest)  # what killed downloads left behind
    rejected = []
    for candidate in (dest, *(system / name for system in FASHION_MNIST_SYSTEM_DIRS)):
        if candidate.is_file():
            try:
                content = _verified_content(candidate, md5, raw_md5)
            except PermissionError as error:
                rejected.append(_unreadable(error))
                continue
            if content is not None:
                return content
            rejected.append(
                f"{candidate} has md5 {file_md5(candidate)}, expected {md5}: it is truncated, "
                f"damaged or another file (it was left as it is)"
            )
    url = f"{base_url.rstrip('/')}/{name}"
    if not download_missing:
        reason = "; ".join(["download=False", *rejected])
        raise DatasetNotFoundError(_fashion_missing_message(folder, url, md5, reason))
    try:
        download(url, dest, md5, desc=name)
    except (OSError, http.client.HTTPException) as error:
        reason = "; ".join([f"downloading it failed: {_reason(error, folder)}", *rejected])
        raise DatasetNotFoundError(_fashion_missing_message(folder, url, md5, reason)) from error
    return _gunzip(dest.read_bytes(), dest)


def _fashion_missing_message(folder: Path, url: str, md5: str, reason: str) -> str:
    searched = ", ".join(str(path) for path in (folder, *FASHION_MNIST_SYSTEM_DIRS))
    name = url.rsplit("/", 1)[-1]
    others = ", ".join(other for other in FASHION_MNIST_MD5 if other != name)
    return _missing_message(
        f"Fashion-MNIST's {name} (searched {searched})",
        reason,
        f"download {url} (md5 {md5})\n    and save it as {folder / name};\n"
        f"    likewise {others} from the same place into {folder}",
        "on Debian or Ubuntu, run 'apt install dataset-fashion-mnist', which puts all four "
        f"files in {_DEBIAN_FASHION_MNIST_DIR}",
        f"a folder holding the four files in its {FASHION_MNIST_FOLDER}/ subfolder",
    )


def _fashion_mnist_split(images: bytes, labels: bytes, sources: tuple[str, str]) -> _Split:
    image_array = parse_idx(images, sources[0])
    label_array = parse_idx(labels, sources[1])
    if image_array.ndim != 3 or label_array.ndim != 1:
        raise DataIntegrityError(
            f"{sources[0]} must hold images (N, H, W) and {sources[1]} labels (N,), got shapes "
            f"{image_array.shape} and {label_array.shape}"
        )
    if len(image_array) != len(label_array) or (len(label_array) and label_array.max() > 9):
        raise DataIntegrityError(
            f"{sources[1]} must hold one class number in 0..9 per image of {sources[0]} "
            f"({len(image_array)} images, {len(label_array)} labels)"
        )
    return (
        torch.from_numpy(image_array).unsqueeze(1),
        torch.from_numpy(label_array.astype(np.int64)),
    )


def load_fashion_mnist(
    root: str | Path | None = None,
    *,
    download: bool = True,
    base_url: str = FASHION_MNIST_URL,
    md5s: Mapping[str, str] | None = None,
    subset: int | None = None,
    test_subset: int | None = None,
    seed: int = 0,
) -> ImageDataset:
    """Fashion-MNIST (60,000 training and 10,000 test images, 1×28×28) as an :class:`ImageDataset`.

    Each of the four official files is taken from ``root/fashion-mnist/``, else from the folders
    of :data:`FASHION_MNIST_SYSTEM_DIRS` (Debian's package), else downloaded from ``base_url``
    into ``root/fashion-mnist/``. Every file's checksum is checked.

    Args:
        root: the data folder (default :func:`default_data_dir`).
        download: whether missing files may be downloaded.
        base_url: the folder URL the four files are downloaded from.
        md5s: md5 of each ``.gz`` file by file name; keep the official ones (None) except for
            other files (tests). With the official ones a recompressed copy (Debian's) is also
            accepted when its decompressed content is the official one.
        subset: use only this many training images, a random class-balanced subset.
        test_subset: likewise for the test images.
        seed: seed of the subsets' random choice.

    Raises:
        DatasetNotFoundError: a file was not found and could not be downloaded; says what to do.
        DataIntegrityError: a file is corrupt.
    """
    if md5s is not None and set(md5s) != set(FASHION_MNIST_MD5):
        raise ValueError(
            f"md5s must give the md5 of exactly these files: {', '.join(FASHION_MNIST_MD5)}; "
            f"got {', '.join(md5s) or 'none'}"
        )
    download = check_bool("download", download)
    seed = check_int("seed", seed, minimum=0)
    folder = _resolve_root(root) / FASHION_MNIST_FOLDER
    content = {
        name: _fashion_mnist_file(name, folder, download, base_url, md5s)
        for name in FASHION_MNIST_MD5
    }
    train = _fashion_mnist_split(
        content["train-images-idx3-ubyte.gz"],
        content["train-labels-idx1-ubyte.gz"],
        ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    )
    test = _fashion_mnist_split(
        content["t10k-images-idx3-ubyte.gz"],
        content["t10k-labels-idx1-ubyte.gz"],
        ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    )
    return _finish("fashion-mnist", train, test, FASHION_MNIST_CLASSES, subset, test_subset, seed)


_LOADERS: dict[str, Callable[..., ImageDataset]] = {
    "cifar10": load_cifar10,
    "fashion-mnist": load_fashion_mnist,
}
DATASET_NAMES = tuple(_LOADERS)
"""The names :func:`load_dataset` knows."""


def load_dataset(name: str, root: str | Path | None = None, **kwargs: Any) -> ImageDataset:
    """Load a data set by name: ``"cifar10"`` or ``"fashion-mnist"``.

    The keyword arguments go to :func:`load_cifar10` or :func:`load_fashion_mnist`.
    """
    if name not in _LOADERS:
        raise ValueError(
            f"unknown data set {name!r}; the data sets are {', '.join(map(repr, DATASET_NAMES))}"
        )
    return _LOADERS[name](root, **kwargs)


# --------------------------------------------------------------------------------------------
# Augmentation, normalisation, batches
# --------------------------------------------------------------------------------------------


def augment(
    images: torch.Tensor, generator: torch.Generator | None = None, padding: int = 4
) -> torch.Tensor:
    """Random crop with zero padding and random horizontal flip of each image of a batch.

    Every image is padded by ``padding`` zero pixels on each side, a window of its original size
    is cut at a random offset (each of the ``(2 * padding + 1) ** 2`` equally likely), and the
    window is mirrored left-right with probability 1/2. Vectorised over the batch; works on any
    device and dtype (uint8 or float), returning the input's dtype.

    Args:
        images: (N, C, H, W).
        generator: source of the random offsets and flips (on the CPU or the images' device);
            None uses torch's global generator.
        padding: pixels of zero padding on each side; 0 leaves only the flips.
    """
    if images.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
    padding = check_int("padding", padding, minimum=0)
    count, channels, height, width = images.shape
    device = images.device
    draw_on = device if generator is None else generator.device
    offsets = torch.randint(0, 2 * padding + 1, (2, count), generator=generator, device=draw_on)
    flips = torch.randint(0, 2, (count,), generator=generator, device=draw_on).bool()
    offsets, flips = offsets.to(device), flips.to(device)
    padded = F.pad(images, (padding, padding, padding, padding))
    rows = offsets[0, :, None] + torch.arange(height, device=device)
    columns = torch.arange(width, device=device).expand(count, width)
    columns = torch.where(flips[:, None], width - 1 - columns, columns) + offsets[1, :, None]
    return padded[
        torch.arange(count, device=device)[:, None, None, None],
        torch.arange(channels, device=device)[None, :, None, None],
        rows[:, None, :, None],
        columns[:, None, None, :],
    ]


def normalize(
    images: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]
) -> torch.Tensor:
    """``(images / 255 - mean) / std`` per channel, as float32 on the images' device.

    ``images`` is (N, C, H, W), uint8 in 0..255, or floating point already in [0, 1] units;
    ``mean`` and ``std`` have one value per channel, in [0, 1] units.
    """
    if images.ndim != 4 or len(mean) != images.shape[1] or len(std) != images.shape[1]:
        raise ValueError(
            f"images must be (N, C, H, W) with one mean and std per channel, got shape "
            f"{tuple(images.shape)}, {len(mean)} means and {len(std)} stds"
        )
    if images.dtype == torch.uint8:
        scaled = images.float() / 255
    elif images.is_floating_point():
        scaled = images.float()
    else:
        raise TypeError(f"images must be uint8 (0..255) or floating point, got {images.dtype}")
    mean_t = torch.tensor(mean, dtype=torch.float32, device=images.device)[:, None, None]
    std_t = torch.tensor(std, dtype=torch.float32, device=images.device)[:, None, None]
    return (scaled - mean_t) / std_t


def _mixed_seed(*numbers: int) -> int:
    """A well-mixed 64-bit seed from several non-negative ints (e.g. seed and epoch)."""
    return int(np.random.SeedSequence(list(numbers)).generate_state(1, dtype=np.uint64)[0])


class Batches:
    """Iterable over ``(images, labels)`` batches of one split of an :class:`ImageDataset`.

    ``images`` are float32 (B, C, H, W), normalised with the data set's mean and std; ``labels``
    are int64 (B,); both on ``device``. Each batch is moved to ``device`` as uint8 and augmented
    and normalised there.

    The order of an epoch is a function of ``(seed, epoch)`` only, so models trained with the
    same seed see the same data in the same order; call :meth:`set_epoch` before each epoch, as
    with torch's ``DistributedSampler``. The augmentation's randomness is a function of
    ``(seed, epoch, rank)``.

    With ``world_size`` > 1, rank ``r`` gets every ``world_size``-th item of the epoch's
    permutation starting at ``r``: the shards are disjoint and equal in size. When the split's
    size is not a multiple of ``world_size``, the last ``size % world_size`` items of each epoch's
    permutation are left out (different ones each shuffled epoch).

    Args:
        dataset: the data set.
        split: ``"train"`` or ``"test"``.
        batch_size: images per batch (the last batch may be smaller unless ``drop_last``).
        shuffle: shuffle each epoch (a bool); default: for the training split only.
        augment: random crop and flip (:func:`augment`, a bool); default: for the training
            split only.
        seed: seed of the order and the augmentation (>= 0).
        device: where batches are delivered.
        rank: this process's rank, in ``range(world_size)``.
        world_size: number of distributed processes sharing each epoch.
        drop_last: leave out a last batch smaller than ``batch_size``.
    """

    def __init__(
        self,
        dataset: ImageDataset,
        split: str = "train",
        batch_size: int = 128,
        *,
        shuffle: bool | None = None,
        augment: bool | None = None,
        seed: int = 0,
        device: str | torch.device = "cpu",
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
    ) -> None:
        split = check_choice("split", split, ("train", "test"))
        seed = check_int("seed", seed, minimum=0)
        self.world_size = check_positive_int("world_size", world_size)
        rank = check_int("rank", rank, minimum=0)
        if rank >= self.world_size:
            raise ValueError(
                f"rank must be an integer in 0..{self.world_size - 1} (one per process of "
                f"world_size={self.world_size}), got {rank}"
            )
        self.dataset = dataset
        self.split = split
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.shuffle = split == "train" if shuffle is None else check_bool("shuffle", shuffle)
        self.augment = split == "train" if augment is None else check_bool("augment", augment)
        self.seed = seed
        self.device = torch.device(device)
        self.rank = rank
        self.drop_last = check_bool("drop_last", drop_last)
        self.epoch = 0
        self._images: torch.Tensor = getattr(dataset, f"{split}_images")
        self._labels: torch.Tensor = getattr(dataset, f"{split}_labels")

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order (and augmentation) the next iteration delivers."""
        self.epoch = check_int("epoch", epoch, minimum=0)

    @property
    def num_examples(self) -> int:
        """Images this rank delivers per epoch (before ``drop_last``)."""
        return len(self._labels) // self.world_size

    def indices(self) -> torch.Tensor:
        """This rank's indices into the split, in the current epoch's order."""
        count = len(self._labels)
        if self.shuffle:
            generator = torch.Generator().manual_seed(
                _mixed_seed(self.seed, self.epoch, _ORDER_STREAM)
            )
            order = torch.randperm(count, generator=generator)
        else:
            order = torch.arange(count)
        return order[self.rank : self.num_examples * self.world_size : self.world_size]

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_examples // self.batch_size
        return -(-self.num_examples // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self.indices()
        generator = torch.Generator().manual_seed(
            _mixed_seed(self.seed, self.epoch, _AUGMENT_STREAM, self.rank)
        )
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            chosen = order[start : start + self.batch_size]
            images = self._images[chosen].to(self.device)
            labels = self._labels[chosen].to(self.device)
            if self.augment:
                images = augment(images, generator)
            yield normalize(images, self.dataset.mean, self.dataset.std), labels
