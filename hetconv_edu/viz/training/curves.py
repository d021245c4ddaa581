"""Training loss per step and test accuracy per epoch of every run, and the in-place update
of such a figure for live plots."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from hetconv_edu.viz.style import SIDE_FIGURE_WIDTH, apply_layout, themed
from hetconv_edu.viz.training.common import run_color, smooth
from hetconv_edu.viz.training.runs import RunCurves

_CURVE_TITLES = ("Loss per step (smoothed)", "Test accuracy per epoch")


def _add_run_traces(fig: go.Figure, run: RunCurves, color: str) -> None:
    """One run's three traces, empty until :func:`update_training_curves` fills them: the raw
    loss (faint, hover only), the smoothed loss and the test accuracy, one legend group."""
    common = {"legendgroup": run.name, "name": run.name}
    fig.add_trace(
        go.Scatter(
            mode="lines", line={"color": color, "width": 1}, opacity=0.25, showlegend=False,
            hovertemplate="step %{x}<br>loss %{y:.3f}<extra>%{fullData.name} (raw)</extra>",
            **common,
        ),
        row=1, col=1,
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            mode="lines", line={"color": color, "width": 2.5}, showlegend=True,
            hovertemplate="step %{x}<br>smoothed loss %{y:.3f}<extra>%{fullData.name}</extra>",
            **common,
        ),
        row=1, col=1,
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            mode="lines+markers", line={"color": color, "width": 2.5},
            marker={"size": 8}, showlegend=False,
            hovertemplate=(
                "epoch %{x}<br>test accuracy %{y:.1f}%<extra>%{fullData.name}</extra>"
            ),
            **common,
        ),
        row=2, col=1,
    )  # fmt: skip


def training_curves(
    runs: Sequence[RunCurves],
    *,
    smoothing: float = 0.9,
    title: str | None = "Training side by side",
    height: int = 540,
    width: int | None = SIDE_FIGURE_WIDTH,
) -> go.Figure:
    """Training loss per step (top) and test accuracy per epoch (below it) of every run,
    ``width`` px wide (None: as wide as its place on the page): one above the other, so a
    column beside the controls holds both at a readable size.

    Each run has three traces, all in its colour and one legend group (clicking the legend
    hides the run in both panels): the raw loss (faint, hover only), the smoothed loss, and the
    test accuracy. Runs with no data yet still get their (empty) traces, so a live figure made
    before training lists every planned run.
    """
    fig = make_subplots(
        # between the panels: the upper one's tick labels and x title, the lower one's title
        rows=2, cols=1, subplot_titles=_CURVE_TITLES, vertical_spacing=0.3,
    )  # fmt: skip
    for i, run in enumerate(runs):
        _add_run_traces(fig, run, run.color or run_color(i))
    apply_layout(fig)
    # x from the first point (not 0): a 0 of each axis would meet in the corner
    fig.update_xaxes(title_text="training step (batch)", row=1, col=1)
    fig.update_yaxes(title_text="loss", row=1, col=1, rangemode="tozero")
    fig.update_xaxes(title_text="epoch", row=2, col=1)
    fig.update_yaxes(title_text="test accuracy (%)", row=2, col=1, range=[0, 100], nticks=3)
    fig.update_yaxes(ticklabelstandoff=6)  # the y axis's 0 clear of the x axis's first tick
    fig.update_layout(
        title=title, height=height, width=width,
        margin={"l": 60, "r": 16, "t": 76 if title else 48, "b": 92},
        # the legend at the figure's bottom edge, under the axis titles in either style
        legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom",
                "x": 0.5, "xanchor": "center"},
        hovermode="closest",
    )  # fmt: skip
    update_training_curves(fig, runs, smoothing=smoothing)
    themed(fig)
    return fig


def update_training_curves(
    fig: go.Figure, runs: Sequence[RunCurves], *, smoothing: float = 0.9
) -> go.Figure:
    """Put the runs' current data into a figure made by :func:`training_curves` for the same
    runs, in place (an app wraps the call in its live figure's ``batch_update()``, which sends
    the figure once). Returns ``fig``."""
    if len(fig.data) != 3 * len(runs):
        raise ValueError(
            f"the figure has {len(fig.data)} traces, expected 3 per run for {len(runs)} runs; "
            "make it with training_curves(runs)"
        )
    for i, run in enumerate(runs):
        raw, smoothed, acc = fig.data[3 * i : 3 * i + 3]
        raw.x, raw.y = list(run.steps), list(run.losses)
        smoothed.x, smoothed.y = list(run.steps), smooth(run.losses, smoothing)
        acc.x, acc.y = list(run.epochs), [100 * a for a in run.test_acc]
    return fig
