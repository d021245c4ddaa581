"""Figures of the kernel-arrangement explorer: pure functions, state in → plotly data out.

Three views of one layer setting (:class:`ExplorerState`), everything counted on the kernel
maps of :mod:`hetconv_edu.pattern` and the costs of :mod:`hetconv_edu.flops`:

1. :func:`map_figure_data` — the N×M filter-by-channel map of each stage, coloured by kernel
   kind. Each panel is drawn by four heatmap traces, one per kernel kind, each holding only the
   cells of its kind in plotly's column form (1-D ``x``, ``y``, ``z``): numeric 1-D arrays travel
   to the browser as binary buffers, so a 512×512 map updates in milliseconds, and every trace
   has one fixed hover text ("3×3 kernel, 9 weights") without a string per cell.
2. :func:`filter_figure_data` — the selected filter drawn as its stack of kernels at their real
   sizes (K×K squares, single 1×1 cells), one strip per stage, over a window of channels.
3. :func:`counters_html` (numbers from :func:`family_numbers`) — kernels and weights per filter,
   weights and MACs per layer, the cost ratio with the numbers substituted.

Both figure functions return a :class:`FigureData` with a fixed number of traces, so a
figure made once from it can be updated in place with the next state's data.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import plotly.graph_objects as go

from hetconv_edu.flops import (
    depthwise_pointwise_ratio,
    groupwise_pointwise_ratio,
    hetconv_ratio,
    layer_cost,
    naive_hetconv_ratio,
    standard_macs,
)
from hetconv_edu.pattern import (
    Kernel,
    Stage,
    check_positive_int,
    family_stages,
    kernels_per_channel,
    kernels_per_filter,
    stage_weights,
    valid_parts,
)
from hetconv_edu.viz.style import (
    FONT_SIZE,
    KIND_COLORS,
    KIND_ORDER,
    MUTED,
    NOTE_COLOR,
    PIXEL_EXACT,
    TEXT_COLOR,
    base_layout,
    kind_hover,
    kind_label,
    kind_legend_traces,
    themed_json,
)

__all__ = [
    "EXPLORER_FAMILIES",
    "FILTER_MARGIN",
    "FILTER_TRACES",
    "FILTER_WINDOW_COLUMNS",
    "GRID_GAP_X_PX",
    "KINDS",
    "MAP_GRID_PLOT_PX",
    "MAP_MARGIN",
    "MAP_PLOT_PX",
    "MAP_TRACES",
    "MAX_CELL_PX",
    "MAX_PANELS",
    "PANEL_GAP_PX",
    "ExplorerState",
    "FamilyNumbers",
    "FigureData",
    "MapGeometry",
    "MapPanel",
    "StageCount",
    "cells_to_pattern",
    "conv_spec",
    "counters_html",
    "explorer_stages",
    "family_numbers",
    "family_title",
    "filter_figure_data",
    "filter_window",
    "key_numbers_html",
    "kind_cells",
    "map_figure_data",
    "map_geometry",
    "map_panels",
]

EXPLORER_FAMILIES: dict[str, str] = {
    "hetconv": "HetConv (paper: shifted)",
    "standard": "standard convolution",
    "depthwise_pointwise": "depthwise + pointwise (MobileNet)",
    "groupwise_pointwise": "groupwise (G = P) + pointwise",
    "naive_hetconv": "naive public HetConv",
}
"""The families the explorer offers, keyed by package family name, valued by selector label.

The groupwise family uses G = P, the paper's comparison (HetConv with P = G)."""

MAX_PANELS = 4
"""Map panels: two families side by side, each with up to two stages."""

MAP_PLOT_PX: tuple[int, int] = (460, 248)
"""Width and height (px) the panels of the map figure share, gaps included: with the margins
of :data:`MAP_MARGIN` the figure is 532 px wide in the default style and 550 px in the
projector style, beside the controls on a 1280×720 screen."""
MAP_GRID_PLOT_PX: tuple[int, int] = (460, 360)
"""The same for two rows of panels (a two-stage family compared with another family): the
legend's two rows and the filter's disclosure under them still fit the projector's screen."""
MAP_MARGIN: dict[str, int] = {"l": 56, "r": 16, "t": 44, "b": 88}
"""Margins of the map figure (px, multiples of 4 so the projector's ×1.25 keeps them whole):
tick labels and "filter n" on the left, the panel headings on top, tick labels, "input
channel m" and the legend below."""
MAP_LEGEND_DROP_PX = 58
"""How far below the panels the legend starts (px): under the x axis's title."""
PANEL_GAP_PX: tuple[int, int] = (52, 84)
"""Gap between panels side by side (the right one's tick labels) and between rows of panels
(the upper row's tick labels and the lower row's headings), px."""
GRID_GAP_X_PX = 140
"""Gap between the two stages of a family in two rows of panels: the first stage's heading
carries the family's name, wider than its panel."""
GRID_MARGIN_RIGHT_PX = 56
"""Right margin of two rows of panels: room for the second stage's heading."""
LEGEND_ROW_PX = 24
"""Height of one row of a horizontal legend (px, projector style)."""
LEGEND_ENTRY_PX, LEGEND_CHAR_PX = 56.0, 9.0
"""Estimated width of a legend entry, projector style: symbol and gaps, plus per character."""
MAX_CELL_PX = 24
"""The largest cell of a map (px): a small map is drawn no larger than this."""

