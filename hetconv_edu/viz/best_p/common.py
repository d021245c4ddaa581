"""What every best-P figure shares: the series' colours, layer names and colours, the cost
scales and texts, and the shared layout (:func:`figure_layout`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from hetconv_edu.study.answer import spread
from hetconv_edu.study.results import METRICS, LayerCosts, OptimalPResults
from hetconv_edu.viz import style
from hetconv_edu.viz.training import format_count

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


def layer_color(index: int) -> str:
    """The colour of the ``index``-th switchable layer (the same in every figure)."""
    return style.PALETTE[index % len(style.PALETTE)]


def layer_label(index: int, layer: LayerCosts) -> str:
    """Short axis label of a layer: ``"3: 16→32"`` (1-based position, M→N)."""
    return f"{index + 1}: {layer.in_channels}→{layer.out_channels}"


def figure_layout(fig: go.Figure, title: str, **kw: Any) -> go.Figure:
    """The shared look (:func:`hetconv_edu.viz.style.apply_layout`), this figure's title and
    settings, then the current theme (projector or not)."""
    style.apply_layout(fig)
    fig.update_layout(title={"text": title}, **kw)
    return style.themed(fig)


BOTTOM_LEGEND = {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0.0}
"""A legend at the figure's bottom edge, under the axis titles: placed by the figure's edge,
not by the plot's (a fraction of the plot's height), it stays clear of the x axis's title when
the projector style's larger text grows the margins and shrinks the plot."""

TIME_TITLES = {"infer_ms": "inference time", "train_ms": "training-step time"}
"""Short names of the measured times (subplot titles: the axis says per image, in ms)."""


def cost_scale(metric: str) -> tuple[float, str]:
    """Divisor and axis title of a cost: millions of MACs, or milliseconds as measured.

    Raises ``ValueError`` for a metric not in :data:`~hetconv_edu.study.results.METRICS`.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(map(repr, METRICS))}, got {metric!r}")
    if metric == "macs":
        return 1e6, "MACs per image (millions)"
    return 1.0, METRICS[metric]


def cost_text(results: OptimalPResults, value: float, metric: str) -> str:
    """A cost for people: ``"12.3M MACs (45% of standard)"`` or ``"0.412 ms (61% of standard)"``;
    the percentage is of the standard network's cost in the same metric."""
    cost_scale(metric)
    share = value / results.standard.get(metric)
    if metric == "macs":
        return f"{format_count(value)} MACs ({share:.0%} of standard)"
    return f"{value:.3g} ms ({share:.0%} of standard)"


def pct(acc: float) -> str:
    """An accuracy (a fraction) as a percentage with one decimal: ``"81.0%"``."""
    return f"{100 * acc:.1f}%"


def config_text(config: Sequence[int]) -> str:
    """A configuration for people: ``"P = (2, 4)"``."""
    return "P = (" + ", ".join(map(str, config)) + ")"


def spread_text(accs: Sequence[float]) -> str:
    """``± 0.4`` (points, sample standard deviation over the seeds), or a note for one seed."""
    s = spread(accs)
    return "one seed: no spread" if s is None else f"± {100 * s:.1f} (sample std over seeds)"
