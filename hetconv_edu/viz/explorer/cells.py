"""Kernel-map cells as plotly heatmap data, and how each kernel kind is drawn.

Both figures draw each kernel kind as one heatmap in plotly's column form (1-D ``x``, ``y``,
``z``, :func:`column_form`), coloured and labelled the same way (:func:`kind_style`,
:func:`cell_text`), with one legend entry per kind shown only when the kind is drawn
(:func:`legend_entries`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hetconv_edu.pattern import Kernel
from hetconv_edu.viz.explorer.state import KINDS
from hetconv_edu.viz.style import FONT_SIZE, KIND_COLORS, TEXT_COLOR, kind_legend_traces


def _index_dtype(limit: int) -> type:
    return np.int16 if limit < np.iinfo(np.int16).max else np.int32


def column_form(
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
    # so the padding of column_form is usually empty.
    rows, cols = np.nonzero(pattern == kind)
    return column_form(rows, cols, n_rows, n_cols)


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


def dtick(size: int, target: int = 8) -> int:
    """The tick step (a power of two) that puts at most ``target`` ticks on ``size`` cells."""
    step = 1
    while size / step > target:
        step *= 2
    return step


def kind_style(kind: Kernel) -> dict[str, Any]:
    """Heatmap properties of a kind: its one colour, legible cell text, its legend group."""
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


def cell_text(kind: Kernel, k: int) -> str:
    """The text printed in a cell of ``kind``: the kernel size K, ``1``, ``+`` or nothing."""
    # The overlap (K×K + 1×1) gets a short "+": "3+1" does not fit a cell.
    return {Kernel.FULL: f"{k}", Kernel.ONE: "1", Kernel.BOTH: "+", Kernel.NONE: ""}[kind]


def legend_entries(k: int, present: set[Kernel]) -> list[dict[str, Any]]:
    """One legend entry per kind (plotly property dicts), shown only for the kinds in
    ``present``."""
    entries = []
    for legend in kind_legend_traces(KINDS, k):
        entry = legend.to_plotly_json()
        kind = Kernel(int(entry["legendgroup"].removeprefix("kind")))
        entry["showlegend"] = kind in present
        entries.append(entry)
    return entries
