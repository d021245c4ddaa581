"""The study folder (:mod:`hetconv_edu.study.folder`): finished pieces stored atomically, settings
that must match, one process."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from hetconv_edu.study.folder import StudyFolder, StudyFolderError, study_folder_for

SETTINGS = {"model": "small_vgg", "epochs": 8, "seeds": [0, 1, 2]}


def test_the_study_folder_sits_next_to_the_results_file(tmp_path: Path) -> None:
    assert study_folder_for(tmp_path / "op.json") == tmp_path / "op.study"


def test_records_are_stored_and_read_back_and_survive_reopening(tmp_path: Path) -> None:
    with StudyFolder(tmp_path / "s", SETTINGS) as folder:
        assert folder.record("run-1,1-s0") is None
        folder.save("run-1,1-s0", {"test_acc": 0.8})
        assert folder.record("run-1,1-s0") == {"test_acc": 0.8}
        assert folder.names() == ["run-1,1-s0"]
        assert not list((tmp_path / "s" / "records").glob(".*.tmp"))  # atomic: no temporary
    with StudyFolder(tmp_path / "s", SETTINGS) as folder:
        assert folder.record("run-1,1-s0") == {"test_acc": 0.8}
        assert folder.discard("run-1,1-s0") and not folder.discard("run-1,1-s0")
        assert folder.record("run-1,1-s0") is None
    stored = json.loads((tmp_path / "s" / "settings.json").read_text())
    assert stored == SETTINGS


def test_other_settings_are_refused_naming_each_difference(tmp_path: Path) -> None:
    StudyFolder(tmp_path / "s", SETTINGS).close()
    with pytest.raises(StudyFolderError) as caught:
        StudyFolder(tmp_path / "s", {**SETTINGS, "epochs": 5, "seeds": [0]})
    message = str(caught.value)
    assert "epochs: 8 there, 5 now" in message and "seeds: [0, 1, 2] there, [0] now" in message
    assert "give another --out" in message and "\n" not in message
    StudyFolder(tmp_path / "s", SETTINGS).close()  # the refused attempt left it usable


def test_an_unreadable_record_names_the_file_to_delete(tmp_path: Path) -> None:
    with StudyFolder(tmp_path / "s", SETTINGS) as folder:
        (tmp_path / "s" / "records" / "timing.json").write_text("{half")
        with pytest.raises(StudyFolderError, match=r"timing\.json cannot be read .* delete it"):
            folder.record("timing")
        with pytest.raises(ValueError, match="record name 'a/b'"):
            folder.save("a/b", {})


def _try_open(path: str, queue) -> None:
    try:
        StudyFolder(path, SETTINGS).close()
        queue.put("opened")
    except StudyFolderError as err:
        queue.put(str(err))


def test_a_second_process_cannot_run_the_same_study(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    with StudyFolder(tmp_path / "s", SETTINGS):
        other = ctx.Process(target=_try_open, args=(str(tmp_path / "s"), queue))
        other.start()
        other.join()
        assert "another process is running the study" in queue.get(timeout=10)
    other = ctx.Process(target=_try_open, args=(str(tmp_path / "s"), queue))
    other.start()
    other.join()
    assert queue.get(timeout=10) == "opened"  # released when the first one closed


def test_a_folder_that_cannot_be_written_gives_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StudyFolderError, match=r"cannot write the study folder .*--out"):
        StudyFolder(blocker / "s", SETTINGS)
