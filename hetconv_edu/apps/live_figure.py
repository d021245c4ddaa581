"""The one way every app puts a plotly figure on the page: :class:`LiveFigure`.

Why not plotly's ``FigureWidget``: in plotly 6+ it is an anywidget whose front end is a 5 MB
script, evaluated once per figure, and anywidget (0.11) gives each widget 2 s to start in the
browser; a widget that misses that deadline never applies a later update (every message waits
for the failed start). A page that makes many figures at once on a slow machine (Voilà on a
classroom laptop, a reloaded JupyterLab) then shows figures frozen at their first state beside
numbers that do update.

A :class:`LiveFigure` instead sends the **whole figure** on every change, as the content of a
core ``ipywidgets.Output`` (no start-up deadline, restored by JupyterLab after a page reload
like any other widget state) in plotly's own MIME type ``application/vnd.plotly.v1+json``,
which the ``jupyterlab-plotly`` renderer of the installed plotly package draws with its bundled
plotly.js (offline; JupyterLab and Voilà both load it). Nothing is diffed: what the page shows
is the last figure Python holds, or nothing.

If the page cannot draw a figure (no renderer, a renderer error), the figure's place is not
empty: under the plot, covered by it once drawn, sits a button "Figure not live — click to
redraw" that sends the figure again (:meth:`LiveFigure.redraw`). A stale figure cannot sit
beside updated numbers: every change replaces the whole drawing.

Use::

    live = LiveFigure(some_figure(), css_class="hetconv-map")   # shown via live.widget
    live.show(another_figure())            # replace the figure
    with live.batch_update():              # or change it in place: one message at the end
        live.figure.data[0].x = [1, 2, 3]

``live.data`` / ``live.layout`` read the figure Python holds (what the page is sent).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from _plotly_utils.utils import to_typed_array_spec

from hetconv_edu.viz import style

__all__ = [
    "ACTION_CLASS",
    "LIVE_CLASS",
    "LIVE_CSS",
    "MIME_TYPE",
    "NO_FIGURE_CLASS",
    "REDRAW_LABEL",
    "LiveFigure",
]

MIME_TYPE = "application/vnd.plotly.v1+json"
"""The MIME type plotly's JupyterLab/Voilà renderer draws."""
LIVE_CLASS = "hetconv-live-figure"
"""CSS class of every live figure's outer box (the page's handle on all figures)."""
ACTION_CLASS = "hetconv-action-figure"
"""CSS class of a live figure that changes only when a button's action runs (training curves,
measured timings), not when a control is moved."""
NO_FIGURE_CLASS = "hetconv-no-figure"
"""CSS class of a control that by design redraws no figure (it changes numbers only, or sets
up an action a button starts); the browser tests expect every other control of a section to
redraw one of its figures."""
LIVE_CSS = (
    f".{LIVE_CLASS} > .hetconv-live-plot {{ pointer-events: none; }} "
    f".{LIVE_CLASS} .js-plotly-plot {{ pointer-events: auto; }}"
)
"""The rules shipped inside every live figure: its plot area lets the mouse through to the
redraw button underneath, except where a plot is drawn."""
REDRAW_LABEL = "Figure not live — click to redraw"
"""What the button under a figure says; seen only where the page could not draw the figure."""


