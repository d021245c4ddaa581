"""Figures of the FLOPs and latency lab (notebook 02): pure functions from numbers to figures.

Every function returns a fresh ``plotly.graph_objects.Figure`` and computes nothing the cost
model does not already give: the numbers come from :mod:`hetconv_edu.flops` and
:mod:`hetconv_edu.paper`. Units are stated on every axis: **MACs** (multiply-accumulates, the
paper's "FLOPs") or **FLOPs = 2 × MACs** (what ``torch.utils.flop_counter`` reports).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import plotly.graph_objects as go

from hetconv_edu.flops import (
    Cost,
    NetworkCost,
    groupwise_pointwise_ratio,
    hetconv_ratio,
    layer_cost,
    naive_hetconv_ratio,
)
from hetconv_edu.pattern import divisors, valid_parts
from hetconv_edu.viz import style

__all__ = [
    "LAYER_FIGURE_WIDTH",
    "PAPER_LATENCY_ROWS",
    "SHORT_LABELS",
    "UNITS",
    "FamilyCost",
    "SpeedupPoint",
    "family_costs",
    "fmt_count",
    "layer_costs_figure",
    "layer_numbers_html",
    "layer_table_figure",
    "macs_by_layer_figure",
    "network_totals_html",
    "paper_latency_html",
    "paper_table_figure",
    "ratio_curve_figure",
    "speedup_figure",
    "tool_conventions_html",
    "unit_factor",
]

_LEGEND_BG = "rgba(255,255,255,0.85)"
"""Behind a legend drawn inside a plot: what lies under it stays faintly visible."""

LAYER_FIGURE_WIDTH = 400
"""Width (px) of the one-layer bar chart in both styles: beside the families' table, which
has the rest of the row for a family's name and four numbers on few lines."""

UNITS = ("MACs", "FLOPs")
"""The two units the lab switches between: MACs, or FLOPs = 2 × MACs."""


def _color(key: str) -> str:
    """The shared colour of a filter family (:mod:`hetconv_edu.viz.style`)."""
    return style.family_color(key)


def _layout(fig: go.Figure, title: str, **kw: object) -> go.Figure:
    """Apply the shared layout defaults, then this figure's title and settings."""
    style.apply_layout(fig)
    fig.update_layout(title={"text": title}, **kw)
    return style.themed(fig)


