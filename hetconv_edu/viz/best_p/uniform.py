"""Uniform P in the accuracy-against-cost figure: the networks trained from scratch with one P
in every layer (each seed, the mean ± spread, the Pareto front of the means), and the uniform
configurations as the weight-sharing network predicts them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import plotly.graph_objects as go

from hetconv_edu.study.answer import spread
from hetconv_edu.study.results import OptimalPResults, Run
from hetconv_edu.study.search import pareto_mask
from hetconv_edu.viz import style
from hetconv_edu.viz.best_p.common import COLORS, cost_scale, cost_text, pct, spread_text


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


@dataclass(frozen=True)
class _Means:
    """The uniform points against ``metric``: each P's mean cost and accuracy, whether it is on
    the Pareto front of the means, and the points' order by cost."""

    points: list[UniformPoint]
    metric: str
    scale: float
    costs: list[float]
    means: list[float]
    on_front: list[bool]

    @property
    def order(self) -> list[int]:
        return sorted(range(len(self.points)), key=lambda i: self.costs[i])

    def line(self, chosen: Sequence[int], **kw: object) -> go.Scatter:
        """A line through the means of the ``chosen`` points, not hoverable."""
        return go.Scatter(
            x=[self.costs[i] / self.scale for i in chosen],
            y=[100 * self.means[i] for i in chosen],
            mode="lines",
            hoverinfo="skip",
            **kw,
        )


def _seed_trace(results: OptimalPResults, m: _Means) -> go.Scatter:
    """Each seed's network as a small point, greyed where its P is dominated."""
    seeds_x, seeds_y, seeds_c, seeds_text = [], [], [], []
    for pt, f in zip(m.points, m.on_front, strict=True):
        for run in pt.runs:
            seeds_x.append(run.costs.get(m.metric) / m.scale)
            seeds_y.append(100 * run.test_acc)
            seeds_c.append(COLORS["uniform"] if f else COLORS["dominated"])
            seeds_text.append(
                f"<b>uniform P={pt.p}</b>, seed {run.seed}<br>retrained: {pct(run.test_acc)}"
                f"<br>{cost_text(results, run.costs.get(m.metric), m.metric)}"
            )
    return go.Scatter(
        x=seeds_x,
        y=seeds_y,
        mode="markers",
        marker={"size": 7, "color": seeds_c, "opacity": 0.7},
        name="uniform P: each seed",
        hovertext=seeds_text,
        hoverinfo="text",
    )


def _mean_traces(results: OptimalPResults, m: _Means) -> list[go.Scatter]:
    """Each P's mean as a large point with ± the spread as an error bar and its P written
    beside it: one trace for the Pareto front, one (greyed) for the dominated P."""
    mean_text = [
        f"<b>uniform P={pt.p}</b>: mean of {len(pt.runs)} seed(s) {pct(pt.mean_acc)}"
        f" {spread_text(pt.accs)}<br>seeds {pct(min(pt.accs))} – {pct(max(pt.accs))}"
        f"<br>{cost_text(results, c, m.metric)}"
        f"<br>{'on the Pareto front' if f else 'dominated: another P is cheaper and better'}"
        for pt, c, f in zip(m.points, m.costs, m.on_front, strict=True)
    ]
    traces = []
    for front_side, name in (
        (True, "uniform P: mean ± spread over seeds"),
        (False, "uniform P: dominated (greyed)"),
    ):
        chosen = [i for i in m.order if m.on_front[i] == front_side]
        if not chosen:
            continue
        color = COLORS["uniform"] if front_side else COLORS["dominated"]
        traces.append(
            go.Scatter(
                x=[m.costs[i] / m.scale for i in chosen],
                y=[100 * m.means[i] for i in chosen],
                mode="markers+text",
                marker={"size": 13, "color": color, "line": {"width": 1, "color": style.OUTLINE}},
                error_y={
                    "type": "data",
                    "array": [100 * (spread(m.points[i].accs) or 0.0) for i in chosen],
                    "color": color,
                    "thickness": 1.5,
                    "width": 6,
                },
                text=[f"P={m.points[i].p}" for i in chosen],
                textposition="bottom right",
                name=name,
                hovertext=[mean_text[i] for i in chosen],
                hoverinfo="text",
            )
        )
    return traces


def uniform_traces(results: OptimalPResults, metric: str) -> list[go.Scatter]:
    """Seeds, means with their spread (± the sample standard deviation over seeds, as in the
    answer), the mean line and the Pareto front of the means
    (:func:`hetconv_edu.study.search.pareto_mask`; dominated P greyed). None without uniform
    runs."""
    scale, _ = cost_scale(metric)
    points = uniform_points(results)
    if not points:
        return []
    costs = [pt.cost(metric) for pt in points]
    means = [pt.mean_acc for pt in points]
    m = _Means(points, metric, scale, costs, means, list(pareto_mask(costs, means)))
    front = [i for i in m.order if m.on_front[i]]
    return [
        m.line(
            front,
            line={"color": COLORS["uniform"], "width": 3, "shape": "hv"},
            name="uniform P: Pareto front (means)",
        ),
        m.line(
            m.order,
            line={"color": COLORS["uniform"], "width": 1.5, "dash": "dot"},
            name="uniform P: mean over seeds",
        ),
        _seed_trace(results, m),
        *_mean_traces(results, m),
    ]


def uniform_predicted_trace(results: OptimalPResults, metric: str) -> go.Scatter:
    """The uniform configurations' accuracy as the weight-sharing network predicts it."""
    scale, _ = cost_scale(metric)
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
            f"<b>uniform P={p}</b> (predicted by the weight-sharing network)<br>{pct(a)}"
            f"<br>{cost_text(results, c, metric)}"
            for p, a, c in zip(ps, accs, costs, strict=True)
        ],
        hoverinfo="text",
    )
