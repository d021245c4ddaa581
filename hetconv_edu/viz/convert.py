"""The figure of a network's conversion to HetConv (notebook 05): pure, from a report to a figure.

:func:`conversion_figure` draws a :class:`hetconv_edu.conversion_report.ConversionReport`:
left, every convolution and linear layer's MACs per image before and after (the paper's count);
right, the whole network's measured forward and forward + backward time before and after. The
numbers are the report's; nothing is computed here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from hetconv_edu.viz import style

if TYPE_CHECKING:
    from hetconv_edu.conversion_report import ConversionReport

__all__ = ["conversion_figure"]

_BEFORE = style.family_color("standard")
_AFTER = style.family_color("hetconv")


def _short(x: float) -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


def conversion_figure(report: ConversionReport) -> go.Figure:
    """Per-layer MACs before/after (bars, hover names the layer, its M→N, K, D_o and what
    conversion did) and measured time before/after (bars, ms per call, with the speedup).

    Without timing (``report.speed`` empty) the right panel says so instead of bars.
    """
    layers = report.layers
    names = [r.name for r in layers]
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.72, 0.28],
        horizontal_spacing=0.1,
        subplot_titles=(
            f"MACs per image, layer by layer: {_short(report.before.macs)} → "
            f"{_short(report.after.macs)} (× {report.macs_ratio:.2f})",
            "Measured time, whole network",
        ),
    )
    for label, values, color in (
        ("before (standard)", [r.macs_before for r in layers], _BEFORE),
        ("after (HetConv)", [r.macs_after for r in layers], _AFTER),
    ):
        fig.add_trace(
            go.Bar(
                x=names,
                y=values,
                name=label,
                marker_color=color,
                legendgroup=label,
                hovertext=[
                    f"<b>{r.name}</b> ({r.in_channels}→{r.out_channels}, K={r.kernel_size}, "
                    f"D_o={r.out_size})<br>{label}: {v:,} MACs<br>{r.note}"
                    for r, v in zip(layers, values, strict=True)
                ],
                hoverinfo="text",
            ),
            row=1,
            col=1,
        )
    fig.update_yaxes(title_text="MACs per image", row=1, col=1)
    fig.update_xaxes(title_text="layer", tickangle=-60, tickfont={"size": 10}, row=1, col=1)
    if report.speed:
        kinds = [s.kind for s in report.speed]
        for label, values, color in (
            ("before (standard)", [s.before_s * 1e3 for s in report.speed], _BEFORE),
            ("after (HetConv)", [s.after_s * 1e3 for s in report.speed], _AFTER),
        ):
            fig.add_trace(
                go.Bar(
                    x=kinds,
                    y=values,
                    name=label,
                    marker_color=color,
                    legendgroup=label,
                    showlegend=False,
                    text=[f"{v:.1f} ms" for v in values],
                    textposition="outside",
                    hovertemplate="%{x}: %{y:.1f} ms per call<extra>" + label + "</extra>",
                ),
                row=1,
                col=2,
            )
        top = max(max(s.before_s, s.after_s) for s in report.speed) * 1e3
        fig.update_yaxes(title_text="ms per call (median)", range=[0, top * 1.3], row=1, col=2)
        speedups = ", ".join(f"{s.kind} {s.speedup:.2f}×" for s in report.speed)
        note = f"speedup (before / after): {speedups}; batch {report.input_shape[0]}"
    else:
        note = "time not measured (timing off)"
    fig.add_annotation(
        text=note,
        xref="paper",
        yref="paper",
        x=1.0,
        y=-0.32,
        xanchor="right",
        showarrow=False,
        font={"size": 12},
    )
    style.apply_layout(fig)
    fig.update_layout(
        title={
            "text": f"{report.network} converted to HetConv: "
            f"{len(report.plan.converted)} of {len(report.plan.decisions)} convolutions"
        },
        barmode="group",
        height=560,
        margin={"l": 70, "r": 30, "t": 90, "b": 170},
        legend={"orientation": "h", "y": 1.08, "x": 0.0},
    )
    return style.themed(fig)
