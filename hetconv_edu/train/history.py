"""What a run learned, epoch by epoch and step by step: :class:`EpochRecord` and
:class:`History`, with their JSON and CSV forms (``history.json``, ``history.csv``,
``steps.csv`` of a run folder, written by :class:`~hetconv_edu.train.callbacks.HistoryFiles`).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from hetconv_edu.fileio import atomic_write

__all__ = ["EpochRecord", "History"]


@dataclass
class EpochRecord:
    """One finished epoch.

    Attributes:
        epoch: the epoch's number, counted from 1.
        train_loss: mean cross-entropy of the epoch's training steps, with the configured label
            smoothing (nats per image).
        train_acc: fraction of the epoch's (augmented) training images classified right, in
            [0, 1].
        test_loss: mean cross-entropy on the test split after the epoch, without label
            smoothing.
        test_acc: fraction of the test split classified right, in [0, 1].
        lr: the learning rate of the epoch's last step.
        seconds: training time of the epoch in seconds (evaluation excluded).
        images_per_s: training images per second, over all processes.
    """

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
    distributed). Steps count from 1; ``loss`` is the step's training loss, ``lr`` the
    learning rate it was taken with."""

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
        """A history from :meth:`to_dict` output (missing lists read as empty).

        Raises:
            TypeError, ValueError: an epoch record or a step of the wrong form.
        """
        return cls(
            [EpochRecord(**r) for r in values.get("epochs", [])],
            [(int(s), float(loss), float(lr)) for s, loss, lr in values.get("steps", [])],
        )

    def to_json(self, path: str | Path | None = None, **extra: Any) -> str:
        """JSON text of the history (plus ``extra`` top-level keys); written atomically to
        ``path`` if given.

        Raises:
            OSError: ``path`` cannot be written (the previous file is left intact).
        """
        text = json.dumps({**extra, **self.to_dict()}, indent=1)
        if path is not None:
            atomic_write(Path(path), text)
        return text

    @classmethod
    def from_json(cls, path_or_text: str | Path) -> History:
        """Read a history back from a ``history.json`` path or its text.

        Raises:
            OSError: the file cannot be read. json.JSONDecodeError: it is not JSON.
        """
        text = str(path_or_text)
        if not text.lstrip().startswith("{"):
            text = Path(path_or_text).read_text()
        return cls.from_dict(json.loads(text))

    def to_csv(self, path: str | Path | None = None, what: str = "epochs") -> str:
        """CSV text of the epoch records (``what="epochs"``, one column per
        :class:`EpochRecord` field) or of the steps (``"steps"``: step, loss, lr); written
        atomically to ``path`` if given.

        Raises:
            ValueError: ``what`` is neither. OSError: ``path`` cannot be written.
        """
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
            atomic_write(Path(path), text)
        return text

    @property
    def best_test_acc(self) -> float | None:
        """The highest test accuracy of any epoch (None before the first epoch ends)."""
        return max((r.test_acc for r in self.epochs), default=None)