KINDS: tuple[Kernel, ...] = KIND_ORDER
MAP_TRACES = MAX_PANELS * len(KINDS) + len(KINDS)
"""Traces of the map figure: one heatmap per (panel, kind), then one legend entry per kind."""
FILTER_TRACES = 2 * len(KINDS)
"""Traces of the filter figure: one heatmap per kind, then one legend entry per kind."""

FILTER_WINDOW_COLUMNS = 64
"""Grid columns the filter strip may use: K + 1 per channel, so K = 3 shows 16 channels."""
FILTER_PLOT_WIDTH_PX = 460
"""Width (px) the filter strips may take, beside the controls on a 1280×720 screen."""
FILTER_MAX_CELL_PX = 12
"""The largest grid cell of the filter strips (px): a 3×3 kernel is at most 36 px wide."""
FILTER_NOTE_LINE_PX = 20
"""Extra top margin (px) for the note's second line (a stage without the selected filter)."""
FILTER_LABEL_PX = 22
"""Height (px) kept above each strip for its label."""
FILTER_MARGIN: dict[str, int] = {"l": 12, "r": 12, "t": 28, "b": 24}
"""Margins of the filter figure (px, multiples of 4): the title and the window note on top
(a second line when a stage lacks the filter), the channel numbers below."""


@dataclass(frozen=True)
class ExplorerState:
    """One setting of the explorer: the layer (M, N, K, P), the families, the filter, D_o.

    ``compare`` names a second family drawn beside ``family`` (None: one family).
    Raises ``ValueError`` for impossible settings (P not dividing M and N, unknown family,
    filter index outside 0 … N − 1).
    """

    in_channels: int = 16
    out_channels: int = 16
    kernel_size: int = 3
    p: int = 4
    family: str = "hetconv"
    compare: str | None = None
    filter_index: int = 0
    out_size: int = 32

    def __post_init__(self) -> None:
        m = check_positive_int("in_channels", self.in_channels)
        n = check_positive_int("out_channels", self.out_channels)
        check_positive_int("kernel_size", self.kernel_size)
        check_positive_int("out_size", self.out_size)
        p = check_positive_int("p", self.p)
        if p not in valid_parts(m, n):
            raise ValueError(
                f"P={p} must divide M={m} and N={n}; allowed values: {valid_parts(m, n)}"
            )
        for fam in (self.family, self.compare):
            if fam is not None and fam not in EXPLORER_FAMILIES:
                raise ValueError(
                    f"unknown family {fam!r}; choose one of {sorted(EXPLORER_FAMILIES)}"
                )
        if isinstance(self.filter_index, bool) or not 0 <= int(self.filter_index) < n:
            raise ValueError(f"filter_index must be in 0 … {n - 1}, got {self.filter_index!r}")

    @property
    def families(self) -> tuple[str, ...]:
        """The families drawn: ``(family,)`` or ``(family, compare)``."""
        return (self.family,) if self.compare is None else (self.family, self.compare)


@dataclass(frozen=True)
class FigureData:
    """Traces (plotly property dicts, each with its ``type``) and layout of one figure.

    The trace count is fixed per figure kind, so trace i of one state updates trace i of the
    figure built from another.
    """

    traces: tuple[dict[str, Any], ...]
    layout: dict[str, Any] = field(default_factory=dict)

    def figure(self) -> go.Figure:
        """A static ``go.Figure`` of this data."""
        return go.Figure(data=list(self.traces), layout=self.layout)


# ------------------------------------------------------------------------- families, stages


def conv_spec(family: str, p: int) -> str:
    """The :func:`hetconv_edu.layers.parse_conv_spec` text of an explorer family at part P."""
    if family in ("hetconv", "naive_hetconv", "groupwise_pointwise"):
        return f"{family}:{p}"
    if family in ("standard", "depthwise_pointwise"):
        return family
    raise ValueError(f"unknown family {family!r}; choose one of {sorted(EXPLORER_FAMILIES)}")


def family_title(family: str, p: int) -> str:
    """Short display name: ``"HetConv P=4"``, ``"groupwise G=4 + pointwise"``, …"""
    return {
        "hetconv": f"HetConv P={p}",
        "standard": "standard",
        "depthwise_pointwise": "depthwise + pointwise",
        "groupwise_pointwise": f"groupwise G={p} + pointwise",
        "naive_hetconv": f"naive HetConv P={p}",
    }[family]


def explorer_stages(family: str, in_channels: int, out_channels: int, p: int) -> list[Stage]:
    """The kernel maps of ``family`` (:func:`hetconv_edu.pattern.family_stages`), G = P.

    Memoized (one update draws the same maps three times); the maps are read-only.
    """
    return list(_cached_stages(family, in_channels, out_channels, p))


