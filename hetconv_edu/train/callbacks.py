"""The engine's events and the callbacks that listen to them.

A :class:`Callback` overrides the events it needs; :class:`~hetconv_edu.train.Trainer` calls
them in :attr:`Callback.order` (lower first). Events, in the order they happen:

* ``before_run(trainer)`` — :meth:`Trainer.run` starts (not emitted by ``step`` alone).
* ``after_batch(trainer, step, loss)`` — a training step is committed: ``step`` counts from 1,
  ``loss`` is its training loss (float, nats per image).
* ``after_epoch(trainer, record)`` — an epoch ended: evaluated on the test split and recorded
  (``record`` is its :class:`EpochRecord`).
* ``after_stop(trainer)`` — training stopped before its end (:meth:`Trainer.request_stop`,
  Ctrl-C): whatever must survive is saved now.
* ``after_run(trainer)`` — :meth:`Trainer.run` ends, however it ends (finished, stopped or by an
  error).

Every trainer has the run's own two, which make a run folder what the command line and the apps
read back: :class:`Checkpoint` (``checkpoint.pt`` after every epoch and at a stop; fastai's
``SaveModelCallback``) and :class:`HistoryFiles` (``history.json``, ``history.csv``,
``steps.csv``; fastai's ``CSVLogger``). The displays are shared by the command line, the
Training app and the benchmarks: :class:`ProgressBar` (tqdm bars per epoch or per run; fastai's
``ProgressCallback``) and :class:`EpochLog` (one printed line per epoch).
:meth:`Trainer.on_batch`/:meth:`Trainer.on_epoch` wrap a plain function as a callback.

An exception raised in a callback propagates out of :meth:`Trainer.step`/:meth:`Trainer.run`
(a ``KeyboardInterrupt`` in :meth:`Trainer.run` stops the run with the state saved); the step
or epoch it follows stays committed.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from hetconv_edu.train.errors import RunFolderError, write_problem
from hetconv_edu.train.history import EpochRecord

if TYPE_CHECKING:
    from hetconv_edu.train.engine import Trainer

__all__ = [
    "BatchCallback",
    "Callback",
    "CallbackList",
    "Checkpoint",
    "EpochCallback",
    "EpochLog",
    "HistoryFiles",
    "OnBatch",
    "OnEpoch",
    "ProgressBar",
]

BatchCallback = Callable[["Trainer", int, float], object]
"""A function ``fn(trainer, step, loss)`` for :meth:`Trainer.on_batch`."""

EpochCallback = Callable[["Trainer", EpochRecord], object]
"""A function ``fn(trainer, record)`` for :meth:`Trainer.on_epoch`."""


class Callback:
    """Base of the engine's callbacks: every event does nothing; override those you need.

    Attributes:
        order: callbacks run in increasing order (ties: in the order they were added). The
            run's files come first (:class:`Checkpoint` 10, :class:`HistoryFiles` 20), then
            functions and callbacks that read them (50, the default), then displays
            (:class:`ProgressBar` 90, :class:`EpochLog` 95).
    """

    order = 50

    def before_run(self, trainer: Trainer) -> None:
        """:meth:`Trainer.run` starts."""

    def after_batch(self, trainer: Trainer, step: int, loss: float) -> None:
        """Training step ``step`` (counted from 1) is committed; ``loss`` is its loss."""

    def after_epoch(self, trainer: Trainer, record: EpochRecord) -> None:
        """Epoch ``record.epoch`` ended (evaluated, recorded in ``trainer.history``)."""

    def after_stop(self, trainer: Trainer) -> None:
        """Training stopped before its end; what must survive is saved now."""

    def after_run(self, trainer: Trainer) -> None:
        """:meth:`Trainer.run` ends (finished, stopped, or by an error)."""


class CallbackList:
    """A trainer's callbacks, kept in :attr:`Callback.order` (ties: in the order added)."""

    def __init__(self) -> None:
        self._items: list[Callback] = []

    def __iter__(self) -> Iterator[Callback]:
        return iter(list(self._items))

    def add(self, callback: Callback) -> Callback:
        """Add ``callback``; returns it.

        Raises:
            TypeError: ``callback`` is not a :class:`Callback`.
        """
        if not isinstance(callback, Callback):
            raise TypeError(
                f"callback must be a Callback (see hetconv_edu.train.callbacks), got "
                f"{type(callback).__name__}; use on_batch/on_epoch for a plain function"
            )
        self._items.append(callback)
        self._items.sort(key=lambda c: c.order)
        return callback

    def remove(self, callback: Callback) -> None:
        """Remove ``callback``.

        Raises:
            ValueError: it is not in the list.
        """
        self._items.remove(callback)

    def emit(self, event: str, trainer: Trainer, *args: Any) -> None:
        """Call ``event`` (a method name of :class:`Callback`) of every callback, in order."""
        for callback in tuple(self._items):  # a callback may add or remove callbacks
            getattr(callback, event)(trainer, *args)


class Checkpoint(Callback):
    """Saves the run's checkpoint (:meth:`Trainer.save_checkpoint`: ``run_path/checkpoint.pt``,
    atomic, rank 0 writes) after every epoch and at a stop, so a run resumes where it ended.

    Raises (from the events):
        DivergedError: the weights hold NaN or infinite values (never saved over a good
            checkpoint). RunFolderError: the file cannot be written (disk full, read-only).
    """

    order = 10

    def after_epoch(self, trainer: Trainer, record: EpochRecord) -> None:
        trainer.save_checkpoint()

    def after_stop(self, trainer: Trainer) -> None:
        trainer.save_checkpoint()


