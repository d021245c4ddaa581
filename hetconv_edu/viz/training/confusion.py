"""The confusion matrix as a heatmap: rates per true class, counts in the cells."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from hetconv_edu.viz.style import FONT_SIZE, SIDE_FIGURE_WIDTH, apply_layout, themed


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
