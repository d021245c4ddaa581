"""Test images in a grid, framed green where predicted right and red where wrong."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from hetconv_edu.viz.style import FONT_SIZE, OKABE_ITO, apply_layout, themed

RIGHT_COLOR = OKABE_ITO["bluish_green"]
WRONG_COLOR = OKABE_ITO["vermillion"]


def _compose(
    arr: np.ndarray,
    true: Sequence[int],
    predicted: Sequence[int],
    classes: Sequence[str],
    columns: int,
    scale: int,
) -> tuple[np.ndarray, list[dict], int]:
    """The tiles drawn into one image (each framed in its verdict's colour), the labels above
    them, and how many are right; ``arr`` is (N, C, H, W), C = 1 or 3."""
    n = len(arr)
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
    return canvas, annotations, n_right


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
    canvas, annotations, n_right = _compose(arr, true, predicted, classes, columns, scale)
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
