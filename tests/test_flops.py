"""Cost accounting (hetconv_edu.flops): analytic counts against closed forms written here,
against torch.utils.flop_counter on real modules, the paper's ratios as exact fractions, and
the per-layer network table."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from hetconv_edu.flops import (
    Cost,
    depthwise_pointwise_ratio,
    groupwise_pointwise_ratio,
    hetconv_macs,
    hetconv_ratio,
    layer_cost,
    measure_macs,
    naive_hetconv_ratio,
    network_cost,
    standard_macs,
)
from hetconv_edu.layers import (
    DepthwiseSeparableConv2d,
    GroupwiseConv2d,
    GroupwisePointwiseConv2d,
    HetConv2d,
    MaskedHetConv2d,
    NaiveHetConv2d,
    StandardConv2d,
    make_conv,
)

FAMILY_SPECS = ["standard", "hetconv", "naive_hetconv", "groupwise", "dwsep", "gwpw"]


def closed_form_macs(family: str, d: int, m: int, n: int, k: int, v: int) -> int:
    """The paper's formulas (HETCONV.md), written out independently of the package."""
    return {
        "standard": d * d * m * n * k * k,
        "hetconv": d * d * m * n * k * k // v + (m - m // v) * d * d * n,
        "naive_hetconv": d * d * m * n * k * k // v + m * n * d * d,
        "groupwise": d * d * m * n * k * k // v,
        "dwsep": d * d * m * k * k + m * n * d * d,
        "gwpw": d * d * m * m * k * k // v + m * n * d * d,
    }[family]


def closed_form_params(family: str, m: int, n: int, k: int, v: int, bias: bool) -> int:
    weights = {
        "standard": n * m * k * k,
        "hetconv": n * (m * k * k // v + m - m // v),
        "naive_hetconv": n * m * k * k // v + n * m,
        "groupwise": n * m * k * k // v,
        "dwsep": m * k * k + m * n,
        "gwpw": m * m * k * k // v + m * n,
    }[family]
    return weights + (n if bias else 0)


@st.composite
def family_configs(draw):
    family = draw(st.sampled_from(FAMILY_SPECS))
    v = draw(st.sampled_from([1, 2, 3, 4]))  # P or G
    m = v * draw(st.integers(1, 3))
    n = v * draw(st.integers(1, 3)) if family != "gwpw" else draw(st.integers(1, 6))
    k = draw(st.sampled_from([1, 3, 5]))
    stride = draw(st.sampled_from([1, 2]))
    size = draw(st.integers(1, 9))
    bias = draw(st.booleans())
    return family, v, m, n, k, stride, size, bias


def spec_text(family: str, v: int) -> str:
    return family if family in ("standard", "dwsep") else f"{family}:{v}"


@settings(max_examples=80, deadline=None)
@given(family_configs(), st.sampled_from(["shifted", "grouped"]))
def test_layer_cost_equals_flop_counter_every_family(config, arrangement):
    family, v, m, n, k, stride, size, bias = config
    spec = spec_text(family, v)
    module = make_conv(spec, m, n, k, stride=stride, bias=bias, arrangement=arrangement)
    d = (size - 1) // stride + 1  # 'same' padding: D_o = ceil(D / stride)
    batch = 2
    y = module(torch.zeros(batch, m, size, size))
    assert y.shape == (batch, n, d, d)

    paper = layer_cost(spec, m, n, k, d, bias=bias)
    executed = layer_cost(spec, m, n, k, d, bias=bias, executed=True)
    measured = measure_macs(module, (batch, m, size, size))
    assert measured == batch * executed.macs
    assert paper.macs == closed_form_macs(family, d, m, n, k, v)
    assert paper.params == executed.params == sum(t.numel() for t in module.parameters())
    assert paper.params == closed_form_params(family, m, n, k, v, bias)
    assert paper.bias_adds == executed.bias_adds == (d * d * n if bias else 0)
    if family == "hetconv":
        assert paper.macs == hetconv_macs(d, m, n, k, v)
        extra = d * d * n * m // v if v > 1 else 0
        assert executed.macs - paper.macs == extra
    else:
        assert executed.macs == paper.macs


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 16),
    st.sampled_from([1, 2, 4, 8]),
    st.integers(1, 4),
    st.integers(1, 4),
    st.sampled_from([1, 3, 5, 7]),
)
def test_ratios_are_the_papers_exact_fractions(d, v, a, b, k):
    m, n = v * a, v * b
    std = standard_macs(d, m, n, k)
    assert std == d * d * m * n * k * k
    inv_p, inv_k2 = Fraction(1, v), Fraction(1, k * k)

    het = Fraction(hetconv_macs(d, m, n, k, v), std)
    assert het == inv_p + (1 - inv_p) * inv_k2
    assert het == Fraction(layer_cost(f"hetconv:{v}", m, n, k, d).macs, std)
    assert abs(hetconv_ratio(k, v) - float(het)) < 1e-12

    naive = Fraction(layer_cost(f"naive_hetconv:{v}", m, n, k, d).macs, std)
    assert naive == inv_p + inv_k2
    assert abs(naive_hetconv_ratio(k, v) - float(naive)) < 1e-12

    # the separable families: M = N
    sq = standard_macs(d, m, m, k)
    dwsep = Fraction(layer_cost("dwsep", m, m, k, d).macs, sq)
    assert dwsep == Fraction(1, m) + inv_k2
    assert abs(depthwise_pointwise_ratio(m, k) - float(dwsep)) < 1e-12
    gwpw = Fraction(layer_cost(f"gwpw:{v}", m, m, k, d).macs, sq)
    assert gwpw == inv_p + inv_k2
    assert abs(groupwise_pointwise_ratio(v, k) - float(gwpw)) < 1e-12
    # HetConv with P = G is always cheaper than groupwise + pointwise: it skips 1/K² · 1/P
    assert gwpw - het == inv_p * inv_k2


