"""Figures of "What is the best P?" (notebook 04): pure functions from results to figures.

Everything drawn comes from an :class:`~hetconv_edu.study.results.OptimalPResults` (or, for the
analytic figure, from :func:`hetconv_edu.flops.hetconv_ratio`); nothing is computed here that
the results object does not already give. Two kinds of accuracy appear and are always named:

* **retrained** — a network trained from scratch and tested (``Run.test_acc``);
* **predicted** — the additive model of the weight-sharing network,
  ``reference − Σ sensitivity`` (:meth:`~hetconv_edu.study.results.OptimalPResults.predicted_acc`).

Costs: MACs per image (the paper's count, one forward pass, exact); measured milliseconds per
image on the machine of the results. A trained network's cost is its own measurement; a
prediction's is the additive one (:meth:`~hetconv_edu.study.results.OptimalPResults.cost`: the
fixed part plus each layer's measured time at its P, an approximation for times).

* :func:`accuracy_vs_cost` — retrained: the uniform-P runs (each seed, their mean ± spread, the
  Pareto front, dominated points greyed); or, apart, predicted: the search's front, uniform P
  and the searched configurations as predicted, the budget, the best plan within it and a
  student's pick.
* :func:`answer_figure`, :func:`answer_html` — the study's answer: uniform P and the plans
  retrained from scratch (mean ± spread over seeds) against MACs and measured time, the answer
  in one sentence and each budget's verdict (:mod:`hetconv_edu.study.answer`).
* :func:`layer_costs_vs_p` — per layer, measured time against P beside MACs against P.
* :func:`diminishing_returns` — analytic: what each doubling of P saves, and the 1/K² floor.
* :func:`config_figure` — per-layer P of configurations drawn over the network's layers.
* :func:`predicted_vs_retrained` — the honesty check, with the rank correlation in the title.
* :func:`plan_html`, :func:`honesty_table_html`, :func:`evolution_table_html`,
  :func:`provenance_html`, :data:`MEANING_HTML` — the panels' HTML.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from hetconv_edu.flops import hetconv_ratio, standard_macs
from hetconv_edu.study.answer import answer_sentence, budget_verdicts, seed_summaries, spread
from hetconv_edu.study.results import METRICS, LayerCosts, OptimalPResults, Run
from hetconv_edu.study.search import Plan, pareto_mask
from hetconv_edu.viz import style
from hetconv_edu.viz.training import format_count

__all__ = [
    "COLORS",
    "CONFIG_FIGURE_WIDTH",
    "MEANING_HTML",
    "UniformPoint",
    "accuracy_vs_cost",
    "answer_figure",
    "answer_html",
    "config_figure",
    "cost_text",
    "diminishing_returns",
    "evolution_table_html",
    "findings_sentence",
    "honesty_table_html",
    "layer_color",
    "layer_costs_vs_p",
    "layer_label",
    "plan_html",
    "predicted_vs_retrained",
    "provenance_html",
    "uniform_points",
]

COLORS: Mapping[str, str] = {
    "uniform": style.OKABE_ITO["orange"],
    "predicted": style.OKABE_ITO["blue"],
    "searched": style.OKABE_ITO["bluish_green"],
    "best": style.OKABE_ITO["black"],
    "pick": style.ACCENT,
    "dominated": style.MUTED,
}
"""One colour per series: uniform P retrained, the search's predictions, searched
configurations, the best plan within the budget, the student's pick, dominated points."""

CONFIG_FIGURE_WIDTH = 360
"""Width (px) of a configuration's bar chart: under the controls, in their column."""


def layer_color(index: int) -> str:
    """The colour of the ``index``-th switchable layer (the same in every figure)."""
    return style.PALETTE[index % len(style.PALETTE)]


def layer_label(index: int, layer: LayerCosts) -> str:
    """Short axis label of a layer: ``"3: 16→32"`` (1-based position, M→N)."""
    return f"{index + 1}: {layer.in_channels}→{layer.out_channels}"


def _layout(fig: go.Figure, title: str, **kw: Any) -> go.Figure:
    """The shared look (:func:`hetconv_edu.viz.style.apply_layout`), this figure's title and
    settings, then the current theme (projector or not)."""
    style.apply_layout(fig)
    fig.update_layout(title={"text": title}, **kw)
    return style.themed(fig)


_BOTTOM_LEGEND = {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0.0}
"""A legend at the figure's bottom edge, under the axis titles: placed by the figure's edge,
not by the plot's (a fraction of the plot's height), it stays clear of the x axis's title when
the projector style's larger text grows the margins and shrinks the plot."""

_TIME_TITLES = {"infer_ms": "inference time", "train_ms": "training-step time"}
"""Short names of the measured times (subplot titles: the axis says per image, in ms)."""


