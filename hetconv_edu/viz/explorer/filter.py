"""The explorer's second figure: the selected filter drawn as its stack of kernels at their
real sizes (K×K squares, single 1×1 cells), one strip per stage, over a window of channels
(:func:`filter_figure_data`)."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hetconv_edu.pattern import Kernel
from hetconv_edu.viz.explorer.cells import column_form, dtick, kind_style, legend_entries
from hetconv_edu.viz.explorer.state import (
    FILTER_LABEL_PX,
    FILTER_MARGIN,
    FILTER_MAX_CELL_PX,
    FILTER_NOTE_LINE_PX,
    FILTER_PLOT_WIDTH_PX,
    FILTER_WINDOW_COLUMNS,
    KINDS,
    ExplorerState,
    FigureData,
    explorer_stages,
    map_panels,
)
from hetconv_edu.viz.style import (
    FONT_SIZE,
    NOTE_COLOR,
    PIXEL_EXACT,
    base_layout,
    kind_hover,
    kind_label,
    themed_json,
)


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


@dataclass(frozen=True)
class _Strips:
    """The strips of the filter figure and their grid: ``strips`` holds (label, the filter's
    kernels in the window) per stage that has the filter, ``skipped`` says which lack it.
    Channel m of the window takes ``slot`` = K + 1 grid columns; each strip takes ``band``
    grid rows, its label's ``label_rows`` first; every grid cell is ``cell_px`` px square."""

    strips: list[tuple[str, np.ndarray]]
    skipped: list[str]
    start: int
    width: int
    k: int
    cell_px: int
    label_rows: int

    @property
    def slot(self) -> int:
        return self.k + 1

    @property
    def band(self) -> int:
        return self.label_rows + self.k + 1

    @property
    def n_cols(self) -> int:
        return self.width * self.slot - 1

    @property
    def n_rows(self) -> int:
        return max(1, len(self.strips) * self.band - 1)


