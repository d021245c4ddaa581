"""The explorer's first figure: the N×M filter-by-channel map of each stage, coloured by
kernel kind (:func:`map_figure_data`).

Each panel is drawn by four heatmap traces, one per kernel kind, each holding only the cells
of its kind in plotly's column form (:mod:`~hetconv_edu.viz.explorer.cells`). Where the
panels go is a pixel plan (:func:`map_geometry`): every cell a whole number of pixels.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hetconv_edu.pattern import Kernel
from hetconv_edu.viz.explorer.cells import (
    cell_text,
    column_form,
    dtick,
    kind_cells,
    kind_style,
    legend_entries,
)
from hetconv_edu.viz.explorer.state import (
    GRID_GAP_X_PX,
    GRID_MARGIN_RIGHT_PX,
    KINDS,
    LEGEND_CHAR_PX,
    LEGEND_ENTRY_PX,
    LEGEND_ROW_PX,
    MAP_GRID_PLOT_PX,
    MAP_LEGEND_DROP_PX,
    MAP_MARGIN,
    MAP_PLOT_PX,
    MAX_CELL_PX,
    MAX_PANELS,
    PANEL_GAP_PX,
    ExplorerState,
    FigureData,
    MapPanel,
    map_panels,
)
from hetconv_edu.viz.style import (
    FONT_SIZE,
    MUTED,
    PIXEL_EXACT,
    base_layout,
    kind_hover,
    kind_label,
    themed_json,
)


def _axis_name(i: int, letter: str) -> str:
    """Trace reference ('x', 'x2', …) of panel slot i."""
    return letter if i == 0 else f"{letter}{i + 1}"


def _layout_key(i: int, letter: str) -> str:
    """Layout key ('xaxis', 'xaxis2', …) of panel slot i."""
    return f"{letter}axis" if i == 0 else f"{letter}axis{i + 1}"


def _grid_positions(panels: Sequence[MapPanel]) -> tuple[int, int, list[tuple[int, int]]]:
    """(grid rows, grid columns, (row, column) of each panel).

    Up to two panels sit side by side; more (a two-stage family compared with another) go
    one family per row, one stage per column, so no panel gets too small.
    """
    if len(panels) <= 2:
        return 1, len(panels), [(0, i) for i in range(len(panels))]
    rows = 1 + max(p.family_index for p in panels)
    cols = max(p.n_stages for p in panels)
    return rows, cols, [(p.family_index, p.stage_index) for p in panels]


@dataclass(frozen=True)
class MapGeometry:
    """Where the panels of a map figure go, in whole pixels.

    Every cell is ``cell`` × ``cell`` px (a whole number, so a fine pattern such as a 256×256
    map shows no moiré); ``x0[i]``/``y0[i]`` are panel i's left and top edge in the plot area
    of ``width`` × ``height`` px.
    """

    cell: int
    width: int
    height: int
    x0: tuple[int, ...]
    y0: tuple[int, ...]


def map_geometry(panels: Sequence[MapPanel]) -> MapGeometry:
    """The pixel plan of the map figure (:class:`MapGeometry`): the largest whole cell size
    (at most :data:`MAX_CELL_PX`, at least 1) with which the panels and the gaps between them
    fit :data:`MAP_PLOT_PX` (one row of panels) or :data:`MAP_GRID_PLOT_PX` (two rows, the
    figure then has the column to itself). A map too large for 1 px per cell gets 1 px per
    cell anyway (a taller figure, never a blurred one)."""
    grid_rows, grid_cols, positions = _grid_positions(panels)
    col_cells = [0] * grid_cols
    row_cells = [0] * grid_rows
    for panel, (row, col) in zip(panels, positions, strict=True):
        n_rows, n_cols = panel.stage.pattern.shape
        col_cells[col] = max(col_cells[col], n_cols)
        row_cells[row] = max(row_cells[row], n_rows)
    budget_w, budget_h = MAP_PLOT_PX if grid_rows == 1 else MAP_GRID_PLOT_PX
    gap_x = PANEL_GAP_PX[0] if grid_rows == 1 else GRID_GAP_X_PX
    fit_w = (budget_w - gap_x * (grid_cols - 1)) / sum(col_cells)
    fit_h = (budget_h - PANEL_GAP_PX[1] * (grid_rows - 1)) / sum(row_cells)
    cell = int(max(1, min(MAX_CELL_PX, fit_w, fit_h)))
    col_x = [sum(col_cells[:c]) * cell + gap_x * c for c in range(grid_cols)]
    row_y = [sum(row_cells[:r]) * cell + PANEL_GAP_PX[1] * r for r in range(grid_rows)]
    return MapGeometry(
        cell=cell,
        width=col_x[-1] + col_cells[-1] * cell,
        height=row_y[-1] + row_cells[-1] * cell,
        x0=tuple(col_x[c] for _, c in positions),
        y0=tuple(row_y[r] for r, _ in positions),
    )


def _legend_rows(labels: Sequence[str], width_px: float) -> int:
    """How many rows a horizontal legend of ``labels`` takes in ``width_px`` (estimated for
    the projector style's larger text, the wider case)."""
    rows, used = 1, 0.0
    for label in labels:
        entry = LEGEND_ENTRY_PX + LEGEND_CHAR_PX * len(label)
        if used and used + entry > width_px:
            rows, used = rows + 1, 0.0
        used += entry
    return rows


def map_figure_data(state: ExplorerState) -> FigureData:
    """The N×M filter-by-channel maps of ``state``: one panel per family stage.

    Trace ``4·i + j`` is panel slot i's heatmap of kind ``KIND_ORDER[j]`` (empty for unused
    slots); the last four are the legend entries. The selected filter's row is outlined. Cells
    of small maps also carry the kernel size as text, so colour is never the only cue.

    The figure is sized in pixels (:func:`map_geometry`): every cell is a whole number of
    pixels, in the default and the projector style (its layout's ``meta`` says
    :data:`~hetconv_edu.viz.style.PIXEL_EXACT`).
    """
    panels = map_panels(state)
    k = state.kernel_size
    geo = map_geometry(panels)
    grid_rows, _cols, positions = _grid_positions(panels)
    layout = _map_layout(panels, geo, grid_rows, k)
    traces: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    shapes: list[dict[str, Any]] = []
    present: set[Kernel] = set()
    show_text = geo.cell >= 14  # the kernel size printed in cells only where legible
    for i in range(MAX_PANELS):
        if i >= len(panels):
            traces += [_empty_trace(i, kind, k) for kind in KINDS]
            layout[_layout_key(i, "x")] = {"visible": False, "domain": [0.0, 0.01]}
            layout[_layout_key(i, "y")] = {"visible": False, "domain": [0.0, 0.01]}
            continue
        panel = panels[i]
        prefix = f"{html.escape(panel.title)}<br>" if len(panels) > 1 else ""
        for kind in KINDS:
            trace = _panel_trace(i, panel, kind, k, prefix, show_text)
            if len(trace["z"]):
                present.add(kind)
            traces.append(trace)
        box = _panel_box(geo, i, panel)
        row, col = positions[i]
        layout.update(_panel_axes(i, panel, box, geo.cell, row == grid_rows - 1, col == 0))
        annotations.append(_panel_heading(panel, box))
        shapes += _filter_outline(i, panel, state.filter_index)
    traces += legend_entries(k, present)
    layout["annotations"] = annotations
    layout["shapes"] = shapes
    return FigureData(*themed_json(traces, layout))


def _map_layout(
    panels: Sequence[MapPanel], geo: MapGeometry, grid_rows: int, k: int
) -> dict[str, Any]:
    """The map figure's layout before its axes: pixel size, margins (room for the legend's
    rows and, in two rows of panels, the second stage's heading) and the legend under the
    x-axis title."""
    margin = dict(MAP_MARGIN)
    if grid_rows > 1:
        margin["r"] = GRID_MARGIN_RIGHT_PX
    labels = [kind_label(kind, k) for kind in KINDS if any(
        np.any(p.stage.pattern == kind) for p in panels)]  # fmt: skip
    margin["b"] += LEGEND_ROW_PX * (_legend_rows(labels, margin["l"] + geo.width) - 1)
    return base_layout(
        width=margin["l"] + geo.width + margin["r"],
        height=margin["t"] + geo.height + margin["b"],
        autosize=False,
        margin=margin,
        meta={PIXEL_EXACT: True},
        legend={
            "orientation": "h",
            "x": 0.0,
            "y": -MAP_LEGEND_DROP_PX / geo.height,  # under the x-axis title, projector too
            "xanchor": "left",
            "yanchor": "top",
            "font": {"size": FONT_SIZE - 2},
        },
        hovermode="closest",
    )


def _trace_base(i: int, kind: Kernel, k: int) -> dict[str, Any]:
    """The properties every heatmap of panel slot i and ``kind`` shares."""
    return {
        "type": "heatmap",
        "xaxis": _axis_name(i, "x"),
        "yaxis": _axis_name(i, "y"),
        "name": kind_label(kind, k),
        **kind_style(kind),
    }


def _empty_trace(i: int, kind: Kernel, k: int) -> dict[str, Any]:
    """The heatmap of an unused panel slot: no cells, no text, no hover."""
    x, y, z = column_form(np.zeros(0, int), np.zeros(0, int), 0, 0)
    trace = _trace_base(i, kind, k)
    trace.update(x=x, y=y, z=z, text=None, hovertemplate="", texttemplate="")
    return trace


def _panel_trace(
    i: int, panel: MapPanel, kind: Kernel, k: int, prefix: str, show_text: bool
) -> dict[str, Any]:
    """The heatmap of the ``kind`` cells of ``panel`` (slot i); ``prefix`` starts the hover
    (the panel's title when there are several), ``show_text`` prints the kernel size in cells."""
    x, y, z = kind_cells(panel.stage.pattern, kind)
    label = cell_text(kind, k)
    trace = _trace_base(i, kind, k)
    trace.update(
        x=x,
        y=y,
        z=z,
        # Per-cell text (padding cells get none) only for small, legible maps.
        text=[label if v == 1 else "" for v in z] if show_text else None,
        texttemplate="%{text}" if show_text else "",
        hovertemplate=(
            f"{prefix}filter %{{y}}, channel %{{x}}: {kind_hover(kind, k)}<extra></extra>"
        ),
    )
    return trace


def _panel_box(geo: MapGeometry, i: int, panel: MapPanel) -> tuple[float, float, float, float]:
    """Panel slot i's edges ``(x0, x1, y0, y1)`` as fractions of the plot area."""
    n_rows, n_cols = panel.stage.pattern.shape
    x0 = geo.x0[i] / geo.width
    x1 = (geo.x0[i] + n_cols * geo.cell) / geo.width
    y1 = 1.0 - geo.y0[i] / geo.height
    y0 = 1.0 - (geo.y0[i] + n_rows * geo.cell) / geo.height
    return x0, x1, y0, y1


_AXIS_COMMON: dict[str, Any] = {
    "visible": True,
    "autorange": False,
    "constrain": "domain",
    "tick0": 0,
    "showgrid": False,
    "zeroline": False,
    "showline": True,
    "linecolor": MUTED,
    "mirror": True,
    "ticks": "outside",
}


def _panel_axes(
    i: int,
    panel: MapPanel,
    box: tuple[float, float, float, float],
    cell: int,
    bottom_row: bool,
    first_col: bool,
) -> dict[str, Any]:
    """The x and y axes of panel slot i (layout keys ``xaxis…``, ``yaxis…``): its domain in
    ``box``, one tick label per few cells of ``cell`` px, axis titles only on the panels of
    the bottom row (x) and the first column (y)."""
    n_rows, n_cols = panel.stage.pattern.shape
    x0, x1, y0, y1 = box
    xa, ya = _axis_name(i, "x"), _axis_name(i, "y")
    return {
        _layout_key(i, "x"): {
            **_AXIS_COMMON,
            "domain": [max(0.0, x0), min(1.0, x1)],
            "anchor": ya,
            "range": [-0.5, n_cols - 0.5],
            # one "input channel m" per column of panels, under the lowest
            "title": {"text": "input channel m" if bottom_row else "", "standoff": 4},
            "dtick": dtick(n_cols, target=max(2, n_cols * cell // 40)),
        },
        _layout_key(i, "y"): {
            **_AXIS_COMMON,
            "domain": [max(0.0, y0), min(1.0, y1)],
            "anchor": xa,
            "range": [n_rows - 0.5, -0.5],
            "constraintoward": "top",  # a wide, flat map stays under its heading
            "scaleanchor": xa,
            "scaleratio": 1,
            # one "filter n" per row of panels: a title between two panels would sit on the
            # left one's cells in the projector style
            "title": {"text": "filter n" if first_col else "", "standoff": 2},
            "dtick": dtick(n_rows, target=max(2, n_rows * cell // 28)),
        },
    }


def _panel_heading(panel: MapPanel, box: tuple[float, float, float, float]) -> dict[str, Any]:
    """The annotation above the panel's top-left corner: :attr:`MapPanel.heading`."""
    x0, _x1, _y0, y1 = box
    return {
        "text": panel.heading,
        "x": x0,
        "y": y1,
        "xref": "paper",
        "yref": "paper",
        "xanchor": "left",
        "yanchor": "bottom",
        "yshift": 4,
        "showarrow": False,
        "font": {"size": FONT_SIZE - 2},
    }


def _filter_outline(i: int, panel: MapPanel, n: int) -> list[dict[str, Any]]:
    """Two rectangles (a wide white one under a thin black one) around filter n's row of
    panel slot i; none when the panel's stage has fewer filters."""
    n_rows, n_cols = panel.stage.pattern.shape
    if n >= n_rows:
        return []
    return [
        {
            "type": "rect",
            "xref": _axis_name(i, "x"),
            "yref": _axis_name(i, "y"),
            "x0": -0.5,
            "x1": n_cols - 0.5,
            "y0": n - 0.5,
            "y1": n + 0.5,
            "line": {"color": color, "width": w},
            "fillcolor": "rgba(0,0,0,0)",
            "layer": "above",
        }
        for color, w in (("white", 4), ("black", 1.5))
    ]
