"""The training engine: :class:`Trainer`, one model on one data set, trained in slices.

:meth:`Trainer.step` trains a few batches and returns (what a notebook does, yielding to its
event loop between slices); :meth:`Trainer.run` trains to the end with Ctrl-C handling. Each
step is all or nothing (:mod:`hetconv_edu.train.transaction`); each epoch ends with an
evaluation on the test set and an :class:`EpochRecord` in :attr:`Trainer.history`. What
happens around that — the checkpoint, the history files, progress bars, your own code — is a
:class:`~hetconv_edu.train.callbacks.Callback` on the engine's events.

This module is longer than the package's usual ~500 lines because :class:`Trainer` is one state
machine (its docstring says why); a quarter of it is the docstrings of the public API.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hetconv_edu.checks import check_bool, check_positive_int, is_out_of_memory
from hetconv_edu.data import Batches, ImageDataset, load_dataset
from hetconv_edu.flops import NetworkCost
from hetconv_edu.models import build_model
from hetconv_edu.train.callbacks import (
    BatchCallback,
    Callback,
    CallbackList,
    Checkpoint,
    EpochCallback,
    HistoryFiles,
    OnBatch,
    OnEpoch,
    ProgressBar,
)
from hetconv_edu.train.checkpoint import (
    CHECKPOINT,
    load_trainer_state,
    read_checkpoint,
    save_atomic,
    save_checkpoint_file,
    trainer_state,
)
from hetconv_edu.train.config import MACHINE_FIELDS, TrainConfig, too_large
from hetconv_edu.train.devices import distributed, prepare_device, process_group_env
from hetconv_edu.train.errors import CheckpointError, DivergedError, RunFolderError, write_problem
from hetconv_edu.train.evaluation import Evaluator, model_cost
from hetconv_edu.train.history import EpochRecord, History
from hetconv_edu.train.optim import amp_dtype, make_optimizer, make_scaler
from hetconv_edu.train.run_folder import RunFolder
from hetconv_edu.train.transaction import EpochSums, StepSnapshot, all_finite, step_tensors

__all__ = ["RANK_STATE_ENV", "Trainer"]

RANK_STATE_ENV = "HETCONV_EDU_RANK_STATE_DIR"
"""Test hook: when set, every rank saves its final model state to ``DIR/rank<R>.pt``."""

_RESUME_OVERRIDES = tuple(f for f in MACHINE_FIELDS if f not in ("run_dir", "name"))
"""What :meth:`Trainer.resume` may change (the run folder is where the checkpoint is)."""


class Trainer:
    """Trains one model on one data set with SGD (Nesterov momentum) and a learning-rate
    schedule, in slices (:meth:`step`) or to the end (:meth:`run`).

    Why one class (and a module over the package's usual ~500 lines): the trainer is one state
    machine whose methods read and write the same counters — epoch, step, batch in epoch, the
    unfinished epoch's sums, the stop flag. Slicing, epoch ends, stopping and resuming cannot be
    pulled apart without passing that state around. Everything that stands alone is outside it:
    the config, devices, the optimiser, the step's snapshot, evaluation, checkpoint files, the
    run folder, and the callbacks (checkpoint, history files, progress bars) on its events.

    Args:
        config: the run's settings (a :class:`TrainConfig`; keyword overrides not taken).
        dataset: the data (default: loaded from the config's dataset, data_root, subset,
            test_subset and seed). Its shape sets the model's input channels and classes.
        resume: continue from ``run_path/checkpoint.pt``.
        overwrite: a new run may replace the run already in ``run_path`` (its checkpoint and
            history files are deleted now). Without it a new run never replaces one.
        callbacks: callbacks added to the run's own (:class:`Checkpoint`,
            :class:`HistoryFiles`), which every trainer has; see
            :mod:`hetconv_edu.train.callbacks` for the events.

    Raises:
        TypeError: ``config`` is not a :class:`TrainConfig`.
        ValueError: an unavailable device; a model that does not fit in the device's memory
            (naming its widths); a batch larger than the training images per process;
            ``resume`` with a checkpoint made with a config that trains differently.
        FileNotFoundError: ``resume`` and no checkpoint in ``run_path``.
        CheckpointError: ``resume`` and the checkpoint is damaged or holds non-finite weights.
        RunExistsError: a new run (no ``resume``, no ``overwrite``) where a run is, naming the
            folder and the ways forward.
        RunFolderError: the run folder cannot be written, or another trainer (another
            process, notebook or app) holds its lock (:data:`LOCK_FILE`), reported now, not at
            the first checkpoint.
        DatasetNotFoundError, DataIntegrityError: the data set cannot be loaded.

    Shapes: the model takes normalised float images (B, C, H, W) of the data set's format
    and returns logits (B, classes); :meth:`predict` takes the data set's uint8 images.

    Devices: on the CPU one thread per physical core (``config.threads`` overrides; more than
    the cores is warned about) and channels-last memory; on CUDA mixed precision (bf16 autocast
    where supported, else fp16 with a gradient scaler). Distributed (under ``torchrun``): joins
    a process group (gloo on CPU, NCCL on CUDA), wraps the model in DistributedDataParallel and
    trains each rank on its shard of every batch order; evaluation is sharded and summed, and
    batch-norm statistics come from rank 0 before each evaluation and checkpoint.

    Attributes:
        config, model (the bare ``nn.Module``, never the DDP wrapper), history, run_path,
        device, optimizer, scheduler, scaler, dataset, batches, epoch (finished epochs),
        global_step (finished steps), batch_in_epoch, steps_per_epoch, total_steps, finished,
        stopped (the last :meth:`step`/:meth:`run` ended on a stop), rank, world_size,
        is_main (rank 0), channels_last.
    """

    def __init__(
        self,
        config: TrainConfig,
        dataset: ImageDataset | None = None,
        *,
        resume: bool = False,
        overwrite: bool = False,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        resume = check_bool("resume", resume)
        overwrite = check_bool("overwrite", overwrite)
        self.config = config
        self._set_up_process()
        self.dataset = dataset if dataset is not None else self._load_data()
        self.run_path = Path(config.run_dir) / config.run_name
        self.folder = RunFolder(self.run_path, writer=self.is_main)
        try:
            self.model = self._build_model()
            self._place_model()
        except (MemoryError, RuntimeError) as err:
            if not is_out_of_memory(err):
                raise
            raise ValueError(too_large(config, err, f"on {self.device}")) from None
        self._cost: NetworkCost | None = None
        self._make_batches()
        self.optimizer, self.scheduler = make_optimizer(self.model, config, self.total_steps)
        self._amp_dtype = amp_dtype(self.device)
        self.scaler = make_scaler(self.device, self._amp_dtype)
        self.evaluator = Evaluator(
            self.model, self.dataset, device=self.device, memory_format=self._memory_format,
            autocast=self._autocast, rank=self.rank, world_size=self.world_size,
        )  # fmt: skip
        self.history = History()
        self.epoch = 0
        self.global_step = 0
        self._batch_in_epoch = 0
        self._partial = EpochSums()
        self._iter: Iterator[tuple[torch.Tensor, torch.Tensor]] | None = None
        self._stop = threading.Event()
        self.stopped = False
        self._callbacks = CallbackList()
        for callback in (Checkpoint(), HistoryFiles(), *callbacks):
            self._callbacks.add(callback)
        self._open_folder(resume, overwrite)

    # ---- construction helpers ------------------------------------------------------------

    def _set_up_process(self) -> None:
        """This process's rank, device (and threads) and memory format; under ``torchrun``
        joins the process group unless one is already there (then it is not ours to close)."""
        config = self.config
        self.rank, self.world_size, local_rank, local_world = process_group_env()
        self.is_main = self.rank == 0
        self.device = prepare_device(
            config.device, config.threads, world_size=self.world_size, local_rank=local_rank,
            local_world=local_world, warn=self.is_main,
        )  # fmt: skip
        self.channels_last = (
            config.channels_last
            if config.channels_last is not None
            else self.device.type in ("cpu", "cuda")
        )
        self._memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        self._owns_group = False
        if self.world_size > 1 and not distributed().is_initialized():
            distributed().init_process_group("nccl" if self.device.type == "cuda" else "gloo")
            self._owns_group = True

    def _load_data(self) -> ImageDataset:
        """The config's data set (its subset, test subset and seed)."""
        c = self.config
        return load_dataset(
            c.dataset, c.data_root, subset=c.subset, test_subset=c.test_subset, seed=c.seed,
            download=c.download,
        )  # fmt: skip

    def _place_model(self) -> None:
        """The model on the device in the memory format; DistributedDataParallel when
        distributed (``_train_model``, what training steps call)."""
        self.model.to(device=self.device, memory_format=self._memory_format)
        self._train_model: nn.Module = self.model
        if self.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel

            self._train_model = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )

    def _make_batches(self) -> None:
        """This process's shuffled, augmented training batches and the step counts."""
        c = self.config
        self.batches = Batches(
            self.dataset, "train", c.batch_size, shuffle=True, augment=c.augment, seed=c.seed,
            device=self.device, rank=self.rank, world_size=self.world_size, drop_last=True,
        )  # fmt: skip
        self.steps_per_epoch = len(self.batches)
        if self.steps_per_epoch == 0:
            raise ValueError(
                f"batch_size={c.batch_size} is larger than the {self.batches.num_examples} "
                f"training images per process; use a smaller batch size or more images"
            )
        self.total_steps = self.steps_per_epoch * c.epochs

    def _open_folder(self, resume: bool, overwrite: bool) -> None:
        """Lock the run folder, then continue the run there (``resume``) or claim it."""
        self.folder.acquire()
        try:
            if resume:
                load_trainer_state(self, self.run_path / CHECKPOINT)
            else:
                self.folder.claim(overwrite)
        except BaseException:
            self.folder.release()
            raise

    def _build_model(self) -> nn.Module:
        """The network the config names (subclasses train other networks on the same loop)."""
        config = self.config
        return build_model(
            config.model,
            config.conv,
            seed=config.seed,
            num_classes=self.dataset.num_classes,
            in_channels=self.dataset.in_channels,
            arrangement=config.arrangement,
            **config.model_kwargs,
        )

    @classmethod
    def resume(
        cls, run_path: str | Path, dataset: ImageDataset | None = None, **overrides: Any
    ) -> Trainer:
        """The trainer of the run saved in ``run_path`` (a run folder or its ``checkpoint.pt``),
        ready to continue with the config saved there.

        Args:
            run_path: the run folder, or its checkpoint file.
            dataset: as for :class:`Trainer`.
            overrides: machine settings that may change: ``data_root``, ``download``,
                ``device``, ``channels_last``, ``threads``.

        Raises:
            ValueError: an override of anything else. What :func:`read_checkpoint` and
            :class:`Trainer` raise.
        """
        path = Path(run_path)
        path = path if path.suffix == ".pt" else path / CHECKPOINT
        values = read_checkpoint(path)["config"]
        if not isinstance(values, dict):
            raise CheckpointError(f"the checkpoint {path} holds no readable config")
        bad = sorted(set(overrides) - set(_RESUME_OVERRIDES))
        if bad:
            raise ValueError(f"a resumed run cannot change {', '.join(bad)}")
        values = {
            **values,
            **overrides,
            "run_dir": str(path.parent.parent),
            "name": path.parent.name,
        }
        return cls(TrainConfig.from_dict(values), dataset, resume=True)

    # ---- public properties ---------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """All ``config.epochs`` epochs done."""
        return self.epoch >= self.config.epochs

    @property
    def batch_in_epoch(self) -> int:
        """Batches trained in the current epoch (0 to ``steps_per_epoch``)."""
        return self._batch_in_epoch

    @property
    def lr(self) -> float:
        """The learning rate of the next step."""
        return float(self.optimizer.param_groups[0]["lr"])

    @property
    def cost(self) -> NetworkCost:
        """:func:`hetconv_edu.flops.network_cost` of the model on one image (cached)."""
        if self._cost is None:
            data = self.dataset
            shape = (1, data.in_channels, data.image_size, data.image_size)
            self._cost = model_cost(self._costed_model(), shape)
        return self._cost

    def _costed_model(self) -> nn.Module:
        """The network whose cost :attr:`cost` reports."""
        return self.model

    @property
    def macs(self) -> int:
        """Multiply-accumulates per image, the paper's count (:attr:`NetworkCost.macs`)."""
        return self.cost.macs

    @property
    def params(self) -> int:
        """Every learnable parameter of the model (batch norm included)."""
        return sum(p.numel() for p in self.model.parameters())

    # ---- callbacks and stopping ----------------------------------------------------------

    @property
    def callbacks(self) -> list[Callback]:
        """The callbacks, in the order they are called."""
        return list(self._callbacks)

    def add_callback(self, callback: Callback) -> Callback:
        """Add ``callback`` (called in :attr:`Callback.order`, ties in the order added);
        returns it. Raises ``TypeError`` for anything but a :class:`Callback`."""
        return self._callbacks.add(callback)

    def remove_callback(self, callback: Callback) -> None:
        """Remove ``callback`` (e.g. the run's own :class:`Checkpoint`, for a run that writes
        no checkpoint). Raises ``ValueError`` if it is not there."""
        self._callbacks.remove(callback)

    def on_batch(self, fn: BatchCallback) -> BatchCallback:
        """Register ``fn(trainer, step, loss)``, called after every training step (step counts
        from 1). Returns ``fn`` (usable as a decorator)."""
        self._callbacks.add(OnBatch(fn))
        return fn

    def on_epoch(self, fn: EpochCallback) -> EpochCallback:
        """Register ``fn(trainer, record)``, called after every epoch's evaluation, history
        files and checkpoint. Returns ``fn``."""
        self._callbacks.add(OnEpoch(fn))
        return fn

    def request_stop(self) -> None:
        """Stop after the current batch: :meth:`step` emits ``after_stop`` (the checkpoint and
        history are saved) and returns False. Safe to call from callbacks, other threads and
        signal handlers. Calling :meth:`step` again afterwards continues the training."""
        self._stop.set()

    # ---- training ------------------------------------------------------------------------

    def step(self, max_batches: int = 1) -> bool:
        """Train up to ``max_batches`` batches; return True while there is more to train.

        Emits ``after_batch`` after every step and, at an epoch's end (evaluation, record),
        ``after_epoch``. Returns False when all epochs are done or a stop was requested (after
        ``after_stop``: the checkpoint and history are saved). The run folder's lock is held
        from the first call until it returns False.

        Raises:
            ValueError: ``max_batches`` is not a positive integer.
            DivergedError: the loss or the weights became NaN/infinite (the weights stay as
                before that step).
            RunFolderError: a file of the run cannot be written.
            KeyboardInterrupt: in the middle of a batch, that batch is discarded (the state
                stays as after the previous one) and the interrupt propagates.
        """
        max_batches = check_positive_int("max_batches", max_batches)
        self.folder.acquire()
        try:
            more = self._steps(max_batches)
        except BaseException:
            self.folder.release()
            raise
        if not more:
            self.folder.release()
        return more

    def _steps(self, max_batches: int) -> bool:
        self.stopped = False
        done = 0
        while not self.finished and done < max_batches:
            if self._batch_in_epoch == self.steps_per_epoch:
                # An epoch trained but not ended (an interrupt in its evaluation or files).
                self._end_epoch()
                continue
            if self._stop_agreed():
                return self._stop_here()
            self._train_batch()
            done += 1
            if self._batch_in_epoch == self.steps_per_epoch:
                self._end_epoch()
        if not self.finished and self._batch_in_epoch == self.steps_per_epoch:
            self._end_epoch()
        if self.finished:
            self._stop.clear()
            return False
        if self._stop_agreed():
            return self._stop_here()
        return True

    def _stop_here(self) -> bool:
        self._stop.clear()
        self.stopped = True
        self._callbacks.emit("after_stop", self)
        return False

    def _stop_agreed(self) -> bool:
        stop = self._stop.is_set()
        if self.world_size > 1:
            flag = torch.tensor([float(stop)], device=self.device)
            distributed().all_reduce(flag, op=distributed().ReduceOp.MAX)
            stop = bool(flag.item())
        return stop

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._iter is None:
            self.batches.set_epoch(self.epoch)
            self._iter = iter(self.batches)
            for _ in range(self._batch_in_epoch):
                next(self._iter)
        return next(self._iter)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self._amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self._amp_dtype)

    def _train_batch(self) -> None:
        """One step, all or nothing: an exception or interrupt anywhere in it (data, forward,
        backward, the update, the schedule, the bookkeeping) puts back the weights, batch-norm
        statistics, optimizer and scheduler state, counters and RNG as before the step
        (:class:`StepSnapshot`), and the next step reads the same batch again. A non-finite
        loss raises :class:`DivergedError` the same way (the weights never take a NaN update)."""
        start = time.perf_counter()
        before = StepSnapshot.take(self)
        try:
            images, labels = self._next_batch()
            images = images.contiguous(memory_format=self._memory_format)
            self._train_model.train()
            with self._autocast():
                loss, logits = self._forward_loss(images, labels)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            lr = self.lr
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            loss_value = float(loss.detach())
            if not (math.isfinite(loss_value) and all_finite(step_tensors(self.model))):
                raise DivergedError(self._divergence_message(loss_value, lr))
            correct = int((logits.detach().argmax(1) == labels).sum())
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            self.global_step += 1
            self._batch_in_epoch += 1
            self._partial.add(
                loss_value * len(labels), correct, len(labels), time.perf_counter() - start
            )
            self.history.steps.append((self.global_step, loss_value, lr))
        except BaseException:
            before.restore(self)
            raise
        self._callbacks.emit("after_batch", self, self.global_step, loss_value)

    def _divergence_message(self, loss: float, lr: float) -> str:
        what = f"the loss became {loss}" if not math.isfinite(loss) else "weights became NaN"
        return (
            f"training diverged: {what} at step {self.global_step + 1} of "
            f"{self.total_steps} (epoch {self.epoch + 1}), learning rate {lr:.4g} (peak "
            f"--lr {self.config.lr:g}). The weights are kept as before that step; nothing NaN "
            f"was saved in {self.run_path}/. Train again with a smaller learning rate, e.g. "
            f"--lr {self.config.lr / 10:g} (and --overwrite), or a longer warm-up (--warmup)."
        )

    def _forward_loss(
        self, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(training loss, logits) of one batch; subclasses may run several forward passes."""
        logits = self._train_model(images)
        loss = F.cross_entropy(logits.float(), labels, label_smoothing=self.config.label_smoothing)
        return loss, logits

    def _end_epoch(self) -> None:
        """Evaluate, record, emit ``after_epoch``. An interrupt before the record is committed
        leaves the epoch trained but not ended (``batch_in_epoch == steps_per_epoch``): the
        next :meth:`step` ends it; an interrupt while saving leaves the previous files intact."""
        sums = self._partial
        totals = torch.tensor([sums.loss, sums.correct, sums.count], dtype=torch.float64)
        if self.world_size > 1:
            totals = totals.to(self.device)
            distributed().all_reduce(totals)
            totals = totals.cpu()
        loss_sum, correct, count = totals.tolist()
        test_loss, test_acc = self.evaluate("test")
        record = EpochRecord(
            epoch=self.epoch + 1,
            train_loss=loss_sum / count,
            train_acc=correct / count,
            test_loss=test_loss,
            test_acc=test_acc,
            lr=self.history.steps[-1][2] if self.history.steps else self.lr,
            seconds=sums.seconds,
            images_per_s=count / sums.seconds if sums.seconds > 0 else 0.0,
        )
        try:
            self.history.epochs.append(record)
            self.epoch += 1
            self._batch_in_epoch = 0
            self._partial = EpochSums()
            self._iter = None
        except BaseException:  # a Ctrl-C between two of these lines: undo the commit
            del self.history.epochs[record.epoch - 1 :]
            self.epoch = record.epoch - 1
            self._batch_in_epoch = self.steps_per_epoch
            self._partial = sums
            raise
        self._callbacks.emit("after_epoch", self, record)

    def run(self, progress: bool = True) -> History:
        """Train to the end (or a stop); return the history.

        Emits ``before_run`` and ``after_run`` around the training. ``progress``: a
        :class:`ProgressBar` per epoch for this run (rank 0). Ctrl-C (SIGINT, also a Jupyter
        interrupt) ends the training after the current batch with the history and a
        checkpoint saved; a second Ctrl-C interrupts at once (the unfinished batch is
        discarded, the checkpoint still saved). A ``KeyboardInterrupt`` raised by a callback
        is handled the same way. The message printed says how to resume.

        Raises:
            What :meth:`step` raises, but ``KeyboardInterrupt``.
        """
        bar = self.add_callback(ProgressBar("epoch")) if progress and self.is_main else None
        try:
            with _sigint_requests_stop(self):
                self._callbacks.emit("before_run", self)
                try:
                    while not self.finished and self.step(1):
                        pass
                except KeyboardInterrupt:
                    self._stop.clear()
                    self.stopped = True
                    self.folder.acquire()
                    try:
                        self._callbacks.emit("after_stop", self)
                    finally:
                        self.folder.release()
                finally:
                    self._callbacks.emit("after_run", self)
        finally:
            if bar is not None:
                self.remove_callback(bar)
        if self.stopped and self.is_main:
            print(self.stop_message())
        self._dump_rank_state()
        return self.history

    def stop_message(self) -> str:
        """What to say after a stop: where training stopped and how to resume it."""
        return (
            f"Training stopped after epoch {self.epoch} + {self._batch_in_epoch} batches "
            f"(step {self.global_step} of {self.total_steps}); checkpoint saved in "
            f"{self.run_path}/. Resume with `python -m hetconv_edu train --resume "
            f"--run-dir {self.config.run_dir} --name {self.run_path.name}` or "
            f"`Trainer.resume({str(self.run_path)!r}).run()`."
        )

    def _dump_rank_state(self) -> None:
        folder = os.environ.get(RANK_STATE_ENV)
        if folder:
            state = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
            save_atomic(state, Path(folder) / f"rank{self.rank}.pt")

    # ---- evaluation and prediction -------------------------------------------------------

    def _sync_buffers(self) -> None:
        """Batch-norm statistics from rank 0 (each rank's drift with its own shard)."""
        if self.world_size > 1:
            for buffer in self.model.buffers():
                distributed().broadcast(buffer, 0)

    def evaluate(self, split: str = "test", batch_size: int = 500) -> tuple[float, float]:
        """(mean cross-entropy in nats per image, accuracy in [0, 1]) of the model on a whole
        split, without augmentation or label smoothing, in eval mode (the mode is restored).
        Distributed: each rank evaluates every ``world_size``-th image and the sums are
        combined. An empty split gives (nan, nan).

        Raises:
            ValueError: ``split`` is neither ``"train"`` nor ``"test"``.
        """
        self._sync_buffers()
        totals = self.evaluator.split_sums(split, batch_size)
        if self.world_size > 1:
            distributed().all_reduce(totals)
        loss_total, correct_total, count = totals.tolist()
        if count == 0:
            return float("nan"), float("nan")
        return loss_total / count, correct_total / count

    def predict(self, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """Logits (N, classes), float32 on the CPU, for uint8 images (N, C, H, W) — or one
        image (C, H, W), giving (classes,) — in the data set's format, normalised as in
        training; eval mode (restored afterwards).

        Raises:
            ValueError: not uint8, or another image shape than the data set's.
        """
        return self.evaluator.predict(images, batch_size)

    def confusion_matrix(self) -> torch.Tensor:
        """int64 (C, C) on the test set: row = true class, column = predicted class."""
        return self.evaluator.confusion_matrix()

    # ---- checkpoints ---------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly (plain types and tensors on the CPU):
        ``format``, ``model``, ``optimizer``, ``scheduler``, ``scaler``, ``epoch``, ``step``,
        ``batch_in_epoch``, ``partial`` (the unfinished epoch's sums), ``rng`` (torch's, and
        CUDA's when used), ``history`` and ``config``."""
        return trainer_state(self)

    def save_checkpoint(self, path: str | Path | None = None) -> Path:
        """Save :meth:`state_dict` atomically to ``path`` (default ``run_path/checkpoint.pt``)
        with its checksum (:func:`save_checkpoint_file`); only rank 0 writes (every rank must
        call it: batch-norm statistics are synchronised first). Returns the path.

        Raises:
            DivergedError: the weights hold NaN or infinite values (nothing is written).
            RunFolderError: the file cannot be written (the previous one stays intact).
        """
        path = Path(path) if path is not None else self.run_path / CHECKPOINT
        self._sync_buffers()
        if self.is_main:
            if not all_finite(list(self.model.state_dict().values())):
                bad = [k for k, v in self.model.state_dict().items() if not all_finite([v])]
                raise DivergedError(
                    f"the weights hold NaN or infinite values ({', '.join(bad[:3])}); not "
                    f"saving them over the checkpoint in {path.parent}/. Train again with a "
                    f"smaller learning rate, e.g. --lr {self.config.lr / 10:g}."
                )
            try:
                save_checkpoint_file(self.state_dict(), path)
            except OSError as err:
                raise RunFolderError(write_problem(path, err)) from None
        return path

    def close(self) -> None:
        """Release the run folder's lock and leave the process group if this trainer created
        it. (A finished or stopped :meth:`run`/:meth:`step` releases the lock too.)"""
        self.folder.release()
        if self._owns_group:
            distributed().destroy_process_group()
            self._owns_group = False


@contextlib.contextmanager
def _sigint_requests_stop(trainer: Trainer) -> Iterator[None]:
    """Within: the first Ctrl-C (SIGINT) requests a stop after the current batch, a second one
    interrupts at once. Only in the main thread (elsewhere signals cannot be handled)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        if trainer._stop.is_set():  # second Ctrl-C: interrupt now
            raise KeyboardInterrupt
        trainer.request_stop()
        if trainer.is_main:
            print("\nStopping after the current batch (Ctrl-C again to interrupt now)...")

    previous = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
