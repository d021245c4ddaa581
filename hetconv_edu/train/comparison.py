"""Several configurations trained alike and tabulated: :func:`compare`, :class:`RunResult`,
:func:`format_table` (what ``python -m hetconv_edu compare`` prints)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hetconv_edu.data import ImageDataset, load_dataset
from hetconv_edu.train.config import TrainConfig
from hetconv_edu.train.engine import Trainer
from hetconv_edu.train.history import History
from hetconv_edu.train.run_folder import refuse_existing_run

__all__ = ["RunResult", "compare", "format_table"]


@dataclass
class RunResult:
    """One row of :func:`compare`: the final epoch's test accuracy (a fraction in [0, 1]),
    parameters, MACs per image (the paper's count) and speed (seconds per epoch and training
    images per second, means over the run's epochs; NaN before the first epoch ends)."""

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

    @classmethod
    def from_trainer(cls, trainer: Trainer) -> RunResult:
        """The row of a trainer after its run (finished or stopped)."""
        records = trainer.history.epochs

        def mean(values: list[float]) -> float:
            return sum(values) / len(values) if values else float("nan")

        return cls(
            label=trainer.config.label,
            test_acc=records[-1].test_acc if records else float("nan"),
            params=trainer.params,
            macs=trainer.macs,
            seconds_per_epoch=mean([r.seconds for r in records]),
            images_per_s=mean([r.images_per_s for r in records]),
            config=trainer.config,
            history=trainer.history,
            stopped=trainer.stopped,
        )


def compare(
    configs: Sequence[TrainConfig],
    dataset: ImageDataset | None = None,
    *,
    progress: bool = True,
    on_run: Callable[[Trainer], object] | None = None,
    overwrite: bool = False,
) -> list[RunResult]:
    """Train every config in turn and return one :class:`RunResult` per config (up to and
    including a stopped one: a stop ends the comparison).

    Give them the same seed (and data settings) to compare like with like: same subset, same
    data order, same initial weights where shapes agree. The data set is loaded once when all
    configs read the same one.

    Args:
        configs: the runs, trained in this order.
        dataset: the data of every run (default: loaded from the configs).
        progress: progress bars per epoch (:meth:`Trainer.run`).
        on_run: ``on_run(trainer)`` is called before each run starts (to add callbacks).
        overwrite: as :class:`Trainer`.

    Raises:
        ValueError: no configs.
        RunExistsError: without ``overwrite``, a config whose run folder holds a run (before
            anything is trained).
        What :class:`Trainer` and :meth:`Trainer.run` raise.
    """
    if not configs:
        raise ValueError("compare needs at least one TrainConfig")
    if not overwrite:
        for config in configs:
            refuse_existing_run(Path(config.run_dir) / config.run_name)
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
            trainer.run(progress=progress)
        finally:
            trainer.close()
        results.append(RunResult.from_trainer(trainer))
        if trainer.stopped:
            break
    return results


def format_table(results: Sequence[RunResult]) -> str:
    """A plain-text table of :func:`compare` results: test accuracy, parameters, MACs per image
    (the paper's count, in millions), training seconds per epoch and images per second."""
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
