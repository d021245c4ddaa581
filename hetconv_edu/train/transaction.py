"""A training step is all or nothing: :class:`StepSnapshot` copies what one step changes and
puts it back bit for bit when the step fails or is interrupted (the next step then reads the
same batch again), so a Ctrl-C, a full disk or a diverged loss never leaves half an update.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from hetconv_edu.train.engine import Trainer

__all__ = ["EpochSums", "StepSnapshot", "all_finite", "step_tensors"]


@dataclass
class EpochSums:
    """The running sums of the epoch being trained: summed loss (nats), correct predictions,
    images and training seconds."""

    loss: float = 0.0
    correct: int = 0
    count: int = 0
    seconds: float = 0.0

    def add(self, loss: float, correct: int, count: int, seconds: float) -> None:
        """Add one step's sums."""
        self.loss += loss
        self.correct += correct
        self.count += count
        self.seconds += seconds


def all_finite(tensors: Sequence[torch.Tensor]) -> bool:
    """No NaN or infinity in any of ``tensors`` (one check, one device sync)."""
    floats = [t for t in tensors if t.is_floating_point()]
    return not floats or bool(torch.stack([torch.isfinite(t).all() for t in floats]).all())


def step_tensors(model: nn.Module) -> list[torch.Tensor]:
    """What a training step changes in ``model``: its parameters and buffers."""
    return [*model.parameters(), *model.buffers()]


def _cloned(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v.detach().clone() if isinstance(v, torch.Tensor) else v for k, v in state.items()}


@dataclass
class StepSnapshot:
    """What one step of a :class:`~hetconv_edu.train.Trainer` changes, copied: the model's
    parameters and buffers, the optimizer's state and learning rates, the scheduler's and the
    gradient scaler's state, the counters, the history's length and torch's CPU RNG."""

    tensors: list[torch.Tensor]
    optimizer: dict[Any, dict[str, Any]]
    lrs: list[float]
    scheduler: dict[str, Any]
    scaler: dict[str, Any] | None
    counters: tuple[int, int, dict[str, Any]]
    steps: int
    rng: torch.Tensor

    @classmethod
    def take(cls, trainer: Trainer) -> StepSnapshot:
        """Copy ``trainer``'s state before a step."""
        with torch.no_grad():
            tensors = [t.detach().clone() for t in step_tensors(trainer.model)]
        return cls(
            tensors=tensors,
            optimizer={p: _cloned(state) for p, state in trainer.optimizer.state.items()},
            lrs=[g["lr"] for g in trainer.optimizer.param_groups],
            scheduler=trainer.scheduler.state_dict(),
            scaler=trainer.scaler.state_dict() if trainer.scaler.is_enabled() else None,
            counters=(trainer.global_step, trainer._batch_in_epoch, asdict(trainer._partial)),
            steps=len(trainer.history.steps),
            rng=torch.get_rng_state(),
        )

    def restore(self, trainer: Trainer) -> None:
        """Put ``trainer`` back as it was when the snapshot was taken; its batch iterator is
        rebuilt and fast-forwarded, so the same batch comes again."""
        with torch.no_grad():
            for live, saved in zip(step_tensors(trainer.model), self.tensors, strict=True):
                live.copy_(saved)
        trainer.optimizer.state.clear()
        trainer.optimizer.state.update(self.optimizer)
        for group, lr in zip(trainer.optimizer.param_groups, self.lrs, strict=True):
            group["lr"] = lr
        trainer.scheduler.load_state_dict(self.scheduler)
        if self.scaler is not None:
            trainer.scaler.load_state_dict(self.scaler)
        trainer.global_step, trainer._batch_in_epoch, partial = self.counters
        trainer._partial = EpochSums(**partial)
        del trainer.history.steps[self.steps :]
        torch.set_rng_state(self.rng)
        trainer.optimizer.zero_grad(set_to_none=True)
        trainer._iter = None
