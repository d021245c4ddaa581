"""Fashion-MNIST (:mod:`hetconv_edu.data.fashion_mnist`) from fake files, a loopback server and the
real data of Debian's package where it is installed."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from hetconv_edu import data
from hetconv_edu.data import (
    DataIntegrityError,
    DatasetNotFoundError,
    fashion_mnist,
    load_fashion_mnist,
    parse_idx,
)
from tests.datasets import (
    idx_bytes,
    md5s_of,
    serve_directory,
    unreachable_url,
    write_fake_fashion_mnist,
    write_idx_gz,
)

# --------------------------------------------------------------------------------------------
# Fashion-MNIST
# --------------------------------------------------------------------------------------------


def test_parse_idx_reads_what_was_written() -> None:
    images = np.random.default_rng(1).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    assert np.array_equal(parse_idx(idx_bytes(images)), images)
    labels = np.arange(10, dtype=np.uint8)
    assert np.array_equal(parse_idx(idx_bytes(labels)), labels)


def test_parse_idx_reads_a_gzipped_fake_file(tmp_path: Path) -> None:
    images = np.random.default_rng(2).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    path = write_idx_gz(tmp_path / "images-idx3-ubyte.gz", images)
    assert np.array_equal(parse_idx(gzip.decompress(path.read_bytes())), images)


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        (b"", "magic number is missing"),
        (b"\x00\x00\x0d\x03" + bytes(12), "magic number is 00000d03"),
        (b"PK\x03\x04", "not an IDX file"),
        (b"\x00\x00\x08\x03\x00\x00", "ends inside its IDX header"),
        (idx_bytes(np.zeros((2, 3, 3), np.uint8))[:-1], "truncated"),
        (idx_bytes(np.zeros((2, 3, 3), np.uint8)) + b"\0", "19 bytes follow"),
    ],
)
def test_parse_idx_rejects_malformed_files(content: bytes, complaint: str) -> None:
    with pytest.raises(DataIntegrityError, match=complaint):
        parse_idx(content, "some.idx")


def test_fashion_mnist_from_fake_files(tmp_path: Path) -> None:
    folder = write_fake_fashion_mnist(tmp_path, n_train=60, n_test=30)
    dataset = load_fashion_mnist(tmp_path, download=False, md5s=md5s_of(folder))
    assert dataset.train_images.shape == (60, 1, 28, 28)
    assert dataset.test_images.shape == (30, 1, 28, 28)
    assert dataset.classes == data.FASHION_MNIST_CLASSES
    assert (dataset.in_channels, dataset.image_size, dataset.num_classes) == (1, 28, 10)
    labels = gzip.decompress((folder / "t10k-labels-idx1-ubyte.gz").read_bytes())[8:]
    assert dataset.test_labels.tolist() == list(labels)


def test_fashion_mnist_downloads_over_http(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fashion_mnist, "FASHION_MNIST_SYSTEM_DIRS", ())
    served = write_fake_fashion_mnist(tmp_path / "served", n_train=60, n_test=30)
    root = tmp_path / "root"
    with serve_directory(served) as base_url:
        dataset = load_fashion_mnist(root, base_url=base_url, md5s=md5s_of(served))
    assert len(dataset.train_labels) == 60
    assert md5s_of(root / data.FASHION_MNIST_FOLDER) == md5s_of(served)


def test_fashion_mnist_found_in_the_system_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = write_fake_fashion_mnist(tmp_path / "system", n_train=60, n_test=30)
    monkeypatch.setattr(fashion_mnist, "FASHION_MNIST_SYSTEM_DIRS", (system,))
    dataset = load_fashion_mnist(tmp_path / "root", download=False, md5s=md5s_of(system))
    assert len(dataset.test_labels) == 30


def test_missing_fashion_mnist_says_what_to_fetch_and_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fashion_mnist, "FASHION_MNIST_SYSTEM_DIRS", ())
    base_url = unreachable_url("")
    with pytest.raises(DatasetNotFoundError) as raised:
        load_fashion_mnist(tmp_path, base_url=base_url)
    message = str(raised.value)
    assert base_url + "train-images-idx3-ubyte.gz" in message
    assert str(tmp_path / data.FASHION_MNIST_FOLDER / "train-images-idx3-ubyte.gz") in message
    assert "apt install dataset-fashion-mnist" in message
    assert data.DATA_DIR_ENV in message


def test_a_corrupt_fashion_mnist_file_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fashion_mnist, "FASHION_MNIST_SYSTEM_DIRS", ())
    folder = write_fake_fashion_mnist(tmp_path, n_train=60, n_test=30)
    md5s = md5s_of(folder)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"garbage"))
    with pytest.raises(DatasetNotFoundError, match=r"train-labels-idx1-ubyte\.gz has md5"):
        load_fashion_mnist(tmp_path, download=False, md5s=md5s)


def test_real_fashion_mnist_from_debian_package(tmp_path: Path) -> None:
    system = data.FASHION_MNIST_SYSTEM_DIRS[0]
    if not system.is_dir():
        pytest.fail(f"{system} is missing: apt install dataset-fashion-mnist (make test does)")
    dataset = load_fashion_mnist(tmp_path, download=False)
    assert dataset.train_images.shape == (60000, 1, 28, 28)
    assert dataset.test_images.shape == (10000, 1, 28, 28)
    assert torch.equal(dataset.train_labels.bincount(), torch.full((10,), 6000))
    assert torch.equal(dataset.test_labels.bincount(), torch.full((10,), 1000))
    assert dataset.mean == pytest.approx((0.2860,), abs=1e-4)
    assert dataset.std == pytest.approx((0.3530,), abs=1e-4)
    assert list(tmp_path.iterdir()) == []
