"""The trainer on tiny generated data sets (tests/datasets.py): learning, files, checkpoints,
exact resumption, stopping, interrupts, seeding, comparisons."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from hetconv_edu import train as train_module
from hetconv_edu.train import (
    EpochRecord,
    History,
    TrainConfig,
    Trainer,
    compare,
    format_table,
    lr_factor,
    pick_device,
)

TINY = {"widths": [8, 16, 32]}


def config(data_root: Path, run_dir: Path, **kw) -> TrainConfig:
    values = {
        "model": "small_vgg",
        "conv": "hetconv:4",
        "model_kwargs": TINY,
        "data_root": str(data_root),
        "download": False,
        "epochs": 2,
        "batch_size": 64,
        "lr": 0.1,
        "threads": 2,
        "run_dir": str(run_dir),
        "device": "cpu",
    }
    values.update(kw)
    return TrainConfig(**values)


def weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


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


def test_history_files_parse_back(data_root, dataset, tmp_path):
    trainer = Trainer(config(data_root, tmp_path), dataset)
    history = trainer.run(progress=False)
    run = tmp_path / trainer.config.run_name
    assert trainer.run_path == run
    saved = json.loads((run / "history.json").read_text())
    assert saved["config"]["conv"] == "hetconv:4"
    assert saved["macs"] == trainer.macs > 0 and saved["params"] == trainer.params > 0
    assert History.from_json(run / "history.json") == history
    lines = (run / "history.csv").read_text().splitlines()
    assert lines[0].split(",") == list(EpochRecord.__dataclass_fields__)
    assert len(lines) == 3 and float(lines[2].split(",")[4]) == history.epochs[1].test_acc
    steps = (run / "steps.csv").read_text().splitlines()
    assert len(steps) == 1 + trainer.total_steps == 1 + 8
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 2 and state["step"] == 8
    assert TrainConfig.from_dict(state["config"]) == trainer.config
    assert History.from_dict(state["history"]) == history


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


def test_interrupt_mid_batch_discards_batch(data_root, dataset, tmp_path, monkeypatch):
    cfg = config(data_root, tmp_path / "a")
    reference = Trainer(cfg, dataset)
    reference.step(3)
    trainer = Trainer(config(data_root, tmp_path / "b"), dataset)
    trainer.step(2)
    real_backward = torch.Tensor.backward

    def broken_backward(*args, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch.Tensor, "backward", broken_backward)
    with pytest.raises(KeyboardInterrupt):
        trainer.step(1)
    monkeypatch.setattr(torch.Tensor, "backward", real_backward)
    assert trainer.global_step == 2
    trainer.step(1)  # the discarded batch comes again
    assert_same_weights(weights(reference), weights(trainer))


def test_checkpoint_save_is_atomic(data_root, dataset, tmp_path, monkeypatch):
    trainer = Trainer(config(data_root, tmp_path), dataset)
    trainer.step(4)  # one epoch: checkpoint written
    path = trainer.run_path / "checkpoint.pt"
    good = path.read_bytes()
    trainer.step(1)

    def failing_save(obj, handle, *args, **kw):
        handle.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(train_module.torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        trainer.save_checkpoint()
    monkeypatch.undo()
    assert path.read_bytes() == good
    assert sorted(p.name for p in trainer.run_path.iterdir() if p.name.startswith(".")) == []
    assert torch.load(path, weights_only=True)["step"] == 4


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
    other = Trainer(config(data_root, tmp_path, conv="standard", seed=1), dataset)
    assert not torch.equal(other.model.state_dict()["features.0.weight"], sd["features.0.weight"])


def test_resume_refuses_other_config_and_missing_checkpoint(data_root, dataset, tmp_path):
    cfg = config(data_root, tmp_path, epochs=1)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        Trainer(cfg, dataset, resume=True)
    Trainer(cfg, dataset).run(progress=False)
    with pytest.raises(ValueError, match="lr"):
        Trainer(replace(cfg, lr=0.5), dataset, resume=True)
    Trainer(replace(cfg, threads=1), dataset, resume=True)  # allowed to differ


def test_predict_evaluate_confusion(data_root, dataset, tmp_path):
    trainer = Trainer(config(data_root, tmp_path, epochs=1), dataset)
    trainer.run(progress=False)
    logits = trainer.predict(dataset.test_images[:5])
    assert logits.shape == (5, 10) and logits.dtype == torch.float32
    assert torch.allclose(trainer.predict(dataset.test_images[0]), logits[0], atol=1e-5)
    matrix = trainer.confusion_matrix()
    assert matrix.shape == (10, 10) and int(matrix.sum()) == len(dataset.test_labels)
    _loss, acc = trainer.evaluate("test")
    assert acc == pytest.approx(float(matrix.diag().sum()) / int(matrix.sum()))
    assert acc == pytest.approx(trainer.history.epochs[-1].test_acc)
    assert trainer.model.training  # restored
    with pytest.raises(ValueError, match="uint8"):
        trainer.predict(dataset.test_images[:2].float())


def test_compare_rows_and_table(data_root, dataset, tmp_path):
    configs = [config(data_root, tmp_path, conv=c, epochs=1) for c in ("standard", "hetconv:4")]
    results = compare(configs, dataset, progress=False)
    assert [r.label for r in results] == ["standard", "HetConv P=4"]
    assert results[1].macs < results[0].macs and results[1].params < results[0].params
    table = format_table(results)
    for word in ("test acc", "params", "MACs/image", "s/epoch", "images/s", "HetConv P=4"):
        assert word in table


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("model", "resnet999", "unknown model"),
        ("conv", "hetconv:x", "positive integer"),
        ("epochs", 0, "epochs"),
        ("batch_size", 1.5, "batch_size"),
        ("lr", -1.0, "lr"),
        ("momentum", 1.0, "momentum"),
        ("schedule", "step", "schedule"),
        ("label_smoothing", 1.0, "label_smoothing"),
        ("subset", 0, "subset"),
        ("dataset", "mnist", "dataset"),
        ("name", "a/b", "name"),
        ("channels_last", "yes", "channels_last"),
    ],
)
def test_config_validation(field, value, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**{field: value})


def test_bad_shapes_and_devices(data_root, dataset, tmp_path):
    with pytest.raises(ValueError, match="p=3 is not allowed"):
        Trainer(config(data_root, tmp_path, conv="hetconv:3"), dataset)
    with pytest.raises(ValueError, match="batch_size"):
        Trainer(config(data_root, tmp_path, batch_size=1000), dataset)
    with pytest.raises(ValueError, match="device"):
        pick_device("tpu")
    assert pick_device("cpu") == torch.device("cpu")


def test_config_names_and_labels():
    assert TrainConfig().run_name == "small_vgg-hetconv4"
    assert TrainConfig(conv="standard", dataset="fashion-mnist").run_name == (
        "fashion-mnist-small_vgg-standard"
    )
    assert TrainConfig(conv=("hetconv:2",) * 4).label == "HetConv P=2"
    assert TrainConfig(
        conv=["standard", "hetconv:2", "hetconv:4", "hetconv:4"]
    ).run_name.startswith("small_vgg-perlayer")
    assert TrainConfig.from_dict(TrainConfig().to_dict()) == TrainConfig()


def test_schedules():
    total = 100
    one = [lr_factor("onecycle", s, total, 0.2) for s in range(total)]
    assert one[0] == pytest.approx(0.1) and max(one) == pytest.approx(1.0) and one[20] == 1.0
    assert one[-1] < 0.02 and all(a >= b for a, b in itertools.pairwise(one[20:]))
    cos = [lr_factor("cosine", s, total, 0.2) for s in range(total)]
    assert cos[20] == 1.0 and cos[-1] < 0.01
    assert lr_factor("constant", 50, total, 0.2) == 1.0