def test_ratio_landmarks_from_the_paper():
    assert hetconv_ratio(3, 1) == 1
    assert Fraction(hetconv_ratio(3, 4)).limit_denominator(1000) == Fraction(1, 3)
    # the naive public layer costs 1/P + 1/K²: +8.3 % over HetConv at P = 4, K = 3
    excess = naive_hetconv_ratio(3, 4) / hetconv_ratio(3, 4) - 1
    assert math.isclose(excess, 1 / 12, rel_tol=1e-12)
    # P = M leaves one K×K kernel per filter
    assert hetconv_macs(1, 64, 1, 3, 64) == 9 + 63


@pytest.mark.parametrize(
    ("p", "paper_table", "true_work"),
    [
        (1, "313.74", "313.74"),
        (2, "175.23", "175.33"),
        (4, "105.98", "106.12"),
        (8, "71.35", "71.52"),
        (16, "54.04", "54.22"),
        (32, "45.38", "45.57"),
        (64, "41.05", "41.24"),
    ],
)
def test_vgg16_cifar_macs_match_the_papers_table(p, paper_table, true_work):
    """HETCONV.md: the paper's column = first conv (MACs + bias adds) + linear MACs + every
    HetConv layer's standard count (MACs + bias adds) × ratio, truncated to two decimals; the
    layer's true work (FL_H + unscaled bias adds) rounds to the second column."""
    widths = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M"]
    widths += [512, 512, 512, "M", 512, 512, 512, "M"]
    convs, c, d = [], 3, 32
    for w in widths:
        if w == "M":
            d //= 2
            continue
        convs.append((c, w, d))
        c = w
    first = layer_cost("standard", 3, 64, 3, 32)
    base = first.macs + first.bias_adds + 512 * 512 + 512 * 10
    ratio = Fraction(1, p) + (1 - Fraction(1, p)) / 9
    paper, true = Fraction(base), Fraction(base)
    for m, n, d in convs[1:]:
        std = layer_cost("standard", m, n, 3, d)
        het = layer_cost(f"hetconv:{p}", m, n, 3, d)
        paper += (std.macs + std.bias_adds) * ratio
        true += het.macs + het.bias_adds
    assert f"{math.floor(paper / 10**4) / 100:.2f}" == paper_table
    assert f"{float(true) / 1e6:.2f}" == true_work


