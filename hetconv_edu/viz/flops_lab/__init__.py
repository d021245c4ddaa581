"""Figures of the FLOPs and latency lab (notebook 02): pure functions from numbers to figures.

Every function returns a fresh ``plotly.graph_objects.Figure`` and computes nothing the cost
model does not already give: the numbers come from :mod:`hetconv_edu.flops` and
:mod:`hetconv_edu.paper`. Units are stated on every axis: **MACs** (multiply-accumulates, the
paper's "FLOPs") or **FLOPs = 2 × MACs** (what ``torch.utils.flop_counter`` reports).

One module per figure or idea: ``common`` (the units, how counts are written, colours and the
shared layout), ``layer`` (one layer, five families: :func:`family_costs`,
:func:`layer_costs_figure`), ``ratio`` (:func:`ratio_curve_figure`), ``tables``
(:func:`layer_table_figure`, :func:`paper_table_figure`), ``breakdown``
(:func:`macs_by_layer_figure`), ``speedup`` (:func:`speedup_figure`) and ``panels`` (the HTML
panels); every public name is importable from here.
"""

from hetconv_edu.viz.flops_lab.breakdown import macs_by_layer_figure
from hetconv_edu.viz.flops_lab.common import UNITS, fmt_count, unit_factor
from hetconv_edu.viz.flops_lab.layer import (
    LAYER_FIGURE_WIDTH,
    SHORT_LABELS,
    FamilyCost,
    family_costs,
    layer_costs_figure,
)
from hetconv_edu.viz.flops_lab.panels import (
    PAPER_LATENCY_ROWS,
    layer_numbers_html,
    network_totals_html,
    paper_latency_html,
    tool_conventions_html,
)
from hetconv_edu.viz.flops_lab.ratio import ratio_curve_figure
from hetconv_edu.viz.flops_lab.speedup import SpeedupPoint, speedup_figure
from hetconv_edu.viz.flops_lab.tables import layer_table_figure, paper_table_figure

__all__ = [
    "LAYER_FIGURE_WIDTH",
    "PAPER_LATENCY_ROWS",
    "SHORT_LABELS",
    "UNITS",
    "FamilyCost",
    "SpeedupPoint",
    "family_costs",
    "fmt_count",
    "layer_costs_figure",
    "layer_numbers_html",
    "layer_table_figure",
    "macs_by_layer_figure",
    "network_totals_html",
    "paper_latency_html",
    "paper_table_figure",
    "ratio_curve_figure",
    "speedup_figure",
    "tool_conventions_html",
    "unit_factor",
]
