"""The figure of a network's conversion to HetConv (notebook 05): pure, from a report to a figure.

:func:`conversion_figure` draws a :class:`hetconv_edu.conversion_report.ConversionReport`:
left, every convolution and linear layer's MACs per image before and after (the paper's count);
right, the whole network's measured forward and forward + backward time before and after. The
numbers are the report's; nothing is computed here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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


def _bar(x: list[str], values: list[float], label: str, color: str, **kw: Any) -> go.Bar:
    """One before-or-after bar series; the two panels' series of a side share a legend entry."""
    return go.Bar(x=x, y=values, name=label, marker_color=color, legendgroup=label, **kw)


def _sides(before: list[float], after: list[float]) -> tuple[tuple[str, list[float], str], ...]:
    """``(label, values, colour)`` of the network before and after conversion."""
    return (("before (standard)", before, _BEFORE), ("after (HetConv)", after, _AFTER))


def _add_macs_panel(fig: go.Figure, report: ConversionReport) -> None:
    """Left panel: each layer's MACs per image before and after, the hover naming the layer,
    its M→N, K, D_o and what conversion did to it."""
    layers = report.layers
    names = [r.name for r in layers]
    sides = _sides([r.macs_before for r in layers], [r.macs_after for r in layers])
    for label, values, color in sides:
        hover = [
            f"<b>{r.name}</b> ({r.in_channels}→{r.out_channels}, K={r.kernel_size}, "
            f"D_o={r.out_size})<br>{label}: {v:,} MACs<br>{r.note}"
            for r, v in zip(layers, values, strict=True)
        ]
        bar = _bar(names, values, label, color, hovertext=hover, hoverinfo="text")
        fig.add_trace(bar, row=1, col=1)
    fig.update_yaxes(title_text="MACs per image", row=1, col=1)
    fig.update_xaxes(title_text="layer", tickangle=-60, tickfont={"size": 10}, row=1, col=1)


def _add_time_panel(fig: go.Figure, report: ConversionReport) -> str:
    """Right panel: the measured ms per call before and after, each kind of call (forward,
    forward + backward) a pair of bars. Returns the note under the figure: the speedups, or
    that time was not measured."""
    if not report.speed:
        return "time not measured (timing off)"
    kinds = [s.kind for s in report.speed]
    sides = _sides(
        [s.before_s * 1e3 for s in report.speed], [s.after_s * 1e3 for s in report.speed]
    )
    for label, values, color in sides:
        bar = _bar(
            kinds,
            values,
            label,
            color,
            showlegend=False,
            text=[f"{v:.1f} ms" for v in values],
            textposition="outside",
            hovertemplate="%{x}: %{y:.1f} ms per call<extra>" + label + "</extra>",
        )
        fig.add_trace(bar, row=1, col=2)
    top = max(max(s.before_s, s.after_s) for s in report.speed) * 1e3
    fig.update_yaxes(title_text="ms per call (median)", range=[0, top * 1.3], row=1, col=2)
    speedups = ", ".join(f"{s.kind} {s.speedup:.2f}×" for s in report.speed)
    return f"speedup (before / after): {speedups}; batch {report.input_shape[0]}"


def conversion_figure(report: ConversionReport) -> go.Figure:
    """Per-layer MACs before/after (bars, hover names the layer, its M→N, K, D_o and what
    conversion did) and measured time before/after (bars, ms per call, with the speedup).

    Without timing (``report.speed`` empty) the right panel says so instead of bars.
    """
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
    _add_macs_panel(fig, report)
    note = _add_time_panel(fig, report)
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
