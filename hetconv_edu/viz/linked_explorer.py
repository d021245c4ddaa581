"""The linked explorer's views, by the name the app and notebook 01 import them with: every
public name of :mod:`hetconv_edu.viz.linked` (which holds the code, one idea a module: state,
geometry, kernel map, filter row, responses, figure, linking, formula)."""

from hetconv_edu.viz.linked.figure import linked_figure_data, unchecked_figure
from hetconv_edu.viz.linked.formula import formula_html
from hetconv_edu.viz.linked.geometry import FIGURE_HEIGHT, FIGURE_WIDTH
from hetconv_edu.viz.linked.linking import link_css, link_shape_indices
from hetconv_edu.viz.linked.state import (
    FIGURE_CLASS,
    LINK_ATTRIBUTE,
    LINKS,
    RESPONSE_COLORSCALE,
    RESPONSE_PANELS,
    ROOT_CLASS,
    WINDOW_CHANNELS,
    FilterView,
    channel_window,
)

__all__ = [
    "FIGURE_CLASS",
    "FIGURE_HEIGHT",
    "FIGURE_WIDTH",
    "LINKS",
    "LINK_ATTRIBUTE",
    "RESPONSE_COLORSCALE",
    "RESPONSE_PANELS",
    "ROOT_CLASS",
    "WINDOW_CHANNELS",
    "FilterView",
    "channel_window",
    "formula_html",
    "link_css",
    "link_shape_indices",
    "linked_figure_data",
    "unchecked_figure",
]
