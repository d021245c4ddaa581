"""Figures and HTML panels of the FLOPs lab: their data equal the cost model's numbers."""

from __future__ import annotations

import re

import plotly.graph_objects as go
import pytest

from hetconv_edu.flops import (
    hetconv_ratio,
    layer_cost,
    naive_hetconv_ratio,
    network_cost,
)
from hetconv_edu.models import build_model
from hetconv_edu.paper import reproduce_row
from hetconv_edu.viz.flops_lab import (
    SpeedupPoint,
    family_costs,
    fmt_count,
    layer_costs_figure,
    layer_numbers_html,
    layer_table_figure,
    macs_by_layer_figure,
    network_totals_html,
    paper_latency_html,
    paper_table_figure,
    ratio_curve_figure,
    speedup_figure,
    tool_conventions_html,
    unit_factor,
)

SPECS = ["standard", "depthwise_pointwise", "groupwise_pointwise:8", "naive_hetconv:4", "hetconv:4"]


@pytest.fixture(scope="module")
def small_costs():
    std = network_cost(build_model("small_vgg", "standard", seed=None), (1, 3, 32, 32))
    het = network_cost(build_model("small_vgg", "hetconv:4", seed=None), (1, 3, 32, 32))
    return std, het


def _has_text(fig: go.Figure) -> None:
    assert fig.layout.title.text


def test_family_costs_equal_layer_cost():
    rows = family_costs(16, 64, 128, 3, 4, 8)
    assert [r.spec for r in rows] == SPECS
    std = layer_cost("standard", 64, 128, 3, 16)
    for r in rows:
        assert r.cost == layer_cost(r.spec, 64, 128, 3, 16)
        assert r.ratio == r.cost.macs / std.macs
    by_key = {r.key: r for r in rows}
    assert by_key["hetconv"].ratio == pytest.approx(hetconv_ratio(3, 4))
    assert by_key["naive_hetconv"].ratio == pytest.approx(naive_hetconv_ratio(3, 4))
    assert by_key["hetconv"].formula_ratio == pytest.approx(hetconv_ratio(3, 4))
    assert by_key["depthwise_pointwise"].stages == 2
    assert by_key["hetconv"].stages == 1


@pytest.mark.parametrize(("p", "g"), [(3, 4), (4, 5)])
def test_family_costs_rejects_invalid(p, g):
    with pytest.raises(ValueError, match="allowed"):
        family_costs(8, 64, 64, 3, p, g)


@pytest.mark.parametrize("unit", ["MACs", "FLOPs"])
def test_layer_costs_figure_data(unit):
    rows = family_costs(8, 32, 32, 3, 2, 4)
    fig = layer_costs_figure(rows, unit)
    _has_text(fig)
    work, params = fig.data
    standard = rows[0].cost
    assert rows[0].key == "standard"
    assert list(work.y) == pytest.approx([r.cost.macs / standard.macs for r in rows])
    assert list(params.y) == pytest.approx([r.cost.params / standard.params for r in rows])
    assert list(work.x) == [r.label for r in rows]
    for r, hover in zip(rows, work.hovertext, strict=True):  # the exact count, in the unit
        assert f"{fmt_count(r.cost.macs * unit_factor(unit))} {unit}" in hover
    assert unit in work.name and unit in fig.layout.title.text
    # one number per pair of bars (the work's), drawn at full size
    assert list(work.text) == [f"{v:.2f}" for v in work.y] and params.text is None
    assert work.constraintext == "none"
    assert fig.layout.barmode == "group"


def test_unit_factor():
    assert unit_factor("MACs") == 1
    assert unit_factor("FLOPs") == 2
    with pytest.raises(ValueError):
        unit_factor("GFLOPs")


def test_ratio_curve_figure():
    fig = ratio_curve_figure(3, 8, max_p=64)
    _has_text(fig)
    het, naive, floor, here = fig.data
    assert list(het.x) == list(range(1, 65))
    assert het.y[7] == pytest.approx(hetconv_ratio(3, 8))
    assert naive.y[3] == pytest.approx(naive_hetconv_ratio(3, 4))
    assert list(floor.y) == [1 / 9, 1 / 9]
    assert list(here.x) == [8] and here.y[0] == pytest.approx(hetconv_ratio(3, 8))
    assert fig.layout.xaxis.type == "log"
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text


@pytest.mark.parametrize("unit", ["MACs", "FLOPs"])
def test_layer_table_figure(small_costs, unit):
    _, het = small_costs
    fig = layer_table_figure(het, unit)
    _has_text(fig)
    cells = fig.data[0].cells.values
    f = unit_factor(unit)
    assert list(cells[0][:-1]) == [r.name for r in het.rows]
    assert list(cells[1][:-1]) == [r.family.replace(" ", "\u00a0") for r in het.rows]
    assert cells[8][-1] == fmt_count(het.macs * f)
    assert cells[10][-1] == fmt_count(het.macs_measured * f)
    assert list(cells[8][:-1]) == [fmt_count(r.macs * f) for r in het.rows]


