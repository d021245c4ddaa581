"""What the figures know of a run: its curves (:class:`RunCurves`) and, once finished, its
result (:class:`RunResult`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


def _get(record: Any, key: str, default: Any = None) -> Any:
    if isinstance(record, Mapping):
        return record.get(key, default)
    return getattr(record, key, default)


@dataclass
class RunCurves:
    """What the live curves show of one run: loss per training step, accuracy per epoch.

    ``test_acc`` is a fraction in [0, 1] (shown in %). Build one from a trainer's history with
    :meth:`from_history`.
    """

    name: str
    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    epochs: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    steps_per_epoch: int | None = None
    color: str | None = None
    """The run's colour; None: the palette's colour of its position."""

    @classmethod
    def from_history(
        cls, name: str, steps: Sequence[Any], epochs: Sequence[Any], steps_per_epoch=None
    ) -> RunCurves:
        """From per-step records ``(step, loss, lr)`` (tuples, mappings or objects) and epoch
        records with ``epoch`` and ``test_acc``."""
        s, losses = [], []
        for rec in steps:
            if isinstance(rec, tuple | list):
                step, loss = rec[0], rec[1]
            else:
                step, loss = _get(rec, "step"), _get(rec, "loss")
            s.append(int(step))
            losses.append(float(loss))
        ep, acc = [], []
        for rec in epochs:
            a = _get(rec, "test_acc")
            if a is None:
                continue
            ep.append(float(_get(rec, "epoch")))
            acc.append(float(a))
        return cls(name, s, losses, ep, acc, steps_per_epoch)


@dataclass
class RunResult:
    """One finished (or stopped) run, for the results table and the accuracy-vs-MACs plot.

    ``test_acc`` is a fraction in [0, 1]; ``macs`` counts one forward pass of one image.
    """

    name: str
    test_acc: float | None
    params: int
    macs: int
    seconds_per_epoch: float | None = None
    images_per_s: float | None = None
    epochs: float | None = None
    stopped: bool = False
    network: str = ""
    color: str | None = None
    """The run's colour; None: the palette's colour of its position."""
