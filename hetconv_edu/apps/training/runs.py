"""One run of a comparison: its config, trainer, curves and result."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hetconv_edu.train import TrainConfig, Trainer
from hetconv_edu.viz.training import RunCurves, RunResult


@dataclass
class Run:
    """One run of a comparison: its config, trainer (once started) and curves."""

    config: TrainConfig
    label: str
    color: str
    curves: RunCurves
    trainer: Trainer | None = None
    result: RunResult | None = None

    @property
    def finished(self) -> bool:
        return self.result is not None


def mean_or_none(values: Sequence[float]) -> float | None:
    """The mean of ``values``, or None when there are none."""
    return sum(values) / len(values) if values else None


CURVES_INTERVAL_S = 0.5
"""Seconds between two redraws of the training curves while a run trains (and one at its end)."""