def unit_factor(unit: str) -> int:
    """1 for ``"MACs"``, 2 for ``"FLOPs"`` (one multiply + one add per MAC)."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, got {unit!r}")
    return 1 if unit == "MACs" else 2


def fmt_count(x: float) -> str:
    """A count with thousands separators (exact integers stay exact)."""
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.2f}"


def _short(x: float) -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


# ---------------------------------------------------------------- (a) one layer, five families


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
    return _layout(
        fig,
        f"{unit} and parameters, × {base.label}",
        barmode="group",
        width=LAYER_FIGURE_WIDTH,
        height=330,
        margin={"l": 64, "r": 8, "t": 84, "b": 32},
        legend={"orientation": "h", "x": 0.0, "y": 1.0, "yanchor": "bottom"},
    )


# ---------------------------------------------------------------- (b) ratio vs P


def ratio_curve_figure(kernel_size: int, p: int, max_p: int = 64) -> go.Figure:
    """HetConv's cost ratio 1/P + (1 − 1/P)/K² against P (log scale), the naive public version's
    1/P + 1/K², the 1/K² floor both approach, and the current P marked."""
    k = kernel_size
    max_p = max(max_p, p, 2)
    ps = list(range(1, max_p + 1))
    het = [hetconv_ratio(k, q) for q in ps]
    naive = [naive_hetconv_ratio(k, q) for q in ps]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=ps,
            y=het,
            mode="lines",
            name="HetConv: 1/P + (1 − 1/P)/K²",
            line={"color": _color("hetconv"), "width": 3},
            hovertemplate="P=%{x}<br>HetConv: %{y:.4f} × standard<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=ps,
            y=naive,
            mode="lines",
            name="naive public HetConv: 1/P + 1/K²",
            line={"color": _color("naive_hetconv"), "width": 2, "dash": "dash"},
            hovertemplate="P=%{x}<br>naive: %{y:.4f} × standard<extra></extra>",
        )
    )
    floor = 1 / k**2
    fig.add_trace(
        go.Scatter(
            x=[1, max_p],
            y=[floor, floor],
            mode="lines",
            name=f"floor 1/K² = {floor:.4f}",
            line={"color": style.MUTED, "dash": "dash"},
            hovertemplate=f"1/K² = 1/{k * k} = {floor:.4f}<extra></extra>",
        )
    )
    here = hetconv_ratio(k, p)
    fig.add_trace(
        go.Scatter(
            x=[p],
            y=[here],
            mode="markers+text",
            name=f"current P={p}",
            marker={
                "size": 15,
                "color": _color("hetconv"),
                "line": {"width": 2.5, "color": "black"},
            },
            text=[f"P={p}: {here:.4f}"],
            textposition="top right",
            hovertemplate=f"P={p}<br>{here:.4f} × standard = 1/{p} + (1 − 1/{p})/{k * k}"
            "<extra></extra>",
        )
    )
    fig.update_xaxes(
        title_text="part P (log scale)",
        type="log",
        dtick=0.30102999566,
        range=[-0.08, math.log10(max_p) + 0.04],  # "1" clear of the corner
    )
    fig.update_yaxes(title_text="× standard MACs", rangemode="tozero")
    return _layout(
        fig,
        f"Cost ratio against P (K={k}): never below 1/{k * k}",
        width=style.SIDE_FIGURE_WIDTH,
        height=400,
        margin={"l": 64, "r": 16, "t": 52, "b": 56},
        legend={"x": 0.98, "xanchor": "right", "y": 0.97, "bgcolor": _LEGEND_BG},
    )


# ---------------------------------------------------------------- (c) per-layer table


def _table(
    header: Sequence[str],
    columns: Sequence[Sequence[object]],
    title: str,
    widths: Sequence[int],
    *,
    total_row: bool = False,
    row_height: int = 24,
    text_columns: int = 1,
) -> go.Figure:
    """A plotly table sized to its columns (``widths`` in px; headers may contain ``<br>``)."""
    n_rows = len(columns[0]) if columns else 0
    fill = [style.TABLE_STRIPE if i % 2 else "white" for i in range(n_rows)]
    if total_row and n_rows:
        fill[-1] = style.TABLE_TOTAL
    fig = go.Figure(
        go.Table(
            columnwidth=list(widths),
            header={
                # plain text: plotly mis-measures bold header text and clips it
                "values": list(header),
                "fill_color": style.TABLE_HEAD,
                "align": "left",
                "font": {"size": 12},
                "height": 40,
            },
            cells={
                # no-break spaces: plotly tables wrap at spaces and then clip the rows
                "values": [[str(v).replace(" ", "\u00a0") for v in col] for col in columns],
                "align": ["left"] * text_columns + ["right"] * (len(columns) - text_columns),
                "fill_color": [fill] * len(columns),
                "font": {"size": 13},
                "height": row_height,
            },
        )
    )
    margin = {"l": 10, "r": 10, "t": 60, "b": 10}
    return _layout(
        fig,
        title,
        width=sum(widths) + 20,
        height=60 + 40 + (row_height + 2) * n_rows + 60,
        margin=margin,
    )


def layer_table_figure(cost: NetworkCost, unit: str = "MACs", title: str = "") -> go.Figure:
    """Per-layer table: layer, family, M, N, K, P, D_o, parameters, analytic (paper) count,
    executed count and the ``torch.utils.flop_counter`` measurement, with totals.

    Analytic = FL_H for HetConv; executed = what the fast layer multiplies (its dense 1×1 also
    multiplies N·M/P held-at-zero weights per position); measured must equal executed.
    """
    f = unit_factor(unit)
    rows = cost.rows
    total_label = "total"
    columns = [
        [r.name for r in rows] + [total_label],
        [r.family for r in rows] + [""],
        [r.in_channels for r in rows] + [""],
        [r.out_channels for r in rows] + [""],
        [r.kernel_size for r in rows] + [""],
        [r.p if r.p is not None else "–" for r in rows] + [""],
        [r.out_size for r in rows] + [""],
        [fmt_count(r.params) for r in rows] + [fmt_count(cost.params)],
        [fmt_count(r.macs * f) for r in rows] + [fmt_count(cost.macs * f)],
        [fmt_count(r.macs_executed * f) for r in rows] + [fmt_count(cost.macs_executed * f)],
        [fmt_count(r.macs_measured * f) for r in rows] + [fmt_count(cost.macs_measured * f)],
    ]
    header = [
        "layer",
        "family",
        "M",
        "N",
        "K",
        "P",
        "D_o",
        "params",
        f"{unit}<br>analytic (paper)",
        f"{unit}<br>executed",
        f"{unit}<br>measured (torch)",
    ]
    widths = (105, 175, 45, 45, 30, 30, 38, 90, 120, 120, 120)
    title = title or f"Per-layer cost ({unit} per image, bias additions excluded)"
    return _table(header, columns, title, widths, total_row=True, text_columns=2)


# ---------------------------------------------------------------- (d) paper vs ours


def paper_table_figure(rows: Sequence[object]) -> go.Figure:
    """The paper's VGG-16 table next to our counts: rows are
    :class:`hetconv_edu.paper.ReproducedRow` (P, paper figure, ours in the paper's convention
    truncated, ours true work, gap, accuracy)."""
    columns = [
        [f"P={r.p}" for r in rows],
        [f"{r.paper_m:.2f}" for r in rows],
        [f"{r.ours_paper_convention_m:.2f}" for r in rows],
        ["✓" if r.matches else "✗" for r in rows],
        [f"{r.ours_true_m:.2f}" for r in rows],
        [f"{r.gap_macs / 1e3:,.1f}K" for r in rows],
        [f"{r.accuracy:.2f}" for r in rows],
    ]
    header = [
        "VGG-16",
        "paper FLOPs<br>(M MACs)",
        "ours, paper's<br>convention",
        "match",
        "ours,<br>true work",
        "bias adds<br>scaled away",
        "paper<br>accuracy %",
    ]
    widths = (80, 115, 115, 60, 100, 110, 100)
    title = "VGG-16 on CIFAR-10: Singh et al. 2019, Table 1, vs our counts"
    return _table(header, columns, title, widths, row_height=26)


# ---------------------------------------------------------------- (e) where the MACs go


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
        (baseline, hetconv), labels, totals, (_color("standard"), _color("hetconv")), strict=True
    ):
        values = [r.macs * f for r in net.rows]
        fig.add_trace(
            go.Bar(
                x=names,
                y=values,
                name=f"{label}: total {_short(total)}",
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
    return _layout(
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


# ---------------------------------------------------------------- (f) measured vs ideal speedup


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


def speedup_figure(points: Sequence[SpeedupPoint]) -> go.Figure:
    """Measured speedup against the ideal (MAC-ratio) speedup, one marker per measurement, with
    the y = x line where wall-clock time would follow the MAC count exactly and y = 1 (no gain)."""
    fig = go.Figure()
    top = max([2.0] + [p.ideal for p in points] + [p.measured for p in points]) * 1.1
    fig.add_trace(
        go.Scatter(
            x=[0, top],
            y=[0, top],
            mode="lines",
            name="measured = ideal",
            line={"color": style.MUTED, "dash": "dash"},
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[0, top],
            y=[1, 1],
            mode="lines",
            name="no speedup (= standard)",
            line={"color": style.MUTED, "dash": "dot", "width": 1},
            hoverinfo="skip",
        )
    )
    for candidate, (key, symbol) in _CANDIDATES.items():
        pts = [p for p in points if p.candidate == candidate]
        if not pts:
            continue
        fig.add_trace(
            go.Scatter(
                x=[p.ideal for p in pts],
                y=[p.measured for p in pts],
                mode="markers",
                name=candidate,
                marker={
                    "size": 13,
                    "color": _color(key),
                    "symbol": symbol,
                    "line": {"width": 2, "color": _color(key)},
                },
                hovertext=[
                    f"<b>{p.candidate}</b><br>{p.settings}<br>ideal ×{p.ideal:.2f}, "
                    f"measured ×{p.measured:.2f}<br>{p.time_s * 1e3:.2f} ms vs standard "
                    f"{p.standard_time_s * 1e3:.2f} ms"
                    for p in pts
                ],
                hoverinfo="text",
            )
        )
    fig.update_xaxes(title_text="ideal: standard MACs ÷ its MACs", range=[-0.05 * top, top])
    fig.update_yaxes(title_text="measured: time ÷ its time", range=[0, top])
    title = "Speedup on this machine"
    if not points:
        title += ": press “measure”"
    return _layout(
        fig,
        title,
        width=style.SIDE_FIGURE_WIDTH - 20,
        height=400,
        margin={"l": 64, "r": 16, "t": 52, "b": 56},
        legend={"x": 0.01, "xanchor": "left", "y": 0.99, "yanchor": "top", "bgcolor": _LEGEND_BG},
    )


# ---------------------------------------------------------------- HTML panels (pure)


def _cell(value: object, key: str | None = None) -> str:
    attr = f' data-key="{key}"' if key else ""
    return f'<td class="num"{attr}>{value}</td>'


def layer_numbers_html(
    rows: Sequence[FamilyCost],
    out_size: int,
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    p: int,
    unit: str = "MACs",
    measured: dict[str, int] | None = None,
) -> str:
    """The exact numbers of :func:`family_costs` as an HTML table (in ``unit``: the analytic
    count, the measured one, parameters, × standard), plus the HetConv formula with this
    layer's values substituted. (The families' sequential stages: :func:`paper_latency_html`
    and the bars' hover.)

    ``measured`` maps a family key to the MACs ``torch.utils.flop_counter`` measured for the
    real module (the fast HetConv layer's count is its *executed* one, see :func:`layer_cost`).
    Every number cell carries ``data-key="<family>-<column>"`` for tests.
    """
    f = unit_factor(unit)
    measured = measured or {}
    body = []
    for r in rows:
        m = measured.get(r.key)
        body.append(
            f"<tr><td>{r.label}</td>"
            + _cell(fmt_count(r.cost.macs * f), f"{r.key}-work")
            + _cell(fmt_count(m * f) if m is not None else "–", f"{r.key}-measured")
            + _cell(fmt_count(r.cost.params), f"{r.key}-params")
            + _cell(f"{r.ratio:.4f}", f"{r.key}-ratio")
            + "</tr>"
        )
    d, m_, n, k = out_size, in_channels, out_channels, kernel_size
    het = next(r for r in rows if r.key == "hetconv")
    kxk_part = d * d * m_ * n * k * k // p
    one_part = (m_ - m_ // p) * d * d * n
    formula = (
        f"FL_H = D_o·D_o·M·N·K·K/P + (M − M/P)·D_o·D_o·N\n"
        f"     = {d}·{d}·{m_}·{n}·{k}·{k}/{p} + ({m_} − {m_}/{p})·{d}·{d}·{n}\n"
        f"     = {fmt_count(kxk_part)} + {fmt_count(one_part)} = "
        f"<b>{fmt_count(het.cost.macs)}</b> MACs"
        + (f" = <b>{fmt_count(het.cost.flops)}</b> FLOPs" if unit == "FLOPs" else "")
        + f"\nratio = 1/P + (1 − 1/P)/K² = 1/{p} + (1 − 1/{p})/{k * k} = "
        f"<b>{het.formula_ratio:.4f}</b>"
    )
    header = (
        # "measured" under the unit's column header: a header no wider than its numbers,
        # so a family's name has the room (two lines at most in the projector style)
        f"<tr><th>family</th><th>{unit}</th><th>measured<br>(torch)</th>"
        "<th>parameters</th><th>× standard</th></tr>"
    )
    return (
        f'<table class="hetconv-table">{header}{"".join(body)}</table>'
        + f'<div class="hetconv-formula" data-key="formula">{formula}</div>'
    )


def tool_conventions_html(paper: Cost, executed_macs: int, label: str) -> str:
    """How popular tools would report one layer (``paper`` = its analytic cost, ``executed_macs``
    = what the implementation multiplies): the same work under five names."""
    rows = [
        ("the paper (Eq. 4), fvcore, thop", "MACs", paper.macs, "one per multiply-accumulate"),
        (
            "ptflops",
            "MACs + bias adds",
            paper.macs + paper.bias_adds,
            "also counts the D_o²·N bias additions",
        ),
        (
            "torch.utils.flop_counter",
            "FLOPs = 2 × executed MACs",
            2 * executed_macs,
            "multiply and add counted separately, no bias; counts what actually runs",
        ),
        ("“FLOPs” in many papers", "2 × MACs", paper.flops, "2 × the analytic MACs"),
    ]
    body = "".join(
        f"<tr><td>{tool}</td><td>{unit}</td>"
        + _cell(fmt_count(v), f"tool-{i}")
        + f"<td>{note}</td></tr>"
        for i, (tool, unit, v, note) in enumerate(rows)
    )
    return (
        f"<b>{label}: one layer, four reported numbers</b>"
        + '<table class="hetconv-table"><tr><th>tool</th><th>counts</th><th>number</th>'
        + f"<th>why</th></tr>{body}</table>"
    )


def network_totals_html(
    cost: NetworkCost, standard: NetworkCost, unit: str = "MACs", paper: tuple | None = None
) -> str:
    """Totals of a network next to the same network with standard convolutions: analytic,
    executed and measured work, parameters; ``paper`` = (paper-convention MACs, true MACs,
    paper's printed figure or None) adds the VGG-16 comparison rows."""
    f = unit_factor(unit)
    rows = [
        ("analytic (paper's formulas)", cost.macs * f, standard.macs * f, "analytic"),
        ("executed by our layers", cost.macs_executed * f, standard.macs_executed * f, "executed"),
        ("measured (torch flop counter)", cost.macs_measured * f, standard.macs_measured * f,
         "measured"),
        ("parameters (conv + linear, incl. bias)", cost.params, standard.params, "params"),
    ]  # fmt: skip
    body = "".join(
        f"<tr><td>{name}</td>"
        + _cell(fmt_count(v), f"net-{key}")
        + _cell(fmt_count(s), f"std-{key}")
        + _cell(f"{v / s:.4f}" if s else "–", f"ratio-{key}")
        + "</tr>"
        for name, v, s, key in rows
    )
    extra = ""
    if paper is not None:
        conv, true, printed = paper
        extra = (
            "<tr><td>paper's convention (M MACs, truncated)</td>"
            + _cell(f"{conv:.2f}", "paper-convention")
            + _cell(f"{printed:.2f}" if printed is not None else "not in the paper", "paper")
            + "<td>← printed in the paper</td></tr>"
            + "<tr><td>true work: FL_H + unscaled bias adds (M MACs)</td>"
            + _cell(f"{true:.2f}", "true-work")
            + "<td></td><td></td></tr>"
        )
    return (
        f'<table class="hetconv-table"><tr><th>{unit} per image</th><th>this network</th>'
        + f"<th>all standard</th><th>ratio</th></tr>{body}{extra}</table>"
    )


PAPER_LATENCY_ROWS: tuple[tuple[str, int, int, str], ...] = (
    ("standard K×K", 1, 0, "one layer"),
    ("depthwise → pointwise (MobileNet)", 2, 1, "the 1×1 must wait for the depthwise output"),
    ("groupwise → pointwise", 2, 1, "the 1×1 must wait for the groupwise output"),
    ("HetConv", 1, 0, "K×K and 1×1 kernels sit in the same filters: one layer"),
    ("naive public HetConv", 1, 0, "two branches summed, they can run side by side"),
)
"""(design, sequential stages, extra latency in the paper's sense, why)."""


def paper_latency_html() -> str:
    """The paper's meaning of latency (sequential stages added), as a small table."""
    body = "".join(
        f"<tr><td>{name}</td>" + _cell(stages) + _cell(extra) + f"<td>{why}</td></tr>"
        for name, stages, extra, why in PAPER_LATENCY_ROWS
    )
    return (
        '<table class="hetconv-table"><tr><th>design</th><th>sequential layers</th>'
        + "<th>latency (paper)</th><th>why</th></tr>"
        + body
        + "</table>"
    )