@lru_cache(maxsize=32)
def _cached_stages(family: str, in_channels: int, out_channels: int, p: int) -> tuple[Stage, ...]:
    stages = family_stages(family, in_channels, out_channels, p=p, groups=p)
    for stage in stages:
        stage.pattern.setflags(write=False)
    return tuple(stages)


@dataclass(frozen=True)
class MapPanel:
    """One drawn kernel map: which family and stage, its title, and the N×M map."""

    family: str
    title: str
    stage: Stage
    stage_index: int
    n_stages: int
    family_index: int = 0
    p: int = 1

    @property
    def heading(self) -> str:
        """Panel heading (HTML): the family in bold, its shape or stage below. A second stage
        sits beside the first, under the same family name: only its stage is named."""
        rows, cols = self.stage.pattern.shape
        if self.n_stages == 1:
            line = f"{rows} filters × {cols} channels"
        else:
            # the family's name says G; the stage keeps its kind and kernel size
            name = self.stage.name.split(",")[0]
            line = f"stage {self.stage_index + 1}: {html.escape(name)}"
            if self.stage_index > 0:
                return line
        return f"<b>{html.escape(family_title(self.family, self.p))}</b><br>{line}"


def map_panels(state: ExplorerState) -> list[MapPanel]:
    """The panels of the map figure, in drawing order (family, then stage)."""
    panels = []
    for f, fam in enumerate(state.families):
        stages = explorer_stages(fam, state.in_channels, state.out_channels, state.p)
        for i, stage in enumerate(stages):
            title = family_title(fam, state.p)
            if len(stages) > 1:
                title += f" · stage {i + 1}: {stage.name}"
            panels.append(MapPanel(fam, title, stage, i, len(stages), f, state.p))
    return panels


# --------------------------------------------------------------------------- column form


def _index_dtype(limit: int) -> type:
    return np.int16 if limit < np.iinfo(np.int16).max else np.int32


