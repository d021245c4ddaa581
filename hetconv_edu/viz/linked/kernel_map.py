"""The overview panel of the linked explorer: the N×M kernel map of a HetConv layer, with the
selected filter's row outlined (axes ``x``/``y``).

Each kind's cells are one heatmap trace carrying its link and ``"pick": "filter"`` (a click on
a row picks that filter in the page).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from hetconv_edu.pattern import Kernel
from hetconv_edu.viz.explorer import ExplorerState, explorer_stages, kind_cells
from hetconv_edu.viz.linked.geometry import MAP_BOX, Parts, annotation, axes, px_x, px_y, solid
from hetconv_edu.viz.linked.state import KIND_LINK
from hetconv_edu.viz.style import FONT_SIZE, KIND_COLORS, kind_hover

__all__ = ["kernel_map_parts"]


@functools.lru_cache(maxsize=8)
def _map_cells(m: int, n: int, p: int) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]:
    """Column-form cells of the K×K and the 1×1 kernels of the HetConv map (read-only, kept:
    a 512×512 map takes 10 ms). A HetConv map needs no grid padding (P > 1: every row and
    column holds both kinds), so z is 1 everywhere and travels as bytes."""
    pattern = explorer_stages("hetconv", m, n, p)[0].pattern
    out = []
    for kind in (Kernel.FULL, Kernel.ONE):
        x, y, z = kind_cells(pattern, kind)
        if not np.isnan(z).any():
            z = z.astype(np.uint8)
        for array in (x, y, z):
            array.setflags(write=False)
        out.append((x, y, z))
    return tuple(out)


def _map_axis(title: str, axis_range: list[float]) -> dict[str, Any]:
    return {
        "range": axis_range,
        "title": {"text": title, "standoff": 2, "font": {"size": FONT_SIZE - 2}},
        "tickfont": {"size": FONT_SIZE - 3},
        "nticks": 5,
        "ticks": "outside",
        "showline": True,
        "linecolor": "#888888",
        "mirror": True,
    }


def _map_layout(m: int, n: int) -> dict[str, Any]:
    """The map's axes: square cells in :data:`MAP_BOX`, filter 0 at the top."""
    left, top, right, bottom = MAP_BOX
    side = min(right - left, bottom - top)
    scale = side / max(m, n)
    map_w, map_h = m * scale, n * scale
    return axes(
        1,
        (px_x(left), px_x(left + map_w)),
        (px_y(top + map_h), px_y(top)),
        x=_map_axis("input channel m", [-0.5, m - 0.5]),
        y=_map_axis("filter n", [n - 0.5, -0.5]),
    )


def _cell_trace(kind: Kernel, cells: tuple[np.ndarray, ...], k: int) -> dict[str, Any]:
    x, y, z = cells
    return {
        "type": "heatmap",
        "xaxis": "x",
        "yaxis": "y",
        "x": x,
        "y": y,
        "z": z,
        "colorscale": solid(KIND_COLORS[kind]),
        "zmin": 0,
        "zmax": 1,
        "showscale": False,
        "hoverongaps": False,
        "hovertemplate": (
            f"filter %{{y}}, channel %{{x}}: {kind_hover(kind, k)}"
            "<br>click: show filter %{y}<extra></extra>"
        ),
        "meta": {"link": KIND_LINK[kind], "pick": "filter"},
    }


def _row_outline(m: int, f: int) -> list[dict[str, Any]]:
    """Filter ``f``'s row framed white under black, readable on both kinds' colours."""
    return [
        {
            "type": "rect",
            "xref": "x",
            "yref": "y",
            "x0": -0.5,
            "x1": m - 0.5,
            "y0": f - 0.5,
            "y1": f + 0.5,
            "line": {"color": color, "width": width},
            "fillcolor": "rgba(0,0,0,0)",
            "layer": "above",
        }
        for color, width in (("white", 4), ("#000000", 1.5))
    ]


def _map_labels(m: int, n: int, k: int) -> list[dict[str, Any]]:
    """The map's title and its legend of the two kinds."""
    return [
        annotation(f"<b>Kernel map</b> N×M = {n}×{m}", px_x(8), px_y(30), size=FONT_SIZE - 1),
        annotation(
            f"<span style='color:{KIND_COLORS[Kernel.FULL]}'>■</span> {k}×{k}<br>"
            f"<span style='color:{KIND_COLORS[Kernel.ONE]}'>■</span> 1×1",
            px_x(MAP_BOX[2] + 6),
            px_y(MAP_BOX[1]),
            yanchor="top",
        ),
    ]


def kernel_map_parts(state: ExplorerState) -> Parts:
    """The kernel map of ``state``'s HetConv layer with filter ``state.filter_index`` outlined."""
    m, n, k, p = state.in_channels, state.out_channels, state.kernel_size, state.p
    kinds = (Kernel.FULL, Kernel.ONE)
    return Parts(
        traces=[
            _cell_trace(kind, cells, k)
            for kind, cells in zip(kinds, _map_cells(m, n, p), strict=True)
        ],
        shapes=_row_outline(m, state.filter_index),
        annotations=_map_labels(m, n, k),
        layout=_map_layout(m, n),
    )
