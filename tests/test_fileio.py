"""Tests of hetconv_edu.fileio: atomic writes under concurrency, failures and killed writers."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hetconv_edu import fileio
from hetconv_edu.fileio import (
    STALE_AFTER_S,
    atomic_folder,
    atomic_write,
    atomic_writer,
    remove_stale_temporaries,
)

FILEIO = Path(fileio.__file__)

# A writer process: loads fileio by its path (no torch import), writes PATH COUNT times with
# self-checking content (a header with the payload's sha256) of varying length.
WRITER = textwrap.dedent(
    """
    import hashlib, importlib.util, sys
    spec = importlib.util.spec_from_file_location("fileio", sys.argv[1])
    fileio = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fileio)
    path, tag, count = sys.argv[2], sys.argv[3], int(sys.argv[4])
    for i in range(count):
        payload = (f"{tag}{i}-" * (1 + (i * 7919) % 4000)).encode()
        header = hashlib.sha256(payload).hexdigest().encode() + b"\\n"
        fileio.atomic_write(path, header + payload)
    """
)


def is_whole(content: bytes) -> bool:
    header, _, payload = content.partition(b"\n")
    return hashlib.sha256(payload).hexdigest().encode() == header


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(fileio.TEMP_SUFFIX))


def age(path: Path, seconds: float) -> None:
    """Set ``path``'s modification time ``seconds`` into the past."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_three_processes_writing_one_path_never_show_a_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    atomic_write(target, b"")  # the readers' first view: an empty file is no partial write
    count = 300
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(FILEIO), str(target), tag, str(count)],
            stderr=subprocess.PIPE,
        )
        for tag in "abc"
    ]
    reads, partial = 0, 0
    while any(w.poll() is None for w in writers):
        content = target.read_bytes()
        reads += 1
        partial += bool(content) and not is_whole(content)
    errors = [w.stderr.read().decode() for w in writers]
    assert [w.returncode for w in writers] == [0, 0, 0], errors
    assert reads > 0 and partial == 0
    assert is_whole(target.read_bytes())
    assert temporaries(tmp_path) == []


@pytest.mark.parametrize("mode", ["wb", "w"])
def test_an_exception_mid_write_leaves_the_previous_file_intact(tmp_path: Path, mode: str) -> None:
    target = tmp_path / "file"
    atomic_write(target, b"previous")
    with pytest.raises(RuntimeError, match="mid-write"), atomic_writer(target, mode) as handle:
        handle.write(b"half of the new" if mode == "wb" else "half of the new")
        raise RuntimeError("mid-write")
    assert target.read_bytes() == b"previous"
    assert temporaries(tmp_path) == []


def test_a_keyboard_interrupt_mid_write_leaves_the_previous_file_intact(tmp_path: Path) -> None:
    target = tmp_path / "file"
    atomic_write(target, "previous")
    with pytest.raises(KeyboardInterrupt), atomic_writer(target, "w") as handle:
        handle.write("half")
        raise KeyboardInterrupt
    assert target.read_text() == "previous"
    assert temporaries(tmp_path) == []


def test_written_files_have_the_usual_permissions(tmp_path: Path) -> None:
    mask = os.umask(0o022)
    try:
        atomic_write(tmp_path / "file", "text")
    finally:
        os.umask(mask)
    assert (tmp_path / "file").stat().st_mode & 0o777 == 0o644


def test_bad_mode_is_refused(tmp_path: Path) -> None:
    with (
        pytest.raises(ValueError, match="mode must be 'w' or 'wb', got 'a'"),
        atomic_writer(tmp_path / "file", "a"),
    ):
        pass


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path: Path) -> None:
    target = tmp_path / "data.bin"
    script = (
        "import importlib.util, os, sys\n"
        "spec = importlib.util.spec_from_file_location('fileio', sys.argv[1])\n"
        "fileio = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(fileio)\n"
        "with fileio.atomic_writer(sys.argv[2]) as handle:\n"
        "    handle.write(b'partial')\n"
        "    handle.flush()\n"
        "    os._exit(9)\n"
    )
    killed = subprocess.run([sys.executable, "-c", script, str(FILEIO), str(target)])
    assert killed.returncode == 9
    [left] = temporaries(tmp_path)
    assert remove_stale_temporaries(target) == []  # too young to be judged yet
    age(tmp_path / left, 2 * STALE_AFTER_S)
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert temporaries(tmp_path) == []


def test_a_temporary_that_a_live_process_writes_is_never_removed(tmp_path: Path) -> None:
    target = tmp_path / "data.bin"
    with atomic_writer(target) as handle:
        handle.write(b"slow")
        [mine] = temporaries(tmp_path)
        age(tmp_path / mine, 10 * STALE_AFTER_S)  # old, but its writer is alive
        assert remove_stale_temporaries(target) == []
        atomic_write(target, b"another writer")  # cleans up before it writes
        assert (tmp_path / mine).exists()
    assert target.read_bytes() == b"slow"


def test_other_files_are_never_taken_for_temporaries(tmp_path: Path) -> None:
    target = tmp_path / "data.bin"
    others = [
        ".data.bin.user-notes",
        ".data.bin.notes.tmp",  # not mkstemp's eight random characters
        ".data.bin.my-own-copy.tmp",
        "data.bin.tmp",
        ".other.abcdefgh.tmp",
        "data.bin",
    ]
    for name in others:
        (tmp_path / name).write_text("mine")
        age(tmp_path / name, 10 * STALE_AFTER_S)
    assert remove_stale_temporaries(target) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(others)


def test_atomic_folder_appears_complete_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "extracted"
    with pytest.raises(OSError, match="disk full"), atomic_folder(target) as scratch:
        (scratch / "a").write_text("a")
        raise OSError("disk full")
    assert list(tmp_path.iterdir()) == []
    with atomic_folder(target) as scratch:
        (scratch / "a").write_text("a")
        assert not target.exists()
    assert [p.name for p in target.iterdir()] == ["a"]
    assert temporaries(tmp_path) == []


def test_atomic_folder_keeps_the_folder_another_process_made_first(tmp_path: Path) -> None:
    target = tmp_path / "extracted"
    with atomic_folder(target) as scratch:
        (scratch / "mine").write_text("late")
        target.mkdir()
        (target / "theirs").write_text("first")
    assert [p.name for p in target.iterdir()] == ["theirs"]
    assert temporaries(tmp_path) == []


def test_a_killed_extractions_folder_is_removed_by_the_next_one(tmp_path: Path) -> None:
    target = tmp_path / "extracted"
    left = tmp_path / ".extracted.k1ll3d00.tmp"
    left.mkdir()
    (left / "half").write_bytes(b"x")
    age(left, 2 * STALE_AFTER_S)
    with atomic_folder(target) as scratch:
        (scratch / "a").write_text("a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["extracted"]
