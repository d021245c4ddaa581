"""The engine's events and callbacks (hetconv_edu/train/callbacks.py): order and arguments of
the events, the run's own checkpoint and history files, progress bars, epoch lines."""

from __future__ import annotations

import pytest

from hetconv_edu.train import (
    Callback,
    Checkpoint,
    EpochLog,
    HistoryFiles,
    ProgressBar,
    Trainer,
    read_checkpoint,
)
from tests.trainers import config


class Recorder(Callback):
    """Records every event with what the run folder holds at that moment."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def before_run(self, trainer):
        self.events.append(("before_run",))

    def after_batch(self, trainer, step, loss):
        assert step == trainer.global_step and loss == trainer.history.steps[-1][1]
        self.events.append(("after_batch", step))

    def after_epoch(self, trainer, record):
        saved = read_checkpoint(trainer.run_path / "checkpoint.pt")
        written = (trainer.run_path / "history.csv").read_text().count("\n") - 1
        self.events.append(("after_epoch", record.epoch, saved["epoch"], written))

    def after_stop(self, trainer):
        saved = read_checkpoint(trainer.run_path / "checkpoint.pt")
        self.events.append(("after_stop", saved["step"]))

    def after_run(self, trainer):
        self.events.append(("after_run",))


def test_events_come_in_order_after_the_runs_own_files(data_root, dataset, tmp_path):
    recorder = Recorder()
    trainer = Trainer(config(data_root, tmp_path), dataset, callbacks=[recorder])
    assert [type(c) for c in trainer.callbacks] == [Checkpoint, HistoryFiles, Recorder]
    trainer.run(progress=False)
    batches = lambda steps: [("after_batch", s) for s in steps]  # noqa: E731
    assert recorder.events == [
        ("before_run",),
        *batches(range(1, 5)),
        ("after_epoch", 1, 1, 1),  # the epoch's checkpoint and history row are on disk
        *batches(range(5, 9)),
        ("after_epoch", 2, 2, 2),
        ("after_run",),
    ]


def test_a_stop_emits_after_stop_with_the_checkpoint_saved(data_root, dataset, tmp_path):
    recorder = Recorder()
    trainer = Trainer(config(data_root, tmp_path), dataset, callbacks=[recorder])
    trainer.on_batch(lambda t, step, loss: t.request_stop() if step == 3 else None)
    assert not trainer.step(100)
    assert recorder.events[-1] == ("after_stop", 3) and trainer.stopped


def test_without_the_checkpoint_callback_no_checkpoint_is_written(data_root, dataset, tmp_path):
    trainer = Trainer(config(data_root, tmp_path, epochs=1), dataset)
    [checkpoint] = [c for c in trainer.callbacks if isinstance(c, Checkpoint)]
    trainer.remove_callback(checkpoint)
    trainer.run(progress=False)
    files = sorted(p.name for p in trainer.run_path.iterdir())
    assert files == ["history.csv", "history.json", "steps.csv"]


class FakeBar:
    """What a ProgressBar needs of a tqdm bar, recording what it is told."""

    def __init__(self, total, initial, desc):
        self.total, self.n, self.desc, self.postfix, self.closed = total, initial, desc, {}, False

    def update(self, n):
        self.n += n

    def set_postfix(self, refresh=True, **values):
        self.postfix = values

    def close(self):
        self.closed = True


class FakeBars(list):
    """The bars made, in order; calling it makes one (a ProgressBar's ``make_bar``)."""

    def __call__(self, **kwargs):
        self.append(FakeBar(**kwargs))
        return self[-1]


@pytest.fixture
def bars():
    return FakeBars()


def test_progress_per_epoch_shows_each_epochs_result(data_root, dataset, tmp_path, bars):
    trainer = Trainer(config(data_root, tmp_path), dataset)
    trainer.add_callback(ProgressBar("epoch", make_bar=bars))
    history = trainer.run(progress=False)
    assert [(b.desc, b.total, b.n, b.closed) for b in bars] == [
        ("epoch 1/2", 4, 4, True),
        ("epoch 2/2", 4, 4, True),
    ]
    assert bars[1].postfix["test"] == f"{history.epochs[1].test_acc:.1%}"


def test_progress_per_run_counts_every_step_and_starts_where_a_resumed_run_is(
    data_root, dataset, tmp_path, bars
):
    cfg = config(data_root, tmp_path)
    first = Trainer(cfg, dataset)
    first.step(3)
    first.request_stop()
    first.step(1)
    resumed = Trainer(cfg, dataset, resume=True)
    progress = resumed.add_callback(ProgressBar("run", make_bar=bars, desc="P=4"))
    while resumed.step(2):
        pass
    progress.close()
    [bar] = bars
    assert (bar.desc, bar.total, bar.n, bar.closed) == ("P=4", 8, 8, True)
    assert bar.postfix == {"loss": f"{resumed.history.steps[-1][1]:.3f}"}


def test_epoch_log_writes_one_line_per_epoch(data_root, dataset, tmp_path):
    lines = []
    trainer = Trainer(config(data_root, tmp_path), dataset, callbacks=[EpochLog(lines.append)])
    history = trainer.run(progress=False)
    assert len(lines) == 2
    assert lines[1].startswith(f"  HetConv P=4 epoch 2: test {history.epochs[1].test_acc:.2%}, ")


def test_an_error_in_a_callback_propagates_after_the_step_is_committed(
    data_root, dataset, tmp_path
):
    trainer = Trainer(config(data_root, tmp_path), dataset)

    @trainer.on_batch
    def broken(t, step, loss):
        raise RuntimeError(f"broken at {step}")

    with pytest.raises(RuntimeError, match="broken at 1"):
        trainer.step(4)
    assert trainer.global_step == 1 and len(trainer.history.steps) == 1


def test_only_callbacks_are_added():
    with pytest.raises(ValueError, match="per must be 'epoch' or 'run'"):
        ProgressBar("batch")


def test_a_plain_function_is_not_a_callback(data_root, dataset, tmp_path):
    trainer = Trainer(config(data_root, tmp_path), dataset)
    with pytest.raises(TypeError, match="use on_batch/on_epoch for a plain function"):
        trainer.add_callback(print)
    trainer.close()


def test_a_bar_that_cannot_be_shown_is_asked_for_once(data_root, dataset, tmp_path):
    asked = []
    trainer = Trainer(config(data_root, tmp_path), dataset)
    trainer.add_callback(ProgressBar("run", make_bar=lambda **kw: asked.append(kw)))
    trainer.run(progress=False)
    assert asked == [{"total": 8, "initial": 0, "desc": "HetConv P=4"}]
