"""Each switchable layer's cost against P (:func:`layer_costs_vs_p`): measured time beside
MACs, relative to the layer at its smallest P."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from hetconv_edu.flops import hetconv_ratio, standard_macs
from hetconv_edu.study.results import LayerCosts, OptimalPResults
from hetconv_edu.viz import style
from hetconv_edu.viz.best_p.common import (
    BOTTOM_LEGEND,
    TIME_TITLES,
    figure_layout,
    layer_color,
    layer_label,
)
from hetconv_edu.viz.training import format_count


def _kernel_size(layer: LayerCosts) -> int | None:
    """K of a layer whose smallest P is 1, read off its MACs (FL_S = D_o²·M·N·K², by
    :func:`hetconv_edu.flops.standard_macs`); None when no odd K up to 11 fits."""
    if layer.choices[0] != 1:
        return None
    shape = (layer.out_size, layer.in_channels, layer.out_channels)
    return next((k for k in range(1, 12, 2) if standard_macs(*shape, k) == layer.macs[0]), None)


def _relative_trace(
    i: int, layer: LayerCosts, values: Sequence[float], unit: str, fastest: int
) -> go.Scatter:
    """Layer i's ``values`` (``unit``: ``"ms"`` or ``"MACs"``) against P, relative to its
    smallest P; the time side (ms) carries the legend entry and names the fastest P."""
    label = layer_label(i, layer)
    base = values[0]
    timed = unit == "ms"
    return go.Scatter(
        x=list(layer.choices),
        y=[v / base for v in values],
        mode="lines+markers",
        line={"color": layer_color(i), "width": 2.5},
        marker={"size": 8},
        name=f"layer {label} ({layer.out_size}×{layer.out_size})",
        legendgroup=label,
        showlegend=timed,
        hovertext=[
            f"<b>{html.escape(layer.name)}</b><br>P={p}: "
            + (f"{v:.4g} ms/image" if timed else f"{format_count(v)} MACs")
            + f" = {v / base:.2f} × P={layer.choices[0]}"
            + (f"<br>fastest measured: P={layer.choices[fastest]}" if timed else "")
            for p, v in zip(layer.choices, values, strict=True)
        ],
        hoverinfo="text",
    )


def _fastest_ring(i: int, layer: LayerCosts, times: Sequence[float], fastest: int) -> go.Scatter:
    """A ring around layer i's P of least measured time (one legend entry for all layers)."""
    color = layer_color(i)
    return go.Scatter(
        x=[layer.choices[fastest]],
        y=[times[fastest] / times[0]],
        mode="markers",
        marker={
            "size": 18,
            "symbol": "circle-open",
            "color": color,
            "line": {"width": 2.5, "color": color},
        },
        name="fastest measured P of a layer",
        legendgroup="fastest",
        showlegend=i == 0,
        hovertext=[f"<b>{html.escape(layer.name)}</b>: fastest at P={layer.choices[fastest]}"],
        hoverinfo="text",
    )


def _floor_trace(results: OptimalPResults, choices: list[int]) -> go.Scatter | None:
    """The MACs floor 1/K² across the P axis, when every layer has the same K (None else)."""
    kernels = {_kernel_size(layer) for layer in results.layers}
    if len(kernels) != 1 or None in kernels:
        return None
    k = kernels.pop()
    floor = hetconv_ratio(k, math.inf)
    return go.Scatter(
        x=[choices[0], choices[-1]],
        y=[floor, floor],
        mode="lines",
        line={"color": style.MUTED, "dash": "dash"},
        name=f"MACs floor 1/K² = 1/{k * k}",
        hovertext=[f"1/K² = 1/{k * k}: every filter keeps (almost) M kernels of 1×1"] * 2,
        hoverinfo="text",
    )


def layer_costs_vs_p(results: OptimalPResults, time_metric: str = "infer_ms") -> go.Figure:
    """Per switchable layer, its measured time (``time_metric``) against P (left) beside its
    MACs against P (right), each relative to the layer at its smallest P, one trace per layer
    in the same colour on both sides. MACs follow 1/P + (1 − 1/P)/K² down to the 1/K² floor
    (dashed); measured time need not: the P of least measured time is ringed.

    Raises ``ValueError`` when ``time_metric`` is not ``"infer_ms"`` or ``"train_ms"``."""
    if time_metric not in ("infer_ms", "train_ms"):
        raise ValueError(f"time_metric must be 'infer_ms' or 'train_ms', got {time_metric!r}")
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.16,
        subplot_titles=(f"measured: {TIME_TITLES[time_metric]}", "analytic: MACs (every layer)"),
    )
    for i, layer in enumerate(results.layers):
        times = getattr(layer, time_metric)
        fastest = min(range(len(times)), key=lambda j: times[j])
        fig.add_trace(_relative_trace(i, layer, times, "ms", fastest), row=1, col=1)
        fig.add_trace(_relative_trace(i, layer, layer.macs, "MACs", fastest), row=1, col=2)
        fig.add_trace(_fastest_ring(i, layer, times, fastest), row=1, col=1)
    choices = sorted({p for layer in results.layers for p in layer.choices})
    floor = _floor_trace(results, choices)
    if floor is not None:
        fig.add_trace(floor, row=1, col=2)
    for col in (1, 2):
        fig.update_xaxes(
            title_text="part P (log scale)",
            type="log",
            tickvals=choices,
            ticktext=[str(p) for p in choices],
            row=1,
            col=col,
        )
    fig.update_yaxes(title_text="× time at smallest P", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="× MACs at smallest P", rangemode="tozero", row=1, col=2)
    return figure_layout(
        fig,
        "Each layer's cost against P",
        width=style.WIDE_FIGURE_WIDTH,
        height=440,
        hovermode="closest",
        legend=BOTTOM_LEGEND,
        margin={"l": 64, "r": 16, "t": 64, "b": 120},
    )
