"""Checked, atomic downloads (:mod:`hetconv_edu.data.fetch`) from file URLs and a loopback HTTP
server: checksums, interruptions, a user's file moved aside, never deleted."""

from __future__ import annotations

import contextlib
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hetconv_edu.data import DataIntegrityError, download
from hetconv_edu.fileio import STALE_AFTER_S, atomic_writer
from tests.datasets import (
    age,
    file_md5,
    leftovers,
    serve_directory,
    serve_directory_cut_off,
    unreachable_url,
)

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
