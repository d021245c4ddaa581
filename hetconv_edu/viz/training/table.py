"""The results table of every run, as a plotly table and as HTML."""

from __future__ import annotations

import html
from collections.abc import Sequence

import plotly.graph_objects as go

from hetconv_edu.viz.style import TABLE_HEAD, TEXT_COLOR, apply_layout, themed
from hetconv_edu.viz.training.common import format_count, run_color
from hetconv_edu.viz.training.runs import RunResult

TABLE_COLUMNS = (
    "run", "test accuracy", "parameters", "MACs / image", "MACs vs first", "s / epoch",
    "images / s",
)  # fmt: skip


def _table_rows(results: Sequence[RunResult]) -> list[list[str]]:
    base = results[0].macs if results else None
    rows = []
    for r in results:
        acc = "–" if r.test_acc is None else f"{100 * r.test_acc:.1f}%"
        if r.stopped:
            acc += " (stopped)"
        rel = f"{r.macs / base:.2f}×" if base else "–"
        rows.append(
            [
                r.name,
                acc,
                format_count(r.params),
                format_count(r.macs),
                rel,
                "–" if r.seconds_per_epoch is None else f"{r.seconds_per_epoch:.1f}",
                "–" if r.images_per_s is None else f"{r.images_per_s:,.0f}",
            ]
        )
    return rows


def results_table(results: Sequence[RunResult], *, title: str | None = "Results") -> go.Figure:
    """A table of every run: test accuracy, parameters, MACs per image (and relative to the
    first run), seconds per epoch and training images per second."""
    rows = _table_rows(results)
    columns = [list(col) for col in zip(*rows, strict=True)] if rows else [[]] * len(TABLE_COLUMNS)
    colors = [r.color or run_color(i) for i, r in enumerate(results)]
    fig = go.Figure(
        go.Table(
            header={
                "values": [f"<b>{c}</b>" for c in TABLE_COLUMNS], "align": "left",
                "fill_color": TABLE_HEAD, "font": {"size": 13},
            },
            cells={
                "values": columns, "align": "left", "height": 26,
                "font": {"size": 13, "color": [colors] + [[TEXT_COLOR] * len(rows)] * 6},
            },
            columnwidth=[2.2, 1.6, 1.1, 1.2, 1.1, 0.9, 1],
        )
    )  # fmt: skip
    apply_layout(fig)
    fig.update_layout(
        title=title, height=90 + 28 * max(len(rows), 1) + (30 if title else 0),
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
    )  # fmt: skip
    return themed(fig)


def results_table_html(results: Sequence[RunResult]) -> str:
    """The same table as :func:`results_table`, as HTML (for an ``ipywidgets.HTML``); each
    run's name in its colour."""
    head = "".join(f"<th>{c}</th>" for c in TABLE_COLUMNS)
    body = []
    for i, (row, result) in enumerate(zip(_table_rows(results), results, strict=True)):
        cells = []
        for j, value in enumerate(row):
            if j == 0:
                color = result.color or run_color(i)
                cells.append(f"<td style='color:{color}'><b>{html.escape(value)}</b></td>")
            else:
                cells.append(f"<td class='num'>{html.escape(value)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    if not body:
        span = len(TABLE_COLUMNS)
        body.append(f"<tr><td colspan={span} class='hetconv-note'>no run yet</td></tr>")
    return (
        f"<table class='hetconv-table hetconv-results'>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )
