"""(e) Where the MACs go: a network's analytic MACs layer by layer, next to the same network
with standard convolutions."""

from __future__ import annotations

import plotly.graph_objects as go

from hetconv_edu.flops import NetworkCost
from hetconv_edu.viz import style
from hetconv_edu.viz.flops_lab.common import (
    family_color,
    fmt_count,
    layout,
    short_count,
    unit_factor,
)


def macs_by_layer_figure(
    baseline: NetworkCost, hetconv: NetworkCost, unit: str = "MACs", labels=("standard", "HetConv")
) -> go.Figure:
    """Where the (analytic) MACs go: for every layer one bar per network (``labels``: the two
    networks' names, the legend's two entries, above the plot, with the totals).

    ``baseline`` and ``hetconv`` must list the same layers (the same network with two families).
    """
    f = unit_factor(unit)
    if [r.name for r in baseline.rows] != [r.name for r in hetconv.rows]:
        raise ValueError("both networks must have the same layers")
    names = [r.name for r in baseline.rows]
    totals = (baseline.macs * f, hetconv.macs * f)
    fig = go.Figure()
    for net, label, total, color in zip(
        (baseline, hetconv),
        labels,
        totals,
        (family_color("standard"), family_color("hetconv")),
        strict=True,
    ):
        values = [r.macs * f for r in net.rows]
        fig.add_trace(
            go.Bar(
                x=names,
                y=values,
                name=f"{label}: total {short_count(total)}",
                marker_color=color,
                hovertext=[
                    f"<b>{r.name}</b> ({label}: {r.family}, {r.in_channels}→{r.out_channels}, "
                    f"D_o={r.out_size})<br>{fmt_count(v)} {unit}<br>{v / total:.1%} of this "
                    "network"
                    for r, v in zip(net.rows, values, strict=True)
                ],
                hoverinfo="text",
            )
        )
    fig.update_layout(barmode="group", bargap=0.25)
    fig.update_yaxes(title_text=f"{unit} per image", rangemode="tozero", nticks=5)
    fig.update_xaxes(title_text="layer, input to output", tickangle=-45)
    return layout(
        fig,
        f"Where the {unit} go, layer by layer",
        width=style.SIDE_FIGURE_WIDTH,
        height=470,
        # the legend above the plot, not in it (drawn over the tallest bars, it hid some of
        # them); the top margin holds the title and two rows of it (long family names in the
        # projector style)
        margin={"l": 64, "r": 16, "t": 108, "b": 110},
        legend={"orientation": "h", "x": 0.0, "y": 1.0, "yanchor": "bottom"},
    )
