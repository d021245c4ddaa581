"""Figures of the kernel-arrangement explorer: pure functions, state in → plotly data out.

Three views of one layer setting (:class:`ExplorerState`), everything counted on the kernel
maps of :mod:`hetconv_edu.pattern` and the costs of :mod:`hetconv_edu.flops`, one module each:

1. :func:`map_figure_data` (:mod:`~hetconv_edu.viz.explorer.map`) — the N×M filter-by-channel
   map of each stage, coloured by kernel kind. Each panel is drawn by four heatmap traces, one
   per kernel kind, each holding only the cells of its kind in plotly's column form (1-D
   ``x``, ``y``, ``z``, :mod:`~hetconv_edu.viz.explorer.cells`): numeric 1-D arrays travel
   to the browser as binary buffers, so a 512×512 map updates in milliseconds, and every trace
   has one fixed hover text ("3×3 kernel, 9 weights") without a string per cell.
2. :func:`filter_figure_data` (:mod:`~hetconv_edu.viz.explorer.filter`) — the selected filter
   drawn as its stack of kernels at their real sizes (K×K squares, single 1×1 cells), one
   strip per stage, over a window of channels.
3. :func:`counters_html` (:mod:`~hetconv_edu.viz.explorer.counters`, numbers from
   :func:`family_numbers`) — kernels and weights per filter, weights and MACs per layer, the
   cost ratio with the numbers substituted.

Both figure functions return a :class:`FigureData` with a fixed number of traces, so a
figure made once from it can be updated in place with the next state's data. The setting,
the families, the panels and the figures' sizes are in :mod:`~hetconv_edu.viz.explorer.state`.
"""

from hetconv_edu.viz.explorer.cells import cells_to_pattern, kind_cells
from hetconv_edu.viz.explorer.counters import (
    FamilyNumbers,
    StageCount,
    counters_html,
    family_numbers,
    key_numbers_html,
)
from hetconv_edu.viz.explorer.filter import filter_figure_data, filter_window
from hetconv_edu.viz.explorer.map import MapGeometry, map_figure_data, map_geometry
from hetconv_edu.viz.explorer.state import (
    EXPLORER_FAMILIES,
    FILTER_MARGIN,
    FILTER_TRACES,
    FILTER_WINDOW_COLUMNS,
    GRID_GAP_X_PX,
    KINDS,
    MAP_GRID_PLOT_PX,
    MAP_MARGIN,
    MAP_PLOT_PX,
    MAP_TRACES,
    MAX_CELL_PX,
    MAX_PANELS,
    PANEL_GAP_PX,
    ExplorerState,
    FigureData,
    MapPanel,
    conv_spec,
    explorer_stages,
    family_title,
    map_panels,
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
