"""The optimiser of a run (hetconv_edu/train/optim.py): schedules, weight decay groups."""

from __future__ import annotations

import itertools

import pytest
import torch

from hetconv_edu.models import build_model
from hetconv_edu.train import TrainConfig, lr_factor
from hetconv_edu.train.optim import amp_dtype, make_optimizer, make_scaler


def test_schedules():
    total = 100
    one = [lr_factor("onecycle", s, total, 0.2) for s in range(total)]
    assert one[0] == pytest.approx(0.1) and max(one) == pytest.approx(1.0) and one[20] == 1.0
    assert one[-1] < 0.02 and all(a >= b for a, b in itertools.pairwise(one[20:]))
    cos = [lr_factor("cosine", s, total, 0.2) for s in range(total)]
    assert cos[20] == 1.0 and cos[-1] < 0.01
    assert lr_factor("constant", 50, total, 0.2) == 1.0


def test_weight_decay_is_on_conv_and_linear_weights_only_and_the_schedule_is_the_configs():
    model = build_model("small_vgg", "hetconv:4", seed=0, widths=[8, 16, 32])
    config = TrainConfig(model_kwargs={"widths": [8, 16, 32]}, weight_decay=1e-3, lr=0.4)
    optimizer, scheduler = make_optimizer(model, config, total_steps=10)
    assert scheduler.lr_lambdas[0](5) == lr_factor("onecycle", 5, 10, 0.2)
    decay, no_decay = optimizer.param_groups
    assert decay["weight_decay"] == 1e-3 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim > 1 for p in decay["params"]) and all(p.ndim <= 1 for p in no_decay["params"])
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.4 * lr_factor("onecycle", 0, 10, 0.2))


def test_full_precision_and_no_scaler_on_the_cpu():
    cpu = torch.device("cpu")
    assert amp_dtype(cpu) is None and not make_scaler(cpu, None).is_enabled()
