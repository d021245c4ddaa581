"""A configuration drawn over the network (:func:`config_figure`): each switchable layer's P
as a bar, one group per layer, one colour per configuration."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from hetconv_edu.study.results import OptimalPResults
from hetconv_edu.viz import style
from hetconv_edu.viz.best_p.common import COLORS, figure_layout, layer_label
from hetconv_edu.viz.training import format_count

CONFIG_FIGURE_WIDTH = 360
"""Width (px) of a configuration's bar chart: under the controls, in their column."""


def _config_hover(results: OptimalPResults, name: str, config: Sequence[int]) -> list[str]:
    """Per layer at its P in ``config``: channels, output size, MACs, measured times and
    sensitivity."""
    hover = []
    for layer, p in zip(results.layers, config, strict=True):
        j = layer.choices.index(p)
        hover.append(
            f"<b>{html.escape(name)}</b>: P={p}<br>{html.escape(layer.name)}"
            f"<br>M={layer.in_channels} → N={layer.out_channels}, output "
            f"{layer.out_size}×{layer.out_size}<br>{format_count(layer.macs[j])} MACs "
            f"({layer.macs[j] / layer.macs[0]:.0%} of P={layer.choices[0]})"
            f"<br>measured {layer.infer_ms[j]:.3g} ms inference, "
            f"{layer.train_ms[j]:.3g} ms training step (per image)"
            f"<br>sensitivity: −{100 * layer.loss[j]:.2f} points"
        )
    return hover


def config_figure(
    results: OptimalPResults,
    configs: Mapping[str, Sequence[int]],
    *,
    title: str | None = None,
    width: int | None = CONFIG_FIGURE_WIDTH,
) -> go.Figure:
    """Per-layer P of each configuration in ``configs`` (name → one P per switchable layer),
    as grouped bars over the network's layers (log-2 P axis; each bar's P written on it, the
    axis's P lines unlabelled so that their labels never crowd a short plot), ``width`` pixels
    wide in the default style (default: a column of controls' width, wider with the column in
    the projector style; None: as wide as its place). The layers are labelled upright
    (position: M→N). With more than one configuration, their legend sits between the
    title and the bars. Hover: the layer's channels and output size, its MACs and measured
    times at that P, and its sensitivity (accuracy lost when only this layer takes that P).

    Raises ``ValueError`` (from :meth:`OptimalPResults.check_config`) for a configuration
    that does not fit the layers."""
    fig = go.Figure()
    labels = [layer_label(i, layer) for i, layer in enumerate(results.layers)]
    palette = (COLORS["best"], COLORS["pick"], COLORS["predicted"], COLORS["uniform"])
    top = 1
    for n, (name, config) in enumerate(configs.items()):
        config = results.check_config(config)
        top = max(top, *config)
        fig.add_trace(
            go.Bar(
                x=labels,
                y=list(config),
                name=name,
                marker={"color": palette[n % len(palette)]},
                text=[str(p) for p in config],
                textposition="outside",
                cliponaxis=False,
                hovertext=_config_hover(results, name, config),
                hoverinfo="text",
            )
        )
    fig.update_yaxes(
        title_text="P (log scale)",
        type="log",
        tickvals=[2**i for i in range(int(math.log2(top)) + 1)],
        showticklabels=False,
        range=[-0.15, math.log10(top) + 0.3],
    )
    fig.update_xaxes(title_text="layer (M→N)", tickangle=0)
    legend = len(configs) > 1
    return figure_layout(
        fig,
        title or "Per-layer P over the network",
        height=250,
        width=width,
        meta={style.COLUMN_WIDTH: width is not None},
        barmode="group",
        margin={"l": 40, "r": 8, "t": 72 if legend else 44, "b": 52},
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0.0},
    )
