"""Tests of hetconv_edu.data on fake data sets in the official formats, served from files and a
loopback HTTP server, and on the real Fashion-MNIST of Debian's package where it is installed."""

from __future__ import annotations

import builtins
import codecs
import contextlib
import errno
import functools
import gzip
import io
import os
import pickle
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hetconv_edu import data
from hetconv_edu.data import (
    Batches,
    DataIntegrityError,
    DatasetNotFoundError,
    ImageDataset,
    augment,
    download,
    load_cifar10,
    load_dataset,
    load_fashion_mnist,
    normalize,
    parse_idx,
)
from hetconv_edu.fileio import STALE_AFTER_S, atomic_writer
from tests.datasets import (
    file_md5,
    idx_bytes,
    md5s_of,
    python2_pickle,
    serve_directory,
    serve_directory_cut_off,
    write_fake_cifar10,
    write_fake_fashion_mnist,
    write_idx_gz,
    write_tar_gz,
)

REPO = Path(__file__).resolve().parents[1]


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


@pytest.fixture(scope="module")
def cifar_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fake ``cifar-10-python.tar.gz`` in a folder of its own (to serve or copy)."""
    return write_fake_cifar10(tmp_path_factory.mktemp("served"), as_archive=True)


@pytest.fixture(scope="module")
def cifar(tmp_path_factory: pytest.TempPathFactory) -> ImageDataset:
    """The fake CIFAR-10 (500 train, 100 test), loaded from an extracted folder."""
    root = tmp_path_factory.mktemp("cifar")
    write_fake_cifar10(root)
    return load_cifar10(root, download=False)


# --------------------------------------------------------------------------------------------
# The data folder
# --------------------------------------------------------------------------------------------


def test_default_data_dir_is_the_project_data_folder_unless_configured(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    assert data.default_data_dir() == REPO / "data"
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    assert data.default_data_dir() == tmp_path


def test_loaders_read_the_configured_data_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_fake_cifar10(tmp_path, n_train=50, n_test=20)
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path))
    assert len(load_cifar10(download=False).train_labels) == 50


def test_importing_the_module_touches_nothing(tmp_path: Path) -> None:
    target = tmp_path / "data-folder"
    environment = {**os.environ, data.DATA_DIR_ENV: str(target), "PYTHONPATH": str(REPO)}
    subprocess.run(
        [sys.executable, "-c", "import hetconv_edu.data"],
        check=True,
        cwd=tmp_path,
        env=environment,
        timeout=120,
    )
    assert not target.exists()


# --------------------------------------------------------------------------------------------
# download()
# --------------------------------------------------------------------------------------------


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    """3 MiB of random bytes (several download chunks) in a folder of their own."""
    source = tmp_path / "served" / "payload.bin"
    source.parent.mkdir()
    source.write_bytes(np.random.default_rng(0).bytes(3 << 20))
    return source


def test_download_from_a_file_url(payload: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out" / "copy.bin"
    assert download(payload.as_uri(), dest, file_md5(payload)) == dest
    assert dest.read_bytes() == payload.read_bytes()
    assert leftovers(dest.parent) == []


def test_download_over_loopback_http(payload: Path, tmp_path: Path) -> None:
    dest = tmp_path / "copy.bin"
    with serve_directory(payload.parent) as base_url:
        download(base_url + payload.name, dest, file_md5(payload), desc="payload")
    assert dest.read_bytes() == payload.read_bytes()
    assert leftovers(tmp_path) == []


def test_checksum_mismatch_raises_and_leaves_no_file(payload: Path, tmp_path: Path) -> None:
    dest = tmp_path / "copy.bin"
    with pytest.raises(DataIntegrityError, match="md5"):
        download(payload.as_uri(), dest, "0" * 32)
    assert not dest.exists()
    assert leftovers(tmp_path) == []


def test_interrupted_transfer_leaves_nothing_and_a_retry_succeeds(
    payload: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "copy.bin"
    with serve_directory_cut_off(payload.parent) as base_url, pytest.raises(OSError):
        download(base_url + payload.name, dest, file_md5(payload))
    assert not dest.exists()
    assert leftovers(tmp_path) == []
    with serve_directory(payload.parent) as base_url:
        download(base_url + payload.name, dest, file_md5(payload))
    assert dest.read_bytes() == payload.read_bytes()


def test_keyboard_interrupt_mid_stream_leaves_nothing(
    payload: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_urlopen = urllib.request.urlopen

    def urlopen_interrupted_after_one_chunk(url: str, **kwargs: Any) -> Any:
        response = real_urlopen(url, **kwargs)
        read = response.read
        chunks = iter([read, None])

        def read_then_interrupt(size: int = -1) -> bytes:
            if next(chunks) is None:
                raise KeyboardInterrupt
            return read(size)

        response.read = read_then_interrupt
        return response

    monkeypatch.setattr(urllib.request, "urlopen", urlopen_interrupted_after_one_chunk)
    dest = tmp_path / "copy.bin"
    with pytest.raises(KeyboardInterrupt):
        download(payload.as_uri(), dest, file_md5(payload))
    assert not dest.exists()
    assert leftovers(tmp_path) == []


def test_an_existing_file_with_a_wrong_md5_is_moved_aside_once_replaced(
    payload: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "copy.bin"
    dest.write_bytes(b"the user's own copy")
    aside = tmp_path / f"copy.bin.mismatch-{file_md5(dest)[:8]}"
    with pytest.warns(UserWarning, match=f"not deleted: it is now {aside}"):
        download(payload.as_uri(), dest, file_md5(payload))
    assert dest.read_bytes() == payload.read_bytes()
    assert aside.read_bytes() == b"the user's own copy"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("server", ["unreachable", "cut off", "wrong file"])
def test_a_failed_download_leaves_the_users_file_where_it_was(
    server: str, payload: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "copy.bin"
    dest.write_bytes(b"the user's own copy")
    with contextlib.ExitStack() as stack:
        if server == "unreachable":
            url, md5 = unreachable_url("payload.bin"), file_md5(payload)
        elif server == "cut off":
            url = stack.enter_context(serve_directory_cut_off(payload.parent)) + payload.name
            md5 = file_md5(payload)
        else:
            url, md5 = payload.as_uri(), "0" * 32
        with pytest.raises((OSError, DataIntegrityError)):
            download(url, dest, md5)
    assert dest.read_bytes() == b"the user's own copy"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["copy.bin", "served"]


def test_a_killed_downloads_leftover_is_removed_and_a_live_one_kept(
    payload: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "copy.bin"
    killed = tmp_path / ".copy.bin.k1ll3d00.tmp"  # what a download killed by SIGKILL leaves
    killed.write_bytes(payload.read_bytes()[:1000])
    age(killed, 2 * STALE_AFTER_S)
    with atomic_writer(dest) as live:  # another process's download, still running
        [live_name] = leftovers(tmp_path)
        age(tmp_path / live_name, 2 * STALE_AFTER_S)
        download(payload.as_uri(), tmp_path / "copy.bin", file_md5(payload))
        assert leftovers(tmp_path) == [live_name]
        live.write(payload.read_bytes())
    assert dest.read_bytes() == payload.read_bytes()
    assert leftovers(tmp_path) == []


def test_an_existing_file_with_the_right_md5_is_kept_without_network(
    payload: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "copy.bin"
    dest.write_bytes(payload.read_bytes())
    assert download(unreachable_url("payload.bin"), dest, file_md5(payload)) == dest


# --------------------------------------------------------------------------------------------
# CIFAR-10
# --------------------------------------------------------------------------------------------


def check_fake_cifar(dataset: ImageDataset, n_train: int = 500, n_test: int = 100) -> None:
    assert dataset.name == "cifar10"
    assert dataset.train_images.shape == (n_train, 3, 32, 32)
    assert dataset.train_images.dtype == torch.uint8
    assert dataset.test_images.shape == (n_test, 3, 32, 32)
    assert dataset.train_labels.dtype == torch.int64
    assert torch.equal(dataset.train_labels.bincount(), torch.full((10,), n_train // 10))
    assert dataset.classes[:3] == ("airplane", "automobile", "bird")
    assert (dataset.in_channels, dataset.image_size, dataset.num_classes) == (3, 32, 10)


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
    aside = f"{data.CIFAR10_ARCHIVE}.mismatch-{data._bytes_md5(b'half an archive')[:8]}"
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


class _Call:
    """Pickles as a call of ``function(*arguments)``: what a malicious pickle does."""

    def __init__(self, function: Any, *arguments: Any) -> None:
        self.function, self.arguments = function, arguments

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.function, self.arguments


def touch(path: str) -> None:
    """An arbitrary callable of this module, as a pickle could name any."""
    Path(path).touch()


GADGETS = {
    "os.system": lambda marker: _Call(os.system, f"touch {marker}"),
    "builtins.eval": lambda marker: _Call(builtins.eval, f"open({str(marker)!r}, 'w')"),
    "builtins.exec": lambda marker: _Call(builtins.exec, f"open({str(marker)!r}, 'w').close()"),
    "subprocess.Popen": lambda marker: _Call(subprocess.Popen, ["touch", str(marker)]),
    "numpy.load": lambda marker: _Call(np.load, str(marker), None, True),
    "numpy.save": lambda marker: _Call(np.save, str(marker), 0),
    "any callable": lambda marker: _Call(touch, str(marker)),
}


@pytest.mark.parametrize("protocol", ["python 2", 0, 2, 4, 5])
@pytest.mark.parametrize("gadget", GADGETS)
def test_a_tampered_pickle_is_refused_runs_nothing_and_names_the_cause(
    gadget: str, protocol: Any, tmp_path: Path
) -> None:
    folder = write_fake_cifar10(tmp_path, n_train=50, n_test=20)
    marker = tmp_path / "pwned.npy"
    np.save(marker, np.zeros(1))  # what numpy.load would read
    marker_before = marker.read_bytes()
    call = GADGETS[gadget](marker)
    tampered = {b"data": call, b"labels": [0]}
    pickled = (
        python2_pickle(tampered) if protocol == "python 2" else pickle.dumps(tampered, protocol)
    )
    (folder / "data_batch_1").write_bytes(pickled)
    function = call.function
    full_name = f"{function.__module__}.{function.__qualname__}"
    with pytest.raises(DataIntegrityError, match="refused") as raised:
        load_cifar10(tmp_path, download=False)
    message = str(raised.value)
    assert f"{folder / 'data_batch_1'} asks for the Python object " in message
    assert f"{full_name}," in message or f"Python 3's {full_name})," in message
    assert marker.read_bytes() == marker_before
    assert sorted(path.name for path in tmp_path.iterdir()) == [data.CIFAR10_FOLDER, "pwned.npy"]


@pytest.mark.parametrize(
    ("call", "complaint"),
    [
        (_Call(codecs.encode, "import os", "rot13"), "only allowed to rebuild bytes from latin-1"),
        (_Call(codecs.encode, b"x", "base64"), "only allowed to rebuild bytes from latin-1"),
        (_Call(bytes, 1 << 40), "bytes is only allowed without arguments"),
    ],
    ids=["rot13", "base64", "bytes(1 TiB)"],
)
def test_the_allowed_bytes_helpers_do_nothing_else(
    call: Any, complaint: str, tmp_path: Path
) -> None:
    folder = write_fake_cifar10(tmp_path, n_train=50, n_test=20)
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": call}, protocol=2))
    with pytest.raises(DataIntegrityError, match=complaint):
        load_cifar10(tmp_path, download=False)


def repickle(folder: Path, dumps: Any) -> None:
    """Rewrite every pickle of a (trusted, fake) ``cifar-10-batches-py/`` with ``dumps``."""
    for name in data._CIFAR10_FILES:
        with (folder / name).open("rb") as handle:
            content = pickle.load(handle, encoding="bytes")
        (folder / name).write_bytes(dumps(content))


class _RenamingPickler(pickle._Pickler):
    """Names numpy's array and scalar functions under numpy 1's module ``numpy.core``, as
    batches pickled with numpy 1 do."""

    def save_global(self, obj: Any, name: str | None = None) -> None:
        module = getattr(obj, "__module__", "")
        if module.startswith("numpy._core."):
            self.save(module.replace("numpy._core.", "numpy.core."))
            self.save(obj.__name__)
            self.write(pickle.STACK_GLOBAL)
            self.memoize(obj)
        else:
            super().save_global(obj, name)


def numpy1_dumps(obj: Any) -> bytes:
    buffer = io.BytesIO()
    _RenamingPickler(buffer, protocol=5).dump(obj)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "dumps",
    [
        *(functools.partial(pickle.dumps, protocol=p) for p in range(pickle.HIGHEST_PROTOCOL + 1)),
        numpy1_dumps,
    ],
    ids=[*(f"protocol {p}" for p in range(pickle.HIGHEST_PROTOCOL + 1)), "numpy 1 protocol 5"],
)
def test_batches_pickled_by_python_3_with_any_protocol_load(
    dumps: Any, cifar: ImageDataset, tmp_path: Path
) -> None:
    folder = write_fake_cifar10(tmp_path)
    repickle(folder, dumps)
    dataset = load_cifar10(tmp_path, download=False)
    assert torch.equal(dataset.train_images, cifar.train_images)
    assert torch.equal(dataset.test_labels, cifar.test_labels)
    assert dataset.classes == cifar.classes


def test_labels_stored_as_numpy_integers_load(cifar: ImageDataset, tmp_path: Path) -> None:
    folder = write_fake_cifar10(tmp_path)
    with (folder / "test_batch").open("rb") as handle:
        batch = pickle.load(handle, encoding="bytes")
    batch[b"labels"] = list(np.asarray(batch[b"labels"], dtype=np.int64))  # numpy scalars
    (folder / "test_batch").write_bytes(pickle.dumps(batch, protocol=4))
    assert torch.equal(load_cifar10(tmp_path, download=False).test_labels, cifar.test_labels)


@pytest.fixture
def official_fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake ``cifar-10-batches-py/`` whose md5s are taken as the official ones."""
    folder = write_fake_cifar10(tmp_path, n_train=50, n_test=20)
    monkeypatch.setattr(data, "CIFAR10_FILE_MD5", md5s_of(folder))
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
    for name in data._CIFAR10_BATCHES:  # all changed: not a partly official folder
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
    monkeypatch.setattr(data, "FASHION_MNIST_SYSTEM_DIRS", ())
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
    monkeypatch.setattr(data, "FASHION_MNIST_SYSTEM_DIRS", (system,))
    dataset = load_fashion_mnist(tmp_path / "root", download=False, md5s=md5s_of(system))
    assert len(dataset.test_labels) == 30