def _scale(metric: str) -> tuple[float, str]:
    """Divisor and axis title of a cost: millions of MACs, or milliseconds as measured."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(map(repr, METRICS))}, got {metric!r}")
    if metric == "macs":
        return 1e6, "MACs per image (millions)"
    return 1.0, METRICS[metric]


def cost_text(results: OptimalPResults, value: float, metric: str) -> str:
    """A cost for people: ``"12.3M MACs (45% of standard)"`` or ``"0.412 ms (61% of standard)"``;
    the percentage is of the standard network's cost in the same metric."""
    _scale(metric)
    share = value / results.standard.get(metric)
    if metric == "macs":
        return f"{format_count(value)} MACs ({share:.0%} of standard)"
    return f"{value:.3g} ms ({share:.0%} of standard)"


def _pct(acc: float) -> str:
    return f"{100 * acc:.1f}%"


# ------------------------------------------------------------------ accuracy against cost


@dataclass(frozen=True)
class UniformPoint:
    """Every seed of one uniform P trained from scratch: accuracies and measured costs."""

    p: int
    runs: tuple[Run, ...]

    @property
    def accs(self) -> tuple[float, ...]:
        """Test accuracy of each seed."""
        return tuple(r.test_acc for r in self.runs)

    @property
    def mean_acc(self) -> float:
        """Mean test accuracy over the seeds."""
        return sum(self.accs) / len(self.accs)

    def cost(self, metric: str) -> float:
        """Mean measured cost over the seeds' networks (MACs are the same for every seed)."""
        return sum(r.costs.get(metric) for r in self.runs) / len(self.runs)


def uniform_points(results: OptimalPResults) -> list[UniformPoint]:
    """The uniform-P runs grouped by P, in increasing P."""
    by_p: dict[int, list[Run]] = {}
    for run in results.runs:
        if run.kind == "uniform":
            by_p.setdefault(run.config[0], []).append(run)
    return [UniformPoint(p, tuple(sorted(by_p[p], key=lambda r: r.seed))) for p in sorted(by_p)]


def _spread_text(accs: Sequence[float]) -> str:
    """``± 0.4`` (points, sample standard deviation over the seeds), or a note for one seed."""
    s = spread(accs)
    return "one seed: no spread" if s is None else f"± {100 * s:.1f} (sample std over seeds)"


def _uniform_traces(results: OptimalPResults, metric: str) -> list[go.Scatter]:
    """Seeds, means with their spread (± the sample standard deviation over seeds, as in the
    answer), the mean line and the Pareto front of the means
    (:func:`hetconv_edu.study.search.pareto_mask`; dominated P greyed)."""
    scale, _ = _scale(metric)
    points = uniform_points(results)
    if not points:
        return []
    costs = [pt.cost(metric) for pt in points]
    means = [pt.mean_acc for pt in points]
    on_front = pareto_mask(costs, means)
    seeds_x, seeds_y, seeds_c, seeds_text = [], [], [], []
    for pt, f in zip(points, on_front, strict=True):
        for run in pt.runs:
            seeds_x.append(run.costs.get(metric) / scale)
            seeds_y.append(100 * run.test_acc)
            seeds_c.append(COLORS["uniform"] if f else COLORS["dominated"])
            seeds_text.append(
                f"<b>uniform P={pt.p}</b>, seed {run.seed}<br>retrained: {_pct(run.test_acc)}"
                f"<br>{cost_text(results, run.costs.get(metric), metric)}"
            )
    order = sorted(range(len(points)), key=lambda i: costs[i])
    front = [i for i in order if on_front[i]]
    mean_text = [
        f"<b>uniform P={pt.p}</b>: mean of {len(pt.runs)} seed(s) {_pct(pt.mean_acc)}"
        f" {_spread_text(pt.accs)}<br>seeds {_pct(min(pt.accs))} – {_pct(max(pt.accs))}"
        f"<br>{cost_text(results, c, metric)}"
        f"<br>{'on the Pareto front' if f else 'dominated: another P is cheaper and better'}"
        for pt, c, f in zip(points, costs, on_front, strict=True)
    ]
    return [
        go.Scatter(
            x=[costs[i] / scale for i in front],
            y=[100 * means[i] for i in front],
            mode="lines",
            line={"color": COLORS["uniform"], "width": 3, "shape": "hv"},
            name="uniform P: Pareto front (means)",
            hoverinfo="skip",
        ),
        go.Scatter(
            x=[costs[i] / scale for i in order],
            y=[100 * means[i] for i in order],
            mode="lines",
            line={"color": COLORS["uniform"], "width": 1.5, "dash": "dot"},
            name="uniform P: mean over seeds",
            hoverinfo="skip",
        ),
        go.Scatter(
            x=seeds_x,
            y=seeds_y,
            mode="markers",
            marker={"size": 7, "color": seeds_c, "opacity": 0.7},
            name="uniform P: each seed",
            hovertext=seeds_text,
            hoverinfo="text",
        ),
        *(
            go.Scatter(
                x=[costs[i] / scale for i in chosen],
                y=[100 * means[i] for i in chosen],
                mode="markers+text",
                marker={
                    "size": 13,
                    "color": COLORS["uniform"] if front_side else COLORS["dominated"],
                    "line": {"width": 1, "color": style.OUTLINE},
                },
                error_y={
                    "type": "data",
                    "array": [100 * (spread(points[i].accs) or 0.0) for i in chosen],
                    "color": COLORS["uniform"] if front_side else COLORS["dominated"],
                    "thickness": 1.5,
                    "width": 6,
                },
                text=[f"P={points[i].p}" for i in chosen],
                textposition="bottom right",
                name=name,
                hovertext=[mean_text[i] for i in chosen],
                hoverinfo="text",
            )
            for front_side, name in (
                (True, "uniform P: mean ± spread over seeds"),
                (False, "uniform P: dominated (greyed)"),
            )
            if (chosen := [i for i in order if on_front[i] == front_side])
        ),
    ]


