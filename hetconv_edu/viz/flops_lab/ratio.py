"""(b) HetConv's cost ratio against P, the naive version's, and the 1/K² floor both approach."""

from __future__ import annotations

import math

import plotly.graph_objects as go

from hetconv_edu.flops import hetconv_ratio, naive_hetconv_ratio
from hetconv_edu.viz import style
from hetconv_edu.viz.flops_lab.common import LEGEND_BG, family_color, layout


def _curve_traces(k: int, max_p: int) -> list[go.Scatter]:
    """HetConv's and the naive version's ratio for P = 1 … ``max_p``, and the 1/K² floor."""
    ps = list(range(1, max_p + 1))
    floor = 1 / k**2
    return [
        go.Scatter(
            x=ps,
            y=[hetconv_ratio(k, q) for q in ps],
            mode="lines",
            name="HetConv: 1/P + (1 − 1/P)/K²",
            line={"color": family_color("hetconv"), "width": 3},
            hovertemplate="P=%{x}<br>HetConv: %{y:.4f} × standard<extra></extra>",
        ),
        go.Scatter(
            x=ps,
            y=[naive_hetconv_ratio(k, q) for q in ps],
            mode="lines",
            name="naive public HetConv: 1/P + 1/K²",
            line={"color": family_color("naive_hetconv"), "width": 2, "dash": "dash"},
            hovertemplate="P=%{x}<br>naive: %{y:.4f} × standard<extra></extra>",
        ),
        go.Scatter(
            x=[1, max_p],
            y=[floor, floor],
            mode="lines",
            name=f"floor 1/K² = {floor:.4f}",
            line={"color": style.MUTED, "dash": "dash"},
            hovertemplate=f"1/K² = 1/{k * k} = {floor:.4f}<extra></extra>",
        ),
    ]


def _current_marker(k: int, p: int) -> go.Scatter:
    """The current P on the HetConv curve, its ratio written beside it."""
    here = hetconv_ratio(k, p)
    return go.Scatter(
        x=[p],
        y=[here],
        mode="markers+text",
        name=f"current P={p}",
        marker={
            "size": 15,
            "color": family_color("hetconv"),
            "line": {"width": 2.5, "color": "black"},
        },
        text=[f"P={p}: {here:.4f}"],
        textposition="top right",
        hovertemplate=f"P={p}<br>{here:.4f} × standard = 1/{p} + (1 − 1/{p})/{k * k}"
        "<extra></extra>",
    )


def ratio_curve_figure(kernel_size: int, p: int, max_p: int = 64) -> go.Figure:
    """HetConv's cost ratio 1/P + (1 − 1/P)/K² against P (log scale), the naive public version's
    1/P + 1/K², the 1/K² floor both approach, and the current P marked."""
    k = kernel_size
    max_p = max(max_p, p, 2)
    fig = go.Figure()
    for trace in (*_curve_traces(k, max_p), _current_marker(k, p)):
        fig.add_trace(trace)
    fig.update_xaxes(
        title_text="part P (log scale)",
        type="log",
        dtick=0.30102999566,
        range=[-0.08, math.log10(max_p) + 0.04],  # "1" clear of the corner
    )
    fig.update_yaxes(title_text="× standard MACs", rangemode="tozero")
    return layout(
        fig,
        f"Cost ratio against P (K={k}): never below 1/{k * k}",
        width=style.SIDE_FIGURE_WIDTH,
        height=400,
        margin={"l": 64, "r": 16, "t": 52, "b": 56},
        legend={"x": 0.98, "xanchor": "right", "y": 0.97, "bgcolor": LEGEND_BG},
    )