def _filter_strips(state: ExplorerState) -> _Strips:
    """The selected filter's row of each stage over the window, and the grid it is drawn on."""
    n = state.filter_index
    start, width = filter_window(state)
    strips: list[tuple[str, np.ndarray]] = []
    skipped: list[str] = []
    for panel in map_panels(state):
        rows = panel.stage.out_channels
        label = f"{panel.title}: filter {n}"
        if n < rows:
            strips.append((label, panel.stage.pattern[n, start : start + width]))
        else:
            skipped.append(f"{panel.title} has only {rows} filters")
    n_cols = width * (state.kernel_size + 1) - 1
    # Square cells of whole pixels; each strip has its label above it (in grid rows).
    cell_px = int(max(2, min(FILTER_MAX_CELL_PX, FILTER_PLOT_WIDTH_PX // n_cols)))
    label_rows = math.ceil(FILTER_LABEL_PX / cell_px)
    return _Strips(strips, skipped, start, width, state.kernel_size, cell_px, label_rows)


def _kind_trace(grid: _Strips, kind: Kernel) -> dict[str, Any]:
    """The heatmap of the ``kind`` kernels of every strip: a K×K kernel fills a K×K block of
    its channel's slot, any other kind the slot's centre cell; each cell's hover names the
    strip, the channel and the kind."""
    k = grid.k
    channels = np.arange(grid.start, grid.start + grid.width)
    block = np.arange(k)
    cell_rows, cell_cols, texts = [], [], []
    for s, (label, row) in enumerate(grid.strips):
        ms = np.flatnonzero(row == kind)
        if ms.size == 0:
            continue
        r0 = s * grid.band + grid.label_rows
        c0 = ms * grid.slot
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
    x, y, z = column_form(rows_arr, cols_arr, grid.n_rows, grid.n_cols)
    texts += [""] * (z.size - len(texts))
    return {
        "type": "heatmap",
        "xaxis": "x",
        "yaxis": "y",
        "name": kind_label(kind, k),
        "x": x,
        "y": y,
        "z": z,
        "text": texts,
        "hovertemplate": "%{text}<extra></extra>",
        **kind_style(kind),
    }


def filter_figure_data(state: ExplorerState) -> FigureData:
    """The selected filter as its stack of kernels at their real shapes, one strip per stage.

    Channel m of the window takes K + 1 grid columns: a K×K kernel fills a K×K block, a 1×1
    kernel one centre cell, a missing kernel (other group) one light-grey cell. Trace j is the
    heatmap of kind ``KIND_ORDER[j]``; the last four are the legend entries.
    """
    grid = _filter_strips(state)
    traces = [_kind_trace(grid, kind) for kind in KINDS]
    present = {kind for kind, trace in zip(KINDS, traces, strict=True) if _has_cells(trace)}
    traces += legend_entries(state.kernel_size, present)
    return FigureData(*themed_json(traces, _filter_layout(state, grid)))


def _has_cells(trace: dict[str, Any]) -> bool:
    """Whether a kind's heatmap draws any cell (not only grid padding)."""
    return bool(np.any(~np.isnan(trace["z"])))


def _filter_annotations(state: ExplorerState, grid: _Strips) -> list[dict[str, Any]]:
    """The window note at the top right (which channels, which stages lack the filter) and
    each strip's label above it."""
    start, width = grid.start, grid.width
    note = f"channels {start}–{start + width - 1} of {state.in_channels}"
    if width < state.in_channels:
        note += " (a window)"
    if grid.skipped:
        note += "<br>" + html.escape("; ".join(grid.skipped))
    window_note = {
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
    labels = [
        {
            "text": html.escape(label),
            "x": -0.5,
            "y": s * grid.band + grid.label_rows - 0.5,
            "xref": "x",
            "yref": "y",
            "xanchor": "left",
            "yanchor": "bottom",
            "showarrow": False,
            "font": {"size": FONT_SIZE - 2},
        }
        for s, (label, _row) in enumerate(grid.strips)
    ]
    return [window_note, *labels]


def _filter_axes(grid: _Strips) -> dict[str, Any]:
    """The x axis (channel numbers under their kernels, one per few channels) and the y axis
    (no labels, square cells) of the filter figure."""
    start, width, slot = grid.start, grid.width, grid.slot
    tick_step = dtick(width, target=max(2, width * slot * grid.cell_px // 36))
    shown = [m for m in range(start, start + width) if m % tick_step == 0]
    xaxis = {
        "domain": [0.0, 1.0],
        "range": [-0.5, grid.n_cols - 0.5],
        "autorange": False,
        "constrain": "domain",  # if plotly must give up pixels, not a cell more of range
        "tickmode": "array",
        "tickvals": [(m - start) * slot + (grid.k - 1) / 2 for m in shown],
        "ticktext": [str(m) for m in shown],
        "showgrid": False,
        "zeroline": False,
    }
    yaxis = {
        "domain": [0.0, 1.0],
        "range": [grid.n_rows - 0.5, -0.5],
        "autorange": False,
        "scaleanchor": "x",
        "scaleratio": 1,
        "constrain": "domain",
        "showticklabels": False,
        "showgrid": False,
        "zeroline": False,
    }
    return {"xaxis": xaxis, "yaxis": yaxis}


def _filter_layout(state: ExplorerState, grid: _Strips) -> dict[str, Any]:
    """The filter figure's layout: sized in whole pixels per cell, its title, the notes."""
    margin = dict(FILTER_MARGIN)
    if grid.skipped:
        margin["t"] += FILTER_NOTE_LINE_PX
    return base_layout(
        width=margin["l"] + grid.n_cols * grid.cell_px + margin["r"],
        height=margin["t"] + grid.n_rows * grid.cell_px + margin["b"],
        autosize=False,
        margin=margin,
        meta={PIXEL_EXACT: True},
        title={
            "text": f"Filter {state.filter_index} at its real size",
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
        annotations=_filter_annotations(state, grid),
        **_filter_axes(grid),
    )
