"""The trainer on tiny generated data sets (tests/datasets.py): learning, files, checkpoints,
exact resumption, stopping, interrupts, seeding, comparisons."""

from __future__ import annotations

import dataclasses
import errno
import itertools
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from hetconv_edu import train as train_module
from hetconv_edu.data import Batches
from hetconv_edu.train import (
    CheckpointError,
    DivergedError,
    EpochRecord,
    History,
    RunExistsError,
    RunFolderError,
    TrainConfig,
    Trainer,
    compare,
    format_table,
    lr_factor,
    pick_device,
    read_checkpoint,
    save_checkpoint_file,
    threads_warning,
    unused_run_name,
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
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(train_module.torch, "save", failing_save)
    with pytest.raises(RunFolderError, match="No space left on device; the disk is full"):
        trainer.save_checkpoint()
    monkeypatch.undo()
    assert path.read_bytes() == good
    assert [p.name for p in trainer.run_path.iterdir() if p.name.endswith(".tmp")] == []
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
        ("model", "resnet999", "model must be one of"),
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


# ---- config values (issue 13, item 9) --------------------------------------------------------


def _plain_types(value) -> bool:
    if isinstance(value, list):
        return all(_plain_types(v) for v in value)
    if isinstance(value, dict):
        return all(type(k) is str and _plain_types(v) for k, v in value.items())
    return value is None or type(value) in (bool, int, float, str)


def test_numpy_and_tensor_config_values_train_save_and_resume(data_root, dataset, tmp_path):
    import numpy as np

    given = {
        "conv": np.str_("hetconv:4"),
        "model_kwargs": {"widths": (np.int64(8), torch.tensor(16), 32)},
        "data_root": data_root,  # a Path
        "download": np.bool_(False),
        "subset": np.int32(256),
        "test_subset": torch.tensor(128),
        "epochs": np.int64(1),
        "batch_size": np.int16(64),
        "lr": np.float64(0.1),
        "momentum": np.float32(0.5),
        "weight_decay": torch.tensor(1e-4, dtype=torch.float64),
        "nesterov": np.bool_(True),
        "label_smoothing": np.float64(0.0),
        "warmup": np.float64(0.25),
        "augment": np.bool_(True),
        "seed": np.uint8(0),
        "channels_last": np.bool_(True),
        "threads": np.int64(2),
        "run_dir": tmp_path,  # a Path
        "name": np.str_("numpy-run"),
    }
    for key in ("model", "arrangement", "dataset", "schedule", "device"):
        given[key] = np.str_(
            {"model": "small_vgg", "device": "cpu"}.get(key, getattr(TrainConfig, key))
        )
    cfg = TrainConfig(**given)
    assert {f.name for f in dataclasses.fields(TrainConfig)} == set(given)  # every field
    values = cfg.to_dict()
    assert _plain_types({k: getattr(cfg, k) for k in values}), cfg
    assert values["lr"] == 0.1 and values["model_kwargs"] == {"widths": [8, 16, 32]}
    Trainer(cfg, dataset).run(progress=False)
    resumed = Trainer.resume(tmp_path / "numpy-run", dataset)  # torch.load(weights_only=True)
    assert resumed.finished and resumed.config == cfg


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("download", "no", "download must be True or False, got 'no'"),
        ("nesterov", "false", "nesterov must be True or False"),
        ("augment", 1, "augment must be True or False"),
        ("run_dir", None, "run_dir must be a folder"),
        ("data_root", 3, "data_root must be a folder"),
        ("threads", 2.0, "threads must be a positive integer"),
        ("seed", -1, "seed must be an integer >= 0"),
        ("lr", float("nan"), "lr must be a finite number"),
        ("warmup", 1.0, "warmup must be a finite number 0 <= warmup < 1"),
        ("weight_decay", "0.1", "weight_decay must be a finite number"),
        ("model_kwargs", {"widths": [32, 64]}, "needs three widths"),
        ("model_kwargs", [1], "model_kwargs must be a dict"),
        ("conv", [], "non-empty list"),
    ],
)
def test_config_refuses_values_of_the_wrong_kind(field, value, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**{field: value})


# ---- divergence (item 3) ---------------------------------------------------------------------


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


