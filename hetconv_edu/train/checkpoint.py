"""Checkpoints: what a trainer saves to continue exactly, and the file that holds it.

* :func:`trainer_state` / :func:`load_trainer_state` — a trainer's whole state (weights,
  optimizer, scheduler, scaler, counters, the unfinished epoch's sums, RNG, history, config) as
  a plain dict, and putting a checked one back.
* :func:`save_checkpoint_file` / :func:`read_checkpoint` — the file.

A checkpoint is ``torch.save`` of a plain dict (tensors, numbers, lists, dicts: loadable with
``torch.load(..., weights_only=True)``) followed by a trailer ``\\nHETCONV-EDU-SHA256 <hex>\\n``
over those bytes, which ``torch.load`` ignores and :func:`read_checkpoint` checks: a flipped
byte is refused instead of loading other weights. :meth:`Trainer.state_dict
<hetconv_edu.train.Trainer.state_dict>` says what the dict holds.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from hetconv_edu.fileio import atomic_writer
from hetconv_edu.train.config import MACHINE_FIELDS, TrainConfig
from hetconv_edu.train.errors import CheckpointError, reason
from hetconv_edu.train.history import History
from hetconv_edu.train.optim import ScheduleFactor
from hetconv_edu.train.transaction import EpochSums

if TYPE_CHECKING:
    from hetconv_edu.train.engine import Trainer

__all__ = [
    "CHECKPOINT",
    "CHECKPOINT_FORMAT",
    "load_trainer_state",
    "read_checkpoint",
    "save_atomic",
    "save_checkpoint_file",
    "to_cpu",
    "trainer_state",
]

CHECKPOINT = "checkpoint.pt"
"""The checkpoint's file name in a run folder."""

CHECKPOINT_FORMAT = 2
"""The format written: 2 carries the SHA-256 trailer (format 1, without it, is still read)."""

_CHECKSUM_MAGIC = b"\nHETCONV-EDU-SHA256 "
_CHECKSUM_LENGTH = len(_CHECKSUM_MAGIC) + 64 + 1
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


def save_atomic(obj: Any, path: str | Path) -> None:
    """``torch.save`` through :func:`hetconv_edu.fileio.atomic_writer` (unique temporary file
    beside ``path``, fsync, rename): a save that fails or is interrupted leaves the previous
    file intact.

    Raises:
        OSError: ``path`` cannot be written.
    """
    with atomic_writer(path, "wb") as handle:
        torch.save(obj, handle)


def save_checkpoint_file(state: dict[str, Any], path: str | Path) -> Path:
    """Write a checkpoint: ``torch.save`` of ``state`` followed by a SHA-256 trailer of those
    bytes, atomically. Returns ``path``.

    Raises:
        OSError: ``path`` cannot be written (the previous file is left intact).
    """
    path = Path(path)
    with atomic_writer(path, "wb") as handle:
        writer = _HashingWriter(handle)
        torch.save(state, writer)
        handle.write(_CHECKSUM_MAGIC + writer.digest.hexdigest().encode() + b"\n")
    return path


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The state saved by :meth:`Trainer.save_checkpoint
    <hetconv_edu.train.Trainer.save_checkpoint>` in ``path``, checked: every byte (SHA-256
    trailer), its structure, and finite weights. Tensors are loaded on the CPU.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: the file cannot be read, is damaged, truncated, not a checkpoint of
            this package, or holds NaN/infinite weights (one message saying what to do).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; train without --resume first")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CheckpointError(f"cannot read the checkpoint {path}: {reason(err)}") from None
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
    if state["format"] != 1 and not (state["format"] == CHECKPOINT_FORMAT and has_checksum):
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


def to_cpu(value: Any) -> Any:
    """``value`` with every tensor, inside dicts and lists too, detached and on the CPU."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: to_cpu(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_cpu(v) for v in value]
    return value


def trainer_state(trainer: Trainer) -> dict[str, Any]:
    """Everything ``trainer`` needs to continue exactly, as plain types and CPU tensors (what
    :meth:`Trainer.state_dict <hetconv_edu.train.Trainer.state_dict>` returns)."""
    rng: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    return {
        "format": CHECKPOINT_FORMAT,
        "model": {k: v.detach().cpu() for k, v in trainer.model.state_dict().items()},
        "optimizer": to_cpu(trainer.optimizer.state_dict()),
        "scheduler": trainer.scheduler.state_dict(),
        "scaler": trainer.scaler.state_dict(),
        "epoch": trainer.epoch,
        "step": trainer.global_step,
        "batch_in_epoch": trainer._batch_in_epoch,
        "partial": asdict(trainer._partial),
        "rng": rng,
        "history": trainer.history.to_dict(),
        "config": trainer.config.to_dict(),
    }


def load_trainer_state(trainer: Trainer, path: Path) -> None:
    """Continue ``trainer`` from the checkpoint in ``path``.

    Raises:
        FileNotFoundError, CheckpointError: what :func:`read_checkpoint` raises;
            CheckpointError also for a config or state that does not fit this trainer.
        ValueError: the checkpoint's config trains differently from ``trainer.config``
            (naming each field and both values; only :data:`MACHINE_FIELDS` may differ).
    """
    state = read_checkpoint(path)
    try:
        saved = TrainConfig.from_dict(state["config"]).to_dict()
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"the checkpoint {path} holds an unusable config: {err}") from None
    mine = trainer.config.to_dict()
    differ = [k for k in mine if k not in MACHINE_FIELDS and saved.get(k) != mine[k]]
    if differ:
        details = ", ".join(f"{k}: {saved.get(k)!r} → {mine[k]!r}" for k in differ)
        raise ValueError(
            f"cannot resume {path}: the config differs ({details}); a resumed run keeps "
            "its settings: start a new run (another name, or overwrite) to change them"
        )
    try:
        _apply(trainer, state)
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as err:
        raise CheckpointError(
            f"the checkpoint {path} does not fit this run ({type(err).__name__}: "
            f"{' '.join(str(err).split())[:200]}); start the run again with --overwrite"
        ) from None


def _apply(trainer: Trainer, state: dict[str, Any]) -> None:
    config = trainer.config
    trainer.model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    trainer.scheduler.load_state_dict(state["scheduler"])
    trainer.scheduler.lr_lambdas = [
        ScheduleFactor(config.schedule, trainer.total_steps, config.warmup)
    ] * len(trainer.optimizer.param_groups)
    trainer.scaler.load_state_dict(state["scaler"])
    trainer.epoch = int(state["epoch"])
    trainer.global_step = int(state["step"])
    trainer._batch_in_epoch = int(state["batch_in_epoch"])
    trainer._partial = EpochSums(**state["partial"])
    trainer.history = History.from_dict(state["history"])
    torch.set_rng_state(state["rng"]["torch"])
    if "cuda" in state["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    trainer._iter = None
    if not 0 <= trainer._batch_in_epoch <= trainer.steps_per_epoch:
        raise ValueError(f"batch {trainer._batch_in_epoch} of {trainer.steps_per_epoch} per epoch")
