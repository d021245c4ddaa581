"""The image panel of the linked explorer: the test image (axes ``x3``/``y3``), then what filter
n makes of it — the K×K path's response + the 1×1 path's response = the output, beside a
standard K×K filter with the same K×K kernels and centre taps and the difference (axes
``x4``/``y4``, the maps of :data:`~hetconv_edu.viz.linked.state.RESPONSE_PANELS` side by side).

The maps use a diverging scale symmetric around 0: the HetConv sum (K×K path, 1×1 path,
output) shares one, so the sum can be read; the comparison pair (standard, difference) shares
another, whose size relative to the first is written under them. All five maps are on one pair
of axes in pixel units (one subplot draws faster than five).
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from hetconv_edu.viz.linked.geometry import (
    DETAIL_TITLE,
    PHOTO_BOX,
    RESPONSE_GAP,
    RESPONSE_SIZE,
    RESPONSES_LEFT,
    RESPONSES_TOP,
    Parts,
    annotation,
    axes,
    link_shape,
    px_x,
    px_y,
)
from hetconv_edu.viz.linked.state import (
    PANEL_HOVER,
    RESPONSE_COLORSCALE,
    RESPONSE_PANELS,
    FilterView,
)
from hetconv_edu.viz.style import FONT_SIZE

__all__ = ["photo_parts", "response_parts"]

_OPERATORS = ("+", "=", "vs", "", "")
"""Written after each map."""
_PAIR_GAP = 14
"""Extra px before the comparison pair (maps 3 and 4)."""
_BOTTOM = RESPONSES_TOP + RESPONSE_SIZE


def photo_parts(view: FilterView) -> Parts:
    """The test image in :data:`PHOTO_BOX` (grey images as RGB), its short name under it."""
    left, top, right, bottom = PHOTO_BOX
    photo = np.asarray(view.image)
    rgb = np.repeat(photo, 3, axis=0) if photo.shape[0] == 1 else photo[:3]
    layout = axes(
        3,
        (px_x(left), px_x(right)),
        (px_y(bottom), px_y(top)),
        x={"visible": False, "range": [-0.5, rgb.shape[2] - 0.5]},
        # an image trace anchors its y axis to x unless told otherwise
        y={"visible": False, "range": [rgb.shape[1] - 0.5, -0.5], "scaleanchor": "x3"},
    )
    trace = {
        "type": "image",
        "xaxis": "x3",
        "yaxis": "y3",
        "z": np.ascontiguousarray(np.transpose(rgb, (1, 2, 0)), dtype=np.uint8),
        "hovertemplate": f"{html.escape(view.image_name)}<extra></extra>",
    }
    name = annotation(
        html.escape(view.image_name.split(" (")[0]),
        px_x((left + right) / 2),
        px_y(bottom + 4),
        xanchor="center",
        yanchor="top",
    )
    return Parts(traces=[trace], annotations=[name], layout=layout)


def _lefts(count: int) -> list[int]:
    """Left px of each map: evenly spaced, the comparison pair a little apart."""
    return [
        RESPONSES_LEFT + j * (RESPONSE_SIZE + RESPONSE_GAP) + (_PAIR_GAP if j >= 3 else 0)
        for j in range(count)
    ]


def _maps_layout(right: int, unit: float) -> dict[str, Any]:
    return axes(
        4,
        (px_x(RESPONSES_LEFT), px_x(right)),
        (px_y(_BOTTOM), px_y(RESPONSES_TOP)),
        x={"visible": False, "range": [-0.5, (right - RESPONSES_LEFT) / unit - 0.5]},
        y={"visible": False, "range": [RESPONSE_SIZE / unit - 0.5, -0.5]},
    )


def _map_trace(j: int, values: np.ndarray, x0: int, unit: float, scale: float) -> dict[str, Any]:
    link = RESPONSE_PANELS[j][2]
    return {
        "type": "heatmap",
        "xaxis": "x4",
        "yaxis": "y4",
        "z": values.astype(np.float32),
        "x0": (x0 - RESPONSES_LEFT) / unit,
        "dx": 1,
        "y0": 0,
        "dy": 1,
        "colorscale": RESPONSE_COLORSCALE,
        "zmin": -scale,
        "zmax": scale,
        "showscale": False,
        "hovertemplate": f"{PANEL_HOVER[j]}: %{{z:.3f}}<extra></extra>",
        "meta": {"link": link} if link else {},
    }


def _map_labels(j: int, x0: int, x1: int) -> list[dict[str, Any]]:
    """Map ``j``'s title above it and the operator after it."""
    labels = [
        annotation(
            RESPONSE_PANELS[j][1], px_x((x0 + x1) / 2), px_y(RESPONSES_TOP - 4), xanchor="center"
        )
    ]
    if _OPERATORS[j]:
        gap_x = x1 + (RESPONSE_GAP + (_PAIR_GAP if j == 2 else 0)) / 2
        labels.append(_operator(_OPERATORS[j], gap_x))
    return labels


