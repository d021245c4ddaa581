"""The projector style (hetconv_edu.viz.style.set_projector and the projector switch) and the
kernel kinds' colour-blind and greyscale safety.

Switching must restyle figures and widgets already on screen, new figures must come out in the
current style, and switching back must restore every size exactly.
"""

from __future__ import annotations

import gc
import itertools
import json
import sys
import weakref

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import pytest

from hetconv_edu.apps.controls import AnswerChecker, projector_switch
from hetconv_edu.apps.explorer import ExplorerApp
from hetconv_edu.apps.flops_lab import FlopsLabApp
from hetconv_edu.apps.live_figure import LiveFigure
from hetconv_edu.pattern import Kernel
from hetconv_edu.viz import style
from hetconv_edu.viz.explorer import ExplorerState, map_figure_data
from hetconv_edu.viz.flops_lab import ratio_curve_figure
from hetconv_edu.viz.training import RunCurves, training_curves


@pytest.fixture(autouse=True)
def normal_style():
    """Every test starts and ends in the normal style (the switch is global)."""
    style.set_projector(False)
    yield
    style.set_projector(False)


def _line_widths(fig: go.Figure) -> list[float | None]:
    return [getattr(t, "line", None) and t.line.width for t in fig.data]


# ------------------------------------------------------------------------------ switching


def test_new_figures_come_out_in_the_current_style():
    normal = ratio_curve_figure(3, 4)
    style.set_projector(True)
    assert style.projector_enabled() and style.current_theme() is style.PROJECTOR
    big = ratio_curve_figure(3, 4)
    assert big.layout.font.size == style.FONT_SIZE * style.PROJECTOR.font_scale
    assert big.layout.title.font.size == normal.layout.title.font.size * 1.25
    assert big.layout.font.color == "#000000" != normal.layout.font.color
    assert big.layout.template.layout.xaxis.gridcolor == style.PROJECTOR.grid_color
    assert _line_widths(normal)[:2] == [3, 2]
    assert _line_widths(big)[:2] == [6, 4]
    assert big.data[-1].marker.size == normal.data[-1].marker.size * 1.5
    style.set_projector(False)
    assert ratio_curve_figure(3, 4).to_plotly_json() == normal.to_plotly_json()


def test_hover_text_axis_titles_and_names_stay_in_both_styles():
    normal = ratio_curve_figure(3, 4)
    style.set_projector(True)
    big = ratio_curve_figure(3, 4)
    assert [t.hovertemplate for t in big.data] == [t.hovertemplate for t in normal.data]
    assert [t.name for t in big.data] == [t.name for t in normal.data]
    assert big.layout.xaxis.title.text == normal.layout.xaxis.title.text
    assert big.layout.xaxis.title.text and big.layout.yaxis.title.text


def test_switching_restyles_figures_already_on_screen_and_back_exactly():
    app = ExplorerApp(16, 16, 3, 4, compare="standard")
    curves = LiveFigure(training_curves([RunCurves("a", [1, 2], [2.0, 1.5], [1], [0.4])]))
    figures = [app.map_figure, app.filter_figure, curves]
    before = [f.figure.to_plotly_json() for f in figures]
    before_json = [json.loads(f.figure.to_json()) for f in figures]
    sends = [f.sends for f in figures]
    style.set_projector(True)
    for fig, old in zip(figures, before, strict=True):
        assert fig.layout.font.size == old["layout"]["font"]["size"] * 1.25
        assert fig.layout.margin.l == old["layout"]["margin"]["l"] * 1.25
        assert fig.layout.font.color == "#000000"
        assert fig.bundle()["layout"]["font"]["color"] == "#000000"  # what the page gets
    assert [f.sends for f in figures] == [n + 1 for n in sends]  # each re-sent once
    legend = [t for t in app.map_figure.data if t.type == "scatter"]
    assert legend and all(t.marker.size == 15 * 1.5 for t in legend)
    smoothed = curves.data[1]
    assert smoothed.line.width == 2 * before[2]["data"][1]["line"]["width"]
    style.set_projector(False)
    assert [json.loads(f.figure.to_json()) for f in figures] == before_json


def test_an_app_moved_in_projector_style_matches_a_new_one_and_returns_to_normal():
    app = ExplorerApp(16, 16, 3, 4)
    style.set_projector(True)
    app.controls.p.value = 8
    fresh = map_figure_data(ExplorerState(16, 16, 3, 8))
    assert app.map_figure.layout.font.size == fresh.layout["font"]["size"] == 18.75
    assert np.array_equal(app.map_figure.data[0].x, fresh.traces[0]["x"])
    style.set_projector(False)
    app.controls.p.value = 2
    assert app.map_figure.layout.font.size == style.FONT_SIZE
    assert app.map_figure.layout.title.font.size == style.FONT_SIZE + 3


