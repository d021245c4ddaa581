"""How a run updates its weights: SGD with Nesterov momentum, weight decay on conv and linear
weights only, a learning-rate schedule, and mixed precision on CUDA.

* :func:`lr_factor` — the one formula of the schedules (:data:`SCHEDULES`);
  :class:`ScheduleFactor` wraps it for ``torch.optim.lr_scheduler.LambdaLR`` (a picklable
  object, so a scheduler's state needs no functions).
* :func:`make_optimizer` — the optimizer and scheduler of a :class:`TrainConfig`.
* :func:`amp_dtype`, :func:`make_scaler` — bf16 autocast where CUDA supports it, else fp16 with
  a gradient scaler; full precision elsewhere.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from hetconv_edu.train.config import TrainConfig

__all__ = [
    "SCHEDULES",
    "ScheduleFactor",
    "amp_dtype",
    "lr_factor",
    "make_optimizer",
    "make_scaler",
]

SCHEDULES: tuple[str, ...] = ("onecycle", "cosine", "constant")
"""Learning-rate schedules: ``onecycle`` (linear warm-up, then linear decay to zero; the best of
the three at class-time budgets), ``cosine`` (linear warm-up, then cosine decay to zero) and
``constant`` (for experiments)."""


def lr_factor(schedule: str, step: int, total: int, warmup: float) -> float:
    """The learning rate of step ``step`` (0-based, of ``total``) as a fraction of the peak.

    ``onecycle``: linear from 0.1 to 1 over the first ``warmup`` fraction of the steps, then
    linear down to 0 at the end. ``cosine``: the same warm-up, then a half cosine down to 0.
    ``constant``: 1.

    Args:
        schedule: one of :data:`SCHEDULES` (not checked here: :class:`TrainConfig` checks it).
        step: the step, counted from 0.
        total: the run's number of steps.
        warmup: the fraction of ``total`` spent warming up, in [0, 1).

    Returns:
        A factor in [0, 1].
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


class ScheduleFactor:
    """:func:`lr_factor` of one run as a ``LambdaLR`` factor: ``factor(step)``."""

    def __init__(self, schedule: str, total: int, warmup: float) -> None:
        self.schedule, self.total, self.warmup = schedule, total, warmup

    def __call__(self, step: int) -> float:
        return lr_factor(self.schedule, step, self.total, self.warmup)


def make_optimizer(
    model: nn.Module, config: TrainConfig, total_steps: int
) -> tuple[torch.optim.SGD, torch.optim.lr_scheduler.LambdaLR]:
    """SGD over ``model``'s parameters with the config's lr, momentum and Nesterov setting,
    weight decay on the weights of conv and linear layers (parameters with more than one
    dimension) and none on biases and batch norm; and its ``LambdaLR`` scheduler over
    ``total_steps`` steps (:func:`lr_factor` of the config's schedule and warm-up)."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    optimizer = torch.optim.SGD(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=config.lr,
        momentum=config.momentum,
        nesterov=config.nesterov,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, ScheduleFactor(config.schedule, total_steps, config.warmup)
    )
    return optimizer, scheduler


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast dtype of training on ``device``: bf16 on CUDA where supported, else fp16;
    None (full precision) on the CPU and MPS."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def make_scaler(device: torch.device, dtype: torch.dtype | None) -> torch.amp.GradScaler:
    """The gradient scaler: enabled for fp16 on CUDA only (bf16 and full precision need
    none; a disabled scaler passes gradients through)."""
    return torch.amp.GradScaler("cuda", enabled=dtype == torch.float16 and device.type == "cuda")