def test_cost_arithmetic_and_bias():
    a, b = Cost(10, 3, 2), Cost(5, 1)
    assert a.flops == 20 and (a + b) == Cost(15, 4, 2) and (a + b).flops == 30
    with_bias = layer_cost("hetconv:2", 4, 6, 3, 5)
    no_bias = layer_cost("hetconv:2", 4, 6, 3, 5, bias=False)
    assert with_bias.macs == no_bias.macs
    assert with_bias.params - no_bias.params == 6
    assert (with_bias.bias_adds, no_bias.bias_adds) == (25 * 6, 0)
    # FLOPs as the flop counter reports them: 2 × MACs
    module = HetConv2d(4, 6, 3, p=2)
    assert (
        measure_macs(module, (1, 4, 5, 5)) * 2
        == layer_cost("hetconv:2", 4, 6, 3, 5, executed=True).flops
    )


@pytest.mark.parametrize("batch", [1, 3])
def test_measure_macs_scales_with_batch_and_keeps_mode(batch):
    module = StandardConv2d(3, 4, 3)
    module.train()
    assert measure_macs(module, (batch, 3, 6, 6)) == batch * 36 * 3 * 4 * 9
    assert module.training
    module.eval()
    measure_macs(module, (batch, 3, 6, 6))
    assert not module.training


