"""Notebook 01's linked explorer in a real JupyterLab + Chromium at 1280×720 (a projector), on
the slow device (the page's CPU slowed, other work beside the kernel): all five parts on one
screen in both styles, hovering a K×K or 1×1 part highlights its term everywhere, a click on the
map picks the filter, and moving P changes every view to the package's numbers.

Fails (never skips) when Chromium is missing. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_harness import SLOW_DEVICE_RATE, cpu_load

from hetconv_edu.flops import hetconv_macs
from hetconv_edu.pattern import Kernel, hetconv_pattern, valid_parts
from hetconv_edu.viz.linked_explorer import FIGURE_CLASS, LINK_ATTRIBUTE, ROOT_CLASS
from hetconv_edu.viz.style import KIND_COLORS

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

NOTEBOOK = "01_kernel_explorer.ipynb"
APP = f".{ROOT_CLASS}"
FIGURE = f"{APP} .{FIGURE_CLASS}"
SCREEN = (1280, 720)
# the notebook's first linked explorer: M = N = 16, K = 3, P = 4, filter 5
M, N, K, P, FILTER = 16, 16, 3, 4, 5

PARTS = {
    "controls": f"{APP} .hetconv-linked-bar",
    "overview (kernel map)": f"{FIGURE} .cartesianlayer .subplot.xy",
    "detail (filter n)": f"{FIGURE} .cartesianlayer .subplot.x2y2",
    "detail (image)": f"{FIGURE} .cartesianlayer .subplot.x3y3",
    "detail (the responses)": f"{FIGURE} .cartesianlayer .subplot.x4y4",
    "formula": f"{APP} .hetconv-cost-panel",
}
"""The five parts of the issue (the detail view by its filter, image and response maps)."""

_VISIBLE_JS = """
(selectors) => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook')
    .getBoundingClientRect();
  const out = {};
  for (const [name, sel] of Object.entries(selectors)) {
    const el = document.querySelector(sel);
    if (!el) { out[name] = 'missing'; continue; }
    const r = el.getBoundingClientRect();
    const inside = r.width > 0 && r.height > 0 && r.top >= panel.top - 1
      && r.bottom <= panel.bottom + 1 && r.left >= panel.left - 1 && r.right <= panel.right + 1
      && r.bottom <= window.innerHeight && r.right <= window.innerWidth;
    out[name] = inside ? 'visible' :
      `outside: ${Math.round(r.top)}..${Math.round(r.bottom)} of ${Math.round(panel.top)}..`
      + `${Math.round(panel.bottom)}`;
  }
  return out;
}
"""

_HIGHLIGHT_JS = f"""
() => {{
  const root = document.querySelector('{APP}');
  const term = (link) => getComputedStyle(
    root.querySelector('.hetconv-cost-panel .hetconv-term-' + link)).backgroundColor;
  const gd = root.querySelector('.{FIGURE_CLASS} .js-plotly-plot');
  const shapes = (link) => (gd.layout.shapes || []).map((s, i) => [s, i])
    .filter(([s]) => s.name === 'link-' + link)
    .map(([s, i]) => {{
      const path = gd.querySelector(`.shapelayer path[data-index="${{i}}"]`);
      return path ? Number(getComputedStyle(path).opacity) : -1;
    }});
  return {{link: root.getAttribute('{LINK_ATTRIBUTE}'), kxk: term('kxk'), one: term('1x1'),
           kxkShapes: shapes('kxk'), oneShapes: shapes('1x1')}};
}}
"""


def _rgb(color: str) -> str:
    r, g, b = (int(color.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgb({r}, {g}, {b})"


@pytest.fixture
def lab(lab_notebooks):
    """Notebook 01 in the session's JupyterLab: run once at 1280×720 with the file browser
    closed (as on a projector), on the slow device of the live-figure tests."""
    lab = lab_notebooks.notebook(NOTEBOOK)
    assert lab.cpu_slowdown == SLOW_DEVICE_RATE
    assert lab.page.viewport_size == {"width": SCREEN[0], "height": SCREEN[1]}
    return lab


def _show_section(lab) -> None:
    """Scroll the notebook so the linked explorer's output starts at the top of the panel."""
    lab.page.locator(APP).first.evaluate(
        "(el) => el.closest('.jp-OutputArea').scrollIntoView({block: 'start'})"
    )
    lab.page.wait_for_timeout(400)


def _set_projector(lab, on: bool) -> None:
    switch = lab.page.locator("button.hetconv-projector-switch").first
    if ("mod-active" in (switch.get_attribute("class") or "")) != on:
        switch.click()
    lab.page.wait_for_function(
        "(on) => document.querySelector('.hetconv-linked-explorer').classList"
        ".contains('hetconv-projector') === on",
        arg=on,
    )
    lab.page.wait_for_timeout(1500)  # the figure redrawn in the style


def test_all_five_parts_fit_one_screen_in_both_styles(lab):
    assert lab.cell_errors() == [] and lab.page_errors == []
    for style_name, on in (("default", False), ("projector", True)):
        _set_projector(lab, on)
        _show_section(lab)
        seen = lab.page.evaluate(_VISIBLE_JS, PARTS)
        lab.screenshot(f"linked-explorer-{style_name}")  # the 1280×720 screen the class sees
        assert all(v == "visible" for v in seen.values()), (style_name, seen)
    _set_projector(lab, False)
    lab.assert_no_external_requests()


