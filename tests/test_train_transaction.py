"""A step is all or nothing (hetconv_edu/train/transaction.py): an interrupt at any stage of a
step or an epoch's end resumes bit-identical to an uninterrupted run."""

from __future__ import annotations

import pytest
import torch

from hetconv_edu.data import Batches
from hetconv_edu.train import History, Trainer, read_checkpoint
from hetconv_edu.train import engine as engine_module
from tests.trainers import assert_same_weights, config, weights


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
        injector = _Injector(engine_module.save_checkpoint_file, at, after)
        monkeypatch.setattr(engine_module, "save_checkpoint_file", injector)
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