class HistoryFiles(Callback):
    """Writes the run's history after every epoch and at a stop (rank 0 only, each file
    atomically): ``history.json`` (the config, label, MACs and parameters per image, world
    size, epoch records and steps), ``history.csv`` (one row per epoch) and ``steps.csv`` (one
    row per step).

    Raises (from the events):
        RunFolderError: a file cannot be written (the previous files stay intact).
    """

    order = 20

    def after_epoch(self, trainer: Trainer, record: EpochRecord) -> None:
        self.write(trainer)

    def after_stop(self, trainer: Trainer) -> None:
        self.write(trainer)

    @staticmethod
    def write(trainer: Trainer) -> None:
        """Write the three files of ``trainer``'s history now."""
        if not trainer.is_main:
            return
        path = trainer.run_path / "history.json"
        try:
            trainer.history.to_json(
                path,
                config=trainer.config.to_dict(),
                label=trainer.config.label,
                macs=trainer.macs,
                params=trainer.params,
                world_size=trainer.world_size,
            )
            path = trainer.run_path / "history.csv"
            trainer.history.to_csv(path)
            path = trainer.run_path / "steps.csv"
            trainer.history.to_csv(path, what="steps")
        except OSError as err:
            raise RunFolderError(write_problem(path, err)) from None


class OnBatch(Callback):
    """Calls ``fn(trainer, step, loss)`` after every training step."""

    def __init__(self, fn: BatchCallback) -> None:
        self.fn = fn

    def after_batch(self, trainer: Trainer, step: int, loss: float) -> None:
        self.fn(trainer, step, loss)


class OnEpoch(Callback):
    """Calls ``fn(trainer, record)`` after every epoch (after its checkpoint and files)."""

    def __init__(self, fn: EpochCallback) -> None:
        self.fn = fn

    def after_epoch(self, trainer: Trainer, record: EpochRecord) -> None:
        self.fn(trainer, record)


def _text_bar(**kwargs: Any) -> Any:
    from tqdm.auto import tqdm

    return tqdm(leave=True, dynamic_ncols=True, **kwargs)


class ProgressBar(Callback):
    """tqdm progress bars of a run (rank 0 only), with the last step's loss.

    Args:
        per: ``"epoch"`` — one bar per epoch (``epoch 3/8``, the command line's), closed with
            the epoch's train loss, train and test accuracy and images/s; ``"run"`` — one bar
            over all steps of the run (the Training app's).
        make_bar: ``make_bar(total=..., initial=..., desc=...)`` returns a tqdm-like bar
            (``update``, ``set_postfix``, ``close``, ``n``) or None for no display; default
            ``tqdm.auto.tqdm`` (a text bar in a terminal, a widget in a notebook).
        desc: the run bar's description (default the config's label).

    Raises:
        ValueError: ``per`` is neither.
    """

    order = 90

    def __init__(
        self,
        per: str = "epoch",
        make_bar: Callable[..., Any] | None = None,
        desc: str | None = None,
    ) -> None:
        if per not in ("epoch", "run"):
            raise ValueError(f"per must be 'epoch' or 'run', got {per!r}")
        self.per, self.desc = per, desc
        self.make_bar = make_bar if make_bar is not None else _text_bar
        self.bar: Any = None
        self._shown = True  # False once make_bar said there is no display: not asked again

    def _open(self, trainer: Trainer, uncounted: int = 0) -> None:
        """Open the bar if none is open, at the trainer's position less ``uncounted`` steps
        (the step just committed, which the caller counts next)."""
        if self.bar is not None or not self._shown or not trainer.is_main:
            return
        if self.per == "run":
            total, done = trainer.total_steps, trainer.global_step
            desc = self.desc or trainer.config.label
        elif not trainer.finished:
            total, done = trainer.steps_per_epoch, trainer.batch_in_epoch
            desc = f"epoch {trainer.epoch + 1}/{trainer.config.epochs}"
        else:
            return
        self.bar = self.make_bar(total=total, initial=done - uncounted, desc=desc)
        self._shown = self.bar is not None

    def before_run(self, trainer: Trainer) -> None:
        self._open(trainer)

    def after_batch(self, trainer: Trainer, step: int, loss: float) -> None:
        self._open(trainer, uncounted=1)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.3f}", refresh=False)

    def after_epoch(self, trainer: Trainer, record: EpochRecord) -> None:
        if self.per != "epoch" or self.bar is None:
            return
        self.bar.update(self.bar.total - self.bar.n)
        self.bar.set_postfix(
            loss=f"{record.train_loss:.3f}",
            train=f"{record.train_acc:.1%}",
            test=f"{record.test_acc:.1%}",
            img_s=f"{record.images_per_s:.0f}",
        )
        self.close()
        self._open(trainer)

    def after_run(self, trainer: Trainer) -> None:
        self.close()

    def close(self) -> None:
        """Close the open bar (a step-driven run, like the app's, calls this at its end)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class EpochLog(Callback):
    """One line per epoch (rank 0 only): ``  HetConv P=4 epoch 3: test 71.20%, 1520 images/s,
    42 s`` (seconds since the callback was made), written with ``write`` (default ``print``,
    flushed). It comes after the progress bars (order 95), so its line never cuts a bar."""

    order = 95

    def __init__(self, write: Callable[[str], object] | None = None) -> None:
        self.write = write or functools.partial(print, flush=True)
        self.start = time.perf_counter()

    def after_epoch(self, trainer: Trainer, record: EpochRecord) -> None:
        if trainer.is_main:
            self.write(
                f"  {trainer.config.label} epoch {record.epoch}: test {record.test_acc:.2%}, "
                f"{record.images_per_s:.0f} images/s, {time.perf_counter() - self.start:.0f} s"
            )
