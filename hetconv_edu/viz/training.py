"""Figures of training runs: pure functions of data, no training and no widgets in here.

* :func:`training_curves` — training loss per step (raw, faint, and smoothed) and test accuracy
  per epoch of every run on shared axes, one colour per run; :func:`update_training_curves`
  refreshes such a figure in place, for live plots (an app sends it to the page).
* :func:`results_table` / :func:`results_table_html` — accuracy, parameters, MACs, seconds per
  epoch and images per second of every run.
* :func:`confusion_matrix_figure` — a heatmap with class names, counts and per-true-class rates.
* :func:`prediction_grid` — test images with their predicted and true labels, framed green where
  right and red where wrong.
* :func:`accuracy_vs_macs` — test accuracy against MACs of all runs so far.

A run is described by a :class:`RunCurves` (what the curves need) and, once finished, a
:class:`RunResult` (what the table and the scatter need). MACs are multiply-accumulates of one
forward pass of one image, as the paper counts them (FLOPs ≈ 2 × MACs).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = [
    "RunCurves",
    "RunResult",
    "accuracy_vs_macs",
    "confusion_matrix_figure",
    "format_count",
    "prediction_grid",
    "results_table",
    "results_table_html",
    "run_color",
    "smooth",
    "training_curves",
    "update_training_curves",
]

from hetconv_edu.viz.style import (
    FONT_SIZE,
    OKABE_ITO,
    OUTLINE,
    PALETTE,
    SIDE_FIGURE_WIDTH,
    TABLE_HEAD,
    TEXT_COLOR,
    apply_layout,
    themed,
)

RIGHT_COLOR = OKABE_ITO["bluish_green"]
WRONG_COLOR = OKABE_ITO["vermillion"]


def run_color(index: int) -> str:
    """The colour of the ``index``-th run (the same run keeps its colour in every figure)."""
    return PALETTE[index % len(PALETTE)]


def smooth(values: Sequence[float], weight: float = 0.9) -> list[float]:
    """Exponential moving average with bias correction (TensorBoard's smoothing): the first
    points are not dragged towards zero. ``weight`` 0 returns the values unchanged."""
    if not 0 <= weight < 1:
        raise ValueError(f"weight must be in [0, 1), got {weight!r}")
    out, avg = [], 0.0
    for i, v in enumerate(values, 1):
        avg = weight * avg + (1 - weight) * float(v)
        out.append(avg / (1 - weight**i))
    return out


def format_count(n: float | None) -> str:
    """12_345_678 → '12.3M', 4_200 → '4.2k'; None or NaN → '–'."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "–"
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return (
                f"{n / scale:.3g}{suffix}" if abs(n) / scale < 100 else f"{n / scale:.0f}{suffix}"
            )
    return f"{n:.0f}" if float(n).is_integer() else f"{n:.3g}"


# --------------------------------------------------------------------------------------------
# Data of a run
# --------------------------------------------------------------------------------------------


def _get(record: Any, key: str, default: Any = None) -> Any:
    if isinstance(record, Mapping):
        return record.get(key, default)
    return getattr(record, key, default)


@dataclass
class RunCurves:
    """What the live curves show of one run: loss per training step, accuracy per epoch.

    ``test_acc`` is a fraction in [0, 1] (shown in %). Build one from a trainer's history with
    :meth:`from_history`.
    """

    name: str
    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    epochs: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    steps_per_epoch: int | None = None
    color: str | None = None
    """The run's colour; None: the palette's colour of its position."""

    @classmethod
    def from_history(
        cls, name: str, steps: Sequence[Any], epochs: Sequence[Any], steps_per_epoch=None
    ) -> RunCurves:
        """From per-step records ``(step, loss, lr)`` (tuples, mappings or objects) and epoch
        records with ``epoch`` and ``test_acc``."""
        s, losses = [], []
        for rec in steps:
            if isinstance(rec, tuple | list):
                step, loss = rec[0], rec[1]
            else:
                step, loss = _get(rec, "step"), _get(rec, "loss")
            s.append(int(step))
            losses.append(float(loss))
        ep, acc = [], []
        for rec in epochs:
            a = _get(rec, "test_acc")
            if a is None:
                continue
            ep.append(float(_get(rec, "epoch")))
            acc.append(float(a))
        return cls(name, s, losses, ep, acc, steps_per_epoch)


@dataclass
class RunResult:
    """One finished (or stopped) run, for the results table and the accuracy-vs-MACs plot.

    ``test_acc`` is a fraction in [0, 1]; ``macs`` counts one forward pass of one image.
    """

    name: str
    test_acc: float | None
    params: int
    macs: int
    seconds_per_epoch: float | None = None
    images_per_s: float | None = None
    epochs: float | None = None
    stopped: bool = False
    network: str = ""
    color: str | None = None
    """The run's colour; None: the palette's colour of its position."""


# --------------------------------------------------------------------------------------------
# Curves
# --------------------------------------------------------------------------------------------

_CURVE_TITLES = ("Loss per step (smoothed)", "Test accuracy per epoch")


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
        color = run.color or run_color(i)
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


# --------------------------------------------------------------------------------------------
# Results table
# --------------------------------------------------------------------------------------------

TABLE_COLUMNS = (
    "run", "test accuracy", "parameters", "MACs / image", "MACs vs first", "s / epoch",
    "images / s",
)  # fmt: skip


def _table_rows(results: Sequence[RunResult]) -> list[list[str]]:
    base = results[0].macs if results else None
    rows = []
    for r in results:
        acc = "–" if r.test_acc is None else f"{100 * r.test_acc:.1f}%"
        if r.stopped:
            acc += " (stopped)"
        rel = f"{r.macs / base:.2f}×" if base else "–"
        rows.append(
            [
                r.name,
                acc,
                format_count(r.params),
                format_count(r.macs),
                rel,
                "–" if r.seconds_per_epoch is None else f"{r.seconds_per_epoch:.1f}",
                "–" if r.images_per_s is None else f"{r.images_per_s:,.0f}",
            ]
        )
    return rows


def results_table(results: Sequence[RunResult], *, title: str | None = "Results") -> go.Figure:
    """A table of every run: test accuracy, parameters, MACs per image (and relative to the
    first run), seconds per epoch and training images per second."""
    rows = _table_rows(results)
    columns = [list(col) for col in zip(*rows, strict=True)] if rows else [[]] * len(TABLE_COLUMNS)
    colors = [r.color or run_color(i) for i, r in enumerate(results)]
    fig = go.Figure(
        go.Table(
            header={
                "values": [f"<b>{c}</b>" for c in TABLE_COLUMNS], "align": "left",
                "fill_color": TABLE_HEAD, "font": {"size": 13},
            },
            cells={
                "values": columns, "align": "left", "height": 26,
                "font": {"size": 13, "color": [colors] + [[TEXT_COLOR] * len(rows)] * 6},
            },
            columnwidth=[2.2, 1.6, 1.1, 1.2, 1.1, 0.9, 1],
        )
    )  # fmt: skip
    apply_layout(fig)
    fig.update_layout(
        title=title, height=90 + 28 * max(len(rows), 1) + (30 if title else 0),
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
    )  # fmt: skip
    return themed(fig)


def results_table_html(results: Sequence[RunResult]) -> str:
    """The same table as :func:`results_table`, as HTML (for an ``ipywidgets.HTML``); each
    run's name in its colour."""
    head = "".join(f"<th>{c}</th>" for c in TABLE_COLUMNS)
    body = []
    for i, (row, result) in enumerate(zip(_table_rows(results), results, strict=True)):
        cells = []
        for j, value in enumerate(row):
            if j == 0:
                color = result.color or run_color(i)
                cells.append(f"<td style='color:{color}'><b>{html.escape(value)}</b></td>")
            else:
                cells.append(f"<td class='num'>{html.escape(value)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    if not body:
        span = len(TABLE_COLUMNS)
        body.append(f"<tr><td colspan={span} class='hetconv-note'>no run yet</td></tr>")
    return (
        f"<table class='hetconv-table hetconv-results'>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


# --------------------------------------------------------------------------------------------
# Confusion matrix
# --------------------------------------------------------------------------------------------


def confusion_matrix_figure(
    matrix: Any,
    classes: Sequence[str],
    *,
    title: str | None = None,
    height: int = 470,
    width: int | None = SIDE_FIGURE_WIDTH,
) -> go.Figure:
    """Heatmap of a confusion matrix (rows: true class, columns: predicted class).

    Colours show the share of each true class predicted as each class (rows sum to 100%), so
    classes of different sizes compare; each cell's text is the count.
    """
    m = np.asarray(matrix, dtype=float)
    k = len(classes)
    if m.shape != (k, k):
        raise ValueError(f"matrix must be {k}×{k} for {k} classes, got shape {m.shape}")
    totals = m.sum(axis=1, keepdims=True)
    rates = np.divide(m, totals, out=np.zeros_like(m), where=totals > 0) * 100
    counts = m.astype(int)
    accuracy = np.trace(m) / m.sum() if m.sum() else float("nan")
    fig = go.Figure(
        go.Heatmap(
            z=rates, x=list(classes), y=list(classes), customdata=counts,
            text=counts, texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=100,
            colorbar={"title": {"text": "% of the true class", "side": "right"},
                      "thickness": 14},
            hovertemplate=(
                "true %{y}<br>predicted %{x}<br>%{customdata} images (%{z:.1f}% of %{y})"
                "<extra></extra>"
            ),
        )
    )  # fmt: skip
    apply_layout(fig)
    if title is None:
        title = f"Confusion matrix (accuracy {100 * accuracy:.1f}%)"
    fig.update_layout(
        title={"text": title, "font": {"size": FONT_SIZE}},
        height=height,
        width=width,
        margin={"l": 96, "r": 8, "t": 48, "b": 96},
    )
    fig.update_xaxes(title_text="predicted class", side="bottom", tickangle=-45)
    fig.update_yaxes(title_text="true class", autorange="reversed")
    return themed(fig)


# --------------------------------------------------------------------------------------------
# Prediction grid
# --------------------------------------------------------------------------------------------


def prediction_grid(
    images: Any,
    true: Sequence[int],
    predicted: Sequence[int],
    classes: Sequence[str],
    *,
    columns: int = 4,
    scale: int = 3,
    title: str | None = None,
) -> go.Figure:
    """Test images in a grid, each framed green when predicted right and red when wrong, with
    "predicted" above and "(true)" under it when wrong.

    ``images`` is uint8 (N, C, H, W) with C = 1 or 3 (a tensor or an array). The tiles are drawn
    into one composed image (one trace, fast to send), magnified ``scale`` times.
    """
    arr = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    if arr.ndim != 4 or arr.shape[1] not in (1, 3):
        raise ValueError(f"images must be (N, C, H, W) with C = 1 or 3, got {arr.shape}")
    n = len(arr)
    if not (len(true) == len(predicted) == n):
        raise ValueError(f"need one true and one predicted label per image ({n})")
    if n == 0:
        raise ValueError("no images to show")
    arr = arr.astype(np.uint8)
    if arr.shape[1] == 1:
        arr = np.repeat(arr, 3, axis=1)
    arr = arr.transpose(0, 2, 3, 1).repeat(scale, axis=1).repeat(scale, axis=2)
    h, w = arr.shape[1:3]
    frame, gap_x, gap_y = 3, 16, 44
    columns = max(1, min(columns, n))
    rows = math.ceil(n / columns)
    tile_w, tile_h = w + 2 * frame + gap_x, h + 2 * frame + gap_y
    canvas = np.full((rows * tile_h, columns * tile_w, 3), 255, dtype=np.uint8)
    annotations = []
    n_right = 0
    for i in range(n):
        r, c = divmod(i, columns)
        y0, x0 = r * tile_h + gap_y - 6, c * tile_w + gap_x // 2
        right = int(true[i]) == int(predicted[i])
        n_right += right
        rgb = _hex_rgb(RIGHT_COLOR if right else WRONG_COLOR)
        canvas[y0 : y0 + h + 2 * frame, x0 : x0 + w + 2 * frame] = rgb
        canvas[y0 + frame : y0 + frame + h, x0 + frame : x0 + frame + w] = arr[i]
        label = classes[int(predicted[i])]
        text = label if right else f"{label}<br>({classes[int(true[i])]})"
        annotations.append(
            {
                "x": x0 + frame + w / 2, "y": y0 - 2, "xref": "x", "yref": "y",
                "text": text, "showarrow": False, "yanchor": "bottom",
                "font": {"size": 12, "color": RIGHT_COLOR if right else WRONG_COLOR},
            }
        )  # fmt: skip
    fig = apply_layout(go.Figure(go.Image(z=canvas, hoverinfo="skip")))
    if title is None:
        title = (
            f"{n_right} of {n} right: <span style='color:{RIGHT_COLOR}'>green</span> right, "
            f"<span style='color:{WRONG_COLOR}'>red</span> wrong (true class)"
        )
    fig.update_layout(
        title={"text": title, "font": {"size": FONT_SIZE}}, annotations=annotations,
        width=canvas.shape[1] + 16, height=canvas.shape[0] + 56,
        margin={"l": 8, "r": 8, "t": 48, "b": 8},
    )  # fmt: skip
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return themed(fig)


def _hex_rgb(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


# --------------------------------------------------------------------------------------------
# Accuracy vs MACs
# --------------------------------------------------------------------------------------------


def accuracy_vs_macs(
    results: Sequence[RunResult], *, title: str | None = "Accuracy vs cost", height: int = 340
) -> go.Figure:
    """Test accuracy (%) against MACs per image (millions) of every run, one colour per run;
    hover shows parameters and speed. Up and to the left is better."""
    fig = apply_layout(go.Figure())
    for i, r in enumerate(results):
        if r.test_acc is None:
            continue
        speed = "–" if r.images_per_s is None else f"{r.images_per_s:,.0f}"
        fig.add_trace(
            go.Scatter(
                x=[r.macs / 1e6], y=[100 * r.test_acc], mode="markers+text",
                name=r.name, text=[r.name], textposition="top center",
                marker={
                    "size": 14, "color": r.color or run_color(i),
                    "line": {"width": 1, "color": OUTLINE},
                },
                customdata=[[format_count(r.params), speed]],
                hovertemplate=(
                    "<b>%{text}</b><br>%{x:.2f}M MACs / image<br>test accuracy %{y:.1f}%"
                    "<br>%{customdata[0]} parameters<br>%{customdata[1]} images/s"
                    "<extra></extra>"
                ),
            )
        )  # fmt: skip
    fig.update_layout(
        title=title, height=height, showlegend=False,
        margin={"l": 60, "r": 16, "t": 48, "b": 52},
    )  # fmt: skip
    fig.update_xaxes(title_text="MACs per image (millions)", rangemode="tozero")
    fig.update_yaxes(title_text="test accuracy (%)")
    return themed(fig)