def test_missing_fashion_mnist_says_what_to_fetch_and_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data, "FASHION_MNIST_SYSTEM_DIRS", ())
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
    monkeypatch.setattr(data, "FASHION_MNIST_SYSTEM_DIRS", ())
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


# --------------------------------------------------------------------------------------------
# The data set, subsets, load_dataset
# --------------------------------------------------------------------------------------------


def test_mean_and_std_are_those_of_the_training_images(cifar: ImageDataset) -> None:
    pixels = cifar.train_images.double() / 255
    assert cifar.mean == pytest.approx(pixels.mean(dim=(0, 2, 3)).tolist(), abs=1e-9)
    assert cifar.std == pytest.approx(pixels.std(dim=(0, 2, 3), correction=0).tolist(), abs=1e-9)


def test_image_dataset_rejects_inconsistent_tensors(cifar: ImageDataset) -> None:
    with pytest.raises(ValueError, match="train_labels must be an int64 tensor"):
        ImageDataset.from_tensors(
            "broken",
            cifar.train_images,
            cifar.train_labels[:-1],
            cifar.test_images,
            cifar.test_labels,
            cifar.classes,
        )
    with pytest.raises(ValueError, match="must be a non-empty uint8 tensor"):
        ImageDataset.from_tensors(
            "broken",
            cifar.train_images.float(),
            cifar.train_labels,
            cifar.test_images,
            cifar.test_labels,
            cifar.classes,
        )


