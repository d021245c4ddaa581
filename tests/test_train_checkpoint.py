"""Checkpoints (hetconv_edu/train/checkpoint.py): atomic, checksummed, never NaN, and every
damaged file refused with one clear error."""

from __future__ import annotations

import errno

import pytest
import torch

from hetconv_edu.train import (
    CheckpointError,
    DivergedError,
    RunFolderError,
    Trainer,
    read_checkpoint,
    save_checkpoint_file,
)
from hetconv_edu.train import checkpoint as checkpoint_module
from tests.trainers import config


def test_checkpoint_save_is_atomic(data_root, dataset, tmp_path, monkeypatch):
    trainer = Trainer(config(data_root, tmp_path), dataset)
    trainer.step(4)  # one epoch: checkpoint written
    path = trainer.run_path / "checkpoint.pt"
    good = path.read_bytes()
    trainer.step(1)

    def failing_save(obj, handle, *args, **kw):
        handle.write(b"half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(RunFolderError, match="No space left on device; the disk is full"):
        trainer.save_checkpoint()
    monkeypatch.undo()
    assert path.read_bytes() == good
    assert [p.name for p in trainer.run_path.iterdir() if p.name.endswith(".tmp")] == []
    assert torch.load(path, weights_only=True)["step"] == 4


def test_checkpoint_with_nonfinite_weights_is_refused_on_resume(data_root, dataset, tmp_path):
    trainer = Trainer(config(data_root, tmp_path, epochs=1), dataset)
    trainer.run(progress=False)
    state = trainer.state_dict()
    key = next(k for k, v in state["model"].items() if v.is_floating_point())
    state["model"][key][0] = float("nan")
    save_checkpoint_file(state, trainer.run_path / "checkpoint.pt")
    with pytest.raises(CheckpointError, match=f"NaN or infinite weights \\({key}"):
        Trainer.resume(trainer.run_path, dataset)
    with pytest.raises(CheckpointError, match="lower learning rate"):
        Trainer(trainer.config, dataset, resume=True)


def test_nonfinite_weights_are_never_saved_over_a_checkpoint(data_root, dataset, tmp_path):
    trainer = Trainer(config(data_root, tmp_path), dataset)
    trainer.step(4)
    good = (trainer.run_path / "checkpoint.pt").read_bytes()
    with torch.no_grad():
        next(trainer.model.parameters())[0] = float("inf")
    with pytest.raises(DivergedError, match="not saving them"):
        trainer.save_checkpoint()
    assert (trainer.run_path / "checkpoint.pt").read_bytes() == good


def _corruptions(data: bytes) -> dict[str, bytes]:
    n = len(data)

    def flipped(i: int) -> bytes:
        b = bytearray(data)
        b[i] ^= 0xFF
        return bytes(b)

    cases = {
        "empty": b"",
        "first 10 bytes": data[:10],
        "first half": data[: n // 2],
        "last byte missing": data[:-1],
        "last 100 bytes missing": data[:-100],
        "text": b"not a checkpoint\n",
        "zeros": bytes(n),
        "garbage appended": data + b"garbage",
    }
    for i in (0, 40, n // 5, n // 3, n // 2, 2 * n // 3, 9 * n // 10, n - 120, n - 30, n - 2):
        cases[f"byte {i} flipped"] = flipped(i)
    return cases


def test_every_corrupt_checkpoint_gives_one_clear_error(data_root, dataset, tmp_path):
    trainer = Trainer(config(data_root, tmp_path, epochs=1), dataset)
    trainer.run(progress=False)
    path = trainer.run_path / "checkpoint.pt"
    good = path.read_bytes()
    read_checkpoint(path)  # the intact file reads
    for what, data in _corruptions(good).items():
        path.write_bytes(data)
        with pytest.raises(CheckpointError, match="damaged") as caught:
            Trainer.resume(trainer.run_path, dataset)
        assert "\n" not in str(caught.value) and "--overwrite" in str(caught.value), what


def test_disk_full_while_checkpointing_keeps_the_last_checkpoint(
    data_root, dataset, tmp_path, monkeypatch
):
    trainer = Trainer(config(data_root, tmp_path), dataset)
    trainer.step(4)
    path = trainer.run_path / "checkpoint.pt"
    good = path.read_bytes()
    real_write = checkpoint_module._HashingWriter.write

    def full_disk(self, data):
        real_write(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_module._HashingWriter, "write", full_disk)
    with pytest.raises(RunFolderError) as caught:
        trainer.run(progress=False)
    assert "the disk is full" in str(caught.value) and "--resume" in str(caught.value)
    monkeypatch.undo()
    assert path.read_bytes() == good
    assert [p.name for p in trainer.run_path.iterdir() if p.name.endswith(".tmp")] == []
    resumed = Trainer.resume(trainer.run_path, dataset)
    assert resumed.global_step == 4
