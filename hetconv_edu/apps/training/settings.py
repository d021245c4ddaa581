"""The app's settings: its starting values (class, full run, CI), the networks and families it
offers, and the check of the families chosen."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hetconv_edu.layers import parse_conv_spec
from hetconv_edu.models import build_model
from hetconv_edu.train import TrainConfig

CI_ENV = "HETCONV_EDU_CI"
RUNS_ENV = "HETCONV_EDU_RUNS"
"""Folder of the runs' checkpoints and histories (default: ``runs/`` in the working folder)."""

NETWORKS: tuple[str, ...] = ("small_vgg", "small_resnet")
FAMILY_CHOICES: tuple[str, ...] = (
    "standard",
    "hetconv:2",
    "hetconv:4",
    "hetconv:8",
    "groupwise:4",
    "depthwise_pointwise",
    "naive_hetconv:4",
)
"""Families offered as suggestions; any text :func:`~hetconv_edu.layers.parse_conv_spec` reads
is accepted."""

TRAIN_IMAGES: dict[str, int] = {"cifar10": 50_000, "fashion-mnist": 60_000}
"""Training images of each official data set (the most the "Train images" box allows)."""


@dataclass(frozen=True)
class AppSettings:
    """The starting values of the app's controls and the run settings that have no control."""

    families: tuple[str, ...] = ("standard", "hetconv:2", "hetconv:4")
    network: str = "small_vgg"
    epochs: int = TrainConfig.epochs
    subset: int | None = 4000
    test_subset: int | None = 1000
    batch_size: int = TrainConfig.batch_size
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    batches_per_slice: int = 2
    """Training batches between two yields to the event loop (and curve updates)."""


CLASS_SETTINGS = AppSettings()
"""Class time: standard vs HetConv P=2 and P=4, small_vgg, the trainer's recipe (8 epochs,
batch 128) on 4,000 training and 1,000 test images — a few minutes on 2 CPU cores."""

FULL_RUN_SETTINGS = AppSettings(epochs=30, subset=None, test_subset=None)
"""The "full run" toggle: all 50,000 training and 10,000 test images, 30 epochs (hours on a
laptop CPU, minutes on a GPU)."""

CI_SETTINGS = AppSettings(
    epochs=1,
    subset=200,
    test_subset=100,
    batch_size=50,
    model_kwargs={"widths": (8, 16, 32)},
    batches_per_slice=1,
)
"""Automatic runs (``HETCONV_EDU_CI=1``): a tiny model on a tiny subset, seconds per run."""


def in_ci() -> bool:
    """Whether the notebooks run unattended (``HETCONV_EDU_CI`` set to a true value)."""
    return os.environ.get(CI_ENV, "").strip().lower() not in ("", "0", "false", "no")


def check_families(
    network: str, families: Sequence[str], model_kwargs: dict[str, Any] | None = None
) -> list[str]:
    """The families, normalised (``"hetconv:4"``), after checking that each one reads and fits
    every configurable conv of ``network``. Raises ``ValueError`` with a message for people
    (what is wrong and what would work); duplicates are dropped."""
    if not families:
        raise ValueError("choose at least one family to train, e.g. standard and hetconv:4")
    out: list[str] = []
    for text in families:
        spec = parse_conv_spec(str(text))
        try:
            build_model(network, spec, seed=None, **(model_kwargs or {}))
        except ValueError as err:
            raise ValueError(f"{text!r} does not fit {network}: {err}") from None
        if str(spec) not in out:
            out.append(str(spec))
    return out