def test_subset_is_class_balanced_and_deterministic(tmp_path: Path, cifar: ImageDataset) -> None:
    write_fake_cifar10(tmp_path)
    first = load_cifar10(tmp_path, download=False, subset=103, test_subset=40, seed=3)
    again = load_cifar10(tmp_path, download=False, subset=103, test_subset=40, seed=3)
    other = load_cifar10(tmp_path, download=False, subset=103, seed=4)
    counts = first.train_labels.bincount(minlength=10)
    assert counts.sum() == 103 and counts.max() - counts.min() <= 1
    assert torch.equal(first.test_labels.bincount(), torch.full((10,), 4))
    assert torch.equal(first.train_images, again.train_images)
    assert torch.equal(first.test_images, again.test_images)
    assert not torch.equal(first.train_images, other.train_images)
    assert len(other.test_labels) == len(cifar.test_labels)
    # the subset's images are images of the full set, with their labels
    full = {
        bytes(image.numpy()): int(label)
        for image, label in zip(cifar.train_images, cifar.train_labels, strict=True)
    }
    assert all(
        full[bytes(image.numpy())] == int(label)
        for image, label in zip(first.train_images, first.train_labels, strict=True)
    )


@pytest.mark.parametrize(("subset", "complaint"), [(501, "larger than the 500"), (0, "positive")])
def test_subset_out_of_range_is_a_clear_error(subset: int, complaint: str, tmp_path: Path) -> None:
    write_fake_cifar10(tmp_path)
    with pytest.raises(ValueError, match=complaint):
        load_cifar10(tmp_path, download=False, subset=subset)


