"""(f) Measured speedup on this machine against the ideal (MAC-ratio) speedup."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import plotly.graph_objects as go

from hetconv_edu.viz import style
from hetconv_edu.viz.flops_lab.common import LEGEND_BG, family_color, layout


@dataclass(frozen=True)
class SpeedupPoint:
    """One timed comparison: a candidate's ideal (MAC-ratio) and measured speedup over the
    standard convolution with the same settings."""

    candidate: str
    """``"HetConv (grouped)"``, ``"HetConv (shifted)"`` or ``"naive HetConv"``."""
    settings: str
    """Readable settings, e.g. ``"D_o=16 M=64 N=64 K=3 P=4 batch=8"``."""
    ideal: float
    """Standard MACs / candidate MACs (analytic, the paper's count)."""
    measured: float
    """Standard median time / candidate median time."""
    time_s: float
    standard_time_s: float


_CANDIDATES = {  # candidate: (family colour key, marker symbol)
    "HetConv (grouped)": ("hetconv", "circle"),
    "HetConv (shifted)": ("hetconv", "diamond-open"),
    "naive HetConv": ("naive_hetconv", "x"),
}


def _guide_traces(top: float) -> list[go.Scatter]:
    """The y = x line (time follows the MAC count exactly) and y = 1 (no gain), up to ``top``."""
    return [
        go.Scatter(
            x=[0, top],
            y=[0, top],
            mode="lines",
            name="measured = ideal",
            line={"color": style.MUTED, "dash": "dash"},
            hoverinfo="skip",
        ),
        go.Scatter(
            x=[0, top],
            y=[1, 1],
            mode="lines",
            name="no speedup (= standard)",
            line={"color": style.MUTED, "dash": "dot", "width": 1},
            hoverinfo="skip",
        ),
    ]


def _candidate_trace(candidate: str, pts: Sequence[SpeedupPoint]) -> go.Scatter:
    """One candidate's measurements, one marker each, in its family's colour and symbol."""
    key, symbol = _CANDIDATES[candidate]
    return go.Scatter(
        x=[p.ideal for p in pts],
        y=[p.measured for p in pts],
        mode="markers",
        name=candidate,
        marker={
            "size": 13,
            "color": family_color(key),
            "symbol": symbol,
            "line": {"width": 2, "color": family_color(key)},
        },
        hovertext=[
            f"<b>{p.candidate}</b><br>{p.settings}<br>ideal ×{p.ideal:.2f}, "
            f"measured ×{p.measured:.2f}<br>{p.time_s * 1e3:.2f} ms vs standard "
            f"{p.standard_time_s * 1e3:.2f} ms"
            for p in pts
        ],
        hoverinfo="text",
    )


def speedup_figure(points: Sequence[SpeedupPoint]) -> go.Figure:
    """Measured speedup against the ideal (MAC-ratio) speedup, one marker per measurement, with
    the y = x line where wall-clock time would follow the MAC count exactly and y = 1 (no gain)."""
    fig = go.Figure()
    top = max([2.0] + [p.ideal for p in points] + [p.measured for p in points]) * 1.1
    for trace in _guide_traces(top):
        fig.add_trace(trace)
    for candidate in _CANDIDATES:
        pts = [p for p in points if p.candidate == candidate]
        if pts:
            fig.add_trace(_candidate_trace(candidate, pts))
    fig.update_xaxes(title_text="ideal: standard MACs ÷ its MACs", range=[-0.05 * top, top])
    fig.update_yaxes(title_text="measured: time ÷ its time", range=[0, top])
    title = "Speedup on this machine"
    if not points:
        title += ": press “measure”"
    return layout(
        fig,
        title,
        width=style.SIDE_FIGURE_WIDTH - 20,
        height=400,
        margin={"l": 64, "r": 16, "t": 52, "b": 56},
        legend={"x": 0.01, "xanchor": "left", "y": 0.99, "yanchor": "top", "bgcolor": LEGEND_BG},
    )
