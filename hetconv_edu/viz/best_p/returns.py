"""The diminishing return of P (:func:`diminishing_returns`), analytic: what each doubling of
P saves, and the 1/K² floor of the cost (from :func:`hetconv_edu.flops.hetconv_ratio`)."""

from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from hetconv_edu.flops import hetconv_ratio
from hetconv_edu.viz import style
from hetconv_edu.viz.best_p.common import BOTTOM_LEGEND, COLORS, figure_layout


def _cost_traces(k: int, ps: list[int]) -> list[go.Scatter]:
    """The cost r(P), the saving 1 − r(P), the cost's floor 1/K² and the most saving."""
    cost = [hetconv_ratio(k, p) for p in ps]
    floor = hetconv_ratio(k, math.inf)  # the limit of r(P) as P grows: 1/K²
    traces = [
        go.Scatter(
            x=ps,
            y=cost,
            mode="lines+markers",
            line={"color": COLORS["predicted"], "width": 3},
            name="cost r(P) = 1/P + (1 − 1/P)/K²",
            hovertemplate="P=%{x}: cost %{y:.3f} × standard<extra></extra>",
        ),
        go.Scatter(
            x=ps,
            y=[1 - c for c in cost],
            mode="lines+markers",
            line={"color": COLORS["searched"], "width": 3, "dash": "dash"},
            marker={"symbol": "square"},
            name="saved so far 1 − r(P)",
            hovertemplate="P=%{x}: saved %{y:.3f} of standard<extra></extra>",
        ),
    ]
    for y, name in ((floor, f"cost floor 1/K² = {floor:.3f}"), (1 - floor, "most saving 1 − 1/K²")):
        traces.append(
            go.Scatter(
                x=[ps[0], ps[-1]],
                y=[y, y],
                mode="lines",
                line={"color": style.MUTED, "dash": "dot", "width": 2},
                name=name,
                hovertemplate=f"{name}<extra></extra>",
            )
        )
    return traces


def _step_bar(k: int, steps: list[int], step_saving: list[float]) -> go.Bar:
    """What each doubling P → 2P saves, one bar per doubling."""
    return go.Bar(
        x=[f"{p}→{2 * p}" for p in steps],
        y=step_saving,
        marker={"color": COLORS["uniform"]},
        text=[f"{s:.1%}" for s in step_saving],
        textposition="outside",
        constraintext="none",
        cliponaxis=False,
        name="saving of P → 2P = (1 − 1/K²)/(2P)",
        hovertext=[
            f"P {p} → {2 * p}: saves {s:.4f} of the standard layer's MACs"
            f"<br>(1 − 1/{k * k})/(2·{p}) = {(1 - 1 / k**2) / (2 * p):.4f}"
            for p, s in zip(steps, step_saving, strict=True)
        ],
        hoverinfo="text",
    )


def diminishing_returns(kernel_size: int = 3, max_p: int = 64) -> go.Figure:
    """Analytic, from :func:`hetconv_edu.flops.hetconv_ratio` (cost ratio
    r(P) = 1/P + (1 − 1/P)/K²). Left: the cost r(P) and the saving 1 − r(P) against P
    (powers of two up to ``max_p``), with the 1/K² floor of the cost (so the saving never
    exceeds 1 − 1/K²). Right: what each doubling saves, r(P) − r(2P) = (1 − 1/K²)/(2P) of the
    standard layer's MACs: half of the previous doubling's saving.

    Raises ``ValueError`` when ``kernel_size`` or ``max_p`` is not an integer >= 2."""
    if not isinstance(kernel_size, int) or kernel_size < 2:
        raise ValueError(f"kernel_size must be an integer >= 2, got {kernel_size!r}")
    if not isinstance(max_p, int) or max_p < 2:
        raise ValueError(f"max_p must be an integer >= 2, got {max_p!r}")
    k = kernel_size
    ps = [2**i for i in range(int(math.log2(max_p)) + 1)]
    steps = ps[:-1]
    step_saving = [hetconv_ratio(k, p) - hetconv_ratio(k, 2 * p) for p in steps]
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.16,
        subplot_titles=("cost, and saved so far", "saved by P → 2P"),
    )
    for trace in _cost_traces(k, ps):
        fig.add_trace(trace, row=1, col=1)
    fig.add_trace(_step_bar(k, steps, step_saving), row=1, col=2)
    fig.update_xaxes(
        title_text="part P (log scale)", type="log", tickvals=ps, ticktext=list(map(str, ps)),
        row=1, col=1,
    )  # fmt: skip
    fig.update_yaxes(title_text="fraction of standard MACs", range=[0, 1.05], row=1, col=1)
    fig.update_xaxes(title_text="doubling of P", tickangle=0, row=1, col=2)
    fig.update_yaxes(
        title_text="saved, fraction of standard",
        range=[0, max(step_saving) * 1.25],
        row=1,
        col=2,
    )
    return figure_layout(
        fig,
        f"Each doubling of P saves half as much (K = {k})",
        width=style.WIDE_FIGURE_WIDTH,
        height=440,
        legend=BOTTOM_LEGEND,
        margin={"l": 64, "r": 16, "t": 64, "b": 120},
    )
