"""The best-P study's measurements (:mod:`hetconv_edu.study.measure`): the time model's fit,
provenance, per-layer and whole-network costs (analytic counts, the timer's milliseconds),
sensitivities one layer at a time, and the train/validation split."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import hetconv_edu.study.measure as measure
from hetconv_edu.data import ImageDataset
from hetconv_edu.flops import layer_cost, network_cost
from hetconv_edu.models import build_model
from hetconv_edu.study.measure import (
    fit_time_model,
    measure_layers,
    measure_network,
    measure_sensitivity,
    provenance,
    split_validation,
)
from hetconv_edu.study.supernet import SuperNet


def test_fit_time_model_is_least_squares_and_always_grows() -> None:
    assert fit_time_model([1.0, 2.0, 4.0], [1.5, 2.0, 3.0]) == pytest.approx((1.0, 0.5))
    # least squares on noisy points: the line of the normal equations
    x, y = [1.0, 2.0, 3.0, 4.0], [2.1, 2.9, 4.2, 4.8]
    slope = (4 * sum(a * b for a, b in zip(x, y, strict=True)) - sum(x) * sum(y)) / (
        4 * sum(a * a for a in x) - sum(x) ** 2
    )
    assert fit_time_model(x, y) == pytest.approx((sum(y) / 4 - slope * sum(x) / 4, slope))
    # times that fall as the layers' sum grows (noise): the ratio through the origin instead
    assert fit_time_model([1.0, 2.0], [3.0, 2.0]) == pytest.approx((0.0, 5.0 / 3.0))
    assert fit_time_model([2.0, 2.0], [1.0, 3.0]) == pytest.approx((0.0, 1.0))
    with pytest.raises(ValueError, match="two or more paired times"):
        fit_time_model([1.0], [1.0])
    with pytest.raises(ValueError, match="positive finite"):
        fit_time_model([1.0, 0.0], [1.0, 2.0])


def test_provenance_names_command_date_version_machine_data_and_budget() -> None:
    p = provenance(["python", "b.py", "--quick"], {"name": "CIFAR-10"}, {"epochs": 3})
    assert p["command"] == "python b.py --quick"
    assert p["date"][:2] == "20" and "T" in p["date"]
    assert p["package_version"] and p["torch_version"] == torch.__version__
    assert p["machine"]["physical_cores"] >= 1
    assert p["data"] == {"name": "CIFAR-10"} and p["training_budget"] == {"epochs": 3}
    assert len(p["git_commit"].split("+")[0]) == 40  # the code that made the results


def _fake_timer(calls: list):
    """A stand-in for time_layers: forward passes take 1 ms per call, backward ones 3 ms."""
    from hetconv_edu.timing import time_layers

    def fake(modules, shape, *, backward=False, rounds=5, **kwargs):
        calls.append((tuple(modules), tuple(shape), backward))
        real = time_layers(modules, shape, backward=backward, rounds=1, **kwargs)
        seconds = 0.003 if backward else 0.001
        return {name: dataclasses.replace(t, median_s=seconds) for name, t in real.items()}

    return fake


def test_measured_layer_table_has_analytic_costs_and_the_right_timings(monkeypatch) -> None:
    calls: list = []
    monkeypatch.setattr(measure, "time_layers", _fake_timer(calls))
    net = SuperNet("small_vgg", seed=0, widths=(8, 16, 16))
    layers = measure_layers(net, (3, 32, 32), batch=4, rounds=1)
    assert [layer.choices for layer in layers] == list(net.choices)
    rows = {r.name: r for r in network_cost(net.export(net.largest()).eval(), (1, 3, 32, 32)).rows}
    for layer, name, slot in zip(layers, net.slot_names, net.slots, strict=True):
        assert layer.out_size == rows[name].out_size
        m, n = slot.in_channels, slot.out_channels
        for p, macs, params in zip(layer.choices, layer.macs, layer.params, strict=True):
            assert macs == layer_cost(f"hetconv:{p}", m, n, 3, layer.out_size).macs
            exported = net.export(tuple(p if i == slot.index else c[0]
                                        for i, c in enumerate(net.choices)))  # fmt: skip
            module = exported.get_submodule(name)
            assert params == sum(w.numel() for w in module.parameters())  # bias included
        assert layer.infer_ms == pytest.approx([1.0 / 4] * len(layer.choices))  # forward timing
        assert layer.train_ms == pytest.approx([3.0 / 4] * len(layer.choices))  # backward
        assert layer.loss == ()
    assert sorted({c[2] for c in calls}) == [False, True]


def test_measure_network_costs_match_network_cost(monkeypatch: pytest.MonkeyPatch) -> None:

    models = {
        "std": build_model("small_vgg", "standard", widths=(8, 16, 16)),
        "p4": build_model("small_vgg", "hetconv:4", widths=(8, 16, 16)),
    }
    costs = measure_network(models, (3, 32, 32), batch=4, rounds=1)
    for name, model in models.items():
        expected = network_cost(model.eval(), (1, 3, 32, 32))
        assert costs[name].macs == expected.macs and costs[name].params == expected.params
        assert costs[name].infer_ms > 0 and costs[name].train_ms > 0
    calls: list = []
    monkeypatch.setattr(measure, "time_layers", _fake_timer(calls))
    faked = measure_network(models, (3, 32, 32), batch=4, rounds=1)
    assert all(c.infer_ms == pytest.approx(0.25) and c.train_ms == pytest.approx(0.75)
               for c in faked.values())  # fmt: skip
    assert costs["p4"].macs < costs["std"].macs


def test_sensitivity_changes_one_layer_at_a_time() -> None:
    seen = []

    def evaluate(config: tuple[int, ...]) -> float:
        seen.append(config)
        return 0.9 - 0.01 * config[0] - 0.001 * config[1]

    ticks = []
    base, losses = measure_sensitivity(
        evaluate, [(1, 2, 4), (1, 8)], progress=lambda d, t: ticks.append((d, t))
    )
    assert base == pytest.approx(0.9 - 0.011)
    assert losses[0] == pytest.approx((0.0, 0.01, 0.03))
    assert losses[1] == pytest.approx((0.0, 0.007))
    assert seen == [(1, 1), (2, 1), (4, 1), (1, 8)]
    assert ticks[-1] == (4, 4)


def test_split_validation_is_disjoint_and_keeps_the_test_set() -> None:
    n = 50
    train = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 3, 4, 4).contiguous()
    test = torch.full((7, 3, 4, 4), 255, dtype=torch.uint8)
    full = ImageDataset.from_tensors(
        "ids", train, torch.arange(n) % 10, test, torch.zeros(7, dtype=torch.int64),
        tuple(map(str, range(10))),
    )  # fmt: skip
    for_test, for_search = split_validation(full, 30, 15, seed=3)
    tr = [int(v) for v in for_search.train_images[:, 0, 0, 0]]
    va = [int(v) for v in for_search.test_images[:, 0, 0, 0]]
    assert len(set(tr)) == 30 and len(set(va)) == 15 and not set(tr) & set(va)
    assert torch.equal(for_test.train_images, for_search.train_images)
    assert torch.equal(for_test.test_images, test)
    assert [int(v) for v in for_search.test_labels] == [i % 10 for i in va]
    with pytest.raises(ValueError, match="30 training \\+ 25 validation images exceed the 50"):
        split_validation(full, 30, 25, seed=0)
