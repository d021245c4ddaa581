"""What goes wrong around the data, for both loaders: a read-only data folder, a full disk, a
truncated archive, leftovers of killed downloads, unreadable files, bad arguments: one clear
message each, nothing half-written left behind."""

from __future__ import annotations

import errno
import gzip
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from hetconv_edu import data
from hetconv_edu.data import (
    Batches,
    DataIntegrityError,
    DatasetNotFoundError,
    ImageDataset,
    augment,
    fashion_mnist,
    fetch,
    load_cifar10,
    load_dataset,
    load_fashion_mnist,
)
from hetconv_edu.fileio import STALE_AFTER_S
from tests.datasets import (
    age,
    check_fake_cifar,
    file_md5,
    leftovers,
    md5s_of,
    serve_directory,
    unreachable_url,
    write_fake_cifar10,
    write_fake_fashion_mnist,
)

# --------------------------------------------------------------------------------------------
# A read-only data folder, a full disk, a truncated archive: one clear message each
# --------------------------------------------------------------------------------------------


def refuse_writes(monkeypatch: pytest.MonkeyPatch, error: OSError) -> None:
    """Every temporary file or folder (how the package writes) fails with ``error``."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    monkeypatch.setattr(tempfile, "mkdtemp", refuse)


READ_ONLY = OSError(errno.EROFS, "Read-only file system")
DISK_FULL = OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize(
    ("error", "said"),
    [(READ_ONLY, r"cannot be written \(Read-only file system\)"), (DISK_FULL, "is full")],
)
def test_an_archive_in_a_folder_that_cannot_be_written_is_read_in_memory(
    error: OSError, said: str, cifar_archive: Path, cifar: ImageDataset, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    archive = tmp_path / data.CIFAR10_ARCHIVE
    archive.write_bytes(cifar_archive.read_bytes())
    refuse_writes(monkeypatch, error)
    with pytest.warns(UserWarning, match=f"could not extract {archive}.*{said}.*in memory"):
        dataset = load_cifar10(tmp_path, download=False, md5=file_md5(archive))
    assert torch.equal(dataset.train_images, cifar.train_images)
    assert sorted(path.name for path in tmp_path.iterdir()) == [data.CIFAR10_ARCHIVE]


def test_disk_full_midway_through_extracting_leaves_no_half_folder(
    cifar_archive: Path, cifar: ImageDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / data.CIFAR10_ARCHIVE).write_bytes(cifar_archive.read_bytes())
    real_write_bytes = Path.write_bytes
    written = []

    def write_until_full(self: Path, content: bytes) -> int:
        if written:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(self)
        return real_write_bytes(self, content)

    monkeypatch.setattr(Path, "write_bytes", write_until_full)
    with pytest.warns(UserWarning, match=f"the disk holding {tmp_path} is full"):
        dataset = load_cifar10(tmp_path, download=False, md5=file_md5(cifar_archive))
    assert torch.equal(dataset.test_images, cifar.test_images)
    assert len(written) == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == [data.CIFAR10_ARCHIVE]


@pytest.mark.parametrize(
    ("error", "said"),
    [(READ_ONLY, r"cannot be written \(Read-only file system\)"), (DISK_FULL, "is full")],
)
@pytest.mark.parametrize("dataset_name", data.DATASET_NAMES)
def test_a_download_into_a_folder_that_cannot_be_written_says_so(
    dataset_name: str, error: OSError, said: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(fashion_mnist, "FASHION_MNIST_SYSTEM_DIRS", ())
    served = tmp_path / "served"
    write_fake_cifar10(served, as_archive=True)
    write_fake_fashion_mnist(served)
    root = tmp_path / "root"
    root.mkdir()
    refuse_writes(monkeypatch, error)
    kwargs = (
        {"url": (served / data.CIFAR10_ARCHIVE).as_uri()}
        if dataset_name == "cifar10"
        else {"base_url": (served / data.FASHION_MNIST_FOLDER).as_uri()}
    )
    with pytest.raises(DatasetNotFoundError, match=f"downloading it failed: .*{said}"):
        load_dataset(dataset_name, root, **kwargs)
    assert [path for path in root.rglob("*") if not path.is_dir()] == []


def test_a_disk_full_while_downloading_leaves_nothing(
    cifar_archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_stream = fetch._stream

    def stream_until_full(url: str, out: Any, desc: str) -> str:
        out.write(b"the first bytes")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fetch, "_stream", stream_until_full)
    with pytest.raises(DatasetNotFoundError, match=f"the disk holding {tmp_path} is full"):
        load_cifar10(tmp_path, url=cifar_archive.as_uri(), md5=file_md5(cifar_archive))
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(fetch, "_stream", real_stream)
    check_fake_cifar(
        load_cifar10(tmp_path, url=cifar_archive.as_uri(), md5=file_md5(cifar_archive))
    )


def test_a_truncated_archive_is_a_clear_error(cifar_archive: Path, tmp_path: Path) -> None:
    archive = tmp_path / data.CIFAR10_ARCHIVE
    archive.write_bytes(cifar_archive.read_bytes()[: cifar_archive.stat().st_size // 2])
    with pytest.raises(DatasetNotFoundError, match="it is truncated, damaged or another file"):
        load_cifar10(tmp_path, download=False, md5=file_md5(cifar_archive))
    # Even when its md5 is the one given (the user's own md5 of a file cut short):
    with pytest.raises(DataIntegrityError, match=f"{archive} is truncated or damaged"):
        load_cifar10(tmp_path, download=False, md5=file_md5(archive))
    assert sorted(path.name for path in tmp_path.iterdir()) == [data.CIFAR10_ARCHIVE]


def test_a_users_fashion_mnist_file_with_another_md5_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fashion_mnist, "FASHION_MNIST_SYSTEM_DIRS", ())
    served = write_fake_fashion_mnist(tmp_path / "served", n_train=60, n_test=30)
    md5s = md5s_of(served)
    folder = write_fake_fashion_mnist(tmp_path / "root", n_train=60, n_test=30)
    users = folder / "train-labels-idx1-ubyte.gz"
    users.write_bytes(gzip.compress(b"the user's own file"))
    mine = users.read_bytes()
    with pytest.raises(DatasetNotFoundError, match="it was left as it is"):
        load_fashion_mnist(tmp_path / "root", base_url=unreachable_url(""), md5s=md5s)
    assert users.read_bytes() == mine
    aside = folder / f"{users.name}.mismatch-{fetch.bytes_md5(mine)[:8]}"
    with serve_directory(served) as base_url, pytest.warns(UserWarning, match=f"now {aside}"):
        dataset = load_fashion_mnist(tmp_path / "root", base_url=base_url, md5s=md5s)
    assert len(dataset.train_labels) == 60
    assert aside.read_bytes() == mine
    assert md5s_of(served).items() <= md5s_of(folder).items()


def test_numpy_integers_are_plain_arguments(cifar: ImageDataset) -> None:
    batches = Batches(cifar, batch_size=np.int64(64), seed=np.int64(3), rank=np.int32(0))
    batches.set_epoch(np.int64(2))
    reference = Batches(cifar, batch_size=64, seed=3)
    reference.set_epoch(2)
    assert torch.equal(batches.indices(), reference.indices())
    assert type(batches.seed) is int and type(batches.epoch) is int
    generator = torch.Generator().manual_seed(0)
    images = cifar.train_images[:4]
    assert augment(images, generator, padding=np.int64(2)).shape == images.shape


@pytest.mark.parametrize("loader", [load_cifar10, load_fashion_mnist])
@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        ({"download": "no"}, "download must be True or False, got 'no'"),
        ({"seed": -2}, "seed must be an integer >= 0, got -2"),
    ],
)
def test_loaders_refuse_arguments_that_would_read_otherwise(
    loader: Any, arguments: dict[str, Any], complaint: str, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=complaint):
        loader(tmp_path, **arguments)
    assert list(tmp_path.iterdir()) == []


def test_leftovers_of_killed_downloads_and_extractions_are_removed_by_the_next_load(
    cifar_archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fashion_mnist, "FASHION_MNIST_SYSTEM_DIRS", ())
    (tmp_path / data.CIFAR10_ARCHIVE).write_bytes(cifar_archive.read_bytes())
    fashion = write_fake_fashion_mnist(tmp_path)
    fashion_md5s = md5s_of(fashion)
    killed = [
        tmp_path / f".{data.CIFAR10_ARCHIVE}.k1ll3d00.tmp",  # a download, SIGKILLed
        tmp_path / f".{data.CIFAR10_FOLDER}.k1ll3d00.tmp",  # an extraction, SIGKILLed
        fashion / ".t10k-images-idx3-ubyte.gz.k1ll3d00.tmp",
    ]
    killed[0].write_bytes(cifar_archive.read_bytes()[:1000])
    killed[1].mkdir()
    (killed[1] / "data_batch_1").write_bytes(b"half")
    killed[2].write_bytes(b"half")
    for path in killed:
        age(path, 2 * STALE_AFTER_S)
    load_cifar10(tmp_path, download=False, md5=file_md5(cifar_archive))
    load_fashion_mnist(tmp_path, download=False, md5s=fashion_md5s)
    assert leftovers(tmp_path) == []
    assert leftovers(fashion) == []


@pytest.mark.parametrize(
    ("dataset_name", "layout"),
    [("cifar10", "folder"), ("cifar10", "archive"), ("fashion-mnist", "folder")],
)
def test_a_data_file_that_cannot_be_read_says_so(
    dataset_name: str, layout: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fashion_mnist, "FASHION_MNIST_SYSTEM_DIRS", ())
    if dataset_name == "cifar10":
        written = write_fake_cifar10(tmp_path, as_archive=layout == "archive")
        kwargs: dict[str, Any] = {"md5": file_md5(written)} if layout == "archive" else {}
        blocked = written if layout == "archive" else written / "data_batch_2"
    else:
        written = write_fake_fashion_mnist(tmp_path)
        kwargs = {"md5s": md5s_of(written)}
        blocked = written / "train-labels-idx1-ubyte.gz"
    real_open = Path.open

    def refuse_reading(self: Path, *args: Any, **kw: Any) -> Any:
        if self == blocked:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_open(self, *args, **kw)

    monkeypatch.setattr(Path, "open", refuse_reading)
    with pytest.raises(
        DatasetNotFoundError, match=rf"{blocked} cannot be read \(Permission denied\): make it"
    ):
        load_dataset(dataset_name, tmp_path, download=False, **kwargs)