def test_widgets_on_screen_get_the_css_class_and_the_stylesheet_once():
    explorer = ExplorerApp(8, 8, 3, 2)
    checker = AnswerChecker("2 + 2?", lambda: 4)
    lab = FlopsLabApp()
    roots = [explorer.widget, checker.widget, lab.layer_section, lab.latency_section]
    for root in roots:
        sheets = [c for c in root.children if style.PROJECTOR_CSS in getattr(c, "value", "")]
        assert len(sheets) == 1 and sheets[0].layout.display == "none"
        assert style.PROJECTOR_CLASS not in root._dom_classes
    style.track_widget(explorer.widget)  # tracking twice adds no second stylesheet
    assert sum(style.PROJECTOR_CSS in getattr(c, "value", "") for c in explorer.widget.children)
    assert len(explorer.widget.children) == len(set(map(id, explorer.widget.children)))
    style.set_projector(True)
    assert all(style.PROJECTOR_CLASS in root._dom_classes for root in roots)
    late = style.track_widget(widgets.VBox([]))  # made while the style is on
    assert style.PROJECTOR_CLASS in late._dom_classes
    style.set_projector(False)
    assert not any(style.PROJECTOR_CLASS in r._dom_classes for r in [*roots, late])


def test_projector_css_is_self_contained_and_scales_the_package_html():
    css = style.PROJECTOR_CSS
    assert f".{style.PROJECTOR_CLASS}" in css and "--hetconv-scale: 1.25" in css
    assert "--jp-widgets-font-size: 18px" in css
    assert "http" not in css and "@import" not in css and "url(" not in css
    assert style.css_px(13) == "calc(13px * var(--hetconv-scale, 1))"
    # the package's HTML carries classes; their rules (sizes that grow with the style) ship
    # in PAGE_CSS, which holds the projector rules too
    page = style.PAGE_CSS
    assert css in page and "http" not in page and "url(" not in page
    assert ".hetconv-note{" in page and "var(--hetconv-scale, 1)" in page
    assert "class='hetconv-note'" in ExplorerApp(8, 8, 3, 2).counters.value


def test_messages_use_one_palette_and_css_classes_not_inline_colours():
    for kind, (fg, bg) in style.MESSAGE_COLORS.items():
        assert style.contrast_ratio(fg, bg) >= 7  # readable on a washed-out projector
        assert f".hetconv-message.hetconv-{kind}{{color:{fg};background:{bg}}}" in style.PAGE_CSS
        assert style.message_html(kind, "a < b\nc") == (
            f"<div class='hetconv-message hetconv-{kind}'>a &lt; b<br>c</div>"
        )
        assert (
            style.text_html(kind, "<b>x</b>")
            == f"<span class='hetconv-text-{kind}'><b>x</b></span>"
        )
    with pytest.raises(ValueError, match="got 'loud'"):
        style.message_html("loud", "x")
    note = style.note_details("Note on the data", "this copy is odd: md5 differs. Use another.")
    assert "<summary>Note on the data: this copy is odd…</summary>" in note
    assert "md5 differs" in note
    checker = AnswerChecker("2 + 2?", lambda: 4)
    checker.check("4")
    assert "class='hetconv-text-ok'" in checker.feedback.value
    checker.check("5")
    assert "class='hetconv-text-warn'" in checker.feedback.value and "style=" not in (
        checker.feedback.value
    )


def test_a_pixel_exact_figure_keeps_its_plot_area_in_the_projector_style():
    fig = go.Figure(
        layout={
            "width": 300, "height": 200, "margin": {"l": 40, "r": 20, "t": 32, "b": 48},
            "meta": {style.PIXEL_EXACT: True},
        }
    )  # fmt: skip
    big = style.restyle_figure(go.Figure(fig), style.NORMAL, style.PROJECTOR)
    m = big.layout.margin
    assert (m.l, m.r, m.t, m.b) == (50, 25, 40, 60)
    assert big.layout.width - m.l - m.r == 300 - 40 - 20  # the plot area, in pixels
    assert big.layout.height - m.t - m.b == 200 - 32 - 48
    back = style.restyle_figure(big, style.PROJECTOR, style.NORMAL)
    assert (back.layout.width, back.layout.height) == (300, 200)
    plain = style.restyle_figure(go.Figure(layout={"width": 300, "margin": {"l": 40}}),
                                 style.NORMAL, style.PROJECTOR)  # fmt: skip
    assert plain.layout.width == 300  # other figures keep their size


