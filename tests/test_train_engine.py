"""The engine (hetconv_edu/train/engine.py) on tiny generated data sets (tests/datasets.py):
learning, slices, exact resumption, stopping, interrupts, seeding, divergence."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from hetconv_edu.train import DivergedError, History, Trainer, read_checkpoint
from tests.trainers import assert_same_weights, config, weights


def test_learns_fake_data(data_root, dataset, tmp_path):
    trainer = Trainer(config(data_root, tmp_path, epochs=4), dataset)
    history = trainer.run(progress=False)
    assert [r.epoch for r in history.epochs] == [1, 2, 3, 4]
    first, last = history.epochs[0], history.epochs[-1]
    assert last.train_loss < first.train_loss
    losses = [loss for _, loss, _ in history.steps]
    assert sum(losses[-4:]) < sum(losses[:4])
    assert last.test_acc > 0.5  # chance: 0.1
    assert all(r.images_per_s > 0 and r.seconds > 0 for r in history.epochs)
    assert trainer.finished and not trainer.step(1)


def test_step_slices(data_root, dataset, tmp_path):
    trainer = Trainer(config(data_root, tmp_path), dataset)
    assert trainer.steps_per_epoch == 4 and trainer.total_steps == 8
    assert trainer.step(3) and trainer.global_step == 3 and not trainer.history.epochs
    assert trainer.step(3) and trainer.global_step == 6 and len(trainer.history.epochs) == 1
    assert not trainer.step(5) and trainer.global_step == 8 and trainer.finished


def test_resume_mid_epoch_matches_uninterrupted(data_root, dataset, tmp_path):
    straight = Trainer(config(data_root, tmp_path / "a"), dataset)
    straight.run(progress=False)

    cfg = config(data_root, tmp_path / "b")
    first = Trainer(cfg, dataset)
    first.on_batch(lambda t, step, loss: t.request_stop() if step == 3 else None)
    first.run(progress=False)
    assert first.stopped and first.global_step == 3
    second = Trainer(cfg, dataset, resume=True)
    assert second.global_step == 3 and second.epoch == 0
    second.run(progress=False)
    assert second.global_step == 8
    assert_same_weights(weights(straight), weights(second))
    assert second.history.steps == straight.history.steps
    for a, b in zip(straight.history.epochs, second.history.epochs, strict=True):
        assert (a.train_loss, a.train_acc, a.test_loss, a.test_acc, a.lr) == (
            b.train_loss,
            b.train_acc,
            b.test_loss,
            b.test_acc,
            b.lr,
        )
    # Trainer.resume reads the config from the checkpoint.
    again = Trainer.resume(first.run_path, dataset)
    assert again.finished and again.config == replace(cfg, name=cfg.run_name)


def test_request_stop_leaves_loadable_checkpoint(data_root, dataset, tmp_path):
    trainer = Trainer(config(data_root, tmp_path), dataset)
    seen = []

    @trainer.on_batch
    def stop_at_two(t, step, loss):
        seen.append(step)
        if step == 2:
            t.request_stop()

    assert not trainer.step(100)
    assert seen == [1, 2] and trainer.stopped and trainer.global_step == 2
    state = torch.load(trainer.run_path / "checkpoint.pt", weights_only=True)
    assert state["step"] == 2 and state["batch_in_epoch"] == 2
    assert_same_weights(state["model"], weights(trainer))
    assert len(History.from_dict(state["history"]).steps) == 2
    assert (trainer.run_path / "history.json").is_file()
    assert trainer.step(1) and trainer.global_step == 3  # continues after a stop


def test_keyboard_interrupt_in_run_is_clean(data_root, dataset, tmp_path, capsys):
    trainer = Trainer(config(data_root, tmp_path), dataset)
    epochs = []
    trainer.on_epoch(lambda t, record: epochs.append(record.epoch))

    def interrupt(t, step, loss):
        if step == 6:
            raise KeyboardInterrupt

    trainer.on_batch(interrupt)
    history = trainer.run(progress=False)
    assert trainer.stopped and epochs == [1]
    assert len(history.epochs) == 1 and len(history.steps) == 6
    out = capsys.readouterr().out
    assert "Training stopped" in out and "--resume" in out and "Trainer.resume(" in out
    state = torch.load(trainer.run_path / "checkpoint.pt", weights_only=True)
    assert state["step"] == 6 and state["epoch"] == 1


def test_same_seed_same_init_and_data_order(data_root, dataset, tmp_path):
    std = Trainer(config(data_root, tmp_path, conv="standard"), dataset)
    het = Trainer(config(data_root, tmp_path, conv="hetconv:4"), dataset)
    sd, hd = std.model.state_dict(), het.model.state_dict()
    std_modules, het_modules = dict(std.model.named_modules()), dict(het.model.named_modules())
    shared = [  # every tensor of a layer that is the same kind of layer in both models
        k
        for k in sd
        if k in hd
        and sd[k].shape == hd[k].shape
        and type(std_modules[k.rpartition(".")[0]]) is type(het_modules[k.rpartition(".")[0]])
    ]
    assert "features.0.weight" in shared and "classifier.1.weight" in shared
    for key in shared:
        assert torch.equal(sd[key], hd[key]), key
    for epoch in (0, 1):
        std.batches.set_epoch(epoch)
        het.batches.set_epoch(epoch)
        for (xa, ya), (xb, yb) in zip(std.batches, het.batches, strict=True):
            assert torch.equal(xa, xb) and torch.equal(ya, yb)
    other = Trainer(config(data_root, tmp_path / "seed1", conv="standard", seed=1), dataset)
    assert not torch.equal(other.model.state_dict()["features.0.weight"], sd["features.0.weight"])


def test_resume_refuses_other_config_and_missing_checkpoint(data_root, dataset, tmp_path):
    cfg = config(data_root, tmp_path, epochs=1)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        Trainer(cfg, dataset, resume=True)
    Trainer(cfg, dataset).run(progress=False)
    with pytest.raises(ValueError, match="lr"):
        Trainer(replace(cfg, lr=0.5), dataset, resume=True)
    Trainer(replace(cfg, threads=1), dataset, resume=True)  # allowed to differ


def test_bad_shapes_and_devices_are_refused(data_root, dataset, tmp_path):
    with pytest.raises(ValueError, match="p=3 is not allowed"):
        Trainer(config(data_root, tmp_path, conv="hetconv:3"), dataset)
    with pytest.raises(ValueError, match="batch_size"):
        Trainer(config(data_root, tmp_path, batch_size=1000), dataset)
    with pytest.raises(ValueError, match="device"):
        Trainer(config(data_root, tmp_path, device="tpu"), dataset)


def test_nan_loss_stops_the_run_naming_step_and_lr(data_root, dataset, tmp_path):
    trainer = Trainer(config(data_root, tmp_path, lr=1e6, schedule="constant"), dataset)
    with pytest.raises(DivergedError) as caught:
        trainer.run(progress=False)
    message = str(caught.value)
    step = trainer.global_step + 1
    assert f"at step {step} of 8" in message and "learning rate 1e+06" in message
    assert "--lr 100000" in message
    # The weights are those before the step that diverged, all finite; nothing NaN was saved.
    assert all(torch.isfinite(v).all() for v in weights(trainer).values())
    assert len(trainer.history.steps) == trainer.global_step
    if (trainer.run_path / "checkpoint.pt").exists():
        read_checkpoint(trainer.run_path / "checkpoint.pt")


def test_a_model_too_large_for_the_device_is_one_line_naming_its_widths(
    data_root, dataset, tmp_path, monkeypatch
):
    def out_of_memory(self):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(Trainer, "_build_model", out_of_memory)
    with pytest.raises(ValueError) as refused:
        Trainer(config(data_root, tmp_path), dataset)
    message = str(refused.value)
    assert "model_kwargs={'widths': [8, 16, 32]} does not fit in memory on cpu" in message
    assert "Tried to allocate 20.00 GiB" in message and "\n" not in message
    assert not (tmp_path / config(data_root, tmp_path).run_name).exists()
