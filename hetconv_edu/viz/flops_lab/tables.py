"""(c, d) Tables drawn as figures: a network's per-layer costs, and the paper's VGG-16 table
next to our counts."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from hetconv_edu.flops import NetworkCost
from hetconv_edu.viz import style
from hetconv_edu.viz.flops_lab.common import fmt_count, layout, unit_factor


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
    return layout(
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
