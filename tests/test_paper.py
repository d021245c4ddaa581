"""The paper's VGG-16/CIFAR-10 FLOPs, reproduced digit for digit from our network counts."""

from __future__ import annotations

import pytest

from hetconv_edu.flops import hetconv_ratio, network_cost
from hetconv_edu.models import build_model
from hetconv_edu.paper import (
    PAPER_PARTS,
    PAPER_VGG16_CIFAR10,
    convention_gap_macs,
    paper_convention_macs,
    paper_row,
    reproduce_vgg16_table,
    true_macs,
    truncate_millions,
)

# HETCONV.md: FL_H + unscaled bias additions, P = 1 … 64, in millions (two decimals).
TRUE_WORK_M = {1: 313.74, 2: 175.33, 4: 106.12, 8: 71.52, 16: 54.22, 32: 45.57, 64: 41.24}


@pytest.fixture(scope="module")
def vgg16_costs():
    return {
        p: network_cost(build_model("vgg16", f"hetconv:{p}", seed=None), (1, 3, 32, 32))
        for p in PAPER_PARTS
    }


def test_table_as_printed():
    assert [(r.p, r.flops_m, r.accuracy) for r in PAPER_VGG16_CIFAR10] == [
        (1, 313.74, 94.06),
        (2, 175.23, 93.89),
        (4, 105.98, 93.93),
        (8, 71.35, 93.92),
        (16, 54.04, 93.96),
        (32, 45.38, 93.73),
        (64, 41.05, 93.42),
    ]
    assert paper_row(8).flops_m == 71.35
    with pytest.raises(ValueError, match="P in"):
        paper_row(3)


@pytest.mark.parametrize("p", PAPER_PARTS)
def test_paper_convention_reproduces_printed_figure(vgg16_costs, p):
    ours = truncate_millions(paper_convention_macs(vgg16_costs[p]))
    assert ours == paper_row(p).flops_m


@pytest.mark.parametrize("p", PAPER_PARTS)
def test_true_work(vgg16_costs, p):
    cost = vgg16_costs[p]
    assert round(true_macs(cost) / 1e6, 2) == TRUE_WORK_M[p]
    # true work = analytic MACs + conv bias additions (linear bias left out as in the paper)
    conv_bias = sum(r.bias_adds for r in cost.rows if r.family != "linear")
    assert true_macs(cost) == cost.macs + conv_bias


@pytest.mark.parametrize("p", PAPER_PARTS)
def test_gap_is_the_scaled_bias(vgg16_costs, p):
    cost = vgg16_costs[p]
    scaled_away = sum(
        r.bias_adds * (1 - hetconv_ratio(r.kernel_size, p))
        for r in cost.rows
        if r.family.startswith("HetConv")
    )
    gap = convention_gap_macs(cost)
    assert gap == pytest.approx(scaled_away, abs=1e-6)
    if p == 1:
        assert gap == pytest.approx(0, abs=1e-6)
    else:
        assert 0.09e6 < gap < 0.19e6


def test_truncation_not_rounding():
    assert truncate_millions(71_355_164.44) == 71.35  # rounding would give 71.36
    assert truncate_millions(45_385_329.78) == 45.38  # rounding would give 45.39
    assert truncate_millions(71_350_000) == 71.35  # no float error at exact values
    assert truncate_millions(313_740_288) == 313.74
    assert truncate_millions(1_234_567, 3) == 1.234


def test_reproduce_table_all_match(vgg16_costs):
    rows = reproduce_vgg16_table(vgg16_costs.__getitem__)
    assert [r.p for r in rows] == list(PAPER_PARTS)
    assert all(r.matches for r in rows)
    assert [r.ours_true_m for r in rows] == [TRUE_WORK_M[p] for p in PAPER_PARTS]


def test_batch_size_does_not_change_per_image_counts():
    model = build_model("vgg16", "hetconv:8", seed=None)
    one, three = network_cost(model, (1, 3, 32, 32)), network_cost(model, (3, 3, 32, 32))
    assert paper_convention_macs(three) == pytest.approx(paper_convention_macs(one))
    assert true_macs(three) == true_macs(one)


def test_other_families_rejected():
    cost = network_cost(build_model("small_vgg", "naive_hetconv:4", seed=None), (1, 3, 32, 32))
    with pytest.raises(ValueError, match="standard and HetConv layers only"):
        paper_convention_macs(cost)
