"""Helpers of the trainer tests (``tests/test_train_*.py``): a tiny run's config on the fake
CIFAR-10 of ``conftest.py`` (small_vgg 8-16-32, 256 images, batch 64: 4 steps per epoch) and
weight comparisons."""

from __future__ import annotations

from pathlib import Path

import torch

from hetconv_edu.train import TrainConfig, Trainer

TINY = {"widths": [8, 16, 32]}


def config(data_root: Path, run_dir: Path, **kw) -> TrainConfig:
    """A 2-epoch HetConv P=4 run of the tiny network in ``run_dir`` (``kw`` overrides)."""
    values = {
        "model": "small_vgg",
        "conv": "hetconv:4",
        "model_kwargs": TINY,
        "data_root": str(data_root),
        "download": False,
        "epochs": 2,
        "batch_size": 64,
        "lr": 0.1,
        "threads": 2,
        "run_dir": str(run_dir),
        "device": "cpu",
    }
    values.update(kw)
    return TrainConfig(**values)


def weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    """A copy of the trainer's model state."""
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    """Bit-identical model states."""
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
