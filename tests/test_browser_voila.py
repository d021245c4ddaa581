"""Notebook 01 as a code-free app: Voilà (started by scripts/app.sh, what `make app` runs) in a
real Chromium. The code is hidden, P moves with the keyboard, and the figure and counters
change to the values the package computes — every interaction through widget callbacks, since
Voilà runs no code sent from the page. Nothing may come from a host other than 127.0.0.1.

Fails (never skips) when Chromium is missing. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_harness import LIVE_FIGURE, check_every_control_redraws, rendered_map, voila_app

from hetconv_edu.apps.live_figure import REDRAW_LABEL
from hetconv_edu.flops import hetconv_ratio
from hetconv_edu.pattern import Kernel, hetconv_pattern, valid_parts
from hetconv_edu.viz import style
from hetconv_edu.viz.explorer import ExplorerState, family_numbers

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

APP = ".hetconv-explorer"


@pytest.fixture(scope="module")
def app():
    with voila_app("01_kernel_explorer.ipynb", env={"HETCONV_EDU_CI": "1"}, label="voila") as app:
        app.open_app()
        yield app


def counter(app, key: str) -> str:
    return app.text(f".hetconv-counters td[data-counter='{key}'][data-family='hetconv']")


def test_the_app_shows_widgets_and_no_code(app):
    assert app.cell_errors() == []
    assert app.page_errors == []
    assert app.page.locator(APP).count() >= 5  # every explorer of the notebook
    maps = app.page.locator(".hetconv-map").count()
    assert maps >= 5
    # every map and filter figure drawn, and the linked explorer's one figure
    assert app.wait_for_figures() == 2 * maps + 1
    assert app.page.locator(".hetconv-exercise").count() == 5
    assert app.page.locator(".jp-InputArea-editor:visible").count() == 0  # code hidden
    assert "ExplorerApp(" not in app.page.locator("body").inner_text()
    app.screenshot("voila-explorer")  # the viewport, 1280×720
    app.assert_no_external_requests()


def test_moving_p_redraws_the_figure_and_the_counters(app):
    m = int(app.readout("M input channels"))
    n = int(app.readout("N filters"))
    p0 = int(app.readout("P part"))
    k = int(app.page.locator(f"{APP} .widget-toggle-button.mod-active").first.inner_text()[0])
    assert np.array_equal(rendered_map(app, (n, m)), hetconv_pattern(m, n, p0))
    before = counter(app, "macs")

    parts = valid_parts(m, n)
    p1 = parts[parts.index(p0) + 1]
    app.press("P part", "ArrowRight")  # a widget callback in the kernel redraws
    app.expect_text(".hetconv-counters", f"P = {p1}.")
    app.wait_for_plot(".hetconv-map", f"(gd) => gd.data[0].x.length === {m * n // p1}")
    assert np.array_equal(rendered_map(app, (n, m)), hetconv_pattern(m, n, p1))
    nums = family_numbers(ExplorerState(m, n, k, p1, compare="standard"))
    assert counter(app, "macs") == f"{nums.macs:,}" != before
    assert counter(app, "full_in_filter") == str(m // p1)
    assert counter(app, "ratio").startswith(f"{hetconv_ratio(k, p1):.4f}")
    app.page.locator(".hetconv-map").first.scroll_into_view_if_needed()
    hover = app.hover(".hetconv-map", 1 + p1, 1)
    assert f"filter 1, channel {1 + p1}: {k}×{k} kernel, {k * k} weights" in hover, hover
    app.page.mouse.move(5, 5)
    shot = app.screenshot("voila-explorer-p-moved", selector=APP)
    assert shot.stat().st_size > 10_000
    assert app.page_errors == []


def test_an_exercise_is_checked_by_its_callback(app):
    box = app.page.locator(".hetconv-exercise").first
    box.scroll_into_view_if_needed()
    box.locator("input").fill(str(int(np.sum(hetconv_pattern(64, 64, 8)[7] == Kernel.FULL))))
    box.get_by_role("button", name="Check").click()
    app.expect_text(".hetconv-feedback", "Right: 8")
    app.assert_no_external_requests()


def test_the_projector_switch_restyles_what_is_on_screen(app):
    """One click: the figures on the page get larger fonts and thicker lines, the widgets the
    projector class; a second click restores the laptop look. Screenshots at 1280×720."""
    font = "(gd) => gd._fullLayout.font.size"
    map_div = app.page.locator(".hetconv-map").first
    map_div.scroll_into_view_if_needed()
    size = map_div.evaluate(f"(el) => ({font})(el.querySelector('.js-plotly-plot') || el)")
    assert app.page.locator(f".{style.PROJECTOR_CLASS}").count() == 0
    app.screenshot("voila-laptop-style")

    switch = app.page.locator(".hetconv-projector-switch").first
    switch.scroll_into_view_if_needed()
    switch.click()
    bigger = size * style.PROJECTOR.font_scale
    app.wait_for_plot(".hetconv-map", f"(gd) => gd._fullLayout.font.size === {bigger}")
    app.page.locator(f"{APP}.{style.PROJECTOR_CLASS}").first.wait_for(timeout=20_000)
    assert app.page.locator(f"{APP}.{style.PROJECTOR_CLASS}").count() >= 5
    assert "mod-active" in (switch.get_attribute("class") or "")
    k_button = app.page.locator(f"{APP} .widget-toggle-button.mod-active").first
    k_button.scroll_into_view_if_needed()
    assert k_button.evaluate("(b) => b.scrollWidth <= b.clientWidth"), "the K label is cut off"
    map_div.scroll_into_view_if_needed()
    app.page.mouse.move(5, 5)
    assert app.screenshot("voila-projector-style").stat().st_size > 10_000

    switch.scroll_into_view_if_needed()
    switch.click()
    app.wait_for_plot(".hetconv-map", f"(gd) => gd._fullLayout.font.size === {size}")
    app.page.wait_for_function(
        f"() => document.querySelectorAll('.{style.PROJECTOR_CLASS}').length === 0",
        timeout=20_000,
    )
    assert app.page_errors == []
    app.assert_no_external_requests()


def test_a_figure_the_page_lost_says_so_and_comes_back_on_a_click(app):
    """A drawn figure covers its redraw button; a figure whose drawing is gone (a front end
    that failed) shows "not live — click to redraw" instead, and the click draws it again."""
    figure = app.page.locator(LIVE_FIGURE).first
    figure.scroll_into_view_if_needed()
    button = figure.get_by_role("button", name=REDRAW_LABEL)
    on_top = "(b) => { const r = b.getBoundingClientRect(); return b.contains("
    on_top += "document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2)); }"
    assert not button.evaluate(on_top), "the drawn figure must hide its redraw button"
    figure.evaluate(  # the drawing is lost: an empty, transparent area is left
        "(f) => { const gd = f.querySelector('.js-plotly-plot'); gd.replaceChildren(); "
        "gd.data = undefined; gd.classList.remove('js-plotly-plot'); }"
    )
    assert button.evaluate(on_top), "a figure that is not drawn must show its redraw button"
    button.click()
    app.page.wait_for_function(
        "(f) => { const gd = f.querySelector('.js-plotly-plot'); return !!gd && !!gd.data; }",
        arg=figure.element_handle(),
        timeout=30_000,
    )
    assert not button.evaluate(on_top)
    assert (rendered_map(app, (16, 16)) >= 0).all()  # every cell of the map drawn again


def test_every_control_of_every_explorer_redraws_its_figures(app):
    """Slow device, the student app: every slider, toggle, dropdown, checkbox and number box
    of each of the six explorers changes that explorer's figures in the page."""
    check_every_control_redraws(app, "voila-explorer-controls", minimum=40)
