"""Small fake data sets in the exact official file formats, and loopback HTTP servers.

For tests and for notebook runs in CI, where the real data sets cannot be downloaded:

* :func:`write_fake_cifar10` writes CIFAR-10's python format (Python 2 pickles, protocol 2, as
  in the official archive), as an extracted ``cifar-10-batches-py/`` folder or as the archive
  ``cifar-10-python.tar.gz``; :func:`file_md5` gives the md5 to pass to ``load_cifar10(md5=...)``.
* :func:`write_fake_fashion_mnist` writes the four gzipped IDX files of Fashion-MNIST;
  :func:`md5s_of` gives the checksums to pass to ``load_fashion_mnist(md5s=...)``.
* :func:`check_fake_cifar` asserts that a loaded data set is the fake CIFAR-10.
* :func:`serve_directory` serves a folder over HTTP on 127.0.0.1, and
  :func:`serve_directory_cut_off` does too but drops every transfer part-way;
  :func:`unreachable_url` is a URL where nothing listens.
* :func:`leftovers` lists the temporary files a loader left in a folder; :func:`age` makes a
  file look old (a killed process's leftover).

The fake images are learnable: each class has its own colour (grey level for one channel) and
stripe pattern (orientation and period), under random phase, brightness and noise, so a small
network beats chance on them within an epoch or two. Everything is deterministic given ``seed``.

Use from a notebook: put the repository root on ``sys.path`` and ``from tests.datasets import
write_fake_cifar10``.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import http.server
import io
import itertools
import os
import pickle
import socket
import struct
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import torch

if TYPE_CHECKING:
    from hetconv_edu.data import ImageDataset

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
FASHION_MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
NUM_CLASSES = 10


def file_md5(path: str | Path) -> str:
    """Hex md5 of a file."""
    return hashlib.md5(Path(path).read_bytes(), usedforsecurity=False).hexdigest()


def md5s_of(folder: str | Path) -> dict[str, str]:
    """md5 of every file directly in ``folder``, by file name."""
    return {path.name: file_md5(path) for path in sorted(Path(folder).iterdir()) if path.is_file()}


def balanced_labels(count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` labels in 0..9, as equal in number per class as possible, in random order."""
    return rng.permutation(np.arange(count) % NUM_CLASSES)