def test_a_figure_in_a_column_of_controls_widens_with_the_column():
    fig = go.Figure(layout={"width": 360, "height": 250, "meta": {style.COLUMN_WIDTH: True}})
    big = style.restyle_figure(go.Figure(fig), style.NORMAL, style.PROJECTOR)
    # the column is css_width(360): 360 px × the projector's control scale
    assert big.layout.width == round(360 * style.CONTROL_SCALE) == 504
    assert big.layout.height == 250
    assert style.css_width(360) == "calc(360px * var(--hetconv-control-scale, 1))"
    assert f"--hetconv-control-scale: {style.CONTROL_SCALE}" in style.PROJECTOR_CSS
    back = style.restyle_figure(big, style.PROJECTOR, style.NORMAL)
    assert back.layout.width == 360  # whole pixels both ways


def test_switches_follow_the_state_wherever_it_is_changed():
    first, second = projector_switch(), projector_switch()
    assert isinstance(first, widgets.ToggleButton) and first.description == "Projector style"
    assert first.value is second.value is False
    first.value = True  # a click
    assert style.projector_enabled() and second.value is True
    style.set_projector(False)
    assert first.value is second.value is False
    style.set_projector(True)
    late = projector_switch()
    assert late.value is True and style.PROJECTOR_CLASS in late._dom_classes


def test_only_weak_references_are_kept():
    fig = LiveFigure(ratio_curve_figure(3, 2))
    switch = widgets.ToggleButton()
    counts = [sys.getrefcount(fig), sys.getrefcount(switch)]
    style.track_figure(fig)
    style.track_switch(switch)
    assert [sys.getrefcount(fig), sys.getrefcount(switch)] == counts
    box = style.track_widget(widgets.VBox([]))
    ref = weakref.ref(box)
    box.close()  # ipywidgets itself holds every open widget until it is closed
    del box
    gc.collect()
    assert ref() is None
    style.set_projector(True)  # a collected widget is skipped, the live figure restyled
    assert fig.layout.font.size == 18.75 and switch.value is True


def test_bad_arguments_say_what_was_given():
    with pytest.raises(TypeError, match=r"on must be True or False, got 'yes'"):
        style.set_projector("yes")
    with pytest.raises(TypeError, match="got Figure"):
        style.track_figure(go.Figure())
    with pytest.raises(TypeError, match="got str"):
        style.track_widget("box")
    with pytest.raises(TypeError, match="got Button"):
        style.track_switch(widgets.Button())
    with pytest.raises(ValueError, match="got 0"):
        style.css_px(0)
    assert not style.projector_enabled()


# ------------------------------------------------------------------------------ kinds


def _luma(color: str) -> float:
    """Greyscale value (ITU-R BT.601 luma, 0-1) a printer or a grey projector shows."""
    r, g, b = (int(color.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return 0.299 * r + 0.587 * g + 0.114 * b


def test_kernel_kinds_differ_in_greyscale_by_a_clear_margin():
    colors = [style.KIND_COLORS[k] for k in style.KIND_ORDER]
    assert len(set(colors)) == len(colors) == 4
    for a, b in itertools.combinations(colors, 2):
        assert abs(_luma(a) - _luma(b)) >= 0.2, (a, b)
        assert style.contrast_ratio(a, b) >= 1.8, (a, b)


@pytest.mark.parametrize("projector", [False, True])
def test_every_kernel_kind_has_text_in_both_styles(projector):
    style.set_projector(projector)
    labels = [style.kind_label(k, 3) for k in style.KIND_ORDER]
    hovers = [style.kind_hover(k, 3) for k in style.KIND_ORDER]
    assert all(labels) and len(set(labels)) == 4
    assert all(hovers) and len(set(hovers)) == 4
    data = map_figure_data(ExplorerState(8, 8, 3, 4, compare="naive_hetconv"))
    legend = {t["name"] for t in data.traces if t.get("showlegend")}
    assert {style.kind_label(k, 3) for k in (Kernel.FULL, Kernel.ONE)} <= legend
    templates = [t.get("hovertemplate") or "" for t in data.traces if t["type"] == "heatmap"]
    assert any(style.kind_hover(Kernel.FULL, 3) in h for h in templates)
    assert any(style.kind_hover(Kernel.ONE, 3) in h for h in templates)