def _column_form(
    rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column-form heatmap data (x, y, z) of the given cells on an n_rows × n_cols grid.

    Plotly builds a column-form heatmap's grid from the distinct x and y it is given, so every
    grid column and row must occur: a missing one is padded with a cell whose z is NaN (a gap,
    no colour, no hover). No cells at all gives empty arrays (an empty trace).
    """
    dtype = _index_dtype(max(n_rows, n_cols))
    if rows.size == 0:
        empty = np.zeros(0, dtype=dtype)
        return empty, empty, np.zeros(0, dtype=np.float32)
    z = np.ones(rows.size, dtype=np.float32)
    missing_cols = np.flatnonzero(np.bincount(cols, minlength=n_cols) == 0)
    missing_rows = np.flatnonzero(np.bincount(rows, minlength=n_rows) == 0)
    if missing_cols.size or missing_rows.size:
        # A column with no cell of this kind: any row is free there (and vice versa).
        pad_rows = np.concatenate([np.zeros(missing_cols.size, int), missing_rows])
        pad_cols = np.concatenate([missing_cols, np.zeros(missing_rows.size, int)])
        rows = np.concatenate([rows, pad_rows])
        cols = np.concatenate([cols, pad_cols])
        z = np.concatenate([z, np.full(pad_rows.size, np.nan, dtype=np.float32)])
    return cols.astype(dtype), rows.astype(dtype), z


def kind_cells(pattern: np.ndarray, kind: Kernel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cells of ``kind`` in an N×M kernel map as column-form heatmap data.

    Returns ``(x, y, z)``: x the input channel, y the filter, z 1 (NaN for grid padding).
    """
    n_rows, n_cols = pattern.shape
    # For the balanced maps of the package every present kind touches every row and column,
    # so the padding of _column_form is usually empty.
    rows, cols = np.nonzero(pattern == kind)
    return _column_form(rows, cols, n_rows, n_cols)


def cells_to_pattern(
    traces: Sequence[dict[str, Any]], shape: tuple[int, int], kinds: Sequence[Kernel] = KINDS
) -> np.ndarray:
    """Rebuild an N×M kernel map from per-kind column-form traces (the inverse of
    :func:`kind_cells`); cells no trace covers are -1. For tests and checks."""
    out = np.full(shape, -1, dtype=np.int8)
    for kind, trace in zip(kinds, traces, strict=True):
        x = np.asarray(trace["x"], dtype=int)
        y = np.asarray(trace["y"], dtype=int)
        z = np.asarray(trace["z"], dtype=float)
        keep = ~np.isnan(z)
        out[y[keep], x[keep]] = int(kind)
    return out


# --------------------------------------------------------------------------- figure 1: map


def _axis_name(i: int, letter: str) -> str:
    """Trace reference ('x', 'x2', …) of panel slot i."""
    return letter if i == 0 else f"{letter}{i + 1}"


def _layout_key(i: int, letter: str) -> str:
    """Layout key ('xaxis', 'xaxis2', …) of panel slot i."""
    return f"{letter}axis" if i == 0 else f"{letter}axis{i + 1}"


def _dtick(size: int, target: int = 8) -> int:
    step = 1
    while size / step > target:
        step *= 2
    return step


def _kind_style(kind: Kernel) -> dict[str, Any]:
    color = KIND_COLORS[kind]
    text_color = "white" if kind in (Kernel.FULL, Kernel.BOTH) else TEXT_COLOR
    return {
        "colorscale": [[0.0, color], [1.0, color]],
        "zmin": 0,
        "zmax": 1,
        "showscale": False,
        "hoverongaps": False,
        "legendgroup": f"kind{int(kind)}",
        "showlegend": False,
        "textfont": {"color": text_color, "size": FONT_SIZE - 3},
    }


def _cell_text(kind: Kernel, k: int) -> str:
    # The overlap (K×K + 1×1) gets a short "+": "3+1" does not fit a cell.
    return {Kernel.FULL: f"{k}", Kernel.ONE: "1", Kernel.BOTH: "+", Kernel.NONE: ""}[kind]


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
    n_panels = len(panels)
    geo = map_geometry(panels)
    grid_rows, _cols, positions = _grid_positions(panels)
    last_row = grid_rows - 1
    margin = dict(MAP_MARGIN)
    if grid_rows > 1:
        margin["r"] = GRID_MARGIN_RIGHT_PX
    labels = [kind_label(kind, k) for kind in KINDS if any(
        np.any(p.stage.pattern == kind) for p in panels)]  # fmt: skip
    margin["b"] += LEGEND_ROW_PX * (_legend_rows(labels, margin["l"] + geo.width) - 1)
    traces: list[dict[str, Any]] = []
    layout: dict[str, Any] = base_layout(
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
    annotations = []
    shapes = []
    present: set[Kernel] = set()
    show_text = geo.cell >= 14  # the kernel size printed in cells only where legible
    for i in range(MAX_PANELS):
        xa, ya = _axis_name(i, "x"), _axis_name(i, "y")
        panel = panels[i] if i < n_panels else None
        if panel is not None:
            n_rows, n_cols = panel.stage.pattern.shape
            row, col = positions[i]
            x0 = geo.x0[i] / geo.width
            x1 = (geo.x0[i] + n_cols * geo.cell) / geo.width
            y1 = 1.0 - geo.y0[i] / geo.height
            y0 = 1.0 - (geo.y0[i] + n_rows * geo.cell) / geo.height
        for kind in KINDS:
            trace: dict[str, Any] = {
                "type": "heatmap",
                "xaxis": xa,
                "yaxis": ya,
                "name": kind_label(kind, k),
                **_kind_style(kind),
            }
            if panel is None:
                x, y, z = _column_form(np.zeros(0, int), np.zeros(0, int), 0, 0)
                trace.update(x=x, y=y, z=z, text=None, hovertemplate="", texttemplate="")
            else:
                x, y, z = kind_cells(panel.stage.pattern, kind)
                if z.size:
                    present.add(kind)
                prefix = f"{html.escape(panel.title)}<br>" if n_panels > 1 else ""
                label = _cell_text(kind, k)
                trace.update(
                    x=x,
                    y=y,
                    z=z,
                    # Per-cell text (padding cells get none) only for small, legible maps.
                    text=[label if v == 1 else "" for v in z] if show_text else None,
                    texttemplate="%{text}" if show_text else "",
                    hovertemplate=(
                        f"{prefix}filter %{{y}}, channel %{{x}}: {kind_hover(kind, k)}"
                        "<extra></extra>"
                    ),
                )
            traces.append(trace)
        if panel is None:
            layout[_layout_key(i, "x")] = {"visible": False, "domain": [0.0, 0.01]}
            layout[_layout_key(i, "y")] = {"visible": False, "domain": [0.0, 0.01]}
            continue
        axis_common = {
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
        layout[_layout_key(i, "x")] = {
            **axis_common,
            "domain": [max(0.0, x0), min(1.0, x1)],
            "anchor": ya,
            "range": [-0.5, n_cols - 0.5],
            # one "input channel m" per column of panels, under the lowest
            "title": {"text": "input channel m" if row == last_row else "", "standoff": 4},
            "dtick": _dtick(n_cols, target=max(2, n_cols * geo.cell // 40)),
        }
        layout[_layout_key(i, "y")] = {
            **axis_common,
            "domain": [max(0.0, y0), min(1.0, y1)],
            "anchor": xa,
            "range": [n_rows - 0.5, -0.5],
            "constraintoward": "top",  # a wide, flat map stays under its heading
            "scaleanchor": xa,
            "scaleratio": 1,
            # one "filter n" per row of panels: a title between two panels would sit on the
            # left one's cells in the projector style
            "title": {"text": "filter n" if col == 0 else "", "standoff": 2},
            "dtick": _dtick(n_rows, target=max(2, n_rows * geo.cell // 28)),
        }
        annotations.append(
            {
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
        )
        if state.filter_index < n_rows:
            n = state.filter_index
            for color, w in (("white", 4), ("black", 1.5)):
                shapes.append(
                    {
                        "type": "rect",
                        "xref": xa,
                        "yref": ya,
                        "x0": -0.5,
                        "x1": n_cols - 0.5,
                        "y0": n - 0.5,
                        "y1": n + 0.5,
                        "line": {"color": color, "width": w},
                        "fillcolor": "rgba(0,0,0,0)",
                        "layer": "above",
                    }
                )
    for legend in kind_legend_traces(KINDS, k):
        entry = legend.to_plotly_json()
        entry["showlegend"] = Kernel(_legend_kind(entry)) in present
        traces.append(entry)
    layout["annotations"] = annotations
    layout["shapes"] = shapes
    return FigureData(*themed_json(traces, layout))


def _legend_kind(entry: dict[str, Any]) -> int:
    return int(entry["legendgroup"].removeprefix("kind"))


# ----------------------------------------------------------------------- figure 2: filter


def filter_window(state: ExplorerState) -> tuple[int, int]:
    """``(start, width)`` of the channel window the filter figure draws.

    At most ``FILTER_WINDOW_COLUMNS // (K + 1)`` channels; the window starts at channel 0
    unless the selected filter's first K×K kernel lies beyond it, then it is moved to show it.
    """
    m = state.in_channels
    width = min(m, max(1, FILTER_WINDOW_COLUMNS // (state.kernel_size + 1)))
    first = explorer_stages(state.family, m, state.out_channels, state.p)[0]
    start = 0
    if state.filter_index < first.out_channels:
        row = first.pattern[state.filter_index]
        full = np.flatnonzero((row == Kernel.FULL) | (row == Kernel.BOTH))
        if full.size and full[0] >= width:
            start = int(min(full[0] - width // 4, m - width))
    return start, width


def filter_figure_data(state: ExplorerState) -> FigureData:
    """The selected filter as its stack of kernels at their real shapes, one strip per stage.

    Channel m of the window takes K + 1 grid columns: a K×K kernel fills a K×K block, a 1×1
    kernel one centre cell, a missing kernel (other group) one light-grey cell. Trace j is the
    heatmap of kind ``KIND_ORDER[j]``; the last four are the legend entries.
    """
    k = state.kernel_size
    n = state.filter_index
    start, width = filter_window(state)
    slot = k + 1
    strips: list[tuple[str, np.ndarray]] = []
    skipped: list[str] = []
    for panel in map_panels(state):
        rows = panel.stage.out_channels
        label = f"{panel.title}: filter {n}"
        if n < rows:
            strips.append((label, panel.stage.pattern[n, start : start + width]))
        else:
            skipped.append(f"{panel.title} has only {rows} filters")
    n_cols = width * slot - 1
    # Square cells of whole pixels; each strip has its label above it (in grid rows).
    cell_px = int(max(2, min(FILTER_MAX_CELL_PX, FILTER_PLOT_WIDTH_PX // n_cols)))
    label_rows = math.ceil(FILTER_LABEL_PX / cell_px)
    band = label_rows + k + 1
    n_rows = max(1, len(strips) * band - 1)
    channels = np.arange(start, start + width)
    block = np.arange(k)
    traces: list[dict[str, Any]] = []
    present: set[Kernel] = set()
    for kind in KINDS:
        cell_rows, cell_cols, texts = [], [], []
        for s, (label, row) in enumerate(strips):
            ms = np.flatnonzero(row == kind)
            if ms.size == 0:
                continue
            r0 = s * band + label_rows
            c0 = ms * slot
            if kind in (Kernel.FULL, Kernel.BOTH):
                rr = (r0 + block[:, None, None]) + np.zeros((1, ms.size, k), int)
                cc = c0[None, :, None] + block[None, None, :] + np.zeros((k, 1, 1), int)
                chan = np.broadcast_to(channels[ms][None, :, None], rr.shape)
            else:
                rr = np.full((1, ms.size, 1), r0 + k // 2)
                cc = (c0 + k // 2)[None, :, None]
                chan = channels[ms][None, :, None]
            cell_rows.append(rr.ravel())
            cell_cols.append(cc.ravel())
            hover = kind_hover(kind, k)
            texts += [f"{html.escape(label)}, channel {int(c)}: {hover}" for c in chan.ravel()]
        rows_arr = np.concatenate(cell_rows) if cell_rows else np.zeros(0, int)
        cols_arr = np.concatenate(cell_cols) if cell_cols else np.zeros(0, int)
        x, y, z = _column_form(rows_arr, cols_arr, n_rows, n_cols)
        texts += [""] * (z.size - len(texts))
        if rows_arr.size:
            present.add(kind)
        traces.append(
            {
                "type": "heatmap",
                "xaxis": "x",
                "yaxis": "y",
                "name": kind_label(kind, k),
                "x": x,
                "y": y,
                "z": z,
                "text": texts,
                "hovertemplate": "%{text}<extra></extra>",
                **_kind_style(kind),
            }
        )
    for legend in kind_legend_traces(KINDS, k):
        entry = legend.to_plotly_json()
        entry["showlegend"] = Kernel(_legend_kind(entry)) in present
        traces.append(entry)

    tick_step = _dtick(width, target=max(2, width * slot * cell_px // 36))
    shown = [m for m in range(start, start + width) if m % tick_step == 0]
    note = f"channels {start}–{start + width - 1} of {state.in_channels}"
    if width < state.in_channels:
        note += " (a window)"
    if skipped:
        note += "<br>" + html.escape("; ".join(skipped))
    annotations = [
        {
            "text": note,
            "x": 1.0,
            "y": 1.0,
            "xref": "paper",
            "yref": "paper",
            "xanchor": "right",
            "yanchor": "bottom",
            "yshift": 2,
            "showarrow": False,
            "font": {"size": FONT_SIZE - 3, "color": NOTE_COLOR},
        }
    ] + [
        {
            "text": html.escape(label),
            "x": -0.5,
            "y": s * band + label_rows - 0.5,
            "xref": "x",
            "yref": "y",
            "xanchor": "left",
            "yanchor": "bottom",
            "showarrow": False,
            "font": {"size": FONT_SIZE - 2},
        }
        for s, (label, _row) in enumerate(strips)
    ]
    margin = dict(FILTER_MARGIN)
    if skipped:
        margin["t"] += FILTER_NOTE_LINE_PX
    layout = base_layout(
        width=margin["l"] + n_cols * cell_px + margin["r"],
        height=margin["t"] + n_rows * cell_px + margin["b"],
        autosize=False,
        margin=margin,
        meta={PIXEL_EXACT: True},
        title={
            "text": f"Filter {n} at its real size",
            "font": {"size": FONT_SIZE - 1},
            "x": 0.0,
            "xref": "paper",
            "xanchor": "left",
            "y": 1.0,
            "yref": "container",
            "yanchor": "top",
            "pad": {"t": 4},
        },
        showlegend=False,  # the same kinds and colours as the map's legend just above
        hovermode="closest",
        annotations=annotations,
        xaxis={
            "domain": [0.0, 1.0],
            "range": [-0.5, n_cols - 0.5],
            "autorange": False,
            "tickmode": "array",
            "tickvals": [(m - start) * slot + (k - 1) / 2 for m in shown],
            "ticktext": [str(m) for m in shown],
            "showgrid": False,
            "zeroline": False,
        },
        yaxis={
            "domain": [0.0, 1.0],
            "range": [n_rows - 0.5, -0.5],
            "autorange": False,
            "scaleanchor": "x",
            "scaleratio": 1,
            "showticklabels": False,
            "showgrid": False,
            "zeroline": False,
        },
    )
    return FigureData(*themed_json(traces, layout))


# --------------------------------------------------------------------- figure 3: counters


@dataclass(frozen=True)
class StageCount:
    """Counts of one stage for the selected filter (None where the stage has no such filter)."""

    name: str
    filters: int
    full_in_filter: int | None
    one_in_filter: int | None
    weights_in_filter: int | None
    full_per_channel: tuple[int, int]
    """Fewest and most filters giving one input channel a K×K kernel."""
    weights: int


@dataclass(frozen=True)
class FamilyNumbers:
    """What the counters show for one family: per-filter counts, layer weights and MACs.

    ``weights`` and ``macs`` come from :func:`hetconv_edu.flops.layer_cost` (no bias),
    ``standard`` from :func:`hetconv_edu.flops.standard_macs`; ``formula_value`` is the
    family's ratio function of :mod:`hetconv_edu.flops` (equal to ``ratio`` where it holds).
    """

    family: str
    title: str
    spec: str
    stages: tuple[StageCount, ...]
    weights: int
    weights_formula: str
    macs: int
    standard: int
    formula: str
    formula_numbers: str
    formula_value: float
    formula_note: str = ""

    @property
    def ratio(self) -> float:
        """MACs ÷ standard-convolution MACs."""
        return self.macs / self.standard

    @property
    def flops(self) -> int:
        """PyTorch's FLOPs (2 × MACs)."""
        return 2 * self.macs


def _ratio_formula(family: str, state: ExplorerState) -> tuple[str, str, float, str]:
    m, n, k, p = state.in_channels, state.out_channels, state.kernel_size, state.p
    k2 = f"{k}²"
    if family == "standard":
        return "1", "1", 1.0, ""
    if family == "hetconv":
        value = hetconv_ratio(k, p)
        numbers = f"1/{p} + (1 − 1/{p})/{k2} = {1 / p:.4f} + {(1 - 1 / p) / k**2:.4f}"
        return "1/P + (1 − 1/P)/K²", numbers, value, ""
    if family == "naive_hetconv":
        value = naive_hetconv_ratio(k, p)
        numbers = f"1/{p} + 1/{k2} = {1 / p:.4f} + {1 / k**2:.4f}"
        return "1/P + 1/K²", numbers, value, "the extra 1/P · 1/K² is the overlap (K×K + 1×1)"
    if family == "depthwise_pointwise":
        value = depthwise_pointwise_ratio(n, k)
        numbers = f"1/{n} + 1/{k2} = {1 / n:.4f} + {1 / k**2:.4f}"
        return "1/N + 1/K²", numbers, value, ""
    if family == "groupwise_pointwise":
        if m == n:
            value = groupwise_pointwise_ratio(p, k)
            numbers = f"1/{p} + 1/{k2} = {1 / p:.4f} + {1 / k**2:.4f}"
            return "1/G + 1/K²", numbers, value, ""
        value = m / (n * p) + 1 / k**2
        numbers = f"{m}/({n}·{p}) + 1/{k2} = {m / (n * p):.4f} + {1 / k**2:.4f}"
        note = "1/G + 1/K² holds for M = N; the groupwise stage is M→M, so here M/(N·G) + 1/K²"
        return "M/(N·G) + 1/K²", numbers, value, note
    raise ValueError(f"unknown family {family!r}")


def _weights_formula(family: str, state: ExplorerState) -> str:
    m, n, k, p = state.in_channels, state.out_channels, state.kernel_size, state.p
    if family == "standard":
        return f"N·M·K² = {n}·{m}·{k * k}"
    if family == "hetconv":
        return f"N·(M·K²/P + M − M/P) = {n}·({m * k * k // p} + {m - m // p})"
    if family == "naive_hetconv":
        return f"N·(M·K²/P + M) = {n}·({m * k * k // p} + {m})"
    if family == "depthwise_pointwise":
        return f"M·K² + N·M = {m * k * k} + {n * m}"
    if family == "groupwise_pointwise":
        return f"M·M·K²/G + N·M = {m * m * k * k // p} + {n * m}"
    raise ValueError(f"unknown family {family!r}")


def family_numbers(state: ExplorerState, family: str | None = None) -> FamilyNumbers:
    """The counters of ``family`` (default ``state.family``) at ``state``'s setting."""
    family = state.family if family is None else family
    m, n, k, d = state.in_channels, state.out_channels, state.kernel_size, state.out_size
    stages = explorer_stages(family, m, n, state.p)
    counts = []
    for stage in stages:
        full_f = kernels_per_filter(stage.pattern, Kernel.FULL)
        one_f = kernels_per_filter(stage.pattern, Kernel.ONE)
        full_c = kernels_per_channel(stage.pattern, Kernel.FULL)
        i = state.filter_index
        has = i < stage.out_channels
        full_i = int(full_f[i]) if has else None
        one_i = int(one_f[i]) if has else None
        weights_i = int(stage_weights(stage.pattern[i : i + 1], k)) if has else None
        counts.append(
            StageCount(
                name=stage.name,
                filters=stage.out_channels,
                full_in_filter=full_i,
                one_in_filter=one_i,
                weights_in_filter=weights_i,
                full_per_channel=(int(full_c.min()), int(full_c.max())),
                weights=stage_weights(stage.pattern, k),
            )
        )
    spec = conv_spec(family, state.p)
    cost = layer_cost(spec, m, n, k, d, bias=False)
    formula, numbers, value, note = _ratio_formula(family, state)
    return FamilyNumbers(
        family=family,
        title=family_title(family, state.p),
        spec=spec,
        stages=tuple(counts),
        weights=cost.params,
        weights_formula=_weights_formula(family, state),
        macs=cost.macs,
        standard=standard_macs(d, m, n, k),
        formula=formula,
        formula_numbers=numbers,
        formula_value=value,
        formula_note=note,
    )


def _per_stage(numbers: FamilyNumbers, attr: str) -> str:
    values = [getattr(s, attr) for s in numbers.stages]
    if len(values) == 1:
        return "—" if values[0] is None else f"{values[0]:,}"
    parts = []
    for i, v in enumerate(values):
        parts.append(f"stage {i + 1}: {'—' if v is None else f'{v:,}'}")
    return "<br>".join(parts)


def _channel_cover(numbers: FamilyNumbers) -> str:
    parts = []
    for i, s in enumerate(numbers.stages):
        lo, hi = s.full_per_channel
        value = f"{lo}" if lo == hi else f"{lo}–{hi}"
        prefix = f"stage {i + 1}: " if len(numbers.stages) > 1 else ""
        parts.append(prefix + value)
    return "<br>".join(parts)


def _compact_per_stage(numbers: FamilyNumbers, attr: str) -> str:
    """One line per family: ``"4"``, or ``"1 + 16"`` (stage 1 + stage 2)."""
    values = [getattr(s, attr) for s in numbers.stages]
    return " + ".join("—" if v is None else f"{v:,}" for v in values)


def _layer_line(state: ExplorerState) -> str:
    return (
        f"Layer: M = {state.in_channels} input channels, N = {state.out_channels} filters, "
        f"K = {state.kernel_size}, P = {state.p}."
    )


def key_numbers_html(state: ExplorerState) -> str:
    """The numbers a class reads beside the map (HTML, class ``hetconv-counters``): for each
    family the K×K and 1×1 kernels of the selected filter, the layer's weights and MACs and
    **MACs ÷ standard**, then the layer's M, N, K, P. Two-stage families show
    ``stage 1 + stage 2``. :func:`counters_html` has every count with its formula.

    Values carry ``data-counter``/``data-family`` attributes so tests can read them.
    """
    fams = [family_numbers(state, f) for f in state.families]
    n, d = state.filter_index, state.out_size

    def cell(key: str, fam: FamilyNumbers, value: str) -> str:
        return f"<td class='num' data-counter='{key}' data-family='{fam.family}'>{value}</td>"

    rows = [
        ("", f"K×K in filter {n}",
         [cell("full_in_filter", f, _compact_per_stage(f, "full_in_filter")) for f in fams]),
        ("", f"1×1 in filter {n}",
         [cell("one_in_filter", f, _compact_per_stage(f, "one_in_filter")) for f in fams]),
        ("", "weights (layer)", [cell("weights", f, f"{f.weights:,}") for f in fams]),
        ("", f"MACs, D<sub>o</sub> = {d}", [cell("macs", f, f"{f.macs:,}") for f in fams]),
        (" class='total'", "MACs ÷ standard", [cell("ratio", f, f"{f.ratio:.4f}") for f in fams]),
    ]  # fmt: skip
    head = "".join(f"<th data-family='{f.family}'>{html.escape(f.title)}</th>" for f in fams)
    body = "".join(
        f"<tr{cls}><td class='label'>{label}</td>{''.join(cells)}</tr>"
        for cls, label, cells in rows
    )
    stages = any(len(f.stages) > 1 for f in fams)
    note = _layer_line(state) + (" Two stages: stage 1 + stage 2." if stages else "")
    return (
        f"<div class='hetconv-counters'><table class='hetconv-table'><tr><th></th>{head}</tr>"
        f"{body}</table><div class='hetconv-note'>{note}</div></div>"
    )


def counters_html(state: ExplorerState) -> str:
    """Every count as an HTML table: one value column per family, formulas with numbers,
    and what MACs and FLOPs mean (the explorer's "All counts, with formulas").

    Values carry ``data-counter``/``data-family`` attributes so tests can read them.
    """
    fams = [family_numbers(state, f) for f in state.families]
    n, d = state.filter_index, state.out_size
    k = state.kernel_size

    def cell(key: str, fam: FamilyNumbers, value: str, formula: str = "") -> str:
        extra = f"<br><span class='hetconv-note'>{formula}</span>" if formula else ""
        return (
            f"<td class='num' data-counter='{key}' data-family='{fam.family}'>{value}{extra}</td>"
        )

    rows: list[tuple[str, list[str]]] = [
        (
            f"{k}×{k} (K×K) kernels in filter {n}",
            [cell("full_in_filter", f, _per_stage(f, "full_in_filter")) for f in fams],
        ),
        (
            f"1×1 kernels in filter {n}",
            [cell("one_in_filter", f, _per_stage(f, "one_in_filter")) for f in fams],
        ),
        (
            f"weights in filter {n}",
            [cell("weights_in_filter", f, _per_stage(f, "weights_in_filter")) for f in fams],
        ),
        (
            "filters giving one input channel a K×K kernel",
            [cell("full_per_channel", f, _channel_cover(f)) for f in fams],
        ),
        (
            "weights in the layer (no bias)",
            [cell("weights", f, f"{f.weights:,}", f.weights_formula) for f in fams],
        ),
        (
            f"MACs, output {d}×{d} (D<sub>o</sub> = {d})",
            [cell("macs", f, f"{f.macs:,}") for f in fams],
        ),
        (
            "standard convolution MACs",
            [cell("standard", f, f"{f.standard:,}", "D<sub>o</sub>²·M·N·K²") for f in fams],
        ),
        (
            "MACs ÷ standard",
            [
                cell(
                    "ratio",
                    f,
                    f"{f.ratio:.4f}",
                    f"{f.formula} = {f.formula_numbers}"
                    + (f"<br>({html.escape(f.formula_note)})" if f.formula_note else ""),
                )
                for f in fams
            ],
        ),
        (
            "FLOPs as PyTorch counts them (2 × MACs)",
            [cell("flops", f, f"{f.flops:,}") for f in fams],
        ),
    ]
    head = "".join(f"<th data-family='{f.family}'>{html.escape(f.title)}</th>" for f in fams)
    body = "".join(f"<tr><td>{label}</td>{''.join(cells)}</tr>" for label, cells in rows)
    notes = (
        f"<p class='hetconv-note hetconv-prose'>{_layer_line(state)} MACs are "
        f"multiply–accumulates, one per weight per output position (MACs = weights × "
        f"D<sub>o</sub>², here D<sub>o</sub> = {d}); the paper calls them FLOPs. Bias is not "
        "counted.</p>"
    )
    return (
        f"<div class='hetconv-counts'><table class='hetconv-table'><tr><th></th>{head}</tr>"
        f"{body}</table>{notes}</div>"
    )
