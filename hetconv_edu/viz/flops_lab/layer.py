"""(a) One layer, five filter families: their analytic costs (:func:`family_costs`) and the bar
chart of MACs and parameters against the standard layer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import plotly.graph_objects as go

from hetconv_edu.flops import (
    Cost,
    groupwise_pointwise_ratio,
    hetconv_ratio,
    layer_cost,
    naive_hetconv_ratio,
)
from hetconv_edu.pattern import divisors, valid_parts
from hetconv_edu.viz import style
from hetconv_edu.viz.flops_lab.common import fmt_count, layout, unit_factor

LAYER_FIGURE_WIDTH = 400
"""Width (px) of the one-layer bar chart in both styles: beside the families' table, which
has the rest of the row for a family's name and four numbers on few lines."""


@dataclass(frozen=True)
class FamilyCost:
    """One filter family's analytic cost for a layer, and its ratio to the standard layer."""

    key: str
    """Colour/family key: standard, depthwise_pointwise, groupwise_pointwise, naive_hetconv,
    hetconv."""
    spec: str
    """The ``layer_cost`` family text, e.g. ``"hetconv:4"``."""
    label: str
    cost: Cost
    ratio: float
    """MACs relative to the standard layer (exact division of the analytic counts)."""
    formula_ratio: float
    """The paper's closed-form ratio for this family (equals ``ratio`` for M = N)."""
    stages: int
    """Sequential convolution stages ("latency" in the paper's sense: stages − 1 extra)."""


def family_costs(
    out_size: int,
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    p: int,
    groups: int,
    *,
    bias: bool = True,
) -> list[FamilyCost]:
    """The cost of one layer (D_o, M, N, K) as standard, depthwise+pointwise,
    groupwise(G)+pointwise, naive HetConv (P) and HetConv (P), via :func:`layer_cost`.

    ``p`` must divide M and N; ``groups`` must divide M (the groupwise stage is M→M).
    """
    d, m, n, k = out_size, in_channels, out_channels, kernel_size
    if p not in valid_parts(m, n):
        raise ValueError(f"P={p} must divide M={m} and N={n}; allowed: {valid_parts(m, n)}")
    if groups not in divisors(m):
        raise ValueError(f"G={groups} must divide M={m}; allowed: {divisors(m)}")
    entries = [
        ("standard", "standard", "standard", 1.0, 1),
        (
            "depthwise_pointwise",
            "depthwise_pointwise",
            "depthwise + pointwise",
            1 / n + 1 / k**2,
            2,
        ),
        (
            "groupwise_pointwise",
            f"groupwise_pointwise:{groups}",
            f"groupwise (G={groups}) + pointwise",
            groupwise_pointwise_ratio(groups, k),
            2,
        ),
        (
            "naive_hetconv",
            f"naive_hetconv:{p}",
            f"naive HetConv (P={p})",
            naive_hetconv_ratio(k, p),
            1,
        ),
        ("hetconv", f"hetconv:{p}", f"HetConv (P={p})", hetconv_ratio(k, p), 1),
    ]
    standard = layer_cost("standard", m, n, k, d, bias=bias).macs
    out = []
    for key, spec, label, formula, stages in entries:
        cost = layer_cost(spec, m, n, k, d, bias=bias)
        out.append(FamilyCost(key, spec, label, cost, cost.macs / standard, formula, stages))
    return out


SHORT_LABELS: dict[str, str] = {
    "standard": "standard",
    "depthwise_pointwise": "dw + pw",
    "groupwise_pointwise": "gw + pw",
    "naive_hetconv": "naive",
    "hetconv": "HetConv",
}
"""Tick labels of the families in the small bar charts (the table beside names them in full;
hovering a bar names it too)."""


def layer_costs_figure(rows: Sequence[FamilyCost], unit: str = "MACs") -> go.Figure:
    """Each family's MACs (or FLOPs) and parameters as a fraction of the standard layer's
    (``rows[0]``): two bars per family on one axis, the work's fraction written above each
    pair at full size (the parameters' differs from it by the biases only; both fractions and
    the exact counts are in the hover, and the table beside the chart has the counts).

    The bars' x values are the families' full labels; the axis shows short ones
    (:data:`SHORT_LABELS`), upright, so five families fit a chart beside the numbers.
    """
    factor = unit_factor(unit)
    labels = [r.label for r in rows]
    base = rows[0]
    work = [r.cost.macs / base.cost.macs for r in rows]
    params = [r.cost.params / base.cost.params for r in rows]
    fig = go.Figure()
    for values, name, color, hover in (
        (work, unit, style.FAMILY_COLORS["standard"],
         [f"<b>{r.label}</b><br>{fmt_count(r.cost.macs * factor)} {unit} (no bias)<br>{v:.4f} "
          f"× standard<br>{r.stages} sequential stage{'s' if r.stages > 1 else ''}"
          for r, v in zip(rows, work, strict=True)]),
        (params, "parameters", style.FAMILY_COLORS["hetconv"],
         [f"<b>{r.label}</b><br>{fmt_count(r.cost.params)} parameters<br>{v:.4f} × standard"
          for r, v in zip(rows, params, strict=True)]),
    ):  # fmt: skip
        fig.add_trace(
            go.Bar(
                x=labels,
                y=values,
                marker_color=color,
                # one number per pair, not shrunk to its bar's width (two shrunk numbers per
                # pair ran together, too small to read): it has its pair's width
                text=[f"{v:.2f}" for v in values] if values is work else None,
                textposition="outside",
                constraintext="none",
                cliponaxis=False,
                hovertext=hover,
                hoverinfo="text",
                name=name,
            )
        )
    fig.update_xaxes(
        tickmode="array", tickvals=labels, ticktext=[SHORT_LABELS.get(r.key, r.label) for r in rows]
    )
    fig.update_yaxes(title_text=f"× {base.label}", range=[0, 1.2], nticks=4)
    return layout(
        fig,
        f"{unit} and parameters, × {base.label}",
        barmode="group",
        width=LAYER_FIGURE_WIDTH,
        height=330,
        margin={"l": 64, "r": 8, "t": 84, "b": 32},
        legend={"orientation": "h", "x": 0.0, "y": 1.0, "yanchor": "bottom"},
    )
