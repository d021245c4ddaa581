"""The honesty check: how well the weight-sharing network's predictions rank networks trained
from scratch (:func:`predicted_vs_retrained`, :func:`honesty_table_html`), and the additive
model's plan against a small evolutionary search (:func:`evolution_table_html`)."""

from __future__ import annotations

import html
import math

import plotly.graph_objects as go

from hetconv_edu.study.results import METRICS, OptimalPResults
from hetconv_edu.viz import style
from hetconv_edu.viz.best_p.common import COLORS, config_text, cost_text, figure_layout, pct


def predicted_vs_retrained(results: OptimalPResults) -> go.Figure:
    """Each run trained from scratch: predicted accuracy (the additive model) against its
    retrained test accuracy, uniform and searched runs apart, with the y = x line; the title
    gives Spearman's rank correlation (:meth:`OptimalPResults.rank_correlation`)."""
    fig = go.Figure()
    runs = list(results.runs)
    values = [100 * results.predicted_acc(r.config) for r in runs] + [
        100 * r.test_acc for r in runs
    ]
    lo, hi = (min(values) - 2, max(values) + 2) if values else (0, 100)
    fig.add_trace(
        go.Scatter(
            x=[lo, hi],
            y=[lo, hi],
            mode="lines",
            line={"color": style.MUTED, "dash": "dash"},
            name="retrained = predicted",
            hoverinfo="skip",
        )
    )
    for kind, symbol in (("uniform", "circle"), ("searched", "diamond")):
        chosen = [r for r in runs if r.kind == kind]
        if not chosen:
            continue
        fig.add_trace(
            go.Scatter(
                x=[100 * results.predicted_acc(r.config) for r in chosen],
                y=[100 * r.test_acc for r in chosen],
                mode="markers",
                marker={
                    "size": 13,
                    "symbol": symbol,
                    "color": COLORS[kind],
                    "line": {"width": 1, "color": style.OUTLINE},
                },
                name=f"{kind} runs",
                hovertext=[
                    f"<b>{r.label}</b> ({kind}, seed {r.seed})<br>predicted "
                    f"{pct(results.predicted_acc(r.config))}<br>retrained {pct(r.test_acc)}"
                    + (
                        ""
                        if r.supernet_acc is None
                        else f"<br>weight-sharing network measured {pct(r.supernet_acc)}"
                    )
                    for r in chosen
                ],
                hoverinfo="text",
            )
        )
    rho = results.rank_correlation()
    if math.isnan(rho):
        title = "Predicted vs retrained: rank correlation undefined (needs two runs that differ)"
    else:
        title = f"Predicted vs retrained accuracy: Spearman ρ = {rho:.2f} over {len(runs)} runs"
    fig.update_xaxes(title_text="predicted accuracy (%), weight-sharing network", range=[lo, hi])
    fig.update_yaxes(title_text="retrained test accuracy (%)", range=[lo, hi])
    return figure_layout(fig, title, width=style.SIDE_FIGURE_WIDTH, height=420, hovermode="closest")


def honesty_table_html(results: OptimalPResults) -> str:
    """Every run trained from scratch: its configuration, seed, predicted accuracy, the
    weight-sharing network's measured accuracy (searched runs) and its retrained accuracy."""
    if not results.runs:
        return (
            "<p>No network was retrained from scratch in these results, so the predictions "
            "cannot be checked here. The shipped results file has the check.</p>"
        )
    rows = []
    for run in sorted(results.runs, key=lambda r: (r.kind, r.costs.macs, r.seed)):
        shared = "–" if run.supernet_acc is None else pct(run.supernet_acc)
        rows.append(
            f"<tr><td>{html.escape(run.label)}</td><td>{run.kind}</td>"
            f"<td class='num'>{run.seed}</td>"
            f"<td class='num'>{pct(results.predicted_acc(run.config))}</td>"
            f"<td class='num'>{shared}</td><td class='num'>{pct(run.test_acc)}</td></tr>"
        )
    return (
        f"<table class='hetconv-table hetconv-honesty-table'><tr><th>configuration</th>"
        "<th>kind</th><th>seed</th><th>predicted (additive)</th><th>weight-sharing measured</th>"
        f"<th>retrained</th></tr>{''.join(rows)}</table>"
    )


def evolution_table_html(results: OptimalPResults) -> str:
    """The additive model checked at each budget: the knapsack's plan (predicted, and measured
    on the weight-sharing network) against the best a small evolutionary search found."""
    if not results.evolution:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(METRICS.get(c.metric, c.metric))} ≤ "
        f"{html.escape(cost_text(results, c.budget, c.metric))}</td>"
        f"<td>{config_text(c.knapsack_config)}</td><td class='num'>"
        f"{pct(c.knapsack_predicted)}</td><td class='num'>{pct(c.knapsack_measured)}</td>"
        f"<td>{config_text(c.best_config)}</td><td class='num'>{pct(c.best_measured)}</td>"
        f"<td class='num'>{c.evaluations}</td></tr>"
        for c in results.evolution
    )
    return (
        f"<table class='hetconv-table'><tr><th>budget</th><th>knapsack plan</th>"
        "<th>predicted</th><th>measured</th><th>evolution's best</th><th>measured</th>"
        f"<th>evaluated</th></tr>{rows}</table>"
    )
