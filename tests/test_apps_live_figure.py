"""The figure transport of every app (hetconv_edu.apps.live_figure.LiveFigure): what the page
is sent is always the whole figure Python holds, once per change, in plotly's MIME type; a
redraw clears and re-sends; the projector switch re-sends; the redraw button is wired."""

from __future__ import annotations

import base64
import json

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from hetconv_edu.apps.controls import columns
from hetconv_edu.apps.live_figure import (
    LIVE_CLASS,
    LIVE_CSS,
    MIME_TYPE,
    REDRAW_LABEL,
    LiveFigure,
)
from hetconv_edu.viz import style
from hetconv_edu.viz.flops_lab import ratio_curve_figure


@pytest.fixture(autouse=True)
def _normal_style():
    style.set_projector(False)
    yield
    style.set_projector(False)


def awkward_figure() -> go.Figure:
    """Every kind of value a figure module sends: int64/float arrays with NaN, 2-D arrays,
    string arrays, lists, numpy scalars."""
    z = np.arange(12, dtype=np.int64).reshape(3, 4)
    heat = go.Heatmap(z=z, x=np.arange(4), y=np.array(["a", "b", "c"]), zmin=np.int64(0))
    line = go.Scatter(x=[1, 2, 3], y=np.array([1.5, np.nan, 2.5]), name="line")
    fig = go.Figure([heat, line])
    fig.update_layout(height=321, title="t", shapes=[{"type": "line", "x0": 0, "x1": 1}])
    return fig


def outputs_seen(live: LiveFigure) -> list[tuple]:
    seen: list[tuple] = []
    live._output.observe(lambda change: seen.append(change["new"]), names="outputs")
    return seen


def test_the_page_is_sent_what_plotly_would_write_for_the_figure():
    live = LiveFigure(awkward_figure(), css_class="my-figure")
    expected = json.loads(pio.to_json(live.figure, validate=False))
    sent = live.sent
    assert sent == expected
    # NaN travels inside a typed array (plotly.js reads it back as NaN), never as bare NaN
    spec = sent["data"][1]["y"]
    assert spec["dtype"] == "f8"
    decoded = np.frombuffer(base64.b64decode(spec["bdata"]), dtype="<f8")
    assert np.array_equal(decoded, [1.5, np.nan, 2.5], equal_nan=True)
    json.dumps(sent, allow_nan=False)  # strict JSON: what the comm layer sends
    (output,) = live._output.outputs
    assert output["output_type"] == "display_data" and list(output["data"]) == [MIME_TYPE]
    assert {LIVE_CLASS, "my-figure"} <= set(live.widget._dom_classes)
    assert live._output.layout.min_height == "321px"  # no jump while the page redraws
    assert live.layout.height == 321 and [t.name for t in live.data] == [None, "line"]


def test_changes_are_sent_whole_once_per_batch_and_show_replaces():
    live = LiveFigure(awkward_figure())
    seen = outputs_seen(live)
    with live.batch_update():
        live.figure.data[1].y = [3.0, 2.0, 1.0]
        with live.batch_update():  # nested: still one send, at the end of the outer block
            live.figure.layout.title = "changed"
        assert seen == []
    assert len(seen) == 1 and live.sends == 2
    assert live.sent["layout"]["title"]["text"] == "changed"
    assert live.sent == json.loads(pio.to_json(live.figure, validate=False))

    other = go.Figure(go.Bar(x=["p"], y=[1]), layout={"height": 200})
    live.show(other)
    assert live.figure is other and live.sent["data"][0]["type"] == "bar"
    assert live._output.layout.min_height == "200px"
    with pytest.raises(TypeError, match="got dict"):
        live.show({"data": []})
    with pytest.raises(TypeError, match="got str"):
        LiveFigure("figure")


def test_a_figure_of_a_set_width_keeps_its_box_that_wide_in_a_row():
    live = LiveFigure(go.Figure(layout={"width": 400, "height": 300}))
    row = columns(widgets.HTML("numbers"), live.widget, left_width="300px")
    assert live.widget.layout.flex == "1 1 0"  # the row lets it grow...
    assert live.widget.layout.max_width == "400px"  # ...up to the figure's width only
    live.show(go.Figure(layout={"height": 300}))  # as wide as its place: no limit
    assert live.widget.layout.max_width is None and live.widget.layout.width == "100%"
    assert row.children[1] is live.widget


def test_redraw_clears_then_sends_and_the_button_does_it():
    live = LiveFigure(awkward_figure())
    assert live.redraw_button.description == REDRAW_LABEL
    # the plot is drawn over its redraw button (one grid cell), so the button shows only
    # where the page has no plot
    button, plot, sheet = live.widget.children
    assert (button, plot) == (live.redraw_button, live._output)
    assert LIVE_CSS in sheet.value and sheet.layout.display == "none"
    assert live.redraw_button.layout.grid_area == live._output.layout.grid_area == "plot"
    seen = outputs_seen(live)
    live.redraw_button.click()
    assert [len(outputs) for outputs in seen] == [0, 1]
    assert live.sent == live.bundle()


def test_the_projector_switch_resends_every_live_figure():
    live = LiveFigure(ratio_curve_figure(3, 4))
    sends = live.sends
    style.set_projector(True)
    assert live.sends == sends + 1
    assert live.sent["layout"]["font"]["size"] == style.PROJECTOR.font_scale * style.FONT_SIZE
    style.set_projector(False)
    assert live.sent["layout"]["font"]["size"] == style.FONT_SIZE
