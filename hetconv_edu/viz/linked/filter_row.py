"""The detail panel of the linked explorer: filter n at its real kernel sizes, each kernel above
the input channel it reads (axes ``x2``/``y2``, one slot per channel of
:func:`~hetconv_edu.viz.linked.state.channel_window`).

Slot units: one slot is 1 wide; y runs down from the kernels (:data:`KERNEL_TOP`) to the input
channel's image (:data:`IMAGE_TOP`), in units of the same pixel size as one slot. Each slot's
kernel, channel and link frame carry the kernel's link.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from hetconv_edu.pattern import Kernel
from hetconv_edu.viz.explorer import ExplorerState, explorer_stages
from hetconv_edu.viz.linked.geometry import (
    SLOTS_BOX,
    Parts,
    annotation,
    axes,
    link_shape,
    px_x,
    px_y,
    solid,
)
from hetconv_edu.viz.linked.state import KIND_LINK, WINDOW_CHANNELS, FilterView, channel_window
from hetconv_edu.viz.style import FONT_SIZE, KIND_COLORS, kind_hover

__all__ = ["BLOCK", "IMAGE_SIZE", "IMAGE_TOP", "KERNEL_TOP", "filter_row_parts"]

BLOCK = 0.62
"""A kernel drawing's width, in slots."""
KERNEL_TOP = 0.08
IMAGE_TOP = 0.08 + BLOCK + 0.18
IMAGE_SIZE = 0.82
_UNITS_Y = IMAGE_TOP + IMAGE_SIZE + 0.06  # the slot's height in slot units
_SLOT_PX = (SLOTS_BOX[2] - SLOTS_BOX[0]) / WINDOW_CHANNELS  # fewer channels: narrower, never taller
_GREYS = [[0.0, "#000000"], [1.0, "#FFFFFF"]]


def _slot_right(count: int) -> float:
    return SLOTS_BOX[0] + count * _SLOT_PX


def _slot_bottom() -> float:
    return SLOTS_BOX[1] + _UNITS_Y * _SLOT_PX


def _slots_layout(start: int, count: int) -> dict[str, Any]:
    left, top = SLOTS_BOX[:2]
    return axes(
        2,
        (px_x(left), px_x(_slot_right(count))),
        (px_y(_slot_bottom()), px_y(top)),
        x={
            "range": [-0.5, count - 0.5],
            "tickmode": "array",
            "tickvals": list(range(count)),
            "ticktext": [f"m={start + i}" for i in range(count)],
            "tickfont": {"size": FONT_SIZE - 3},
            "showline": False,
        },
        y={"range": [_UNITS_Y, 0.0], "visible": False},
    )


def _kernel_trace(i: int, kind: Kernel, k: int, f: int, channel: int) -> dict[str, Any]:
    """Slot ``i``'s kernel: a K×K or 1×1 grid of cells of one size, centred on the slot."""
    size = k if kind is Kernel.FULL else 1
    cell = BLOCK / k
    return {
        "type": "heatmap",
        "xaxis": "x2",
        "yaxis": "y2",
        "z": np.ones((size, size), dtype=np.float32),
        "x0": i - (size - 1) * cell / 2,
        "dx": cell,
        "y0": KERNEL_TOP + BLOCK / 2 - (size - 1) * cell / 2,
        "dy": cell,
        "colorscale": solid(KIND_COLORS[kind]),
        "zmin": 0,
        "zmax": 1,
        "showscale": False,
        "xgap": 1,
        "ygap": 1,
        "hovertemplate": f"filter {f}, channel {channel}: {kind_hover(kind, k)}<extra></extra>",
        "meta": {"link": KIND_LINK[kind]},
    }


def _channel_trace(
    i: int, image: np.ndarray, kind: Kernel, k: int, channel: int, in_max: float
) -> dict[str, Any]:
    """Slot ``i``'s input channel in grey (0 black, ``in_max`` white), under its kernel."""
    size = k if kind is Kernel.FULL else 1
    h, w = image.shape
    px = IMAGE_SIZE / max(h, w)
    return {
        "type": "heatmap",
        "xaxis": "x2",
        "yaxis": "y2",
        "z": image.astype(np.float32),
        "x0": i - IMAGE_SIZE / 2 + px / 2,
        "dx": px,
        "y0": IMAGE_TOP + px / 2,
        "dy": px,
        "colorscale": _GREYS,
        "zmin": 0.0,
        "zmax": in_max,
        "showscale": False,
        "hovertemplate": (
            f"input channel {channel} (read by a {size}×{size} kernel): %{{z:.3f}}<extra></extra>"
        ),
        "meta": {"link": KIND_LINK[kind]},
    }


def _slot_frame(i: int, kind: Kernel) -> dict[str, Any]:
    return link_shape(
        KIND_LINK[kind],
        xref="x2",
        yref="y2",
        x0=i - 0.47,
        x1=i + 0.47,
        y0=0.02,
        y1=IMAGE_TOP + IMAGE_SIZE + 0.04,
    )


def _slot_labels(f: int, m: int, start: int, count: int, input_note: str) -> list[dict[str, Any]]:
    left = SLOTS_BOX[0]
    window = f"m = {start}–{start + count - 1} of {m}" if count < m else f"all {m} channels"
    return [
        annotation(
            f"<b>Filter {f}</b> at real kernel sizes · {window}",
            px_x(left),
            px_y(30),
            size=FONT_SIZE - 1,
        ),
        annotation(
            f"each kernel reads the grey channel under it<br>input: {html.escape(input_note)}",
            px_x(left),
            px_y(_slot_bottom() + 24),
            yanchor="top",
            font={"color": "#555555"},
        ),
    ]


def filter_row_parts(state: ExplorerState, view: FilterView) -> Parts:
    """Filter ``state.filter_index``'s kernels over the input channels of its window, the
    channels being ``view.inputs`` (shared grey scale, 0 = black)."""
    m, k, f = state.in_channels, state.kernel_size, state.filter_index
    start, count = channel_window(state)
    pattern = explorer_stages("hetconv", m, state.out_channels, state.p)[0].pattern
    inputs = view.inputs[start : start + count]
    in_max = float(max(inputs.max(), 1e-12)) if inputs.size else 1.0
    parts = Parts(layout=_slots_layout(start, count))
    for i, value in enumerate(pattern[f, start : start + count]):
        kind = Kernel(int(value))
        parts.traces.append(_kernel_trace(i, kind, k, f, start + i))
        parts.traces.append(_channel_trace(i, inputs[i], kind, k, start + i, in_max))
        parts.shapes.append(_slot_frame(i, kind))
    parts.annotations = _slot_labels(f, m, start, count, view.input_note)
    return parts