def test_load_dataset_by_name(tmp_path: Path) -> None:
    write_fake_cifar10(tmp_path, n_train=50, n_test=20)
    assert load_dataset("cifar10", tmp_path, download=False).name == "cifar10"
    with pytest.raises(ValueError, match="'cifar10', 'fashion-mnist'"):
        load_dataset("mnist", tmp_path)


# --------------------------------------------------------------------------------------------
# augment() and normalize()
# --------------------------------------------------------------------------------------------


def random_images(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8)


def test_augment_keeps_shape_and_dtype() -> None:
    images = random_images((6, 3, 32, 32), 0)
    assert augment(images).shape == images.shape
    assert augment(images).dtype == torch.uint8
    floats = images.float() / 255
    assert augment(floats, torch.Generator().manual_seed(0)).dtype == torch.float32


def test_augment_is_deterministic_given_the_generator() -> None:
    images = random_images((16, 3, 8, 8), 1)
    first = augment(images, torch.Generator().manual_seed(5))
    assert torch.equal(first, augment(images, torch.Generator().manual_seed(5)))
    assert not torch.equal(first, augment(images, torch.Generator().manual_seed(6)))


def test_augment_flips_really_flip() -> None:
    images = random_images((64, 3, 6, 6), 2)
    out = augment(images, torch.Generator().manual_seed(0), padding=0)
    same = (out == images).flatten(1).all(1)
    flipped = (out == images.flip(-1)).flatten(1).all(1)
    assert torch.all(same ^ flipped)  # each image is either kept or mirrored, never both
    assert 16 < int(flipped.sum()) < 48


