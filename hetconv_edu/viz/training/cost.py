"""Test accuracy against MACs per image of every run so far."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from hetconv_edu.viz.style import OUTLINE, apply_layout, themed
from hetconv_edu.viz.training.common import format_count, run_color
from hetconv_edu.viz.training.runs import RunResult


def accuracy_vs_macs(
    results: Sequence[RunResult], *, title: str | None = "Accuracy vs cost", height: int = 340
) -> go.Figure:
    """Test accuracy (%) against MACs per image (millions) of every run, one colour per run;
    hover shows parameters and speed. Up and to the left is better."""
    fig = apply_layout(go.Figure())
    for i, r in enumerate(results):
        if r.test_acc is None:
            continue
        speed = "–" if r.images_per_s is None else f"{r.images_per_s:,.0f}"
        fig.add_trace(
            go.Scatter(
                x=[r.macs / 1e6], y=[100 * r.test_acc], mode="markers+text",
                name=r.name, text=[r.name], textposition="top center",
                marker={
                    "size": 14, "color": r.color or run_color(i),
                    "line": {"width": 1, "color": OUTLINE},
                },
                customdata=[[format_count(r.params), speed]],
                hovertemplate=(
                    "<b>%{text}</b><br>%{x:.2f}M MACs / image<br>test accuracy %{y:.1f}%"
                    "<br>%{customdata[0]} parameters<br>%{customdata[1]} images/s"
                    "<extra></extra>"
                ),
            )
        )  # fmt: skip
    fig.update_layout(
        title=title, height=height, showlegend=False,
        margin={"l": 60, "r": 16, "t": 48, "b": 52},
    )  # fmt: skip
    fig.update_xaxes(title_text="MACs per image (millions)", rangemode="tozero")
    fig.update_yaxes(title_text="test accuracy (%)")
    return themed(fig)