def _operator(text: str, x: float) -> dict[str, Any]:
    y = px_y((RESPONSES_TOP + _BOTTOM) / 2)
    return annotation(text, px_x(x), y, xanchor="center", yanchor="middle", size=FONT_SIZE + 1)


def _map_frame(link: str, x0: int, x1: int) -> dict[str, Any]:
    pad = 4
    return link_shape(
        link,
        xref="paper",
        yref="paper",
        x0=px_x(x0 - pad),
        x1=px_x(x1 + pad),
        y0=px_y(_BOTTOM + pad),
        y1=px_y(RESPONSES_TOP - pad - 18),
    )


def _row_labels(f: int, het: float, other: float) -> list[dict[str, Any]]:
    """The arrow from the image, the panel's title with the colour key, and the comparison
    pair's scale relative to the sum's."""
    pair_x = RESPONSES_LEFT + 3 * (RESPONSE_SIZE + RESPONSE_GAP) + _PAIR_GAP
    return [
        _operator("→", (PHOTO_BOX[2] + RESPONSES_LEFT) / 2),
        annotation(
            f"<b>Filter {f} on an image</b>: "
            f"<span style='color:#8C510A'>■</span> &lt; 0 &lt; "
            f"<span style='color:#01665E'>■</span>",
            px_x(8),
            px_y(DETAIL_TITLE),
            size=FONT_SIZE - 1,
        ),
        annotation(
            f"colour scale ×{other / het:.1f}",
            px_x(pair_x + RESPONSE_SIZE + RESPONSE_GAP / 2),
            px_y(_BOTTOM + 4),
            xanchor="center",
            yanchor="top",
            font={"color": "#555555"},
        ),
    ]


def response_parts(view: FilterView) -> Parts:
    """The response maps of ``view`` side by side, with titles, operators and link frames."""
    maps = [np.asarray(getattr(view, attr)) for attr, _title, _link in RESPONSE_PANELS]
    het = float(max(np.abs(a).max() for a in maps[:3])) or 1.0
    other = float(max(np.abs(a).max() for a in maps[3:])) or 1.0
    h, w = maps[0].shape
    unit = RESPONSE_SIZE / max(h, w)  # px per map pixel
    lefts = _lefts(len(maps))
    parts = Parts(layout=_maps_layout(lefts[-1] + RESPONSE_SIZE, unit))
    for j, values in enumerate(maps):
        x0, x1 = lefts[j], lefts[j] + RESPONSE_SIZE
        parts.traces.append(_map_trace(j, values, x0, unit, het if j < 3 else other))
        parts.annotations += _map_labels(j, x0, x1)
        link = RESPONSE_PANELS[j][2]
        if link:
            parts.shapes.append(_map_frame(link, x0, x1))
    parts.annotations += _row_labels(view.filter_index, het, other)
    return parts
