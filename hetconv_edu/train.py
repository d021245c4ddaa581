"""Training HetConv networks and their baselines: one :class:`Trainer` for scripts, the command
line and notebooks.

The pieces:

* :class:`TrainConfig` — every setting of a run, with class-time defaults (see below).
* :class:`Trainer` — builds the model (``build_model``, seeded) and the data
  (:class:`~hetconv_edu.data.Batches`, seeded), then trains with SGD + Nesterov momentum and a
  one-cycle learning-rate schedule. Train in short slices with :meth:`Trainer.step` (what a
  notebook does, yielding to its event loop between slices) or all at once with
  :meth:`Trainer.run` (progress bars, Ctrl-C handling). Every epoch ends with an evaluation on
  the test set, an :class:`EpochRecord` in :attr:`Trainer.history`, the history written as JSON
  and CSV, and a checkpoint, all under ``runs/<name>/``.
* :func:`compare` — train several configurations on the same data, in the same order, from the
  same initial weights wherever shapes agree, and tabulate accuracy, cost and speed
  (:func:`format_table`).

Reproducibility: the same ``seed`` gives the same initial weights (``build_model(seed=...)``
seeds every layer from its name, so a standard and a HetConv model share all layers whose shape
agrees), the same training subset, the same data order and augmentation (``Batches.set_epoch``),
and on the same machine and thread count the same weights after every step. A run resumed from
its checkpoint (``Trainer(config, resume=True)`` or :meth:`Trainer.resume`) continues exactly
where it stopped, also in the middle of an epoch.

Files of a run (``run_dir/name/``), written by rank 0 only:

* ``checkpoint.pt`` — model, optimizer, scheduler, grad scaler, epoch, step, RNG states, history
  and config, saved atomically (temporary file + ``os.replace``); loadable with
  ``torch.load(..., weights_only=True)``.
* ``history.json`` — config, MACs/params, epoch records and per-step (step, loss, lr).
* ``history.csv`` — one row per epoch; ``steps.csv`` — one row per training step.

Devices: ``device="auto"`` takes CUDA, else Apple's MPS, else the CPU (:func:`pick_device`). On
the CPU the trainer uses one thread per physical core (``threads`` overrides) and channels-last
memory format (oneDNN's convolutions run faster in NHWC); on CUDA it trains in mixed precision
(bf16 autocast where supported, else fp16 with a gradient scaler).

Distributed: run the command line under ``torchrun --nproc_per_node=K``; the trainer sees
``WORLD_SIZE``/``RANK``, joins a process group (gloo on CPU, NCCL on CUDA) and wraps the model in
DistributedDataParallel. Each rank trains on its shard of every batch order (``Batches``
rank/world_size), so K processes with ``batch_size`` B train with a global batch of K·B. Test
evaluation is sharded too and summed over ranks; batch-norm statistics are taken from rank 0
before each evaluation and checkpoint.

Class-time defaults (tuned on CIFAR-10 with 2 CPU cores, see ``benchmarks/cifar10_accuracy.py``):
small_vgg 64-128-256, HetConv P=4, batch 128, SGD lr 0.2 Nesterov momentum 0.9, weight decay
5e-4 on conv/linear weights, one-cycle schedule (20 % linear warm-up, linear decay to zero),
label smoothing 0.1, random crop + flip.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import io
import json
import math
import os
import signal
import threading
import time
import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO, Any

import torch
import torch.nn.functional as F
from torch import nn

from hetconv_edu.checks import (
    check_bool,
    check_choice,
    check_int,
    check_number,
    check_positive_int,
    plain,
)
from hetconv_edu.data import Batches, ImageDataset, load_dataset, normalize
from hetconv_edu.fileio import atomic_write, atomic_writer
from hetconv_edu.flops import network_cost
from hetconv_edu.layers import parse_conv_spec
from hetconv_edu.models import MODELS, build_model

try:
    import fcntl
except ImportError:  # Windows: run folders are not locked
    fcntl = None

__all__ = [
    "LOCK_FILE",
    "RUN_FILES",
    "SCHEDULES",
    "CheckpointError",
    "DivergedError",
    "EpochRecord",
    "History",
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
    "set_cpu_threads",
    "threads_warning",
    "unused_run_name",
]

SCHEDULES = ("onecycle", "cosine", "constant")
"""Learning-rate schedules: ``onecycle`` (linear warm-up, then linear decay to zero; the best of
the three at class-time budgets), ``cosine`` (linear warm-up, then cosine decay to zero) and
``constant`` (for experiments)."""

CHECKPOINT = "checkpoint.pt"
RANK_STATE_ENV = "HETCONV_EDU_RANK_STATE_DIR"
"""Test hook: when set, every rank saves its final model state to ``DIR/rank<R>.pt``."""

_RESUME_FREE = ("data_root", "download", "device", "channels_last", "threads", "run_dir", "name")
"""Config fields that may differ between a run and its resumption (they do not change the
training's result)."""


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass
class TrainConfig:
    """Every setting of a training run. Validated on construction (``ValueError``).

    Args:
        model: a network of :data:`hetconv_edu.models.MODELS`.
        conv: the family of every switchable 3×3 conv (``"standard"``, ``"hetconv:4"``, ...), or
            a list with one family per layer.
        model_kwargs: extra arguments of the model, e.g. ``{"widths": (32, 64, 128)}``.
        arrangement: HetConv channel arrangement, ``"grouped"`` (fast) or ``"shifted"``.
        dataset: ``"cifar10"`` or ``"fashion-mnist"``.
        data_root: the data folder (default ``$HETCONV_EDU_DATA`` or the project's ``data/``).
        download: whether a data set missing from the data folder may be downloaded.
        subset, test_subset: train / test on a class-balanced random subset of this size.
        epochs: passes over the training set.
        batch_size: images per step and per process.
        lr: peak learning rate.
        momentum, nesterov, weight_decay: SGD settings (weight decay on conv/linear weights,
            not on biases and batch norm).
        label_smoothing: of the cross-entropy loss.
        schedule: one of :data:`SCHEDULES`.
        warmup: fraction of all steps spent warming up (onecycle and cosine).
        augment: random crop (pad 4) and horizontal flip of training images.
        seed: initial weights, subsets, data order and augmentation.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.
        channels_last: NHWC memory format; None: on CPU and CUDA.
        threads: CPU threads; None: one per physical core (per process when distributed).
        run_dir: folder of all runs; the run writes to ``run_dir/name/``.
        name: the run's name; None: derived from dataset, model and conv.
    """

    model: str = "small_vgg"
    conv: str | list[str] = "hetconv:4"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    arrangement: str = "grouped"
    dataset: str = "cifar10"
    data_root: str | None = None
    download: bool = True
    subset: int | None = None
    test_subset: int | None = None
    epochs: int = 8
    batch_size: int = 128
    lr: float = 0.2
    momentum: float = 0.9
    weight_decay: float = 5e-4
    nesterov: bool = True
    label_smoothing: float = 0.1
    schedule: str = "onecycle"
    warmup: float = 0.2
    augment: bool = True
    seed: int = 0
    device: str = "auto"
    channels_last: bool | None = None
    threads: int | None = None
    run_dir: str = "runs"
    name: str | None = None

    def __post_init__(self) -> None:
        # Every value becomes a plain Python type (numpy scalars, 0-d tensors, tuples, paths),
        # so that the config is JSON and ``torch.load(weights_only=True)`` can read it back.
        self.model = check_choice("model", _text(self.model), sorted(MODELS))
        conv = _plain_tree(self.conv)
        if isinstance(conv, list):
            if not conv:
                raise ValueError("conv must be a family like 'hetconv:4' or a non-empty list")
            self.conv = [str(parse_conv_spec(_text(c))) for c in conv]
        else:
            self.conv = str(parse_conv_spec(_text(conv)))
        if not isinstance(self.model_kwargs, dict) or not all(
            isinstance(k, str) for k in self.model_kwargs
        ):
            raise ValueError(
                f"model_kwargs must be a dict with text keys, e.g. {{'widths': [32, 64, 128]}}, "
                f"got {self.model_kwargs!r}"
            )
        self.model_kwargs = _plain_tree(self.model_kwargs)
        self.arrangement = check_choice(
            "arrangement", _text(self.arrangement), ("grouped", "shifted")
        )
        self.dataset = check_choice("dataset", _text(self.dataset), ("cifar10", "fashion-mnist"))
        self.data_root = None if self.data_root is None else _folder("data_root", self.data_root)
        self.download = check_bool("download", self.download)
        for key in ("subset", "test_subset", "threads"):
            value = getattr(self, key)
            if value is not None:
                setattr(self, key, check_positive_int(key, value))
        self.epochs = check_positive_int("epochs", self.epochs)
        self.batch_size = check_positive_int("batch_size", self.batch_size)
        self.seed = check_int("seed", self.seed, 0)
        self.lr = check_number("lr", self.lr, minimum=0, exclusive_minimum=True)
        self.momentum = check_number("momentum", self.momentum, minimum=0, maximum=1,
                                     exclusive_maximum=True)  # fmt: skip
        self.weight_decay = check_number("weight_decay", self.weight_decay, minimum=0)
        self.nesterov = check_bool("nesterov", self.nesterov)
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov needs momentum > 0 (or nesterov=False)")
        self.label_smoothing = check_number(
            "label_smoothing", self.label_smoothing, minimum=0, maximum=1, exclusive_maximum=True
        )
        self.schedule = check_choice("schedule", _text(self.schedule), SCHEDULES)
        self.warmup = check_number("warmup", self.warmup, minimum=0, maximum=1,
                                   exclusive_maximum=True)  # fmt: skip
        self.augment = check_bool("augment", self.augment)
        if not isinstance(self.device, str) or not self.device:
            raise ValueError(f"device must be text like 'auto', 'cpu', 'cuda', got {self.device!r}")
        self.device = str(self.device)
        if self.channels_last is not None:
            self.channels_last = check_bool("channels_last (or None)", self.channels_last)
        self.run_dir = _folder("run_dir", self.run_dir)
        if self.name is not None:
            name = _text(self.name)
            if not isinstance(name, str) or not name or "/" in name or name[0] == ".":
                raise ValueError(
                    f"name must be a folder name (no '/', not starting with '.'), got {name!r}"
                )
            self.name = name
        self._check_model_fits()

    def _check_model_fits(self) -> None:
        """Build the network on the ``meta`` device (no memory, no arithmetic): model_kwargs or
        a per-layer conv list that do not fit the model are refused now, not mid-training."""
        try:
            with torch.device("meta"):
                build_model(self.model, self.conv, seed=None, arrangement=self.arrangement,
                            **self.model_kwargs)  # fmt: skip
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"model {self.model!r} cannot be built with conv={self.conv!r} and "
                f"model_kwargs={self.model_kwargs!r}: {err}"
            ) from None

    @property
    def run_name(self) -> str:
        """``name``, or one derived from dataset, model and conv (``small_vgg-hetconv4``)."""
        if self.name:
            return self.name
        if isinstance(self.conv, list):
            unique = list(dict.fromkeys(self.conv))
            conv = "-".join(unique) if len(unique) == 1 else f"perlayer{_crc(self.conv)}"
        else:
            conv = self.conv
        name = f"{self.model}-{conv.replace(':', '')}"
        if self.model_kwargs:
            name += f"-{_crc(self.model_kwargs)}"
        if self.arrangement != "grouped":
            name += f"-{self.arrangement}"
        return name if self.dataset == "cifar10" else f"{self.dataset}-{name}"

    @property
    def label(self) -> str:
        """A readable label for tables: ``HetConv P=4``, ``standard``, or the list of families."""
        if isinstance(self.conv, list):
            unique = list(dict.fromkeys(self.conv))
            if len(unique) > 1:
                return "per-layer " + ",".join(self.conv)
            return parse_conv_spec(unique[0]).label
        return parse_conv_spec(self.conv).label

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-friendly values (lists, dicts, str, numbers, None)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """A config from :meth:`to_dict` output; unknown keys raise ``ValueError``."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields: {', '.join(unknown)}")
        return cls(**values)


def _text(value: object) -> object:
    """``str`` subclasses (``numpy.str_``) as plain ``str``; anything else unchanged."""
    return str(value) if isinstance(value, str) else plain(value)


def _folder(name: str, value: object) -> str:
    """A folder given as text or a path, as plain ``str``; ``ValueError`` otherwise."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a folder (text or a path), got {value!r}")
    return str(value)