def _jsonable(value: Any) -> Any:
    """``value`` (plotly property values) with JSON types only: numeric numpy arrays become
    plotly.js typed-array specs (what ``plotly.io.to_json`` writes, at a fraction of its cost),
    other arrays lists, numpy scalars Python numbers, non-finite floats ``None``."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf" and value.size:
            spec = to_typed_array_spec(value)
            if isinstance(spec, dict):
                return spec
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class LiveFigure:
    """A plotly figure shown on the page, re-sent whole on every change (see the module).

    Args:
        figure: the figure to show (already in the current theme, as figure modules make
            them); default: an empty ``go.Figure``.
        css_class: an extra CSS class for :attr:`widget` (tests and layouts find it by this).
        action: True for a figure that only a button's action changes (training curves,
            measurements): :attr:`widget` gets :data:`ACTION_CLASS`.

    Attributes:
        figure: the ``go.Figure`` Python holds; change it inside :meth:`batch_update`, or
            replace it with :meth:`show`.
        widget: what to put into a box: the plot over its redraw button.
        sends: how many times the figure was sent (tests: one send per change).

    Raises:
        TypeError: if ``figure`` is not a ``go.Figure``.
    """

    def __init__(
        self, figure: go.Figure | None = None, *, css_class: str | None = None, action: bool = False
    ) -> None:
        self._check(figure if figure is not None else go.Figure())
        self.figure: go.Figure = figure if figure is not None else go.Figure()
        self.sends = 0
        self._depth = 0
        self._output = widgets.Output(
            layout=widgets.Layout(grid_area="plot", width="100%", margin="0")
        )
        self._output.add_class("hetconv-live-plot")
        self.redraw_button = widgets.Button(
            description=REDRAW_LABEL,
            icon="refresh",
            tooltip="The page did not draw this figure; click to send it again.",
            layout=widgets.Layout(grid_area="plot", width="auto", margin="auto"),
        )
        self.redraw_button.add_class("hetconv-redraw")
        self.redraw_button.on_click(lambda _button: self.redraw())
        sheet = widgets.HTML(f"<style>{LIVE_CSS}</style>", layout=widgets.Layout(display="none"))
        self.widget = widgets.Box(
            [self.redraw_button, self._output, sheet],  # the plot is drawn over the button
            layout=widgets.Layout(
                display="grid", grid_template_areas='"plot"', width="100%", overflow="hidden"
            ),
        )
        self.widget.add_class(LIVE_CLASS)
        if css_class:
            self.widget.add_class(css_class)
        if action:
            self.widget.add_class(ACTION_CLASS)
        style.track_figure(self)
        self.send()

    @staticmethod
    def _check(figure: Any) -> None:
        if not isinstance(figure, go.Figure):
            raise TypeError(f"figure must be a plotly go.Figure, got {type(figure).__name__}")

    # -- reading what is shown

    @property
    def data(self) -> tuple[Any, ...]:
        """The traces of :attr:`figure`."""
        return self.figure.data

    @property
    def layout(self) -> go.Layout:
        """The layout of :attr:`figure` (the plotly layout, not the widget's)."""
        return self.figure.layout

    def bundle(self) -> dict[str, Any]:
        """The figure as plotly's MIME bundle content: ``{"data": [...], "layout": {...}}``
        (JSON types only; numeric arrays as plotly's base64 typed-array specs, NaN as null).

        Equal to ``json.loads(plotly.io.to_json(figure))``; read from the figure's own property
        dicts (``_data``, ``_layout``) because ``to_plotly_json`` deep-copies them first, which
        costs more than the encoding (a 512×512 kernel map)."""
        return _jsonable({"data": self.figure._data, "layout": self.figure._layout})

    @property
    def sent(self) -> dict[str, Any] | None:
        """The figure the page was last sent (a :meth:`bundle`), or None once cleared."""
        outputs = self._output.outputs
        return outputs[0]["data"][MIME_TYPE] if outputs else None

    # -- changing it

    def add_class(self, name: str) -> LiveFigure:
        """Add a CSS class to :attr:`widget`; returns ``self``."""
        self.widget.add_class(name)
        return self

    def show(self, figure: go.Figure) -> None:
        """Replace the figure with ``figure`` (in the current theme) and send it."""
        self._check(figure)
        self.figure = figure
        self.send()

    @contextlib.contextmanager
    def batch_update(self) -> Iterator[go.Figure]:
        """Change :attr:`figure` in place inside the block; it is sent once at the end
        (nested blocks send once, at the end of the outermost). Yields the figure."""
        self._depth += 1
        try:
            yield self.figure
        finally:
            self._depth -= 1
        if self._depth == 0:
            self.send()

    def send(self) -> None:
        """Send the whole figure to the page (deferred to the end of a :meth:`batch_update`)."""
        if self._depth:
            return
        height, width = self.figure.layout.height, self.figure.layout.width
        self._output.layout.min_height = f"{int(height)}px" if height else None
        # a figure of a set width: its box is that wide (no redraw button peeking out), also
        # where a row (apps.controls.columns) lets it grow
        self.widget.layout.width = f"{int(width)}px" if width else "100%"
        self.widget.layout.max_width = f"{int(width)}px" if width else None
        self._output.outputs = (
            {"output_type": "display_data", "data": {MIME_TYPE: self.bundle()}, "metadata": {}},
        )
        self.sends += 1

    def redraw(self) -> None:
        """Draw the figure afresh: clear the page's copy, then send it again."""
        self._output.outputs = ()
        self.send()

    def restyle(self, src: style.Theme, dst: style.Theme) -> None:
        """Redraw in theme ``dst`` (called by :func:`hetconv_edu.viz.style.set_projector`)."""
        style.restyle_figure(self.figure, src, dst)
        self.send()
