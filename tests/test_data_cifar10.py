"""CIFAR-10 (:mod:`hetconv_edu.data.cifar10`) from fake files in the official formats: download,
safe extraction, the official-release checks, clear messages for what is missing or damaged."""

from __future__ import annotations

import io
import pickle
import tarfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from hetconv_edu import data
from hetconv_edu.data import (
    DataIntegrityError,
    DatasetNotFoundError,
    ImageDataset,
    cifar10,
    fetch,
    load_cifar10,
)
from tests.datasets import (
    check_fake_cifar,
    file_md5,
    md5s_of,
    python2_pickle,
    serve_directory,
    serve_directory_cut_off,
    unreachable_url,
    write_fake_cifar10,
    write_tar_gz,
)

# --------------------------------------------------------------------------------------------
# CIFAR-10
# --------------------------------------------------------------------------------------------


def test_cifar10_downloads_the_archive_over_http_and_extracts_it(
    cifar_archive: Path, tmp_path: Path
) -> None:
    with serve_directory(cifar_archive.parent) as base_url:
        dataset = load_cifar10(
            tmp_path, url=base_url + cifar_archive.name, md5=file_md5(cifar_archive)
        )
    check_fake_cifar(dataset)
    assert file_md5(tmp_path / data.CIFAR10_ARCHIVE) == file_md5(cifar_archive)
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [data.CIFAR10_ARCHIVE, data.CIFAR10_FOLDER]
    )


def test_cifar10_downloads_from_a_file_url(cifar_archive: Path, tmp_path: Path) -> None:
    check_fake_cifar(
        load_cifar10(tmp_path, url=cifar_archive.as_uri(), md5=file_md5(cifar_archive))
    )


def test_cifar10_pixels_are_rgb_planes_in_file_order(tmp_path: Path) -> None:
    folder = write_fake_cifar10(tmp_path, n_train=50, n_test=20)
    with (folder / "data_batch_1").open("rb") as handle:
        batch = pickle.load(handle, encoding="bytes")  # our own trusted fake
    dataset = load_cifar10(tmp_path, download=False)
    first = torch.from_numpy(batch[b"data"]).reshape(-1, 3, 32, 32)
    assert torch.equal(dataset.train_images[: len(first)], first)
    assert dataset.train_labels[: len(first)].tolist() == batch[b"labels"]


def test_cifar10_replaces_a_corrupt_archive_and_keeps_it_aside(
    cifar_archive: Path, tmp_path: Path
) -> None:
    (tmp_path / data.CIFAR10_ARCHIVE).write_bytes(b"half an archive")
    aside = f"{data.CIFAR10_ARCHIVE}.mismatch-{fetch.bytes_md5(b'half an archive')[:8]}"
    with pytest.warns(UserWarning, match=f"it is now {tmp_path / aside}"):
        dataset = load_cifar10(tmp_path, url=cifar_archive.as_uri(), md5=file_md5(cifar_archive))
    check_fake_cifar(dataset)
    assert file_md5(tmp_path / data.CIFAR10_ARCHIVE) == file_md5(cifar_archive)
    assert (tmp_path / aside).read_bytes() == b"half an archive"


def test_cifar10_never_reads_an_archive_with_a_wrong_md5(
    cifar_archive: Path, tmp_path: Path
) -> None:
    (tmp_path / data.CIFAR10_ARCHIVE).write_bytes(cifar_archive.read_bytes())
    with pytest.raises(DatasetNotFoundError, match="expected c58f30108f718f92721af3b95e74349a"):
        load_cifar10(tmp_path, download=False)  # the official md5: the fake does not match
    assert not (tmp_path / data.CIFAR10_FOLDER).exists()


def test_cifar10_interrupted_download_leaves_nothing(cifar_archive: Path, tmp_path: Path) -> None:
    with (
        serve_directory_cut_off(cifar_archive.parent) as base_url,
        pytest.raises(DatasetNotFoundError, match="stopped after"),
    ):
        load_cifar10(tmp_path, url=base_url + cifar_archive.name, md5=file_md5(cifar_archive))
    assert list(tmp_path.iterdir()) == []


