"""Notebook 01 in a real JupyterLab + Chromium: run all cells, move P with the keyboard, and
check that the rendered plot and the counters changed to the values the package computes.

Fails (never skips) when Chromium is missing. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from browser_harness import ARTIFACTS, check_live_after_reload, rendered_map

from hetconv_edu.flops import hetconv_ratio
from hetconv_edu.pattern import Kernel, hetconv_pattern, valid_parts
from hetconv_edu.viz.explorer import ExplorerState, family_numbers

pytestmark = pytest.mark.browser

NOTEBOOK = "01_kernel_explorer.ipynb"
APP = ".hetconv-explorer"  # the first explorer of the notebook is used throughout


@pytest.fixture
def lab(lab_notebooks):
    """Notebook 01 in the session's JupyterLab (run once, at 1280×720, on the slow device);
    the linked explorer's tests used it before, on its own section."""
    return lab_notebooks.notebook(NOTEBOOK)


def counter(lab, key: str, family: str = "hetconv") -> str:
    return lab.text(f".hetconv-counters td[data-counter='{key}'][data-family='{family}']")


def test_notebook_runs_in_the_browser_without_errors(lab):
    assert lab.cell_errors() == []
    assert lab.page_errors == []
    assert lab.page.locator(APP).count() >= 5  # every explorer rendered
    assert lab.page.locator(".hetconv-exercise").count() == 5
    lab.assert_no_external_requests()


def test_moving_p_with_the_keyboard_redraws_plot_and_counters(lab):
    m = int(lab.readout("M input channels"))
    n = int(lab.readout("N filters"))
    p0 = int(lab.readout("P part"))
    k = int(lab.page.locator(f"{APP} .widget-toggle-button.mod-active").first.inner_text()[0])
    assert np.array_equal(rendered_map(lab, (n, m)), hetconv_pattern(m, n, p0))
    lab.screenshot("explorer-before", selector=APP)

    parts = valid_parts(m, n)
    p1 = parts[parts.index(p0) + 1]
    lab.press("P part", "ArrowRight")  # keyboard on the slider handle
    lab.expect_text(".hetconv-counters", f"P = {p1}.")
    assert lab.readout("P part") == str(p1)
    full_cells = m * n // p1
    lab.wait_for_plot(".hetconv-map", f"(gd) => gd.data[0].x.length === {full_cells}", timeout=20)
    assert np.array_equal(rendered_map(lab, (n, m)), hetconv_pattern(m, n, p1))

    nums = family_numbers(ExplorerState(m, n, k, p1, compare="standard"))
    assert counter(lab, "full_in_filter") == str(nums.stages[0].full_in_filter) == str(m // p1)
    assert counter(lab, "one_in_filter") == str(m - m // p1)
    assert counter(lab, "weights").startswith(f"{nums.weights:,}")
    assert counter(lab, "macs") == f"{nums.macs:,}"
    assert counter(lab, "ratio").startswith(f"{hetconv_ratio(k, p1):.4f}")
    # the hover text names the kernel and its weights (colour is never the only cue)
    lab.page.locator(".hetconv-map").first.scroll_into_view_if_needed()
    hover = lab.hover(".hetconv-map", 1 + p1, 1)  # (channel 1 + P, filter 1): K×K
    assert f"filter 1, channel {1 + p1}: {k}×{k} kernel, {k * k} weights" in hover, hover
    lab.page.mouse.move(5, 5)
    hover = lab.hover(".hetconv-map", 2, 1)  # (channel 2, filter 1): 1×1
    assert "filter 1, channel 2: 1×1 kernel, 1 weight" in hover, hover
    lab.page.mouse.move(5, 5)
    legend = lab.plot(".hetconv-map")["legend"]
    assert f"{k}×{k} kernel (K×K)" in legend and "1×1 kernel" in legend
    shot = lab.screenshot("explorer-p-moved", selector=APP)
    assert shot.exists() and shot.stat().st_size > 10_000

    lab.press("P part", "End")  # the largest valid P: one K×K kernel per filter if P = M
    lab.expect_text(".hetconv-counters", f"P = {parts[-1]}.")
    assert counter(lab, "full_in_filter") == str(m // parts[-1])
    lab.press("P part", "Home")  # P = 1: a standard convolution
    lab.expect_text(".hetconv-counters", "P = 1.")
    assert counter(lab, "ratio").startswith("1.0000")
    assert lab.page_errors == []


def test_changing_m_keeps_p_valid_in_the_browser(lab):
    lab.press("P part", "End")
    lab.expect_text(".hetconv-counters", "P = 16.")
    lab.fill("M input channels", "12")  # 16 does not divide 12: P moves to the nearest
    lab.expect_text(
        f"{APP} .hetconv-p-note", "P = 16 does not divide both M and N, so P moved to 4"
    )
    lab.expect_text(".hetconv-counters", "M = 12 input channels")
    assert lab.readout("P part") == "4"
    lab.wait_for_plot(".hetconv-map", "(gd) => gd.data[0].x.length === 48")
    assert np.array_equal(rendered_map(lab, (16, 12)), hetconv_pattern(12, 16, 4))
    lab.fill("N filters", "7")  # only P = 1 left: a one-value slider still renders
    lab.expect_text(f"{APP} .hetconv-p-note", re.compile(r"Only P = 1"))
    assert lab.readout("P part") == "1"
    lab.screenshot("explorer-only-p1", selector=APP)
    assert lab.page_errors == []
    assert lab.cell_errors() == []


def test_an_exercise_checks_an_answer_in_the_browser(lab):
    box = lab.page.locator(".hetconv-exercise").first
    box.scroll_into_view_if_needed()
    box.locator("input").fill(str(int(np.sum(hetconv_pattern(64, 64, 8)[7] == Kernel.FULL))))
    box.get_by_role("button", name="Check").click()
    lab.expect_text(".hetconv-feedback", "Right: 8")
    lab.screenshot("explorer-exercise", selector=".hetconv-exercise")
    lab.assert_no_external_requests()
    assert ARTIFACTS.is_dir()


def test_after_a_reload_every_section_redraws_its_figures(lab) -> None:
    """Slow device, a reloaded page (the kernel still running): every figure comes back, then
    one control of each of the seven explorers changes that explorer's figures in the page
    (the explorers take turns: slider, toggle, dropdown, checkbox, number box), and every
    control of the first (the linked explorer). Every control of every explorer is swept in
    Voilà (tests/test_browser_voila.py); see ``check_live_after_reload`` for why."""
    check_live_after_reload(lab, "explorer-lab-reload", sections=7, every_control_in=(0,))
    lab.screenshot("explorer-after-reload", selector=APP)
