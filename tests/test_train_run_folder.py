"""Run folders (hetconv_edu/train/run_folder.py): never overwritten, one writer at a time,
a folder that cannot be written refused before training."""

from __future__ import annotations

import pytest

from hetconv_edu.train import (
    RunExistsError,
    RunFolderError,
    Trainer,
    read_checkpoint,
    unused_run_name,
)
from hetconv_edu.train import run_folder as run_folder_module
from tests.trainers import config


def test_read_only_run_folder_is_refused_before_training(data_root, dataset, tmp_path, monkeypatch):
    real_access = run_folder_module.os.access
    folder = tmp_path / "read-only"
    folder.mkdir()
    # Tests may run as root, who can write anywhere: the folder says it is not writable.
    monkeypatch.setattr(
        run_folder_module.os,
        "access",
        lambda p, mode: False if str(folder) in str(p) else real_access(p, mode),
    )
    with pytest.raises(RunFolderError, match="read-only for you: choose a writable folder"):
        Trainer(config(data_root, folder), dataset)


def test_a_new_run_never_replaces_a_finished_one(data_root, dataset, tmp_path):
    cfg = config(data_root, tmp_path, epochs=1)
    Trainer(cfg, dataset).run(progress=False)
    path = tmp_path / cfg.run_name / "checkpoint.pt"
    good = path.read_bytes()
    with pytest.raises(RunExistsError) as caught:
        Trainer(cfg, dataset)
    message = str(caught.value)
    assert str(tmp_path / cfg.run_name) in message
    for way in ("--resume", "--name", "--overwrite"):
        assert way in message
    assert path.read_bytes() == good
    replaced = Trainer(cfg, dataset, overwrite=True)
    assert not path.exists()  # the old run's files are gone, the new run writes its own
    replaced.run(progress=False)
    assert read_checkpoint(path)["step"] == 4
    assert unused_run_name(tmp_path, cfg.run_name) == f"{cfg.run_name}-2"
    assert unused_run_name(tmp_path, "fresh") == "fresh"


def test_one_trainer_at_a_time_per_run_folder(data_root, dataset, tmp_path):
    cfg = config(data_root, tmp_path)
    first = Trainer(cfg, dataset)
    assert first.step(1)
    with pytest.raises(RunFolderError, match="being written by another training"):
        Trainer(cfg, dataset, overwrite=True)
    with pytest.raises(RunFolderError, match="being written by another training"):
        Trainer(cfg, dataset, resume=True)
    first.run(progress=False)  # finished: the lock is released
    Trainer(cfg, dataset, resume=True).close()
