"""Fashion-MNIST from its four official files, checked, as an
:class:`~hetconv_edu.data.ImageDataset`.

Each ``*-ubyte.gz`` file is taken from ``fashion-mnist/`` in the data folder, else from Debian's
``/usr/share/datasets/fashion-mnist/`` (``apt install dataset-fashion-mnist``), else downloaded.
Every file's checksum is checked; :func:`parse_idx` decodes the IDX format.
"""

from __future__ import annotations

import gzip
import http.client
import math
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from hetconv_edu.checks import check_bool, check_int
from hetconv_edu.data.dataset import ImageDataset, Split, finish_dataset
from hetconv_edu.data.errors import (
    DataIntegrityError,
    DatasetNotFoundError,
    failure_reason,
    missing_message,
    unreadable,
)
from hetconv_edu.data.fetch import bytes_md5, download, file_md5
from hetconv_edu.data.folder import resolve_root
from hetconv_edu.fileio import remove_stale_temporaries

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
    if bytes_md5(data) == md5:
        return _gunzip(data, path)
    if raw_md5 is not None:
        try:
            content = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            return None
        if bytes_md5(content) == raw_md5:
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
                rejected.append(unreadable(error))
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
        reason = "; ".join([f"downloading it failed: {failure_reason(error, folder)}", *rejected])
        raise DatasetNotFoundError(_fashion_missing_message(folder, url, md5, reason)) from error
    return _gunzip(dest.read_bytes(), dest)


def _fashion_missing_message(folder: Path, url: str, md5: str, reason: str) -> str:
    searched = ", ".join(str(path) for path in (folder, *FASHION_MNIST_SYSTEM_DIRS))
    name = url.rsplit("/", 1)[-1]
    others = ", ".join(other for other in FASHION_MNIST_MD5 if other != name)
    return missing_message(
        f"Fashion-MNIST's {name} (searched {searched})",
        reason,
        f"download {url} (md5 {md5})\n    and save it as {folder / name};\n"
        f"    likewise {others} from the same place into {folder}",
        "on Debian or Ubuntu, run 'apt install dataset-fashion-mnist', which puts all four "
        f"files in {_DEBIAN_FASHION_MNIST_DIR}",
        f"a folder holding the four files in its {FASHION_MNIST_FOLDER}/ subfolder",
    )


def _fashion_mnist_split(images: bytes, labels: bytes, sources: tuple[str, str]) -> Split:
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
    folder = resolve_root(root) / FASHION_MNIST_FOLDER
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
    return finish_dataset(
        "fashion-mnist", train, test, FASHION_MNIST_CLASSES, subset, test_subset, seed
    )