def _plain_tree(value: Any) -> Any:
    """``value`` with numpy scalars, 0-d tensors and ``str`` subclasses made plain Python values
    and tuples made lists, inside lists and dicts too."""
    value = _text(value)
    if isinstance(value, list | tuple):
        return [_plain_tree(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain_tree(v) for k, v in value.items()}
    return value


def _crc(value: object) -> str:
    return f"{zlib.crc32(json.dumps(value, sort_keys=True).encode()):08x}"[:6]


# --------------------------------------------------------------------------------------------
# Devices and threads
# --------------------------------------------------------------------------------------------


def pick_device(name: str = "auto") -> torch.device:
    """The device to train on: ``"auto"`` picks CUDA, else MPS, else the CPU; any other name
    (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``) is checked to be available."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(
            f"unknown device {name!r}; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} asked for, but CUDA is not available here")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {name!r} asked for, but there are {torch.cuda.device_count()} GPUs"
            )
    elif device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device {name!r} asked for, but MPS is not available here")
    elif device.type != "cpu":
        raise ValueError(f"unsupported device {name!r}; use 'auto', 'cpu', 'cuda' or 'mps'")
    return device


def physical_cores() -> int:
    """Physical CPU cores this process may run on (hyper-threads not counted)."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        allowed = list(range(os.cpu_count() or 1))
    cores = set()
    for cpu in allowed:
        path = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list")
        try:
            cores.add(path.read_text().strip())
        except OSError:
            cores.add(str(cpu))
    if not Path("/sys/devices/system/cpu").exists():
        # No topology: assume 2 hardware threads per core on machines with many logical CPUs.
        return max(1, len(allowed) // 2) if len(allowed) > 4 else len(allowed)
    return max(1, len(cores))


def threads_warning(threads: int | None, processes: int = 1) -> str | None:
    """A warning (text) when ``threads`` per process times ``processes`` exceed the physical
    cores: threads then wait for each other and training runs many times slower. None when
    the count fits or ``threads`` is None (one per core is chosen then)."""
    if threads is None:
        return None
    cores = physical_cores()
    if threads * processes <= cores:
        return None
    times = f" × {processes} processes" if processes > 1 else ""
    return (
        f"{threads} threads{times} on {cores} physical CPU cores: the threads wait for each "
        f"other and training can be many times slower; use --threads "
        f"{max(1, cores // processes)} or leave --threads out (one per core)"
    )


def set_cpu_threads(threads: int | None = None, processes: int = 1) -> int:
    """Set torch's intra-op threads: ``threads``, else physical cores / ``processes`` (at
    least 1). Returns the number set."""
    count = threads if threads is not None else max(1, physical_cores() // max(1, processes))
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return count


# --------------------------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------------------------


@dataclass
class EpochRecord:
    """One finished epoch. ``seconds`` is the training time of the epoch (evaluation excluded),
    ``images_per_s`` training images per second over all processes; losses are cross-entropy
    (with the configured label smoothing for ``train_loss``, without for ``test_loss``);
    accuracies are fractions in [0, 1]; ``lr`` is the learning rate of the epoch's last step."""

    epoch: int
    train_loss: float
    train_acc: float
    test_loss: float
    test_acc: float
    lr: float
    seconds: float
    images_per_s: float


@dataclass
class History:
    """Epoch records and per-step ``(step, loss, lr)`` of a run (rank 0's loss when
    distributed). Steps count from 1."""

    epochs: list[EpochRecord] = field(default_factory=list)
    steps: list[tuple[int, float, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and dicts (what the checkpoint and ``history.json`` hold)."""
        return {
            "epochs": [asdict(r) for r in self.epochs],
            "steps": [[int(s), float(loss), float(lr)] for s, loss, lr in self.steps],
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> History:
        return cls(
            [EpochRecord(**r) for r in values.get("epochs", [])],
            [(int(s), float(loss), float(lr)) for s, loss, lr in values.get("steps", [])],
        )

    def to_json(self, path: str | Path | None = None, **extra: Any) -> str:
        """JSON text of the history (plus ``extra`` top-level keys); written to ``path`` if
        given."""
        text = json.dumps({**extra, **self.to_dict()}, indent=1)
        if path is not None:
            _write_text_atomic(Path(path), text)
        return text

    @classmethod
    def from_json(cls, path_or_text: str | Path) -> History:
        """Read a history back from a ``history.json`` path or its text."""
        text = str(path_or_text)
        if not text.lstrip().startswith("{"):
            text = Path(path_or_text).read_text()
        return cls.from_dict(json.loads(text))

    def to_csv(self, path: str | Path | None = None, what: str = "epochs") -> str:
        """CSV text of the epoch records (``what="epochs"``) or of the steps (``"steps"``);
        written to ``path`` if given."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if what == "epochs":
            names = [f.name for f in fields(EpochRecord)]
            writer.writerow(names)
            writer.writerows([getattr(r, n) for n in names] for r in self.epochs)
        elif what == "steps":
            writer.writerow(["step", "loss", "lr"])
            writer.writerows(self.steps)
        else:
            raise ValueError(f"what must be 'epochs' or 'steps', got {what!r}")
        text = buffer.getvalue()
        if path is not None:
            _write_text_atomic(Path(path), text)
        return text

    @property
    def best_test_acc(self) -> float | None:
        return max((r.test_acc for r in self.epochs), default=None)


def _write_text_atomic(path: Path, text: str) -> None:
    atomic_write(path, text)


def save_atomic(obj: Any, path: str | Path) -> None:
    """``torch.save`` through :func:`hetconv_edu.fileio.atomic_writer` (unique temporary file
    beside ``path``, fsync, rename): a save that fails or is interrupted leaves the previous
    file intact."""
    with atomic_writer(path, "wb") as handle:
        torch.save(obj, handle)


# --------------------------------------------------------------------------------------------
# Errors and checkpoint files
# --------------------------------------------------------------------------------------------


class TrainingError(RuntimeError):
    """A run that cannot go on (the command line exits with status 1): the loss diverged, a
    checkpoint cannot be read, or the run folder cannot be written or is in use."""


class DivergedError(TrainingError):
    """The training loss became NaN or infinite; the weights are left as before that step."""


class CheckpointError(TrainingError):
    """A checkpoint that cannot be resumed: damaged, not a checkpoint, or non-finite weights."""


class RunFolderError(TrainingError):
    """The run folder cannot be written (read-only, disk full) or another run is writing it."""


class RunExistsError(ValueError):
    """A new run was asked to write into a folder that holds an earlier run (usage error)."""


LOCK_FILE = ".lock"
"""The lock file of a run folder: a training holds ``fcntl.flock`` on it while it may write
there (released, and the file deleted, at the end of :meth:`Trainer.step`/:meth:`Trainer.run`
and by :meth:`Trainer.close`; released by the operating system when the process ends or
crashes, which leaves the empty file behind, harmless)."""

RUN_FILES = (CHECKPOINT, "history.json", "history.csv", "steps.csv")
"""The files a run writes in its folder (``--overwrite`` replaces exactly these)."""

_CHECKSUM_MAGIC = b"\nHETCONV-EDU-SHA256 "
_CHECKSUM_LENGTH = len(_CHECKSUM_MAGIC) + 64 + 1
_CHECKPOINT_FORMAT = 2
_CHECKPOINT_KEYS = (
    "format", "model", "optimizer", "scheduler", "scaler", "epoch", "step", "batch_in_epoch",
    "partial", "rng", "history", "config",
)  # fmt: skip


class _HashingWriter:
    """A write-only file object that feeds what it writes to a SHA-256 digest."""

    def __init__(self, handle: Any) -> None:
        self.handle, self.digest = handle, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.handle.write(data)

    def flush(self) -> None:
        self.handle.flush()


def save_checkpoint_file(state: dict[str, Any], path: str | Path) -> Path:
    """Write a checkpoint: ``torch.save`` of ``state`` followed by a SHA-256 trailer of those
    bytes (``torch.load`` ignores it; :func:`read_checkpoint` checks it, so a flipped byte is
    refused instead of loading other weights), atomically. Raises ``OSError``."""
    path = Path(path)
    with atomic_writer(path, "wb") as handle:
        writer = _HashingWriter(handle)
        torch.save(state, writer)
        handle.write(_CHECKSUM_MAGIC + writer.digest.hexdigest().encode() + b"\n")
    return path


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The state saved by :meth:`Trainer.save_checkpoint` in ``path``, checked: every byte
    (SHA-256 trailer), its structure, and finite weights.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: the file is damaged, truncated, not a checkpoint of this package, or
            holds NaN/infinite weights (one message saying what to do).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; train without --resume first")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CheckpointError(f"cannot read the checkpoint {path}: {_reason(err)}") from None
    damaged = (
        f"the checkpoint {path} is damaged or is not a checkpoint of hetconv_edu "
        "(was it truncated or changed after it was written?)"
    )
    advice = "; it cannot be resumed: start the run again with --overwrite (or another --name)"
    payload, trailer = data[:-_CHECKSUM_LENGTH], data[-_CHECKSUM_LENGTH:]
    has_checksum = trailer.startswith(_CHECKSUM_MAGIC) and trailer.endswith(b"\n")
    if (
        has_checksum
        and hashlib.sha256(payload).hexdigest().encode() != trailer[len(_CHECKSUM_MAGIC) : -1]
    ):
        raise CheckpointError(f"{damaged}: its checksum does not match{advice}")
    try:
        state = torch.load(
            io.BytesIO(payload if has_checksum else data), map_location="cpu", weights_only=True
        )
    except Exception as err:  # torch reports damage as many different exception types
        raise CheckpointError(f"{damaged} ({type(err).__name__}){advice}") from None
    if not isinstance(state, dict) or any(key not in state for key in _CHECKPOINT_KEYS):
        raise CheckpointError(f"{damaged}: entries are missing{advice}")
    if state["format"] != 1 and not (state["format"] == _CHECKPOINT_FORMAT and has_checksum):
        raise CheckpointError(f"{damaged}: its checksum is missing{advice}")
    model = state["model"]
    if not isinstance(model, dict) or not all(isinstance(v, torch.Tensor) for v in model.values()):
        raise CheckpointError(f"{damaged}: the model weights are missing{advice}")
    bad = [k for k, v in model.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(
            f"the checkpoint {path} holds NaN or infinite weights ({', '.join(bad[:3])}"
            f"{', ...' if len(bad) > 3 else ''}): the training had diverged when it was saved, "
            "so resuming cannot help. Start the run again with a lower learning rate (--lr) "
            "and --overwrite"
        )
    return state


def unused_run_name(run_dir: str | Path, name: str) -> str:
    """``name``, or ``name-2``, ``name-3``, ... : the first whose folder in ``run_dir`` holds
    no run (none of :data:`RUN_FILES`). What the Training app names its runs, so that it never
    replaces a run (its own earlier ones, or one of the command line)."""
    candidate, number = name, 1
    while any((Path(run_dir) / candidate / f).exists() for f in RUN_FILES):
        number += 1
        candidate = f"{name}-{number}"
    return candidate


def _refuse_existing_run(run_path: Path) -> None:
    """:class:`RunExistsError` naming the folder and the ways forward if it holds a run."""
    present = [name for name in RUN_FILES if (run_path / name).exists()]
    if present:
        raise RunExistsError(
            f"{run_path}/ already holds a run ({', '.join(present)}); a new run never replaces "
            "one. Continue it with --resume (Trainer(config, resume=True)), give the new run "
            "another --name or --run-dir, or replace it with --overwrite "
            "(Trainer(config, overwrite=True))"
        )


def _reason(err: OSError) -> str:
    return err.strerror or str(err) or type(err).__name__


def _write_problem(path: Path, err: OSError) -> str:
    """One message for a failed write of ``path``: what happened and what to do."""
    if err.errno == errno.ENOSPC:
        todo = (
            "the disk is full: free some space (or use --run-dir on another disk), then "
            "continue with --resume; the previous checkpoint is intact"
        )
    elif err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        todo = "the folder is read-only for you: choose a writable folder with --run-dir"
    else:
        todo = "check the folder (--run-dir) and try again; the previous files are intact"
    return f"cannot write {path}: {_reason(err)}; {todo}"


# --------------------------------------------------------------------------------------------
# Learning-rate schedules
# --------------------------------------------------------------------------------------------


def lr_factor(schedule: str, step: int, total: int, warmup: float) -> float:
    """The learning rate of step ``step`` (0-based, of ``total``) as a fraction of the peak.

    ``onecycle``: linear from 0.1 to 1 over the first ``warmup`` fraction of the steps, then
    linear down to 0 at the end. ``cosine``: the same warm-up, then a half cosine down to 0.
    ``constant``: 1.
    """
    if schedule == "constant":
        return 1.0
    warm = round(warmup * total)
    if step < warm:
        return 0.1 + 0.9 * step / warm
    rest = max(1, total - warm)
    done = min(1.0, (step - warm) / rest)
    if schedule == "onecycle":
        return 1.0 - done
    return 0.5 * (1.0 + math.cos(math.pi * done))


class _Schedule:
    """A picklable ``LambdaLR`` factor (so the scheduler's state needs no functions)."""

    def __init__(self, schedule: str, total: int, warmup: float) -> None:
        self.schedule, self.total, self.warmup = schedule, total, warmup

    def __call__(self, step: int) -> float:
        return lr_factor(self.schedule, step, self.total, self.warmup)


# --------------------------------------------------------------------------------------------
# Distributed helpers
# --------------------------------------------------------------------------------------------


def _dist_env() -> tuple[int, int, int, int]:
    """(rank, world_size, local_rank, local_world_size) from torchrun's environment."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    return rank, world, local_rank, local_world


def _dist() -> Any:
    import torch.distributed as dist

    return dist


# --------------------------------------------------------------------------------------------
# The trainer
# --------------------------------------------------------------------------------------------

BatchCallback = Callable[["Trainer", int, float], object]
EpochCallback = Callable[["Trainer", EpochRecord], object]


class Trainer:
    """Trains one model on one data set; see the module docstring.

    Args:
        config: the run's settings (a :class:`TrainConfig`; keyword overrides not taken).
        dataset: the data (default: loaded from the config's dataset, data_root, subset,
            test_subset and seed). Its shape sets the model's input channels and classes.
        resume: continue from ``run_path/checkpoint.pt`` (raises ``FileNotFoundError`` if there
            is none, ``ValueError`` if it was made with a config that trains differently,
            :class:`CheckpointError` if it is damaged or holds non-finite weights).
        overwrite: a new run may replace the run already in ``run_path`` (its checkpoint and
            history files are deleted now). Without it a new run never replaces one: it raises
            :class:`RunExistsError` naming the folder and the ways forward.

    Run folders: while a trainer may write its folder it holds a lock on ``run_path/.lock``
    (:data:`LOCK_FILE`); a second trainer of the same folder (another process, notebook or
    app) raises :class:`RunFolderError` instead of mixing its files in. A folder that cannot be
    written is reported at construction, not at the first checkpoint.

    Attributes:
        config, model (the bare ``nn.Module``, never the DDP wrapper), history, run_path,
        device, optimizer, scheduler, scaler, dataset, epoch (finished epochs), global_step
        (finished steps), steps_per_epoch, total_steps, finished, rank, world_size.
    """

    def __init__(
        self,
        config: TrainConfig,
        dataset: ImageDataset | None = None,
        *,
        resume: bool = False,
        overwrite: bool = False,
    ) -> None:
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        resume = check_bool("resume", resume)
        overwrite = check_bool("overwrite", overwrite)
        self.config = config
        self._lock: IO | None = None
        self.rank, self.world_size, local_rank, local_world = _dist_env()
        self.is_main = self.rank == 0
        device = pick_device(config.device)
        if device.type == "cuda" and self.world_size > 1 and device.index is None:
            device = torch.device("cuda", local_rank % torch.cuda.device_count())
        if device.type == "cuda":
            torch.cuda.set_device(device)
        self.device = device
        if device.type == "cpu":
            warning = threads_warning(config.threads, local_world if self.world_size > 1 else 1)
            if warning and self.is_main:
                warnings.warn(warning, RuntimeWarning, stacklevel=2)
            set_cpu_threads(config.threads, local_world if self.world_size > 1 else 1)
        elif config.threads is not None:
            set_cpu_threads(config.threads)
        self.channels_last = (
            config.channels_last
            if config.channels_last is not None
            else device.type in ("cpu", "cuda")
        )
        self._memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        self._owns_group = False
        if self.world_size > 1:
            dist = _dist()
            if not dist.is_initialized():
                dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
                self._owns_group = True

        if dataset is None:
            dataset = load_dataset(
                config.dataset,
                config.data_root,
                subset=config.subset,
                test_subset=config.test_subset,
                seed=config.seed,
                download=config.download,
            )
        self.dataset = dataset
        self.run_path = Path(config.run_dir) / config.run_name

        self.model = self._build_model()
        self._cost = None
        self.model.to(device=device, memory_format=self._memory_format)
        self._train_model: nn.Module = self.model
        if self.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel

            self._train_model = DistributedDataParallel(
                self.model, device_ids=[device.index] if device.type == "cuda" else None
            )

        self.batches = Batches(
            dataset,
            "train",
            config.batch_size,
            shuffle=True,
            augment=config.augment,
            seed=config.seed,
            device=device,
            rank=self.rank,
            world_size=self.world_size,
            drop_last=True,
        )
        self.steps_per_epoch = len(self.batches)
        if self.steps_per_epoch == 0:
            raise ValueError(
                f"batch_size={config.batch_size} is larger than the {self.batches.num_examples} "
                f"training images per process; use a smaller batch size or more images"
            )
        self.total_steps = self.steps_per_epoch * config.epochs

        decay = [p for p in self.model.parameters() if p.ndim > 1]
        no_decay = [p for p in self.model.parameters() if p.ndim <= 1]
        self.optimizer = torch.optim.SGD(
            [
                {"params": decay, "weight_decay": config.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=config.lr,
            momentum=config.momentum,
            nesterov=config.nesterov,
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, _Schedule(config.schedule, self.total_steps, config.warmup)
        )
        self._amp_dtype: torch.dtype | None = None
        if device.type == "cuda":
            self._amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=self._amp_dtype == torch.float16 and device.type == "cuda"
        )

        self.history = History()
        self.epoch = 0
        self.global_step = 0
        self._batch_in_epoch = 0
        self._partial = _EpochSums()
        self._iter: Iterator[tuple[torch.Tensor, torch.Tensor]] | None = None
        self._saved_buffers: list[torch.Tensor] | None = None
        self._stop = threading.Event()
        self.stopped = False
        self._batch_callbacks: list[BatchCallback] = []
        self._epoch_callbacks: list[EpochCallback] = []
        self._acquire_lock()
        try:
            if resume:
                self._load(self.run_path / CHECKPOINT)
            elif self.is_main:
                self._claim_folder(overwrite)
        except BaseException:
            self._release_lock()
            raise

    # ---- construction helpers ------------------------------------------------------------

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
        ready to continue. ``overrides`` may change only ``data_root``, ``device``,
        ``channels_last`` and ``threads``."""
        path = Path(run_path)
        path = path if path.suffix == ".pt" else path / CHECKPOINT
        values = read_checkpoint(path)["config"]
        if not isinstance(values, dict):
            raise CheckpointError(f"the checkpoint {path} holds no readable config")
        bad = sorted(
            set(overrides) - {"data_root", "download", "device", "channels_last", "threads"}
        )
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
    def lr(self) -> float:
        """The learning rate of the next step."""
        return float(self.optimizer.param_groups[0]["lr"])

    @property
    def cost(self):
        """:func:`hetconv_edu.flops.network_cost` of the model on one image (cached)."""
        if self._cost is None:
            model = self._costed_model()
            was_training = model.training
            model.eval()
            try:
                shape = (
                    1,
                    self.dataset.in_channels,
                    self.dataset.image_size,
                    self.dataset.image_size,
                )
                with torch.no_grad():
                    self._cost = network_cost(_CpuView(model), shape)
            finally:
                model.train(was_training)
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

    def on_batch(self, fn: BatchCallback) -> BatchCallback:
        """Register ``fn(trainer, step, loss)``, called after every training step (step counts
        from 1). Returns ``fn`` (usable as a decorator)."""
        self._batch_callbacks.append(fn)
        return fn

    def on_epoch(self, fn: EpochCallback) -> EpochCallback:
        """Register ``fn(trainer, record)``, called after every epoch's evaluation, history
        files and checkpoint. Returns ``fn``."""
        self._epoch_callbacks.append(fn)
        return fn

    def request_stop(self) -> None:
        """Stop after the current batch: :meth:`step` saves the history and a checkpoint and
        returns False. Safe to call from callbacks, other threads and signal handlers. Calling
        :meth:`step` again afterwards continues the training."""
        self._stop.set()

    # ---- training ------------------------------------------------------------------------

    def step(self, max_batches: int = 1) -> bool:
        """Train up to ``max_batches`` batches; return True while there is more to train.

        Epoch ends are handled inside (evaluation, history, files, checkpoint, ``on_epoch``).
        Returns False when all epochs are done or a stop was requested (after saving a
        checkpoint). A ``KeyboardInterrupt`` in the middle of a batch discards that batch (the
        state stays as after the previous one) and propagates.
        """
        max_batches = check_positive_int("max_batches", max_batches)
        self._acquire_lock()
        try:
            more = self._steps(max_batches)
        except BaseException:
            self._release_lock()
            raise
        if not more:
            self._release_lock()
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
        self.save_checkpoint()
        self._write_files()
        return False

    def _stop_agreed(self) -> bool:
        stop = self._stop.is_set()
        if self.world_size > 1:
            flag = torch.tensor([float(stop)], device=self.device)
            _dist().all_reduce(flag, op=_dist().ReduceOp.MAX)
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
        statistics, optimizer and scheduler state, counters and RNG as before the step, and
        the next step reads the same batch again. A non-finite loss raises
        :class:`DivergedError` the same way (the weights never take a NaN update)."""
        start = time.perf_counter()
        before = self._snapshot()
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
            if not (math.isfinite(loss_value) and _all_finite(self._step_tensors())):
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
            self._restore(before)
            raise
        for fn in self._batch_callbacks:
            fn(self, self.global_step, loss_value)

    def _divergence_message(self, loss: float, lr: float) -> str:
        what = f"the loss became {loss}" if not math.isfinite(loss) else "weights became NaN"
        return (
            f"training diverged: {what} at step {self.global_step + 1} of "
            f"{self.total_steps} (epoch {self.epoch + 1}), learning rate {lr:.4g} (peak "
            f"--lr {self.config.lr:g}). The weights are kept as before that step; nothing NaN "
            f"was saved in {self.run_path}/. Train again with a smaller learning rate, e.g. "
            f"--lr {self.config.lr / 10:g} (and --overwrite), or a longer warm-up (--warmup)."
        )

    def _snapshot(self) -> dict[str, Any]:
        """What one step changes, copied (weights, buffers, optimizer and scheduler state,
        counters, history length, the CPU RNG): :meth:`_restore` puts it back bit for bit."""
        with torch.no_grad():
            tensors = [t.detach().clone() for t in self._step_tensors()]
        return {
            "tensors": tensors,
            "optimizer": {p: _cloned(state) for p, state in self.optimizer.state.items()},
            "lrs": [g["lr"] for g in self.optimizer.param_groups],
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            "counters": (self.global_step, self._batch_in_epoch, asdict(self._partial)),
            "steps": len(self.history.steps),
            "rng": torch.get_rng_state(),
        }

    def _step_tensors(self) -> list[torch.Tensor]:
        return [*self.model.parameters(), *self.model.buffers()]

    def _restore(self, before: dict[str, Any]) -> None:
        with torch.no_grad():
            for live, saved in zip(self._step_tensors(), before["tensors"], strict=True):
                live.copy_(saved)
        self.optimizer.state.clear()
        self.optimizer.state.update(before["optimizer"])
        for group, lr in zip(self.optimizer.param_groups, before["lrs"], strict=True):
            group["lr"] = lr
        self.scheduler.load_state_dict(before["scheduler"])
        if before["scaler"] is not None:
            self.scaler.load_state_dict(before["scaler"])
        self.global_step, self._batch_in_epoch, partial = before["counters"]
        self._partial = _EpochSums(**partial)
        del self.history.steps[before["steps"] :]
        torch.set_rng_state(before["rng"])
        self.optimizer.zero_grad(set_to_none=True)
        self._iter = None  # rebuilt and fast-forwarded: the same batch comes again

    def _forward_loss(
        self, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(training loss, logits) of one batch; subclasses may run several forward passes."""
        logits = self._train_model(images)
        loss = F.cross_entropy(logits.float(), labels, label_smoothing=self.config.label_smoothing)
        return loss, logits

    def _end_epoch(self) -> None:
        """Evaluate, record, save. An interrupt before the record is committed leaves the
        epoch trained but not ended (``batch_in_epoch == steps_per_epoch``): the next
        :meth:`step` ends it; an interrupt while saving leaves the previous files intact."""
        sums = self._partial
        totals = torch.tensor([sums.loss, sums.correct, sums.count], dtype=torch.float64)
        if self.world_size > 1:
            totals = totals.to(self.device)
            _dist().all_reduce(totals)
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
            self._partial = _EpochSums()
            self._iter = None
        except BaseException:  # a Ctrl-C between two of these lines: undo the commit
            del self.history.epochs[record.epoch - 1 :]
            self.epoch = record.epoch - 1
            self._batch_in_epoch = self.steps_per_epoch
            self._partial = sums
            raise
        self.save_checkpoint()
        self._write_files()
        for fn in self._epoch_callbacks:
            fn(self, record)

    def run(self, progress: bool = True) -> History:
        """Train to the end (or a stop) with progress bars; return the history.

        Ctrl-C (SIGINT, also a Jupyter interrupt) ends the training after the current batch
        with the history and a checkpoint saved; a second Ctrl-C interrupts at once (the
        unfinished batch is discarded, the checkpoint still saved). A ``KeyboardInterrupt``
        raised by a callback is handled the same way. The message printed says how to resume.
        """
        from tqdm.auto import tqdm

        show = progress and self.is_main
        bar = None
        restore = self._install_sigint()
        try:
            while not self.finished:
                if bar is None:
                    bar = tqdm(
                        total=self.steps_per_epoch,
                        initial=self._batch_in_epoch,
                        desc=f"epoch {self.epoch + 1}/{self.config.epochs}",
                        disable=not show,
                        leave=True,
                        dynamic_ncols=True,
                    )
                epoch = self.epoch
                more = self.step(1)
                if self.epoch != epoch:
                    record = self.history.epochs[-1]
                    bar.update(self.steps_per_epoch - bar.n)
                    bar.set_postfix(
                        loss=f"{record.train_loss:.3f}",
                        train=f"{record.train_acc:.1%}",
                        test=f"{record.test_acc:.1%}",
                        img_s=f"{record.images_per_s:.0f}",
                    )
                    bar.close()
                    bar = None
                else:
                    bar.update(1)
                    if self.history.steps:
                        bar.set_postfix(loss=f"{self.history.steps[-1][1]:.3f}", refresh=False)
                if not more:
                    break
        except KeyboardInterrupt:
            self._stop.clear()
            self.stopped = True
            self._acquire_lock()
            try:
                self.save_checkpoint()
                self._write_files()
            finally:
                self._release_lock()
        finally:
            if bar is not None:
                bar.close()
            restore()
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

    def _install_sigint(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum: int, frame: object) -> None:
            if self._stop.is_set():  # second Ctrl-C: interrupt now
                raise KeyboardInterrupt
            self._stop.set()
            if self.is_main:
                print("\nStopping after the current batch (Ctrl-C again to interrupt now)...")

        try:
            signal.signal(signal.SIGINT, handler)
        except ValueError:
            return lambda: None
        return lambda: signal.signal(signal.SIGINT, previous)

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
                _dist().broadcast(buffer, 0)

    @torch.no_grad()
    def evaluate(self, split: str = "test", batch_size: int = 500) -> tuple[float, float]:
        """(mean cross-entropy, accuracy) of the model on a whole split, without augmentation.
        Distributed: each rank evaluates every ``world_size``-th image and the sums are
        combined."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        self._sync_buffers()
        images = getattr(self.dataset, f"{split}_images")[self.rank :: self.world_size]
        labels = getattr(self.dataset, f"{split}_labels")[self.rank :: self.world_size]
        was_training = self.model.training
        self.model.eval()
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        correct = torch.zeros((), dtype=torch.float64, device=self.device)
        try:
            for start in range(0, len(labels), batch_size):
                y = labels[start : start + batch_size].to(self.device)
                logits = self._logits(images[start : start + batch_size])
                loss_sum += F.cross_entropy(logits, y, reduction="sum").double()
                correct += (logits.argmax(1) == y).sum().double()
        finally:
            self.model.train(was_training)
        totals = torch.stack(
            [
                loss_sum,
                correct,
                torch.tensor(float(len(labels)), device=self.device, dtype=torch.float64),
            ]
        )
        if self.world_size > 1:
            _dist().all_reduce(totals)
        loss_total, correct_total, count = totals.tolist()
        if count == 0:
            return float("nan"), float("nan")
        return loss_total / count, correct_total / count

    def _logits(self, images_uint8: torch.Tensor) -> torch.Tensor:
        x = normalize(images_uint8.to(self.device), self.dataset.mean, self.dataset.std)
        x = x.contiguous(memory_format=self._memory_format)
        with self._autocast():
            return self.model(x).float()

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """Logits (N, classes), float32 on the CPU, for uint8 images (N, C, H, W) — or one
        image (C, H, W) — in the data set's format, normalised as in training; eval mode."""
        if not isinstance(images, torch.Tensor):
            images = torch.as_tensor(images)
        single = images.ndim == 3
        if single:
            images = images.unsqueeze(0)
        expected = (self.dataset.in_channels, self.dataset.image_size, self.dataset.image_size)
        if images.ndim != 4 or tuple(images.shape[1:]) != expected or images.dtype != torch.uint8:
            raise ValueError(
                f"predict needs uint8 images (N, {', '.join(map(str, expected))}), got "
                f"{images.dtype} with shape {tuple(images.shape)}"
            )
        was_training = self.model.training
        self.model.eval()
        try:
            out = torch.cat(
                [
                    self._logits(images[i : i + batch_size]).cpu()
                    for i in range(0, len(images), batch_size)
                ]
            )
        finally:
            self.model.train(was_training)
        return out[0] if single else out

    @torch.no_grad()
    def confusion_matrix(self) -> torch.Tensor:
        """int64 (C, C) on the test set: row = true class, column = predicted class."""
        classes = self.dataset.num_classes
        predicted = self.predict(self.dataset.test_images).argmax(1)
        pairs = self.dataset.test_labels * classes + predicted
        return torch.bincount(pairs, minlength=classes * classes).reshape(classes, classes)

    # ---- checkpoints and files -----------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly (plain types and tensors only)."""
        rng: dict[str, Any] = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "format": _CHECKPOINT_FORMAT,
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": _to_cpu(self.optimizer.state_dict()),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "step": self.global_step,
            "batch_in_epoch": self._batch_in_epoch,
            "partial": asdict(self._partial),
            "rng": rng,
            "history": self.history.to_dict(),
            "config": self.config.to_dict(),
        }

    def save_checkpoint(self, path: str | Path | None = None) -> Path:
        """Save :meth:`state_dict` atomically to ``path`` (default ``run_path/checkpoint.pt``);
        only rank 0 writes (others return the path)."""
        path = Path(path) if path is not None else self.run_path / CHECKPOINT
        self._sync_buffers()
        if self.is_main:
            if not _all_finite(list(self.model.state_dict().values())):
                bad = [k for k, v in self.model.state_dict().items() if not _all_finite([v])]
                raise DivergedError(
                    f"the weights hold NaN or infinite values ({', '.join(bad[:3])}); not "
                    f"saving them over the checkpoint in {path.parent}/. Train again with a "
                    f"smaller learning rate, e.g. --lr {self.config.lr / 10:g}."
                )
            try:
                save_checkpoint_file(self.state_dict(), path)
            except OSError as err:
                raise RunFolderError(_write_problem(path, err)) from None
        return path

    def _load(self, path: Path) -> None:
        state = read_checkpoint(path)
        try:
            saved = TrainConfig.from_dict(state["config"]).to_dict()
        except (TypeError, ValueError) as err:
            raise CheckpointError(
                f"the checkpoint {path} holds an unusable config: {err}"
            ) from None
        mine = self.config.to_dict()
        differ = [k for k in mine if k not in _RESUME_FREE and saved.get(k) != mine[k]]
        if differ:
            details = ", ".join(f"{k}: {saved.get(k)!r} → {mine[k]!r}" for k in differ)
            raise ValueError(
                f"cannot resume {path}: the config differs ({details}); a resumed run keeps "
                "its settings: start a new run (another name, or overwrite) to change them"
            )
        try:
            self._apply(state)
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as err:
            raise CheckpointError(
                f"the checkpoint {path} does not fit this run ({type(err).__name__}: "
                f"{' '.join(str(err).split())[:200]}); start the run again with --overwrite"
            ) from None

    def _apply(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scheduler.lr_lambdas = [
            _Schedule(self.config.schedule, self.total_steps, self.config.warmup)
        ] * len(self.optimizer.param_groups)
        self.scaler.load_state_dict(state["scaler"])
        self.epoch = int(state["epoch"])
        self.global_step = int(state["step"])
        self._batch_in_epoch = int(state["batch_in_epoch"])
        self._partial = _EpochSums(**state["partial"])
        self.history = History.from_dict(state["history"])
        torch.set_rng_state(state["rng"]["torch"])
        if "cuda" in state["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self._iter = None
        if not 0 <= self._batch_in_epoch <= self.steps_per_epoch:
            raise ValueError(f"batch {self._batch_in_epoch} of {self.steps_per_epoch} per epoch")

    def _write_files(self) -> None:
        if not self.is_main:
            return
        path = self.run_path / "history.json"
        try:
            self.history.to_json(
                path,
                config=self.config.to_dict(),
                label=self.config.label,
                macs=self.macs,
                params=self.params,
                world_size=self.world_size,
            )
            path = self.run_path / "history.csv"
            self.history.to_csv(path)
            path = self.run_path / "steps.csv"
            self.history.to_csv(path, what="steps")
        except OSError as err:
            raise RunFolderError(_write_problem(path, err)) from None

    # ---- the run folder ------------------------------------------------------------------

    def _acquire_lock(self) -> None:
        """Hold the run folder's lock (rank 0), creating the folder; refuse a folder that
        cannot be written or that another trainer holds."""
        if not self.is_main or self._lock is not None:
            return
        try:
            self.run_path.mkdir(parents=True, exist_ok=True)
            if not os.access(self.run_path, os.W_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
            handle = open(self.run_path / LOCK_FILE, "a+b")  # noqa: SIM115 - held until release
        except OSError as err:
            raise RunFolderError(_write_problem(self.run_path, err)) from None
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                # The holder deletes the file when it lets go: a lock taken on a file that is
                # no longer at that path (opened just before) is no lock at all.
                same = os.fstat(handle.fileno()).st_ino == os.stat(handle.name).st_ino
            except OSError:
                same = False
            if not same:
                handle.close()
                raise RunFolderError(
                    f"{self.run_path}/ is being written by another training right now (another "
                    "process, notebook or app); wait until it ends, or give this run another "
                    "name (--name)"
                ) from None
        self._lock = handle

    def _release_lock(self) -> None:
        """Delete the lock file (the run folder keeps only the run's files), then let go."""
        if self._lock is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._lock.name)
            self._lock.close()  # closing the file releases its flock
            self._lock = None

    def _claim_folder(self, overwrite: bool) -> None:
        """A new run: refuse a folder holding an earlier run, or (``overwrite``) delete that
        run's files."""
        if not overwrite:
            _refuse_existing_run(self.run_path)
        present = [name for name in RUN_FILES if (self.run_path / name).exists()]
        try:
            for name in present:
                (self.run_path / name).unlink()
        except OSError as err:
            raise RunFolderError(_write_problem(self.run_path / name, err)) from None

    def close(self) -> None:
        """Release the run folder's lock and leave the process group if this trainer created
        it. (A finished or stopped :meth:`run`/:meth:`step` releases the lock too.)"""
        self._release_lock()
        if self._owns_group:
            _dist().destroy_process_group()
            self._owns_group = False


@dataclass
class _EpochSums:
    loss: float = 0.0
    correct: int = 0
    count: int = 0
    seconds: float = 0.0

    def add(self, loss: float, correct: int, count: int, seconds: float) -> None:
        self.loss += loss
        self.correct += correct
        self.count += count
        self.seconds += seconds


class _CpuView(nn.Module):
    """Runs the wrapped model on CPU-built inputs moved to its device (for network_cost)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.inner = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        device = next(self.inner.parameters()).device
        return self.inner(x.to(device))


def _all_finite(tensors: Sequence[torch.Tensor]) -> bool:
    """No NaN or infinity in any of ``tensors`` (one check, one device sync)."""
    floats = [t for t in tensors if t.is_floating_point()]
    return not floats or bool(torch.stack([torch.isfinite(t).all() for t in floats]).all())


def _cloned(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v.detach().clone() if isinstance(v, torch.Tensor) else v for k, v in state.items()}


def _to_cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_cpu(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------
# Comparisons
# --------------------------------------------------------------------------------------------


@dataclass
class RunResult:
    """One row of :func:`compare`: the final epoch's test accuracy, cost per image and speed
    (seconds per epoch and images/s are means over the run's epochs)."""

    label: str
    test_acc: float
    params: int
    macs: int
    seconds_per_epoch: float
    images_per_s: float
    config: TrainConfig
    history: History
    stopped: bool = False
    """The run was stopped (Ctrl-C or request_stop) before its last epoch."""


def compare(
    configs: Sequence[TrainConfig],
    dataset: ImageDataset | None = None,
    *,
    progress: bool = True,
    on_run: Callable[[Trainer], object] | None = None,
    overwrite: bool = False,
) -> list[RunResult]:
    """Train every config in turn and return one :class:`RunResult` per config.

    Give them the same seed (and data settings) to compare like with like: same subset, same
    data order, same initial weights where shapes agree. The data set is loaded once when all
    configs read the same one. ``on_run(trainer)`` is called before each run starts (to add
    callbacks). ``overwrite``: as :class:`Trainer`; without it a config whose run folder holds
    a run raises :class:`RunExistsError` before anything is trained.
    """
    if not configs:
        raise ValueError("compare needs at least one TrainConfig")
    if not overwrite:
        for config in configs:
            _refuse_existing_run(Path(config.run_dir) / config.run_name)
    keys = {(c.dataset, c.data_root, c.subset, c.test_subset, c.seed) for c in configs}
    if dataset is None and len(keys) == 1:
        c = configs[0]
        dataset = load_dataset(
            c.dataset,
            c.data_root,
            subset=c.subset,
            test_subset=c.test_subset,
            seed=c.seed,
            download=c.download,
        )
    results = []
    for config in configs:
        trainer = Trainer(config, dataset, overwrite=overwrite)
        if on_run is not None:
            on_run(trainer)
        try:
            history = trainer.run(progress=progress)
        finally:
            trainer.close()
        records = history.epochs
        results.append(
            RunResult(
                label=config.label,
                test_acc=records[-1].test_acc if records else float("nan"),
                params=trainer.params,
                macs=trainer.macs,
                seconds_per_epoch=(
                    sum(r.seconds for r in records) / len(records) if records else float("nan")
                ),
                images_per_s=(
                    sum(r.images_per_s for r in records) / len(records) if records else float("nan")
                ),
                config=config,
                history=history,
                stopped=trainer.stopped,
            )
        )
        if trainer.stopped:
            break
    return results


def format_table(results: Sequence[RunResult]) -> str:
    """A plain-text table of :func:`compare` results: test accuracy, parameters, MACs per image
    (the paper's count), training seconds per epoch and images per second."""
    header = ("run", "test acc", "params", "MACs/image", "s/epoch", "images/s")
    rows = [
        (
            r.label,
            f"{r.test_acc:.2%}",
            f"{r.params:,}",
            f"{r.macs / 1e6:.2f}M",
            f"{r.seconds_per_epoch:.1f}",
            f"{r.images_per_s:.0f}",
        )
        for r in results
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    lines = [
        "  ".join(
            str(x).ljust(w) if i == 0 else str(x).rjust(w)
            for i, (x, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in (header, *rows)
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