def test_hovering_a_kxk_or_1x1_cell_highlights_that_term_everywhere(lab):
    _show_section(lab)
    lab.page.mouse.move(5, 5)
    lab.page.wait_for_timeout(300)
    idle = lab.page.evaluate(_HIGHLIGHT_JS)
    assert idle["link"] is None
    assert idle["kxkShapes"] and set(idle["kxkShapes"]) == {0} and set(idle["oneShapes"]) == {0}

    text = lab.hover(FIGURE, FILTER % P, FILTER)  # (channel 1, filter 5): a K×K kernel
    assert f"filter {FILTER}, channel {FILTER % P}: {K}×{K} kernel" in text, text
    lab.page.wait_for_function(f"() => document.querySelector('{APP}')"
                               f".getAttribute('{LINK_ATTRIBUTE}') === 'kxk'")  # fmt: skip
    kxk = lab.page.evaluate(_HIGHLIGHT_JS)
    lab.screenshot("linked-explorer-hover-kxk")
    assert kxk["kxk"] == _rgb(KIND_COLORS[Kernel.FULL]) != idle["kxk"]
    assert kxk["one"] == idle["one"]
    assert set(kxk["kxkShapes"]) == {1} and set(kxk["oneShapes"]) == {0}

    text = lab.hover(FIGURE, (FILTER + 1) % M, FILTER)  # (channel 6, filter 5): a 1×1 kernel
    assert f"filter {FILTER}, channel {(FILTER + 1) % M}: 1×1 kernel" in text, text
    lab.page.wait_for_function(f"() => document.querySelector('{APP}')"
                               f".getAttribute('{LINK_ATTRIBUTE}') === '1x1'")  # fmt: skip
    one = lab.page.evaluate(_HIGHLIGHT_JS)
    lab.screenshot("linked-explorer-hover-1x1")
    assert one["one"] == _rgb(KIND_COLORS[Kernel.ONE]) != idle["one"]
    assert one["kxk"] == idle["kxk"]
    assert set(one["oneShapes"]) == {1} and set(one["kxkShapes"]) == {0}

    lab.page.mouse.move(5, 5)
    lab.page.wait_for_function(f"() => !document.querySelector('{APP}')"
                               f".hasAttribute('{LINK_ATTRIBUTE}')")  # fmt: skip
    assert lab.page_errors == []


def test_a_click_on_the_map_picks_the_filter(lab):
    _show_section(lab)
    lab.hover(FIGURE, 3, 9)
    lab.page.mouse.down()
    lab.page.mouse.up()
    lab.page.wait_for_function(
        f"""() => {{ const gd = document.querySelector('{FIGURE} .js-plotly-plot');
             return gd && gd.layout.shapes.some((s) => s.xref === 'x' && s.y0 === 8.5); }}""",
        timeout=60_000,
    )
    assert lab.readout("filter n", within=APP) == "9"
    lab.expect_text(f"{APP} .hetconv-cost-panel", "filter 9: 4 K×K at m = 1, 5, 9, 13")
    lab.page.mouse.move(5, 5)  # the figure was redrawn under the mouse: no highlight is left
    lab.page.wait_for_function(f"() => !document.querySelector('{APP}')"
                               f".hasAttribute('{LINK_ATTRIBUTE}')")  # fmt: skip


def test_moving_p_updates_every_view_on_the_slow_device(lab):
    _show_section(lab)
    before = lab.page.locator(FIGURE).evaluate(
        "(el) => JSON.stringify(el.querySelector('.js-plotly-plot').data.map((t) => t.z))"
    )
    parts = valid_parts(M, N)
    p1 = parts[parts.index(P) + 1]
    f = int(lab.readout("filter n", within=APP))
    assert f % p1 < 8  # the window shows channels 0-7
    kxk_shown = int(sum(hetconv_pattern(M, N, p1)[f, :8] == Kernel.FULL))
    with cpu_load():
        lab.press("P", "ArrowRight", within=APP)
        total = f"{hetconv_macs(32, M, N, K, p1):,}"
        lab.expect_text(f"{APP} .hetconv-cost-panel", total, timeout=60)
        lab.wait_for_plot(
            FIGURE,
            # the map's K×K cells (M·N/P) and filter f's K×K kernels in its window
            f"""(gd) => gd.data[0].x.length === {M * N // p1}
                 && gd.data.filter((t) => t.xaxis === 'x2' && t.z.length === {K}).length
                    === {kxk_shown}""",
            timeout=60,
        )
    assert lab.readout("P", within=APP) == str(p1)
    after = lab.page.locator(FIGURE).evaluate(
        "(el) => JSON.stringify(el.querySelector('.js-plotly-plot').data.map((t) => t.z))"
    )
    assert after != before  # the image path was recomputed too
    lab.expect_text(f"{APP} .hetconv-cost-panel", f"/{p1}")
    lab.screenshot(f"linked-explorer-p{p1}")
    assert lab.page_errors == [] and lab.cell_errors() == []
