"""Accuracy against cost (:func:`accuracy_vs_cost`): retrained uniform P, or, apart, what the
weight-sharing network predicts, with one helper per optional overlay (the search's front,
the searched configurations, the budget line, the best plan's star, a student's pick)."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from hetconv_edu.study.results import METRICS, OptimalPResults, Run
from hetconv_edu.study.search import Plan
from hetconv_edu.viz import style
from hetconv_edu.viz.best_p.common import (
    BOTTOM_LEGEND,
    COLORS,
    config_text,
    cost_scale,
    cost_text,
    figure_layout,
    pct,
)
from hetconv_edu.viz.best_p.uniform import uniform_predicted_trace, uniform_traces


def _searched_for(results: OptimalPResults, run: Run) -> str:
    if run.metric not in METRICS or run.budget is None:
        return ""
    return f"searched for {METRICS[run.metric]} ≤ {cost_text(results, run.budget, run.metric)}<br>"


def _front_trace(results: OptimalPResults, plans: Sequence[Plan], metric: str) -> go.Scatter:
    """The search's front: the predicted accuracy of the best configuration at every cost."""
    scale, _ = cost_scale(metric)
    return go.Scatter(
        x=[p.cost / scale for p in plans],
        y=[100 * (results.reference_acc - p.loss) for p in plans],
        mode="lines+markers",
        line={"color": COLORS["predicted"], "width": 2.5, "shape": "hv"},
        marker={"size": 4},
        name="search: best per-layer P (predicted)",
        hovertext=[
            f"<b>{config_text(p.config)}</b><br>predicted "
            f"{pct(results.reference_acc - p.loss)}"
            f"<br>{cost_text(results, p.cost, metric)}"
            for p in plans
        ],
        hoverinfo="text",
    )


def _searched_trace(results: OptimalPResults, metric: str) -> go.Scatter | None:
    """Each searched configuration as predicted (None when the results have none)."""
    searched = {r.config: r for r in results.runs if r.kind == "searched"}
    if not searched:
        return None
    scale, _ = cost_scale(metric)
    configs = list(searched)
    return go.Scatter(
        x=[results.cost(c, metric) / scale for c in configs],
        y=[100 * results.predicted_acc(c) for c in configs],
        mode="markers",
        marker={
            "size": 13,
            "symbol": "diamond-open",
            "color": COLORS["searched"],
            "line": {"width": 2, "color": COLORS["searched"]},
        },
        name="searched configuration (predicted)",
        hovertext=[
            f"<b>searched {config_text(c)}</b> (predicted)<br>"
            f"{_searched_for(results, searched[c])}"
            f"{pct(results.predicted_acc(c))}<br>"
            f"{cost_text(results, results.cost(c, metric), metric)}"
            for c in configs
        ],
        hoverinfo="text",
    )


def _add_budget_line(fig: go.Figure, results: OptimalPResults, budget: float, metric: str) -> None:
    """The budget as a dashed vertical line, its cost written on top."""
    scale, _ = cost_scale(metric)
    fig.add_vline(
        x=budget / scale,
        line={"color": style.MUTED, "dash": "dash", "width": 2},
        annotation_text=f"budget {cost_text(results, budget, metric)}",
        annotation_position="top",
    )


def _plan_trace(results: OptimalPResults, plan: Plan, metric: str) -> go.Scatter:
    """The best plan within the budget as a star."""
    scale, _ = cost_scale(metric)
    acc = results.reference_acc - plan.loss
    return go.Scatter(
        x=[plan.cost / scale],
        y=[100 * acc],
        mode="markers",
        marker={"size": 20, "symbol": "star", "color": COLORS["best"]},
        name="best within the budget",
        hovertext=[
            f"<b>best within the budget</b><br>{config_text(plan.config)}<br>predicted "
            f"{pct(acc)}<br>{cost_text(results, plan.cost, metric)}"
        ],
        hoverinfo="text",
    )


