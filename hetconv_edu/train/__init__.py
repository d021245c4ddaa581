"""Training HetConv networks and their baselines: one :class:`Trainer` for scripts, the command
line and notebooks.

The modules, one idea each (everything below is importable from ``hetconv_edu.train``):

============================  ==================================================================
``config``                    :class:`TrainConfig` — every setting of a run, validated, with its
                              description (the command line's options are made from it).
``engine``                    :class:`Trainer` — builds the model and the data (seeded) and
                              trains in slices (:meth:`Trainer.step`, what a notebook does) or to
                              the end (:meth:`Trainer.run`, with Ctrl-C handling).
``callbacks``                 The engine's events and what listens to them: the checkpoint and
                              the history files of every run, progress bars and epoch lines
                              shared by the command line, the apps and the benchmarks.
``optim``                     SGD, the learning-rate schedules (:data:`SCHEDULES`,
                              :func:`lr_factor`), mixed precision.
``devices``                   :func:`pick_device`, CPU threads (:func:`physical_cores`,
                              :func:`set_cpu_threads`, :func:`threads_warning`), ``torchrun``.
``history``                   :class:`EpochRecord`, :class:`History` and their JSON/CSV files.
``transaction``               A training step is all or nothing (its snapshot and restore).
``evaluation``                Loss, accuracy, logits, confusion matrix and cost of a model.
``checkpoint``                What a checkpoint holds and its checked file
                              (:func:`read_checkpoint`).
``run_folder``                One run per folder, never overwritten, one writer at a time.
``errors``                    :class:`TrainingError` and the other errors of a run.
``comparison``                :func:`compare` several configs alike; :func:`format_table`.
============================  ==================================================================

Reproducibility: the same ``seed`` gives the same initial weights (``build_model(seed=...)``
seeds every layer from its name, so a standard and a HetConv model share all layers whose shape
agrees), the same training subset, the same data order and augmentation (``Batches.set_epoch``),
and on the same machine and thread count the same weights after every step. A run resumed from
its checkpoint (``Trainer(config, resume=True)`` or :meth:`Trainer.resume`) continues exactly
where it stopped, also in the middle of an epoch.

Files of a run (``run_dir/name/``), written by rank 0 only:

* ``checkpoint.pt`` — model, optimizer, scheduler, grad scaler, epoch, step, RNG states, history
  and config, saved atomically with a checksum; loadable with
  ``torch.load(..., weights_only=True)``.
* ``history.json`` — config, MACs/params, epoch records and per-step (step, loss, lr).
* ``history.csv`` — one row per epoch; ``steps.csv`` — one row per training step.

Devices: ``device="auto"`` takes CUDA, else Apple's MPS, else the CPU. On the CPU the trainer
uses one thread per physical core (``threads`` overrides) and channels-last memory format
(oneDNN's convolutions run faster in NHWC); on CUDA it trains in mixed precision.

Distributed: run the command line under ``torchrun --nproc_per_node=K``; the trainer sees
``WORLD_SIZE``/``RANK``, joins a process group (gloo on CPU, NCCL on CUDA) and wraps the model in
DistributedDataParallel. Each rank trains on its shard of every batch order, so K processes with
``batch_size`` B train with a global batch of K·B.
"""

from hetconv_edu.train.callbacks import (
    BatchCallback,
    Callback,
    Checkpoint,
    EpochCallback,
    EpochLog,
    HistoryFiles,
    ProgressBar,
)
from hetconv_edu.train.checkpoint import (
    CHECKPOINT,
    read_checkpoint,
    save_atomic,
    save_checkpoint_file,
)
from hetconv_edu.train.comparison import RunResult, compare, format_table
from hetconv_edu.train.config import MACHINE_FIELDS, TrainConfig
from hetconv_edu.train.devices import (
    physical_cores,
    pick_device,
    set_cpu_threads,
    threads_warning,
)
from hetconv_edu.train.engine import RANK_STATE_ENV, Trainer
from hetconv_edu.train.errors import (
    CheckpointError,
    DivergedError,
    RunExistsError,
    RunFolderError,
    TrainingError,
)
from hetconv_edu.train.history import EpochRecord, History
from hetconv_edu.train.optim import SCHEDULES, lr_factor
from hetconv_edu.train.run_folder import LOCK_FILE, RUN_FILES, unused_run_name

__all__ = [
    "CHECKPOINT",
    "LOCK_FILE",
    "MACHINE_FIELDS",
    "RANK_STATE_ENV",
    "RUN_FILES",
    "SCHEDULES",
    "BatchCallback",
    "Callback",
    "Checkpoint",
    "CheckpointError",
    "DivergedError",
    "EpochCallback",
    "EpochLog",
    "EpochRecord",
    "History",
    "HistoryFiles",
    "ProgressBar",
    "RunExistsError",
    "RunFolderError",
    "RunResult",
    "TrainConfig",
    "Trainer",
    "TrainingError",
    "compare",
    "format_table",
    "lr_factor",
    "physical_cores",
    "pick_device",
    "read_checkpoint",
    "save_atomic",
    "save_checkpoint_file",
    "set_cpu_threads",
    "threads_warning",
    "unused_run_name",
]