def test_cifar10_reads_an_extracted_folder_without_archive(tmp_path: Path) -> None:
    write_fake_cifar10(tmp_path)
    check_fake_cifar(load_cifar10(tmp_path, download=False, url=unreachable_url("none")))
    assert not (tmp_path / data.CIFAR10_ARCHIVE).exists()


def test_archive_and_folder_give_the_same_data(
    cifar_archive: Path, cifar: ImageDataset, tmp_path: Path
) -> None:
    from_archive = load_cifar10(tmp_path, url=cifar_archive.as_uri(), md5=file_md5(cifar_archive))
    assert torch.equal(from_archive.train_images, cifar.train_images)
    assert torch.equal(from_archive.test_labels, cifar.test_labels)


@pytest.mark.parametrize(
    "bad_member",
    [
        "cifar-10-batches-py/../escaped.txt",
        "cifar-10-batches-py/..",
        "/tmp/absolute.txt",
        "elsewhere/data_batch_1",
        "cifar-10-batches-py/nested/file",
    ],
)
def test_unsafe_archive_members_are_refused(bad_member: str, tmp_path: Path) -> None:
    archive = tmp_path / "root" / data.CIFAR10_ARCHIVE
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        for name in (data.CIFAR10_FOLDER + "/data_batch_1", bad_member):
            member = tarfile.TarInfo(name)
            member.size = 1
            tar.addfile(member, fileobj=io.BytesIO(b"x"))
    with pytest.raises(DataIntegrityError, match="refusing to extract"):
        load_cifar10(archive.parent, download=False, md5=file_md5(archive))
    assert sorted(path.name for path in archive.parent.iterdir()) == [data.CIFAR10_ARCHIVE]
    assert not (tmp_path / "escaped.txt").exists()


def test_symlinks_in_the_archive_are_refused(tmp_path: Path) -> None:
    archive = tmp_path / data.CIFAR10_ARCHIVE
    with tarfile.open(archive, "w:gz") as tar:
        link = tarfile.TarInfo(data.CIFAR10_FOLDER + "/data_batch_1")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(DataIntegrityError, match="refusing to extract"):
        load_cifar10(tmp_path, download=False, md5=file_md5(archive))
    assert not (tmp_path / data.CIFAR10_FOLDER).exists()