def test_paper_table_figure():
    rows = [reproduce_row(1, network_cost(build_model("vgg16"), (1, 3, 32, 32)))]
    fig = paper_table_figure(rows)
    _has_text(fig)
    cells = fig.data[0].cells.values
    assert cells[1][0] == "313.74" and cells[2][0] == "313.74" and cells[3][0] == "✓"


def test_macs_by_layer_figure(small_costs):
    std, het = small_costs
    fig = macs_by_layer_figure(std, het, "FLOPs", ("standard", "HetConv P=4"))
    _has_text(fig)
    bars = [t for t in fig.data if t.type == "bar"]
    # one bar per network and layer, side by side: two legend entries, not one per layer
    assert len(bars) == 2 and fig.layout.barmode == "group"
    assert list(bars[0].x) == list(bars[1].x) == [r.name for r in std.rows]
    assert list(bars[0].y) == [2 * r.macs for r in std.rows]
    assert list(bars[1].y) == [2 * r.macs for r in het.rows]
    assert sum(bars[0].y) == 2 * std.macs and sum(bars[1].y) == 2 * het.macs
    assert bars[0].name.startswith("standard: total") and bars[1].name.startswith("HetConv P=4")
    other = network_cost(build_model("small_resnet"), (1, 3, 32, 32))
    with pytest.raises(ValueError, match="same layers"):
        macs_by_layer_figure(std, other)


def test_speedup_figure():
    empty = speedup_figure([])
    assert "press" in empty.layout.title.text
    pts = [
        SpeedupPoint("HetConv (grouped)", "s", 3.0, 1.5, 1e-3, 1.5e-3),
        SpeedupPoint("naive HetConv", "s", 2.7, 1.2, 1.25e-3, 1.5e-3),
        SpeedupPoint("HetConv (grouped)", "t", 4.5, 2.0, 1e-3, 2e-3),
    ]
    fig = speedup_figure(pts)
    named = {t.name: t for t in fig.data}
    assert list(named["HetConv (grouped)"].x) == [3.0, 4.5]
    assert list(named["HetConv (grouped)"].y) == [1.5, 2.0]
    assert list(named["naive HetConv"].y) == [1.2]
    assert "measured = ideal" in named
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text


def _cell(html: str, key: str) -> str:
    match = re.search(rf'data-key="{re.escape(key)}">([^<]*)<', html)
    assert match, key
    return match.group(1)


@pytest.mark.parametrize("unit", ["MACs", "FLOPs"])
def test_layer_numbers_html(unit):
    rows = family_costs(16, 128, 128, 3, 4, 4)
    html = layer_numbers_html(rows, 16, 128, 128, 3, 4, unit, {"hetconv": 123})
    f = unit_factor(unit)
    for r in rows:
        assert _cell(html, f"{r.key}-work") == fmt_count(r.cost.macs * f)
        assert _cell(html, f"{r.key}-params") == fmt_count(r.cost.params)
    assert _cell(html, "hetconv-measured") == fmt_count(123 * f)
    assert _cell(html, "standard-measured") == "–"
    het = layer_cost("hetconv:4", 128, 128, 3, 16)
    assert f"<b>{fmt_count(het.macs)}</b> MACs" in html
    assert "16·16·128·128·3·3/4" in html


def test_tool_conventions_html():
    cost = layer_cost("hetconv:4", 64, 64, 3, 8)
    executed = layer_cost("hetconv:4", 64, 64, 3, 8, executed=True).macs
    html = tool_conventions_html(cost, executed, "HetConv P=4")
    assert _cell(html, "tool-0") == fmt_count(cost.macs)
    assert _cell(html, "tool-1") == fmt_count(cost.macs + cost.bias_adds)
    assert _cell(html, "tool-2") == fmt_count(2 * executed)
    assert _cell(html, "tool-3") == fmt_count(2 * cost.macs)


def test_network_totals_html(small_costs):
    std, het = small_costs
    html = network_totals_html(het, std, "MACs", (1.0, 2.0, None))
    assert _cell(html, "net-analytic") == fmt_count(het.macs)
    assert _cell(html, "std-analytic") == fmt_count(std.macs)
    assert _cell(html, "net-measured") == fmt_count(het.macs_measured)
    assert _cell(html, "paper") == "not in the paper"
    assert "HetConv" in paper_latency_html()
