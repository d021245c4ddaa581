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
import io
import json
import math
import os
import signal
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hetconv_edu.data import Batches, ImageDataset, load_dataset, normalize
from hetconv_edu.flops import network_cost
from hetconv_edu.layers import parse_conv_spec
from hetconv_edu.models import MODELS, build_model

__all__ = [
    "SCHEDULES",
    "EpochRecord",
    "History",
    "RunResult",
    "TrainConfig",
    "Trainer",
    "compare",
    "format_table",
    "lr_factor",
    "physical_cores",
    "pick_device",
    "set_cpu_threads",
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
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; choose one of {sorted(MODELS)}")
        if isinstance(self.conv, tuple):
            self.conv = list(self.conv)
        convs = self.conv if isinstance(self.conv, list) else [self.conv]
        if not convs:
            raise ValueError("conv must be a family like 'hetconv:4' or a non-empty list")
        self.conv = (
            [str(parse_conv_spec(c)) for c in convs]
            if isinstance(self.conv, list)
            else str(parse_conv_spec(self.conv))
        )
        if not isinstance(self.model_kwargs, dict):
            raise ValueError(f"model_kwargs must be a dict, got {self.model_kwargs!r}")
        self.model_kwargs = {
            k: list(v) if isinstance(v, tuple) else v for k, v in self.model_kwargs.items()
        }
        if self.arrangement not in ("grouped", "shifted"):
            raise ValueError(
                f"arrangement must be 'grouped' or 'shifted', got {self.arrangement!r}"
            )
        if self.dataset not in ("cifar10", "fashion-mnist"):
            raise ValueError(
                f"unknown dataset {self.dataset!r}; choose 'cifar10' or 'fashion-mnist'"
            )
        if self.data_root is not None:
            self.data_root = str(self.data_root)
        for key in ("subset", "test_subset", "threads"):
            value = getattr(self, key)
            if value is not None and not _is_int(value, 1):
                raise ValueError(f"{key} must be a positive integer or None, got {value!r}")
        for key in ("epochs", "batch_size"):
            if not _is_int(getattr(self, key), 1):
                raise ValueError(f"{key} must be a positive integer, got {getattr(self, key)!r}")
        if not _is_int(self.seed, 0):
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        if not _is_number(self.lr) or not self.lr > 0:
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if not _is_number(self.momentum) or not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if not _is_number(self.weight_decay) or self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov needs momentum > 0")
        if not _is_number(self.label_smoothing) or not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if not _is_number(self.warmup) or not 0 <= self.warmup < 1:
            raise ValueError(f"warmup must be a fraction in [0, 1), got {self.warmup!r}")
        if not isinstance(self.device, str) or not self.device:
            raise ValueError(f"device must be text like 'auto', 'cpu', 'cuda', got {self.device!r}")
        if self.channels_last not in (None, True, False):
            raise ValueError(
                f"channels_last must be True, False or None, got {self.channels_last!r}"
            )
        self.run_dir = str(self.run_dir)
        if self.name is not None and (
            not isinstance(self.name, str)
            or not self.name
            or "/" in self.name
            or self.name[0] == "."
        ):
            raise ValueError(f"name must be a file name (no '/'), got {self.name!r}")

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


def _is_int(value: object, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_atomic(obj: Any, path: str | Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, flushed to disk, then renamed over
    ``path``: a save that fails or is interrupted leaves the previous file intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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
            is none, ``ValueError`` if it was made with a config that trains differently).

    Attributes:
        config, model (the bare ``nn.Module``, never the DDP wrapper), history, run_path,
        device, optimizer, scheduler, scaler, dataset, epoch (finished epochs), global_step
        (finished steps), steps_per_epoch, total_steps, finished, rank, world_size.
    """

    def __init__(
        self, config: TrainConfig, dataset: ImageDataset | None = None, *, resume: bool = False
    ) -> None:
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        self.config = config
        self.rank, self.world_size, local_rank, local_world = _dist_env()
        self.is_main = self.rank == 0
        device = pick_device(config.device)
        if device.type == "cuda" and self.world_size > 1 and device.index is None:
            device = torch.device("cuda", local_rank % torch.cuda.device_count())
        if device.type == "cuda":
            torch.cuda.set_device(device)
        self.device = device
        if device.type == "cpu":
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
        if resume:
            self._load(self.run_path / CHECKPOINT)

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
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint at {path}")
        values = torch.load(path, map_location="cpu", weights_only=True)["config"]
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
        if not _is_int(max_batches, 1):
            raise ValueError(f"max_batches must be a positive integer, got {max_batches!r}")
        self.stopped = False
        done = 0
        while not self.finished and done < max_batches:
            if self._stop_agreed():
                self._stop.clear()
                self.stopped = True
                self.save_checkpoint()
                self._write_files()
                return False
            try:
                self._train_batch()
            except KeyboardInterrupt:
                self._discard_batch()
                raise
            done += 1
            if self._batch_in_epoch == self.steps_per_epoch:
                self._end_epoch()
        if self.finished:
            self._stop.clear()
            return False
        if self._stop_agreed():
            self._stop.clear()
            self.stopped = True
            self.save_checkpoint()
            self._write_files()
            return False
        return True

    def _stop_agreed(self) -> bool:
        stop = self._stop.is_set()
        if self.world_size > 1:
            flag = torch.tensor([float(stop)], device=self.device)
            _dist().all_reduce(flag, op=_dist().ReduceOp.MAX)
            stop = bool(flag.item())
        return stop

    def _discard_batch(self) -> None:
        """Undo an unfinished batch: batch-norm statistics back, gradients dropped, the data
        iterator rebuilt and fast-forwarded so the same batch comes again. (An interrupt inside
        the optimizer's update itself, a tiny window, cannot be undone.)"""
        if self._saved_buffers is not None:
            with torch.no_grad():
                for buffer, saved in zip(self.model.buffers(), self._saved_buffers, strict=True):
                    buffer.copy_(saved)
        self._saved_buffers = None
        self._iter = None
        self.optimizer.zero_grad(set_to_none=True)

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
        start = time.perf_counter()
        images, labels = self._next_batch()
        images = images.contiguous(memory_format=self._memory_format)
        self._train_model.train()
        # Batch-norm statistics are tiny: kept so that an interrupted batch can be undone.
        self._saved_buffers = [b.detach().clone() for b in self.model.buffers()]
        with self._autocast():
            loss, logits = self._forward_loss(images, labels)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        lr = self.lr
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        loss_value = float(loss.detach())
        correct = int((logits.detach().argmax(1) == labels).sum())
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        # Commit: counters and sums move together.
        self.global_step += 1
        self._batch_in_epoch += 1
        self._partial.add(
            loss_value * len(labels), correct, len(labels), time.perf_counter() - start
        )
        self.history.steps.append((self.global_step, loss_value, lr))
        for fn in self._batch_callbacks:
            fn(self, self.global_step, loss_value)

    def _forward_loss(
        self, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(training loss, logits) of one batch; subclasses may run several forward passes."""
        logits = self._train_model(images)
        loss = F.cross_entropy(logits.float(), labels, label_smoothing=self.config.label_smoothing)
        return loss, logits

    def _end_epoch(self) -> None:
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
        self.history.epochs.append(record)
        self.epoch += 1
        self._batch_in_epoch = 0
        self._partial = _EpochSums()
        self._iter = None
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
            self.save_checkpoint()
            self._write_files()
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
            "format": 1,
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
            save_atomic(self.state_dict(), path)
        return path

    def _load(self, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(
                f"no checkpoint to resume at {path}; train without --resume first"
            )
        state = torch.load(path, map_location="cpu", weights_only=True)
        saved = TrainConfig.from_dict(state["config"]).to_dict()
        mine = self.config.to_dict()
        differ = [k for k in mine if k not in _RESUME_FREE and saved.get(k) != mine[k]]
        if differ:
            details = ", ".join(f"{k}: {saved.get(k)!r} → {mine[k]!r}" for k in differ)
            raise ValueError(f"cannot resume {path}: the config differs ({details})")
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

    def _write_files(self) -> None:
        if not self.is_main:
            return
        self.run_path.mkdir(parents=True, exist_ok=True)
        self.history.to_json(
            self.run_path / "history.json",
            config=self.config.to_dict(),
            label=self.config.label,
            macs=self.macs,
            params=self.params,
            world_size=self.world_size,
        )
        self.history.to_csv(self.run_path / "history.csv")
        self.history.to_csv(self.run_path / "steps.csv", what="steps")

    def close(self) -> None:
        """Leave the process group if this trainer created it."""
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
) -> list[RunResult]:
    """Train every config in turn and return one :class:`RunResult` per config.

    Give them the same seed (and data settings) to compare like with like: same subset, same
    data order, same initial weights where shapes agree. The data set is loaded once when all
    configs read the same one. ``on_run(trainer)`` is called before each run starts (to add
    callbacks).
    """
    if not configs:
        raise ValueError("compare needs at least one TrainConfig")
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
        trainer = Trainer(config, dataset)
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