@pytest.fixture
def official_fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake ``cifar-10-batches-py/`` whose md5s are taken as the official ones."""
    folder = write_fake_cifar10(tmp_path, n_train=50, n_test=20)
    monkeypatch.setattr(cifar10, "CIFAR10_FILE_MD5", md5s_of(folder))
    return folder


def test_the_official_files_load_without_a_note(official_fake: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dataset = load_cifar10(official_fake.parent, download=False)
    assert len(dataset.train_labels) == 50


def rewrite_batch(path: Path, change: Any) -> None:
    with path.open("rb") as handle:
        batch = pickle.load(handle, encoding="bytes")
    change(batch)
    path.write_bytes(python2_pickle(batch))


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: rewrite_batch(path, lambda b: b[b"labels"].reverse()),  # relabelled
        lambda path: path.write_bytes(  # one flipped bit in the last image's pixels
            path.read_bytes()[:-200]
            + bytes([path.read_bytes()[-200] ^ 1])
            + path.read_bytes()[-199:]
        ),
    ],
    ids=["relabelled", "flipped bit"],
)
def test_an_official_folder_with_a_changed_batch_is_refused(
    damage: Any, official_fake: Path
) -> None:
    damage(official_fake / "data_batch_3")
    with pytest.raises(DataIntegrityError) as raised:
        load_cifar10(official_fake.parent, download=False)
    message = str(raised.value)
    assert "data_batch_3 (md5" in message and "differ from the official ones" in message
    assert "data_batch_1" in message.split(", but")[0]  # named as official


def test_a_copy_that_is_not_the_official_release_loads_with_a_note(tmp_path: Path) -> None:
    write_fake_cifar10(tmp_path, n_train=50, n_test=20)  # none of the official md5s
    with pytest.warns(data.DataNotOfficialWarning, match="not the official CIFAR-10 release"):
        dataset = load_cifar10(tmp_path, download=False)
    assert len(dataset.test_labels) == 20


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda b: b.update({b"labels": [10] * len(b[b"labels"])}), "class numbers in 0..9"),
        (lambda b: b.update({b"labels": [-1] * len(b[b"labels"])}), "class numbers in 0..9"),
        (lambda b: b.update({b"labels": b[b"labels"][:-1]}), "one per image"),
        (lambda b: b.update({b"data": b[b"data"][:, :-1]}), r"uint8 array \(N, 3072\)"),
        (lambda b: b.update({b"data": b[b"data"].astype(np.int16)}), "got int16"),
        (lambda b: b.update({b"labels": [b"cat"] * len(b[b"labels"])}), "not a list of ints"),
    ],
    ids=["label 10", "label -1", "one label short", "3071 pixels", "int16", "names"],
)
def test_shapes_and_labels_are_always_checked(
    change: Any, complaint: str, official_fake: Path
) -> None:
    for name in cifar10._CIFAR10_BATCHES:  # all changed: not a partly official folder
        rewrite_batch(official_fake / name, change)
    with pytest.raises(DataIntegrityError, match=complaint):
        load_cifar10(official_fake.parent, download=False)


def test_a_recompressed_official_archive_is_used_offline_as_it_is(
    official_fake: Path, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    files = {path.name: path.read_bytes() for path in official_fake.iterdir()}
    archive = write_tar_gz(root / data.CIFAR10_ARCHIVE, files, data.CIFAR10_FOLDER)
    before = archive.read_bytes()
    assert file_md5(archive) != data.CIFAR10_MD5
    dataset = load_cifar10(root, url=unreachable_url(data.CIFAR10_ARCHIVE))  # official md5
    assert len(dataset.train_labels) == 50
    assert archive.read_bytes() == before
    assert md5s_of(root / data.CIFAR10_FOLDER) == md5s_of(official_fake)


def test_offline_an_archive_with_another_md5_is_left_as_it_is(
    cifar_archive: Path, tmp_path: Path
) -> None:
    archive = tmp_path / data.CIFAR10_ARCHIVE
    archive.write_bytes(cifar_archive.read_bytes())
    with pytest.raises(DatasetNotFoundError, match="it was left as it is"):
        load_cifar10(tmp_path, url=unreachable_url(data.CIFAR10_ARCHIVE))
    assert archive.read_bytes() == cifar_archive.read_bytes()
    assert sorted(path.name for path in tmp_path.iterdir()) == [data.CIFAR10_ARCHIVE]


def test_a_truncated_pickle_is_a_clear_error(tmp_path: Path) -> None:
    folder = write_fake_cifar10(tmp_path, n_train=50, n_test=20)
    batch = folder / "test_batch"
    batch.write_bytes(batch.read_bytes()[:100])
    with pytest.raises(DataIntegrityError, match="test_batch could not be read"):
        load_cifar10(tmp_path, download=False)


def test_an_incomplete_folder_is_a_clear_error(tmp_path: Path) -> None:
    folder = write_fake_cifar10(tmp_path, n_train=50, n_test=20)
    (folder / "data_batch_3").unlink()
    with pytest.raises(DataIntegrityError, match="lacks data_batch_3"):
        load_cifar10(tmp_path, download=False)


@pytest.mark.parametrize("allow_download", [True, False])
def test_missing_cifar10_says_what_to_fetch_and_where(allow_download: bool, tmp_path: Path) -> None:
    url = unreachable_url(data.CIFAR10_ARCHIVE)
    with pytest.raises(DatasetNotFoundError) as raised:
        load_cifar10(tmp_path, download=allow_download, url=url)
    message = str(raised.value)
    assert isinstance(raised.value, FileNotFoundError)
    assert url in message
    assert str(tmp_path / data.CIFAR10_ARCHIVE) in message
    assert str(tmp_path / data.CIFAR10_FOLDER) in message
    assert data.DATA_DIR_ENV in message
    assert data.CIFAR10_MD5 in message
    assert list(tmp_path.iterdir()) == []