def test_augment_uses_every_offset() -> None:
    images = torch.zeros(400, 1, 3, 3, dtype=torch.uint8)
    images[:, :, 1, 1] = 1  # a single lit pixel: the crop's offset is where it lands
    out = augment(images, torch.Generator().manual_seed(0), padding=1)
    landed = {tuple(torch.nonzero(image[0]).flatten().tolist()) for image in out}
    assert landed == {(row, column) for row in range(3) for column in range(3)}


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(1, 4),
    channels=st.integers(1, 3),
    height=st.integers(1, 6),
    width=st.integers(1, 6),
    padding=st.integers(0, 3),
    seed=st.integers(0, 2**31),
)
def test_augmented_images_are_windows_of_the_padded_possibly_flipped_input(
    count: int, channels: int, height: int, width: int, padding: int, seed: int
) -> None:
    images = random_images((count, channels, height, width), seed)
    out = augment(images, torch.Generator().manual_seed(seed), padding=padding)
    padded = torch.nn.functional.pad(images, (padding,) * 4)
    for image, source in zip(out, padded, strict=True):
        windows = [
            candidate[:, top : top + height, left : left + width]
            for candidate in (source, source.flip(-1))
            for top in range(2 * padding + 1)
            for left in range(2 * padding + 1)
        ]
        assert any(torch.equal(image, window) for window in windows)