def _uniform_predicted_trace(results: OptimalPResults, metric: str) -> go.Scatter:
    scale, _ = _scale(metric)
    ps = results.uniform_choices()
    configs = [(p,) * len(results.layers) for p in ps]
    costs = [results.cost(c, metric) for c in configs]
    accs = [results.predicted_acc(c) for c in configs]
    return go.Scatter(
        x=[c / scale for c in costs],
        y=[100 * a for a in accs],
        mode="lines+markers",
        line={"color": COLORS["predicted"], "width": 1.5, "dash": "dash"},
        marker={"size": 10, "symbol": "circle-open", "line": {"width": 2}},
        name="uniform P (predicted)",
        hovertext=[
            f"<b>uniform P={p}</b> (predicted by the weight-sharing network)<br>{_pct(a)}"
            f"<br>{cost_text(results, c, metric)}"
            for p, a, c in zip(ps, accs, costs, strict=True)
        ],
        hoverinfo="text",
    )


def _searched_for(results: OptimalPResults, run: Run) -> str:
    if run.metric not in METRICS or run.budget is None:
        return ""
    return f"searched for {METRICS[run.metric]} ≤ {cost_text(results, run.budget, run.metric)}<br>"


def _config_text(config: Sequence[int]) -> str:
    return "P = (" + ", ".join(map(str, config)) + ")"


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
    """
    scale, axis_title = _scale(metric)
    fig = go.Figure()
    uniform = [] if search else _uniform_traces(results, metric)
    for trace in uniform:
        fig.add_trace(trace)
    if search or not uniform:
        fig.add_trace(_uniform_predicted_trace(results, metric))
    if search:
        plans = list(results.front(metric) if front is None else front)
        fig.add_trace(
            go.Scatter(
                x=[p.cost / scale for p in plans],
                y=[100 * (results.reference_acc - p.loss) for p in plans],
                mode="lines+markers",
                line={"color": COLORS["predicted"], "width": 2.5, "shape": "hv"},
                marker={"size": 4},
                name="search: best per-layer P (predicted)",
                hovertext=[
                    f"<b>{_config_text(p.config)}</b><br>predicted "
                    f"{_pct(results.reference_acc - p.loss)}"
                    f"<br>{cost_text(results, p.cost, metric)}"
                    for p in plans
                ],
                hoverinfo="text",
            )
        )
        searched = {r.config: r for r in results.runs if r.kind == "searched"}
        if searched:
            configs = list(searched)
            fig.add_trace(
                go.Scatter(
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
                        f"<b>searched {_config_text(c)}</b> (predicted)<br>"
                        f"{_searched_for(results, searched[c])}"
                        f"{_pct(results.predicted_acc(c))}<br>"
                        f"{cost_text(results, results.cost(c, metric), metric)}"
                        for c in configs
                    ],
                    hoverinfo="text",
                )
            )
    if budget is not None:
        fig.add_vline(
            x=budget / scale,
            line={"color": style.MUTED, "dash": "dash", "width": 2},
            annotation_text=f"budget {cost_text(results, budget, metric)}",
            annotation_position="top",
        )
    if plan is not None:
        acc = results.reference_acc - plan.loss
        fig.add_trace(
            go.Scatter(
                x=[plan.cost / scale],
                y=[100 * acc],
                mode="markers",
                marker={"size": 20, "symbol": "star", "color": COLORS["best"]},
                name="best within the budget",
                hovertext=[
                    f"<b>best within the budget</b><br>{_config_text(plan.config)}<br>predicted "
                    f"{_pct(acc)}<br>{cost_text(results, plan.cost, metric)}"
                ],
                hoverinfo="text",
            )
        )
    if pick is not None:
        cost = results.cost(pick, metric)
        acc = results.predicted_acc(pick)
        fig.add_trace(
            go.Scatter(
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
                    f"<b>your pick</b> {_config_text(pick)}<br>predicted {_pct(acc)}<br>"
                    f"{cost_text(results, cost, metric)}"
                ],
                hoverinfo="text",
            )
        )
    xs = [x for trace in fig.data for x in (trace.x or ()) if x is not None]
    xs += [] if budget is None else [budget / scale]
    left, right = (0.0 if metric == "macs" else min(xs)), max(xs)  # MACs from zero
    span = (right - left) or right or 1.0
    fig.update_xaxes(  # a margin on the right for the P labels, the first tick off the corner
        title_text=axis_title, range=[left - 0.06 * span, right + 0.12 * span]
    )
    predicted = search or not uniform  # the predictions stand in without retrained runs
    fig.update_yaxes(
        title_text="predicted accuracy (%)" if predicted else "retrained test accuracy (%)"
    )
    if title is None:
        what = "MACs" if metric == "macs" else "time"
        title = (
            "Predicted by the weight-sharing net" if search else f"Uniform P: accuracy vs {what}"
        )
        if not uniform and not search:
            title += " (predicted)"
    legend = len(fig.data) > 1  # plotly shows no legend for a single trace
    return _layout(
        fig,
        title,
        height=height,
        width=width,
        hovermode="closest",
        legend=_BOTTOM_LEGEND,
        margin={"l": 64, "r": 16, "t": 56, "b": 124 if legend else 64},
    )


# ------------------------------------------------------------------ per-layer cost against P


def _kernel_size(layer: LayerCosts) -> int | None:
    """K of a layer whose smallest P is 1, read off its MACs (FL_S = D_o²·M·N·K², by
    :func:`hetconv_edu.flops.standard_macs`); None when no odd K up to 11 fits."""
    if layer.choices[0] != 1:
        return None
    shape = (layer.out_size, layer.in_channels, layer.out_channels)
    return next((k for k in range(1, 12, 2) if standard_macs(*shape, k) == layer.macs[0]), None)


def layer_costs_vs_p(results: OptimalPResults, time_metric: str = "infer_ms") -> go.Figure:
    """Per switchable layer, its measured time (``time_metric``) against P (left) beside its
    MACs against P (right), each relative to the layer at its smallest P, one trace per layer
    in the same colour on both sides. MACs follow 1/P + (1 − 1/P)/K² down to the 1/K² floor
    (dashed); measured time need not: the P of least measured time is ringed."""
    if time_metric not in ("infer_ms", "train_ms"):
        raise ValueError(f"time_metric must be 'infer_ms' or 'train_ms', got {time_metric!r}")
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.16,
        subplot_titles=(
            f"measured: {_TIME_TITLES[time_metric]}",
            "analytic: MACs (every layer)",
        ),
    )
    all_choices: set[int] = set()
    for i, layer in enumerate(results.layers):
        color = layer_color(i)
        label = layer_label(i, layer)
        all_choices.update(layer.choices)
        times = getattr(layer, time_metric)
        fastest = min(range(len(times)), key=lambda j: times[j])
        for col, values, unit in (
            (1, times, "ms"),
            (2, layer.macs, "MACs"),
        ):
            base = values[0]
            fig.add_trace(
                go.Scatter(
                    x=list(layer.choices),
                    y=[v / base for v in values],
                    mode="lines+markers",
                    line={"color": color, "width": 2.5},
                    marker={"size": 8},
                    name=f"layer {label} ({layer.out_size}×{layer.out_size})",
                    legendgroup=label,
                    showlegend=col == 1,
                    hovertext=[
                        f"<b>{html.escape(layer.name)}</b><br>P={p}: "
                        + (f"{v:.4g} ms/image" if unit == "ms" else f"{format_count(v)} MACs")
                        + f" = {v / base:.2f} × P={layer.choices[0]}"
                        + (f"<br>fastest measured: P={layer.choices[fastest]}" if col == 1 else "")
                        for p, v in zip(layer.choices, values, strict=True)
                    ],
                    hoverinfo="text",
                ),
                row=1,
                col=col,
            )
        fig.add_trace(
            go.Scatter(
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
                hovertext=[
                    f"<b>{html.escape(layer.name)}</b>: fastest at P={layer.choices[fastest]}"
                ],
                hoverinfo="text",
            ),
            row=1,
            col=1,
        )
    choices = sorted(all_choices)
    kernels = {_kernel_size(layer) for layer in results.layers}
    if len(kernels) == 1 and None not in kernels:
        k = kernels.pop()
        floor = hetconv_ratio(k, math.inf)
        fig.add_trace(
            go.Scatter(
                x=[choices[0], choices[-1]],
                y=[floor, floor],
                mode="lines",
                line={"color": style.MUTED, "dash": "dash"},
                name=f"MACs floor 1/K² = 1/{k * k}",
                hovertext=[f"1/K² = 1/{k * k}: every filter keeps (almost) M kernels of 1×1"] * 2,
                hoverinfo="text",
            ),
            row=1,
            col=2,
        )
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
    return _layout(
        fig,
        "Each layer's cost against P",
        width=style.WIDE_FIGURE_WIDTH,
        height=440,
        hovermode="closest",
        legend=_BOTTOM_LEGEND,
        margin={"l": 64, "r": 16, "t": 64, "b": 120},
    )


# ------------------------------------------------------------------ diminishing return of P


def diminishing_returns(kernel_size: int = 3, max_p: int = 64) -> go.Figure:
    """Analytic, from :func:`hetconv_edu.flops.hetconv_ratio` (cost ratio
    r(P) = 1/P + (1 − 1/P)/K²). Left: the cost r(P) and the saving 1 − r(P) against P
    (powers of two up to ``max_p``), with the 1/K² floor of the cost (so the saving never
    exceeds 1 − 1/K²). Right: what each doubling saves, r(P) − r(2P) = (1 − 1/K²)/(2P) of the
    standard layer's MACs: half of the previous doubling's saving."""
    if not isinstance(kernel_size, int) or kernel_size < 2:
        raise ValueError(f"kernel_size must be an integer >= 2, got {kernel_size!r}")
    if not isinstance(max_p, int) or max_p < 2:
        raise ValueError(f"max_p must be an integer >= 2, got {max_p!r}")
    k = kernel_size
    ps = [2**i for i in range(int(math.log2(max_p)) + 1)]
    cost = [hetconv_ratio(k, p) for p in ps]
    saved = [1 - c for c in cost]
    floor = hetconv_ratio(k, math.inf)  # the limit of r(P) as P grows: 1/K²
    steps = ps[:-1]
    step_saving = [hetconv_ratio(k, p) - hetconv_ratio(k, 2 * p) for p in steps]
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.16,
        subplot_titles=("cost, and saved so far", "saved by P → 2P"),
    )
    fig.add_trace(
        go.Scatter(
            x=ps,
            y=cost,
            mode="lines+markers",
            line={"color": COLORS["predicted"], "width": 3},
            name="cost r(P) = 1/P + (1 − 1/P)/K²",
            hovertemplate="P=%{x}: cost %{y:.3f} × standard<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=ps,
            y=saved,
            mode="lines+markers",
            line={"color": COLORS["searched"], "width": 3, "dash": "dash"},
            marker={"symbol": "square"},
            name="saved so far 1 − r(P)",
            hovertemplate="P=%{x}: saved %{y:.3f} of standard<extra></extra>",
        ),
        row=1,
        col=1,
    )
    for y, name in ((floor, f"cost floor 1/K² = {floor:.3f}"), (1 - floor, "most saving 1 − 1/K²")):
        fig.add_trace(
            go.Scatter(
                x=[ps[0], ps[-1]],
                y=[y, y],
                mode="lines",
                line={"color": style.MUTED, "dash": "dot", "width": 2},
                name=name,
                hovertemplate=f"{name}<extra></extra>",
            ),
            row=1,
            col=1,
        )
    fig.add_trace(
        go.Bar(
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
        ),
        row=1,
        col=2,
    )
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
    return _layout(
        fig,
        f"Each doubling of P saves half as much (K = {k})",
        width=style.WIDE_FIGURE_WIDTH,
        height=440,
        legend=_BOTTOM_LEGEND,
        margin={"l": 64, "r": 16, "t": 64, "b": 120},
    )


# ------------------------------------------------------------------ a configuration on the network


def config_figure(
    results: OptimalPResults,
    configs: Mapping[str, Sequence[int]],
    *,
    title: str | None = None,
    width: int | None = CONFIG_FIGURE_WIDTH,
) -> go.Figure:
    """Per-layer P of each configuration in ``configs`` (name → one P per switchable layer),
    as grouped bars over the network's layers (log-2 P axis; each bar's P written on it, the
    axis's P lines unlabelled so that their labels never crowd a short plot), ``width`` pixels
    wide in the default style (default: a column of controls' width, wider with the column in
    the projector style; None: as wide as its place). The layers are labelled upright
    (position: M→N). With more than one configuration, their legend sits between the
    title and the bars. Hover: the layer's channels and output size, its MACs and measured
    times at that P, and its sensitivity (accuracy lost when only this layer takes that P)."""
    fig = go.Figure()
    labels = [layer_label(i, layer) for i, layer in enumerate(results.layers)]
    palette = (COLORS["best"], COLORS["pick"], COLORS["predicted"], COLORS["uniform"])
    top = 1
    for n, (name, config) in enumerate(configs.items()):
        config = results.check_config(config)
        top = max(top, *config)
        hover = []
        for layer, p in zip(results.layers, config, strict=True):
            j = layer.choices.index(p)
            hover.append(
                f"<b>{html.escape(name)}</b>: P={p}<br>{html.escape(layer.name)}"
                f"<br>M={layer.in_channels} → N={layer.out_channels}, output "
                f"{layer.out_size}×{layer.out_size}<br>{format_count(layer.macs[j])} MACs "
                f"({layer.macs[j] / layer.macs[0]:.0%} of P={layer.choices[0]})"
                f"<br>measured {layer.infer_ms[j]:.3g} ms inference, "
                f"{layer.train_ms[j]:.3g} ms training step (per image)"
                f"<br>sensitivity: −{100 * layer.loss[j]:.2f} points"
            )
        fig.add_trace(
            go.Bar(
                x=labels,
                y=list(config),
                name=name,
                marker={"color": palette[n % len(palette)]},
                text=[str(p) for p in config],
                textposition="outside",
                cliponaxis=False,
                hovertext=hover,
                hoverinfo="text",
            )
        )
    ticks = [2**i for i in range(int(math.log2(top)) + 1)]
    fig.update_yaxes(
        title_text="P (log scale)",
        type="log",
        tickvals=ticks,
        showticklabels=False,
        range=[-0.15, math.log10(top) + 0.3],
    )
    fig.update_xaxes(title_text="layer (M→N)", tickangle=0)
    legend = len(configs) > 1
    return _layout(
        fig,
        title or "Per-layer P over the network",
        height=250,
        width=width,
        meta={style.COLUMN_WIDTH: width is not None},
        barmode="group",
        margin={"l": 40, "r": 8, "t": 72 if legend else 44, "b": 52},
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0.0},
    )


# ------------------------------------------------------------------ honesty check


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
                    f"{_pct(results.predicted_acc(r.config))}<br>retrained {_pct(r.test_acc)}"
                    + (
                        ""
                        if r.supernet_acc is None
                        else f"<br>weight-sharing network measured {_pct(r.supernet_acc)}"
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
    return _layout(fig, title, width=style.SIDE_FIGURE_WIDTH, height=420, hovermode="closest")


# ------------------------------------------------------------------ the answer

_ANSWER_AXES = (("macs", "MACs"), ("infer_ms", "measured inference time (whole network)"))


def answer_figure(
    results: OptimalPResults, height: int = 460, width: int = style.SIDE_FIGURE_WIDTH
) -> go.Figure:
    """What the answer rests on: every network trained from scratch, its test accuracy as the
    mean over its seeds with ± the spread (sample standard deviation) as an error bar, against
    MACs (left) and the whole network's measured inference time (right); uniform P as circles
    joined in order of P, the search's plans as diamonds (:mod:`hetconv_edu.study.answer`)."""
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        horizontal_spacing=0.06,
        subplot_titles=[f"against {what}" for _, what in _ANSWER_AXES],
    )
    summaries = sorted(seed_summaries(results).values(), key=lambda s: (not s.uniform, s.config))
    for col, (metric, _) in enumerate(_ANSWER_AXES, start=1):
        scale, axis_title = _scale(metric)
        for uniform, symbol, color, name in (
            (True, "circle", COLORS["uniform"], "uniform P (retrained)"),
            (False, "diamond", COLORS["searched"], "searched plan (retrained)"),
        ):
            chosen = [s for s in summaries if s.uniform == uniform]
            if not chosen:
                continue
            fig.add_trace(
                go.Scatter(
                    x=[s.cost(metric) / scale for s in chosen],
                    y=[100 * s.mean for s in chosen],
                    mode="lines+markers+text" if uniform else "markers",
                    line={"color": color, "width": 1.5, "dash": "dot"},
                    marker={
                        "size": 12,
                        "symbol": symbol,
                        "color": color,
                        "line": {"width": 1, "color": style.OUTLINE},
                    },
                    error_y={
                        "type": "data",
                        "array": [100 * (s.spread or 0.0) for s in chosen],
                        "color": color,
                        "thickness": 1.5,
                        "width": 6,
                    },
                    text=[f"P={s.config[0]}" for s in chosen] if uniform else None,
                    textposition="bottom right",
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1,
                    hovertext=[
                        f"<b>{s.label}</b> retrained: {s.text()}<br>"
                        f"{cost_text(results, s.cost(metric), metric)}"
                        for s in chosen
                    ],
                    hoverinfo="text",
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text=axis_title, row=1, col=col)
        fig.update_yaxes(title_text="retrained test accuracy (%)", row=1, col=col)
    return _layout(
        fig,
        "Retrained from scratch: mean ± spread",
        height=height,
        width=width,
        hovermode="closest",
        legend={"orientation": "h", "x": 0.0, "y": -0.2, "yanchor": "top"},
        margin={"l": 64, "r": 16, "t": 72, "b": 110},
    )


def answer_html(results: OptimalPResults) -> str:
    """The study's answer in one sentence (computed by :func:`~hetconv_edu.study.answer.
    answer_sentence`), then each budget's plan: predicted accuracy (weight-sharing network)
    apart from the retrained one (mean ± spread, test set), the most accurate uniform P of equal
    or lower cost, and the verdict."""
    sentence = (
        f"<p class='hetconv-bestp-answer-sentence hetconv-prose'>"
        f"<b>The answer:</b> {html.escape(answer_sentence(results))}</p>"
    )
    verdicts = budget_verdicts(results)
    if not verdicts:
        return sentence
    rows = "".join(
        f"<tr><td>{html.escape(v.budget_text)}</td><td>{_config_text(v.config)}</td>"
        f"<td class='num'>{_pct(results.predicted_acc(v.config))}</td>"
        f"<td class='num'>{'–' if v.plan is None else html.escape(v.plan.text())}</td>"
        f"<td class='num'>"
        f"{'–' if v.rival is None else html.escape(f'{v.rival.label}: {v.rival.text()}')}</td>"
        f"<td>{html.escape(v.outcome)}</td></tr>"
        for v in verdicts
    )
    return (
        f"{sentence}<table class='hetconv-table hetconv-answer-table'><tr><th>budget</th>"
        "<th>plan</th><th>predicted (weight-sharing)</th><th>retrained (test set)</th>"
        "<th>best uniform P of equal or lower cost</th><th>verdict</th></tr>"
        f"{rows}</table><span class='hetconv-note'>± is the sample standard deviation over the "
        "seeds. A plan counts as better only when its mean beats the uniform P's by more than "
        "the larger spread.</span>"
    )


# ------------------------------------------------------------------ HTML panels


def plan_html(results: OptimalPResults, config: Sequence[int], *, heading: str) -> str:
    """A configuration's numbers: its P per layer, predicted accuracy, MACs and measured times
    (additive, and as a share of the standard network). Each number has a ``data-key``."""
    config = results.check_config(config)
    rows = [
        ("config", "P per layer", _config_text(config)),
        ("predicted", "predicted accuracy", _pct(results.predicted_acc(config))),
        ("macs", "MACs", cost_text(results, results.cost(config, "macs"), "macs")),
        (
            "infer_ms",
            "inference",
            cost_text(results, results.cost(config, "infer_ms"), "infer_ms"),
        ),
        (
            "train_ms",
            "training step",
            cost_text(results, results.cost(config, "train_ms"), "train_ms"),
        ),
    ]
    body = "".join(
        f"<tr><th>{what}</th><td class='num' data-key='{key}'>{html.escape(value)}</td></tr>"
        for key, what, value in rows
    )
    return (
        f"<div><b>{html.escape(heading)}</b><table class='hetconv-table'>{body}</table>"
        "<span class='hetconv-note'>Per image. Accuracy: the weight-sharing network's "
        f"prediction. {_time_model_text(results)}</span></div>"
    )


def _time_model_text(results: OptimalPResults) -> str:
    """How the results model a configuration's time, in one sentence."""
    if "infer_ms" in results.time_model:
        intercept, slope = results.time_model["infer_ms"]
        return (
            f"Time ≈ {intercept:.3f} ms + {slope:.2f} × the layers' measured sum (calibrated on "
            "whole networks)."
        )
    return "Time: the layers' measured sum plus the rest of the network (approximate)."


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
        shared = "–" if run.supernet_acc is None else _pct(run.supernet_acc)
        rows.append(
            f"<tr><td>{html.escape(run.label)}</td><td>{run.kind}</td>"
            f"<td class='num'>{run.seed}</td>"
            f"<td class='num'>{_pct(results.predicted_acc(run.config))}</td>"
            f"<td class='num'>{shared}</td><td class='num'>{_pct(run.test_acc)}</td></tr>"
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
        f"<td>{_config_text(c.knapsack_config)}</td><td class='num'>"
        f"{_pct(c.knapsack_predicted)}</td><td class='num'>{_pct(c.knapsack_measured)}</td>"
        f"<td>{_config_text(c.best_config)}</td><td class='num'>{_pct(c.best_measured)}</td>"
        f"<td class='num'>{c.evaluations}</td></tr>"
        for c in results.evolution
    )
    return (
        f"<table class='hetconv-table'><tr><th>budget</th><th>knapsack plan</th>"
        "<th>predicted</th><th>measured</th><th>evolution's best</th><th>measured</th>"
        f"<th>evaluated</th></tr>{rows}</table>"
    )


def _value_html(value: Any) -> str:
    if isinstance(value, Mapping):
        return "; ".join(f"{html.escape(str(k))}: {_value_html(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_value_html(v) for v in value)
    return html.escape(str(value))


def provenance_html(results: OptimalPResults, *, source: str = "") -> str:
    """Where the results come from: command, date, package version, machine, data and training
    budget (every provenance entry; of the reference computation its commit, date, command and
    note, not its recorded numbers), and the file or run they were read from."""
    prov = results.provenance
    first = ("command", "date", "package_version", "machine", "data", "training_budget")
    keys = [k for k in first if k in prov] + [k for k in prov if k not in first]
    shown = dict(prov)
    if isinstance(shown.get("reference"), dict):  # its recorded numbers are for the tests
        shown["reference"] = {k: v for k, v in shown["reference"].items() if k != "values"}
    rows = "".join(
        f"<tr><th>{html.escape(k.replace('_', ' '))}</th><td>{_value_html(shown[k])}</td></tr>"
        for k in keys
    )
    if source:
        rows = f"<tr><th>source</th><td>{html.escape(source)}</td></tr>" + rows
    return f"<table class='hetconv-table hetconv-provenance'>{rows}</table>"


def findings_sentence(results: OptimalPResults) -> str:
    """One plain sentence of what ``results`` show, computed from its uniform-P networks trained
    from scratch (each P's accuracy is the mean over its seeds): the range of accuracies, the
    most accurate P, the cheapest P's MACs against P = 1 and the fastest P per image on the
    study's machine. Without trained networks it says that only predictions are shown."""
    by_p: dict[int, list[Any]] = {}
    for run in results.runs:
        if run.kind == "uniform":
            by_p.setdefault(run.config[0], []).append(run)
    if not by_p:
        return (
            "These results hold no network trained from scratch: every accuracy shown is a "
            "prediction of the weight-sharing network."
        )
    acc = {p: 100 * sum(r.test_acc for r in runs) / len(runs) for p, runs in by_p.items()}
    costs = {p: runs[0].costs for p, runs in by_p.items()}
    ps = sorted(by_p)
    base, top = ps[0], max(ps)
    best = max(ps, key=lambda p: (acc[p], -p))
    fastest = min(ps, key=lambda p: (costs[p].infer_ms, p))
    return (
        f"Trained from scratch, uniform P = {base} … {top} reached "
        f"{min(acc.values()):.1f}–{max(acc.values()):.1f} % test accuracy; the most accurate "
        f"was P = {best} ({acc[best]:.1f} %), P = {top} needed "
        f"{costs[top].macs / costs[base].macs:.2f}× the MACs of P = {base} for {acc[top]:.1f} %, "
        f"and the fastest per image on the study's machine was P = {fastest} "
        f"({costs[fastest].infer_ms:.2f} ms against {costs[base].infer_ms:.2f} ms at P = {base})."
    )


MEANING_HTML = (
    "<div class='hetconv-prose'><b>What these results mean, and what they do not</b><ul>"
    "<li><b>One data set:</b> CIFAR-10, at the training budget in the provenance table. "
    "Another data set can rank the configurations differently.</li>"
    "<li><b>One machine:</b> the measured times are those of the machine in the provenance "
    "table, its CPU, threads and PyTorch version. On a GPU, or another CPU, grouped "
    "convolutions speed up differently, so the P that is fastest can change. MACs do not "
    "change.</li>"
    "<li><b>Small networks:</b> a small VGG with a few switchable layers, not the paper's "
    "VGG-16.</li>"
    "<li><b>Short training:</b> a few epochs, not the paper's schedule. Differences smaller "
    "than the spread of the seeds are noise: the answer counts a plan as better only beyond "
    "it.</li>"
    "<li><b>Predictions are a model:</b> the weight-sharing network's accuracy minus the sum "
    "of per-layer sensitivities. The honesty check shows how well it ranks networks "
    "trained from scratch.</li></ul>"
    "What they do show: how to decide on P for <i>your</i> network, budget and machine, by "
    "measuring instead of assuming.</div>"
)
"""The "what this does and does not mean" note of the notebook's last section."""