def _pick_trace(results: OptimalPResults, pick: Sequence[int], metric: str) -> go.Scatter:
    """A student's configuration, as predicted, as a cross."""
    scale, _ = cost_scale(metric)
    cost = results.cost(pick, metric)
    acc = results.predicted_acc(pick)
    return go.Scatter(
        x=[cost / scale],
        y=[100 * acc],
        mode="markers",
        marker={
            "size": 18,
            "symbol": "x",
            "color": COLORS["pick"],
            "line": {"width": 1.5, "color": style.OUTLINE},
        },
        name="your pick (predicted)",
        hovertext=[
            f"<b>your pick</b> {config_text(pick)}<br>predicted {pct(acc)}<br>"
            f"{cost_text(results, cost, metric)}"
        ],
        hoverinfo="text",
    )


def _x_range(fig: go.Figure, budget: float | None, metric: str) -> list[float]:
    """The x axis's range: every point and the budget, MACs from zero, a margin on the right
    for the P labels and the first tick off the corner."""
    scale, _ = cost_scale(metric)
    xs = [x for trace in fig.data for x in (trace.x or ()) if x is not None]
    xs += [] if budget is None else [budget / scale]
    left, right = (0.0 if metric == "macs" else min(xs)), max(xs)
    span = (right - left) or right or 1.0
    return [left - 0.06 * span, right + 0.12 * span]


def _default_title(metric: str, search: bool, retrained: bool) -> str:
    what = "MACs" if metric == "macs" else "time"
    title = "Predicted by the weight-sharing net" if search else f"Uniform P: accuracy vs {what}"
    if not retrained and not search:
        title += " (predicted)"
    return title


def accuracy_vs_cost(
    results: OptimalPResults,
    metric: str = "macs",
    *,
    search: bool = True,
    front: Sequence[Plan] | None = None,
    budget: float | None = None,
    plan: Plan | None = None,
    pick: Sequence[int] | None = None,
    title: str | None = None,
    height: int = 480,
    width: int = style.SIDE_FIGURE_WIDTH,
) -> go.Figure:
    """Accuracy (%) against a cost (``metric``: ``"macs"``, ``"infer_ms"``, ``"train_ms"``):
    retrained and predicted accuracies never share a figure (they are measured on different
    images, by different networks).

    ``search=False`` — retrained: the uniform-P runs trained from scratch, each seed a small
    point, the mean of the seeds a large one with ± the spread (sample standard deviation) as
    an error bar, a dotted line through the means, and the Pareto front of the means (no other
    P is at most as costly and at least as accurate), the dominated P greyed. With no uniform
    runs (a live run trains none), the uniform configurations' predicted accuracy stands in,
    and the title says so.

    ``search=True`` — predicted by the weight-sharing network: the search's front (``front``,
    default ``results.front(metric)``: predicted accuracy of the best configuration at every
    cost, a step line), the uniform configurations and each searched configuration as
    predicted; the ``budget`` as a vertical line, ``plan`` (the best plan within it) as a star
    and ``pick`` (a configuration) as a cross. Retrained accuracies: :func:`answer_figure`.

    Raises ``ValueError`` for a metric other than those three.
    """
    _scale, axis_title = cost_scale(metric)
    fig = go.Figure()
    uniform = [] if search else uniform_traces(results, metric)
    for trace in uniform:
        fig.add_trace(trace)
    if search or not uniform:
        fig.add_trace(uniform_predicted_trace(results, metric))
    if search:
        plans = list(results.front(metric) if front is None else front)
        overlays = [_front_trace(results, plans, metric), _searched_trace(results, metric)]
        fig.add_traces([trace for trace in overlays if trace is not None])
    if budget is not None:
        _add_budget_line(fig, results, budget, metric)
    if plan is not None:
        fig.add_trace(_plan_trace(results, plan, metric))
    if pick is not None:
        fig.add_trace(_pick_trace(results, pick, metric))
    fig.update_xaxes(title_text=axis_title, range=_x_range(fig, budget, metric))
    predicted = search or not uniform  # the predictions stand in without retrained runs
    fig.update_yaxes(title_text=f"{'predicted' if predicted else 'retrained test'} accuracy (%)")
    legend = len(fig.data) > 1  # plotly shows no legend for a single trace
    return figure_layout(
        fig,
        _default_title(metric, search, bool(uniform)) if title is None else title,
        height=height,
        width=width,
        hovermode="closest",
        legend=BOTTOM_LEGEND,
        margin={"l": 64, "r": 16, "t": 56, "b": 124 if legend else 64},
    )