def fake_images(
    labels: np.ndarray, channels: int, size: int, rng: np.random.Generator
) -> np.ndarray:
    """Learnable uint8 images (N, channels, size, size), one look per class, plus noise.

    Class ``k`` has stripes, horizontal for k < 5 and vertical otherwise, with a period of
    ``2 + 2 * (k % 5)`` pixels and a random phase, on its own base colour, with random brightness
    and Gaussian noise.
    """
    labels = np.asarray(labels)
    count = len(labels)
    palette = np.random.default_rng(20190615).integers(50, 206, size=(NUM_CLASSES, channels))
    if channels == 1:
        palette[:, 0] = 70 + 12 * np.arange(NUM_CLASSES)
    rows, columns = np.mgrid[0:size, 0:size]
    across = np.where((labels < 5)[:, None, None], rows, columns)  # (N, size, size)
    period = (2 + 2 * (labels % 5))[:, None, None]
    phase = rng.integers(0, 12, size=(count, 1, 1))
    stripes = np.where((across + phase) % period < period // 2, 40.0, -40.0)
    brightness = rng.normal(0.0, 12.0, size=(count, 1, 1, 1))
    noise = rng.normal(0.0, 20.0, size=(count, channels, size, size))
    images = palette[labels][:, :, None, None] + stripes[:, None] + brightness + noise
    return np.clip(np.rint(images), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# CIFAR-10
# --------------------------------------------------------------------------------------------

_NUMPY_RECONSTRUCT = np.ndarray.__reduce__(np.empty(0))[0]


class _Python2Pickler(pickle._Pickler):
    """Protocol 2 as Python 2's cPickle wrote CIFAR-10: strings as byte strings (``U``/``T``
    opcodes, which Python 3 reads back as bytes with ``encoding="bytes"``) and numpy arrays
    rebuilt by ``numpy.core.multiarray._reconstruct``. Python 3's own protocol 2 would pickle
    bytes as calls to ``_codecs.encode`` instead."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_byte_string(self, obj: bytes | str) -> None:
        data = obj.encode("latin-1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = save_byte_string
    dispatch[str] = save_byte_string

    def save_global(self, obj: Any, name: str | None = None) -> None:
        if obj is _NUMPY_RECONSTRUCT:
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
        else:
            super().save_global(obj, name)


def python2_pickle(obj: Any) -> bytes:
    """``obj`` pickled as CIFAR-10's files are (see :class:`_Python2Pickler`)."""
    buffer = io.BytesIO()
    _Python2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def fake_cifar10_files(n_train: int = 500, n_test: int = 100, seed: int = 0) -> dict[str, bytes]:
    """The files of ``cifar-10-batches-py/`` for a fake CIFAR-10, by name."""
    rng = np.random.default_rng(seed)
    train_labels = balanced_labels(n_train, rng)
    test_labels = balanced_labels(n_test, rng)
    train = fake_images(train_labels, 3, 32, rng).reshape(n_train, 3 * 32 * 32)
    test = fake_images(test_labels, 3, 32, rng).reshape(n_test, 3 * 32 * 32)

    def batch(label: str, data: np.ndarray, labels: np.ndarray, first: int) -> bytes:
        return python2_pickle(
            {
                b"batch_label": label.encode(),
                b"labels": [int(value) for value in labels],
                b"data": data,
                b"filenames": [f"fake_{first + i:05d}.png".encode() for i in range(len(data))],
            }
        )

    files = {}
    starts = np.linspace(0, n_train, 6).astype(int)
    for number, (start, stop) in enumerate(itertools.pairwise(starts), 1):
        files[f"data_batch_{number}"] = batch(
            f"training batch {number} of 5", train[start:stop], train_labels[start:stop], start
        )
    files["test_batch"] = batch("testing batch 1 of 1", test, test_labels, n_train)
    files["batches.meta"] = python2_pickle(
        {
            b"num_cases_per_batch": int(starts[1]),
            b"label_names": [name.encode() for name in CIFAR10_CLASSES],
            b"num_vis": 3 * 32 * 32,
        }
    )
    files["readme.html"] = b"<html><body>Fake CIFAR-10 for tests.</body></html>\n"
    return files


def write_tar_gz(archive: Path, files: dict[str, bytes], folder: str) -> Path:
    """A reproducible ``.tar.gz`` holding ``folder/`` and ``files`` in it."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with (
        archive.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.GNU_FORMAT) as tar,
    ):
        directory = tarfile.TarInfo(folder)
        directory.type = tarfile.DIRTYPE
        directory.mode = 0o755
        tar.addfile(directory)
        for name, data in files.items():
            member = tarfile.TarInfo(f"{folder}/{name}")
            member.size = len(data)
            member.mode = 0o644
            tar.addfile(member, io.BytesIO(data))
    return archive


def write_fake_cifar10(
    folder: str | Path,
    n_train: int = 500,
    n_test: int = 100,
    seed: int = 0,
    as_archive: bool = False,
) -> Path:
    """Write a fake CIFAR-10 in the official python format into ``folder``; return its path.

    With ``as_archive`` it is ``folder/cifar-10-python.tar.gz`` (pass ``file_md5`` of it as
    ``load_cifar10(md5=...)``), else the extracted ``folder/cifar-10-batches-py/``. The
    ``n_train`` images are split over the five training batches; labels are balanced.
    """
    folder = Path(folder)
    files = fake_cifar10_files(n_train, n_test, seed)
    if as_archive:
        return write_tar_gz(folder / "cifar-10-python.tar.gz", files, "cifar-10-batches-py")
    extracted = folder / "cifar-10-batches-py"
    extracted.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (extracted / name).write_bytes(data)
    return extracted


# --------------------------------------------------------------------------------------------
# Fashion-MNIST
# --------------------------------------------------------------------------------------------


def idx_bytes(array: np.ndarray) -> bytes:
    """``array`` (uint8) as an uncompressed IDX file."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_idx_gz(path: Path, array: np.ndarray) -> Path:
    """Write ``array`` (uint8) as a gzipped IDX file, reproducibly (gzip mtime 0)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(idx_bytes(array), mtime=0))
    return path


def write_fake_fashion_mnist(
    folder: str | Path, n_train: int = 600, n_test: int = 100, seed: int = 0
) -> Path:
    """Write a fake Fashion-MNIST (the four official ``.gz`` IDX files, 28×28 grey images) into
    ``folder/fashion-mnist/``; return that folder (``md5s_of`` it for ``load_fashion_mnist``)."""
    rng = np.random.default_rng(seed)
    target = Path(folder) / "fashion-mnist"
    for prefix, count in (("train", n_train), ("t10k", n_test)):
        labels = balanced_labels(count, rng)
        images = fake_images(labels, 1, 28, rng)[:, 0]
        write_idx_gz(target / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx_gz(target / f"{prefix}-labels-idx1-ubyte.gz", labels.astype(np.uint8))
    return target


# --------------------------------------------------------------------------------------------
# Loopback HTTP servers
# --------------------------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""


@contextlib.contextmanager
def _serve(folder: str | Path, handler: type[_QuietHandler]) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=os.fspath(folder))
    )
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="test-http-server",
        daemon=True,
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def serve_directory(folder: str | Path) -> Iterator[str]:
    """Serve ``folder`` over HTTP on 127.0.0.1 (a free port) in a thread; yield the base URL,
    ending in ``/``."""
    with _serve(folder, _QuietHandler) as url:
        yield url


@contextlib.contextmanager
def serve_directory_cut_off(folder: str | Path, fraction: float = 0.5) -> Iterator[str]:
    """Like :func:`serve_directory`, but every transfer announces the file's full length, sends
    only its first ``fraction`` and then closes the connection (an interrupted download)."""

    class CutOffHandler(_QuietHandler):
        def copyfile(self, source: BinaryIO, outputfile: BinaryIO) -> None:
            data = source.read()
            outputfile.write(data[: int(len(data) * fraction)])
            outputfile.flush()
            self.close_connection = True

    with _serve(folder, CutOffHandler) as url:
        yield url


def leftovers(folder: Path) -> list[str]:
    """Temporary files and folders the loaders may have left in ``folder``."""
    return sorted(path.name for path in folder.iterdir() if path.name.startswith("."))


def age(path: Path, seconds: float) -> None:
    """Set ``path``'s modification time ``seconds`` into the past."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def unreachable_url(name: str) -> str:
    """An http URL on 127.0.0.1 at a port where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"


def check_fake_cifar(dataset: ImageDataset, n_train: int = 500, n_test: int = 100) -> None:
    """Assert that ``dataset`` is a fake CIFAR-10 of :func:`write_fake_cifar10` with these sizes,
    loaded as CIFAR-10 (shapes, dtypes, balanced labels, class names)."""
    assert dataset.name == "cifar10"
    assert dataset.train_images.shape == (n_train, 3, 32, 32)
    assert dataset.train_images.dtype == torch.uint8
    assert dataset.test_images.shape == (n_test, 3, 32, 32)
    assert dataset.train_labels.dtype == torch.int64
    assert torch.equal(dataset.train_labels.bincount(), torch.full((10,), n_train // 10))
    assert dataset.classes[:3] == ("airplane", "automobile", "bird")
    assert (dataset.in_channels, dataset.image_size, dataset.num_classes) == (3, 32, 10)