# ---- corrupt checkpoints, full disks, read-only folders (item 12) -----------------------------


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
    real_write = train_module._HashingWriter.write

    def full_disk(self, data):
        real_write(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(train_module._HashingWriter, "write", full_disk)
    with pytest.raises(RunFolderError) as caught:
        trainer.run(progress=False)
    assert "the disk is full" in str(caught.value) and "--resume" in str(caught.value)
    monkeypatch.undo()
    assert path.read_bytes() == good
    assert [p.name for p in trainer.run_path.iterdir() if p.name.endswith(".tmp")] == []
    resumed = Trainer.resume(trainer.run_path, dataset)
    assert resumed.global_step == 4


def test_read_only_run_folder_is_refused_before_training(data_root, dataset, tmp_path, monkeypatch):
    real_access = train_module.os.access
    folder = tmp_path / "read-only"
    folder.mkdir()
    # Tests may run as root, who can write anywhere: the folder says it is not writable.
    monkeypatch.setattr(
        train_module.os,
        "access",
        lambda p, mode: False if str(folder) in str(p) else real_access(p, mode),
    )
    with pytest.raises(RunFolderError, match="read-only for you: choose a writable folder"):
        Trainer(config(data_root, folder), dataset)


# ---- runs are never overwritten; one writer per folder (item 6) -------------------------------


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


def test_threads_warning():
    cores = train_module.physical_cores()
    assert threads_warning(None) is None and threads_warning(cores) is None
    message = threads_warning(cores * 32)
    assert f"{cores * 32} threads on {cores} physical CPU cores" in message
    assert f"--threads {cores}" in message


# ---- interrupts at every stage of a step (item 8) --------------------------------------------

_TIMING = ("seconds", "images_per_s")


def _records(history: History) -> list[dict]:
    return [{k: v for k, v in vars(r).items() if k not in _TIMING} for r in history.epochs]


@pytest.fixture(scope="module")
def uninterrupted(data_root, dataset, tmp_path_factory):
    trainer = Trainer(config(data_root, tmp_path_factory.mktemp("straight")), dataset)
    trainer.run(progress=False)
    return weights(trainer), trainer.history


class _Injector:
    """Wraps a callable: the ``at``-th call (counted from 1) raises KeyboardInterrupt, before
    doing its work or after it."""

    def __init__(self, real, at: int, after: bool, counts=lambda *a, **kw: True):
        self.real, self.at, self.after, self.counts, self.calls = real, at, after, counts, 0

    def __call__(self, *args, **kw):
        hit = False
        if self.counts(*args, **kw):
            self.calls += 1
            hit = self.calls == self.at
        if hit and not self.after:
            raise KeyboardInterrupt
        out = self.real(*args, **kw)
        if hit:
            raise KeyboardInterrupt
        return out


def _inject(stage: str, trainer: Trainer, monkeypatch, at: int, after: bool) -> _Injector:
    if stage == "data":
        real_iter = Batches.__iter__
        injector = _Injector(lambda it: next(it), at, after)

        def iterate(self):
            it = real_iter(self)
            while True:
                try:
                    yield injector(it)
                except StopIteration:
                    return

        monkeypatch.setattr(Batches, "__iter__", iterate)
    elif stage == "forward":
        injector = _Injector(trainer.model.forward, at, after, lambda *a: trainer.model.training)
        monkeypatch.setattr(trainer.model, "forward", injector)
    elif stage == "backward":
        injector = _Injector(torch.Tensor.backward, at, after)
        monkeypatch.setattr(torch.Tensor, "backward", lambda *a, **kw: injector(*a, **kw))
    elif stage == "optimizer.step":
        injector = _Injector(trainer.optimizer.step, at, after)
        monkeypatch.setattr(trainer.optimizer, "step", injector)
    elif stage == "scheduler.step":  # on the class: an instance attribute would be saved
        scheduler_class = type(trainer.scheduler)
        injector = _Injector(scheduler_class.step, at, after)
        monkeypatch.setattr(scheduler_class, "step", lambda *a, **kw: injector(*a, **kw))
    elif stage == "evaluation":
        injector = _Injector(trainer.evaluate, at, after)
        monkeypatch.setattr(trainer, "evaluate", injector)
    elif stage == "checkpoint save":
        injector = _Injector(train_module.save_checkpoint_file, at, after)
        monkeypatch.setattr(train_module, "save_checkpoint_file", injector)
    elif stage == "history write":
        injector = _Injector(History.to_json, at, after)
        monkeypatch.setattr(History, "to_json", lambda *a, **kw: injector(*a, **kw))
    else:  # pragma: no cover - a typo in the parameters
        raise AssertionError(stage)
    return injector


# Each stage is interrupted once: at its 6th call (a batch in the middle of epoch 2) for the
# per-batch stages, at epoch 2's end for the per-epoch ones (the good checkpoint of epoch 1 is
# on disk then), before and after the real call did its work.
STAGES = [
    ("data", 6),
    ("forward", 6),
    ("backward", 6),
    ("optimizer.step", 6),
    ("scheduler.step", 6),
    ("evaluation", 2),
    ("checkpoint save", 2),
    ("history write", 2),
]


@pytest.mark.parametrize("after", [False, True], ids=["before", "after"])
@pytest.mark.parametrize(("stage", "at"), STAGES, ids=[s for s, _ in STAGES])
def test_interrupt_at_any_stage_resumes_bit_identical(
    stage, at, after, uninterrupted, data_root, dataset, tmp_path, monkeypatch
):
    reference_weights, reference_history = uninterrupted
    trainer = Trainer(config(data_root, tmp_path), dataset)
    injector = _inject(stage, trainer, monkeypatch, at, after)
    trainer.run(progress=False)  # Ctrl-C: stops, saves
    assert injector.calls >= at and trainer.stopped
    monkeypatch.undo()
    state = read_checkpoint(trainer.run_path / "checkpoint.pt")
    assert state["epoch"] >= 1  # epoch 1's checkpoint was never replaced by an earlier state
    resumed = Trainer.resume(trainer.run_path, dataset)
    resumed.run(progress=False)
    assert resumed.finished and resumed.global_step == 8
    assert_same_weights(reference_weights, weights(resumed))
    assert resumed.history.steps == reference_history.steps
    assert _records(resumed.history) == _records(reference_history)
    on_disk = History.from_json(resumed.run_path / "history.json")
    assert _records(on_disk) == _records(reference_history)


def test_interrupted_evaluation_then_step_continues(
    uninterrupted, data_root, dataset, tmp_path, monkeypatch
):
    reference_weights, reference_history = uninterrupted
    trainer = Trainer(config(data_root, tmp_path), dataset)
    _inject("evaluation", trainer, monkeypatch, 1, False)
    with pytest.raises(KeyboardInterrupt):
        trainer.step(100)
    assert trainer.global_step == 4 and trainer.epoch == 0  # epoch 1 trained, not ended
    monkeypatch.undo()
    assert not trainer.step(100) and trainer.finished  # no StopIteration: the epoch ends first
    assert_same_weights(reference_weights, weights(trainer))
    assert _records(trainer.history) == _records(reference_history)