def test_masked_reference_executes_the_standard_work():
    masked = MaskedHetConv2d(8, 8, 3, p=4)
    assert measure_macs(masked, (1, 8, 6, 6)) == standard_macs(6, 8, 8, 3)


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: hetconv_macs(4, 6, 6, 3, 4), r"p=4 must divide in_channels=6"),
        (lambda: hetconv_macs(4, 6, 6, 3, 0), r"p must be a positive integer"),
        (lambda: standard_macs(0, 6, 6, 3), r"out_size must be a positive integer"),
        (lambda: standard_macs(2, 6.0, 6, 3), r"in_channels must be a positive integer"),
        (lambda: layer_cost("hetconv:3", 8, 8, 3, 4), r"allowed values: \[1, 2, 4, 8\]"),
        (lambda: layer_cost("groupwise:3", 6, 4, 3, 4), r"allowed values: \[1, 2\]"),
        (lambda: layer_cost("hetconv:2", 8, 8, 3, 0), r"out_size must be a positive integer"),
        (lambda: layer_cost("hetconv:2", 8, 8, 2.5, 4), r"kernel_size must be a positive"),
        (lambda: layer_cost("conv", 8, 8, 3, 4), r"unknown conv family"),
    ],
)
def test_bad_arguments(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


# ---------------------------------------------------------------- network table


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            StandardConv2d(3, 8, 3),  # 8×8
            nn.BatchNorm2d(8),
            nn.ReLU(),
            HetConv2d(8, 8, 3, p=4, arrangement="grouped"),
            nn.MaxPool2d(2),  # 4×4
            NaiveHetConv2d(8, 8, 3, p=2),
            DepthwiseSeparableConv2d(8, 12, 3, stride=2),  # 2×2
            GroupwiseConv2d(12, 12, 3, groups=3, bias=False),
            GroupwisePointwiseConv2d(12, 6, 3, groups=4),
            MaskedHetConv2d(6, 6, 3, p=3),
            nn.Conv2d(6, 6, 1, groups=6),
            HetConv2d(6, 6, 1, p=2),
        )
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(6 * 2 * 2, 5), nn.Linear(5, 3, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


# name, spec for layer_cost (None = linear), M, N, K, D_o, bias
EXPECTED_ROWS = [
    ("features.0", "standard", 3, 8, 3, 8, True),
    ("features.3", "hetconv:4", 8, 8, 3, 8, True),
    ("features.5", "naive_hetconv:2", 8, 8, 3, 4, True),
    ("features.6", "dwsep", 8, 12, 3, 2, True),
    ("features.7", "groupwise:3", 12, 12, 3, 2, False),
    ("features.8", "gwpw:4", 12, 6, 3, 2, True),
    ("features.9", "hetconv:3", 6, 6, 3, 2, True),
    ("features.10", "groupwise:6", 6, 6, 1, 2, True),
    ("features.11", "hetconv:2", 6, 6, 1, 2, True),
    ("head.1", None, 24, 5, 1, 1, True),
    ("head.2", None, 5, 3, 1, 1, False),
]


@pytest.mark.parametrize("batch", [1, 2])
def test_network_cost_table(batch):
    torch.manual_seed(0)
    model = Net()
    model.train()
    table = network_cost(model, (batch, 3, 8, 8))
    assert model.training  # mode restored
    assert table.input_shape == (batch, 3, 8, 8)
    assert [r.name for r in table.rows] == [e[0] for e in EXPECTED_ROWS]
    for row, (name, spec, m, n, k, d, bias) in zip(table.rows, EXPECTED_ROWS, strict=True):
        assert (row.in_channels, row.out_channels, row.kernel_size, row.out_size) == (m, n, k, d)
        module = model.get_submodule(name)
        if spec is None:
            assert row.family == "linear" and row.p is None
            assert row.macs == row.macs_executed == batch * m * n
            assert row.params == m * n + (n if bias else 0)
            assert row.bias_adds == batch * (n if bias else 0)
        else:
            paper = layer_cost(spec, m, n, k, d, bias=bias)
            executed = layer_cost(spec, m, n, k, d, bias=bias, executed=True)
            assert row.macs == batch * paper.macs
            assert row.params == paper.params
            assert row.bias_adds == batch * paper.bias_adds
            if isinstance(module, MaskedHetConv2d):  # multiplies its whole dense weight
                assert row.macs_executed == batch * standard_macs(d, m, n, k)
            else:
                assert row.macs_executed == batch * executed.macs
                assert row.params == sum(t.numel() for t in module.parameters())
        assert row.macs_measured == row.macs_executed, name
    hetconv_rows = [r for r in table.rows if r.p is not None]
    assert [r.p for r in hetconv_rows] == [4, 2, 3, 2]
    # totals are the sums of the rows
    assert table.macs == sum(r.macs for r in table.rows)
    assert table.macs_executed == sum(r.macs_executed for r in table.rows)
    assert table.macs_measured == sum(r.macs_measured for r in table.rows)
    assert table.params == sum(r.params for r in table.rows)
    assert table.bias_adds == sum(r.bias_adds for r in table.rows)
    assert table.macs_measured == measure_macs(model, (batch, 3, 8, 8))
    assert table.total_params == sum(t.numel() for t in model.parameters())
    assert table.total_params > table.params  # batch norm and the masked layer's dense weight


def test_network_cost_of_a_single_composite_layer():
    """A layer that contains convolutions is one row, also when it is the whole model."""
    for layer in (NaiveHetConv2d(4, 4, 3, p=2), DepthwiseSeparableConv2d(4, 6, 3)):
        table = network_cost(layer, (1, 4, 5, 5))
        assert len(table.rows) == 1
        (row,) = table.rows
        assert row.macs_measured == row.macs_executed == measure_macs(layer, (1, 4, 5, 5)) > 0
        assert row.out_size == 5


def test_network_cost_rejects_non_square_outputs():
    with pytest.raises(ValueError, match="non-square"):
        network_cost(nn.Sequential(HetConv2d(4, 4, 3, p=2)), (1, 4, 5, 6))


def test_measure_macs_uses_the_module_dtype():
    module = HetConv2d(4, 4, 3, p=2, dtype=torch.float64)
    assert (
        measure_macs(module, (1, 4, 5, 5))
        == layer_cost("hetconv:2", 4, 4, 3, 5, executed=True).macs
    )


@pytest.mark.parametrize(
    ("shape", "reason"),
    [
        ((1, 3, 2, 2), "Kernel size can't be greater than actual input size"),
        ((1, 4, 8, 8), "expected input[1, 4, 8, 8] to have 3 channels"),
    ],
)
def test_an_input_the_network_cannot_take_is_one_line_naming_the_shape(shape, reason):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    for call in (network_cost, measure_macs):
        with pytest.raises(ValueError) as refused:
            call(model, shape)
        message = str(refused.value)
        assert message.startswith(f"Sequential cannot run on an input of shape {shape}: ")
        assert reason in message and "\n" not in message
        assert model.training  # the mode is restored