def test_normalize() -> None:
    images = torch.tensor([0, 51, 255], dtype=torch.uint8).reshape(1, 1, 1, 3)
    out = normalize(images, (0.2,), (0.5,))
    assert out.dtype == torch.float32
    assert out.flatten().tolist() == pytest.approx([-0.4, 0.0, 1.6])
    assert torch.allclose(normalize(images.float() / 255, (0.2,), (0.5,)), out)
    with pytest.raises(ValueError, match="one mean and std per channel"):
        normalize(images, (0.2, 0.3), (0.5, 0.5))


# --------------------------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------------------------


def epoch_order(batches: Batches, epoch: int) -> list[int]:
    batches.set_epoch(epoch)
    return batches.indices().tolist()


def test_same_seed_and_epoch_give_the_same_order(cifar: ImageDataset) -> None:
    one, two = Batches(cifar, seed=7), Batches(cifar, seed=7)
    assert epoch_order(one, 3) == epoch_order(two, 3)
    labels = [torch.cat([y for _, y in batches]) for batches in (one, two)]
    assert torch.equal(*labels)
    images = [next(iter(batches))[0] for batches in (one, two)]
    assert torch.equal(*images)  # the augmentation too


def test_other_epochs_and_seeds_give_other_orders(cifar: ImageDataset) -> None:
    batches = Batches(cifar, seed=7)
    orders = [epoch_order(batches, epoch) for epoch in range(3)]
    assert len({tuple(order) for order in orders}) == 3
    assert all(sorted(order) == list(range(500)) for order in orders)
    assert epoch_order(Batches(cifar, seed=8), 0) != orders[0]


@pytest.mark.parametrize(("size", "world_size"), [(500, 4), (500, 3), (100, 7)])
def test_ranks_get_disjoint_equal_shards_covering_the_epoch(
    cifar: ImageDataset, size: int, world_size: int
) -> None:
    split = "train" if size == 500 else "test"
    shards = [
        epoch_order(Batches(cifar, split, shuffle=True, rank=rank, world_size=world_size), 2)
        for rank in range(world_size)
    ]
    assert len({len(shard) for shard in shards}) == 1
    covered = [index for shard in shards for index in shard]
    assert len(set(covered)) == len(covered) == size - size % world_size
    whole = epoch_order(Batches(cifar, split, shuffle=True), 2)
    assert set(covered) == set(whole[: len(covered)])


