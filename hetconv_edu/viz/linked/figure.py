"""The linked explorer's figure: the overview (kernel map) and detail (filter n over its input
channels, and applied to an image) panels assembled into one plotly figure, so the page draws
them at once.
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

from hetconv_edu.viz.explorer import ExplorerState, FigureData
from hetconv_edu.viz.linked.filter_row import filter_row_parts
from hetconv_edu.viz.linked.geometry import FIGURE_HEIGHT, FIGURE_WIDTH, Parts
from hetconv_edu.viz.linked.kernel_map import kernel_map_parts
from hetconv_edu.viz.linked.responses import photo_parts, response_parts
from hetconv_edu.viz.linked.state import FilterView
from hetconv_edu.viz.style import base_layout, themed_json

__all__ = ["linked_figure_data", "unchecked_figure"]


def linked_figure_data(state: ExplorerState, view: FilterView) -> FigureData:
    """The overview and detail views of ``state`` (a HetConv layer; ``state.family`` is not
    drawn) with filter ``state.filter_index`` applied to an image (``view``).

    Axes: ``x``/``y`` the kernel map; ``x2``/``y2`` the filter's kernels above its input
    channels, one slot per channel of :func:`~hetconv_edu.viz.linked.state.channel_window`;
    ``x3``/``y3`` the image; ``x4``/``y4`` the response maps of
    :data:`~hetconv_edu.viz.linked.state.RESPONSE_PANELS` side by side. Traces carry
    ``meta = {"link": ...}`` (and ``"pick": "filter"`` on the map); link shapes are named
    ``link-kxk`` / ``link-1x1`` and drawn with opacity 0
    (:func:`~hetconv_edu.viz.linked.linking.link_css` shows them).

    Raises:
        ValueError: the view's filter is not the state's, or its input has not M channels.
    """
    m, f = state.in_channels, state.filter_index
    if view.filter_index != f or view.inputs.shape[0] != m:
        raise ValueError(
            f"the filter response is for filter {view.filter_index} with "
            f"{view.inputs.shape[0]} input channels; the setting needs filter {f} of M={m}"
        )
    layout = base_layout(
        width=FIGURE_WIDTH,
        height=FIGURE_HEIGHT,
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        showlegend=False,
        hovermode="closest",
        dragmode=False,
    )
    parts = Parts(layout=layout)
    for panel in (
        kernel_map_parts(state),
        filter_row_parts(state, view),
        photo_parts(view),
        response_parts(view),
    ):
        parts.extend(panel)
    parts.layout["shapes"] = parts.shapes
    parts.layout["annotations"] = parts.annotations
    themed_traces, themed_layout = themed_json(parts.traces, parts.layout)
    # Every colour, line and font is set here: no template (plotly's expand to thousands of
    # properties, a third of an update's time), in either style.
    themed_layout["template"] = "none"
    return FigureData(themed_traces, themed_layout)


def unchecked_figure(data: FigureData) -> go.Figure:
    """``data`` (from :func:`linked_figure_data`) as a ``go.Figure`` built without plotly's
    property-by-property validation, which takes 90 ms for its 20-odd traces, shapes and
    annotations (the whole update budget): the same figure JSON as ``data.figure()``
    (tested)."""
    layout = dict(data.layout)
    if isinstance(layout.get("template"), str):
        layout["template"] = pio.templates[layout["template"]].to_plotly_json()
    return go.Figure(data=list(data.traces), layout=layout, _validate=False)