def test_batch_count_and_shapes(cifar: ImageDataset) -> None:
    assert len(Batches(cifar, batch_size=128)) == 4
    assert len(Batches(cifar, batch_size=128, drop_last=True)) == 3
    assert len(Batches(cifar, batch_size=100, rank=1, world_size=2)) == 3
    sizes = [len(labels) for _, labels in Batches(cifar, batch_size=128)]
    assert sizes == [128, 128, 128, 116]
    images, labels = next(iter(Batches(cifar, "test", batch_size=32)))
    assert images.shape == (32, 3, 32, 32) and images.dtype == torch.float32
    assert labels.dtype == torch.int64


def test_test_batches_are_in_order_and_unaugmented(cifar: ImageDataset) -> None:
    batches = Batches(cifar, "test", batch_size=64)
    assert not batches.shuffle and not batches.augment
    images = torch.cat([x for x, _ in batches])
    labels = torch.cat([y for _, y in batches])
    assert torch.equal(labels, cifar.test_labels)
    assert torch.equal(images, normalize(cifar.test_images, cifar.mean, cifar.std))


def test_training_batches_are_augmented(cifar: ImageDataset) -> None:
    plain = Batches(cifar, batch_size=64, augment=False)
    augmented = Batches(cifar, batch_size=64)
    order = plain.indices()[:64]
    expected = normalize(cifar.train_images[order], cifar.mean, cifar.std)
    assert torch.equal(next(iter(plain))[0], expected)
    assert not torch.equal(next(iter(augmented))[0], expected)


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        ({"split": "valid"}, r"split must be one of \['train', 'test'\], got 'valid'"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"rank": 2, "world_size": 2}, r"rank must be an integer in 0\.\.1 .*, got 2"),
        ({"rank": True}, "rank must be an integer >= 0, got True"),
        ({"seed": -1}, "seed must be an integer >= 0, got -1"),
        ({"seed": 1.0}, "seed must be an integer >= 0, got 1.0"),
        ({"shuffle": "no"}, "shuffle must be True or False, got 'no'"),
        ({"augment": 1}, "augment must be True or False, got 1"),
        ({"drop_last": "yes"}, "drop_last must be True or False, got 'yes'"),
    ],
)
def test_batches_reject_bad_arguments(
    cifar: ImageDataset, arguments: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        Batches(cifar, **arguments)


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
    monkeypatch.setattr(data, "FASHION_MNIST_SYSTEM_DIRS", ())
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
    real_stream = data._stream

    def stream_until_full(url: str, out: Any, desc: str) -> str:
        out.write(b"the first bytes")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(data, "_stream", stream_until_full)
    with pytest.raises(DatasetNotFoundError, match=f"the disk holding {tmp_path} is full"):
        load_cifar10(tmp_path, url=cifar_archive.as_uri(), md5=file_md5(cifar_archive))
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(data, "_stream", real_stream)
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
    monkeypatch.setattr(data, "FASHION_MNIST_SYSTEM_DIRS", ())
    served = write_fake_fashion_mnist(tmp_path / "served", n_train=60, n_test=30)
    md5s = md5s_of(served)
    folder = write_fake_fashion_mnist(tmp_path / "root", n_train=60, n_test=30)
    users = folder / "train-labels-idx1-ubyte.gz"
    users.write_bytes(gzip.compress(b"the user's own file"))
    mine = users.read_bytes()
    with pytest.raises(DatasetNotFoundError, match="it was left as it is"):
        load_fashion_mnist(tmp_path / "root", base_url=unreachable_url(""), md5s=md5s)
    assert users.read_bytes() == mine
    aside = folder / f"{users.name}.mismatch-{data._bytes_md5(mine)[:8]}"
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
    monkeypatch.setattr(data, "FASHION_MNIST_SYSTEM_DIRS", ())
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
    monkeypatch.setattr(data, "FASHION_MNIST_SYSTEM_DIRS", ())
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
