"""Notebook 02 in a real JupyterLab + Chromium: run all, move P with the keyboard, see the exact
numbers change to the cost model's values, measure latency, take screenshots."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_harness import check_live_after_reload

from hetconv_edu.flops import hetconv_ratio, layer_cost
from hetconv_edu.viz.flops_lab import fmt_count

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

LAYER = ".hetconv-flops-layer"
HET_WORK = '.hetconv-flops-layer .hetconv-flops-numbers [data-key="hetconv-work"]'
HET_RATIO = '.hetconv-flops-layer .hetconv-flops-numbers [data-key="hetconv-ratio"]'


@pytest.fixture
def lab(lab_notebooks):
    """Notebook 02 in the session's JupyterLab (run once, at 1280×720, on the slow device)."""
    return lab_notebooks.notebook("02_flops_lab.ipynb")


def _macs(p: int) -> str:
    return fmt_count(layer_cost(f"hetconv:{p}", 128, 128, 3, 16).macs)  # the app's default layer


def test_flops_lab_in_jupyterlab(lab) -> None:
    assert not lab.cell_errors()
    lab.expect_text(HET_WORK, _macs(4), timeout=60)
    lab.screenshot("flops-lab-layer-p4", selector=LAYER)

    lab.press("P part", "ArrowRight", within=LAYER)  # P: 4 → 8
    assert lab.readout("P part", within=LAYER) == "8"
    lab.expect_text(HET_WORK, _macs(8))
    lab.expect_text(HET_RATIO, f"{hetconv_ratio(3, 8):.4f}")
    lab.press("P part", "ArrowLeft", times=2, within=LAYER)  # P: 8 → 2
    lab.expect_text(HET_WORK, _macs(2))
    lab.screenshot("flops-lab-layer-p2", selector=LAYER)
    # the ratio section has its own P: still the lesson's 4; its own slider moves it
    lab.wait_for_plot(".hetconv-flops-ratio-fig", "(gd) => gd.data[3].x[0] === 4")
    lab.press("P part", "ArrowRight", within=".hetconv-flops-ratio")
    lab.wait_for_plot(".hetconv-flops-ratio-fig", "(gd) => gd.data[3].x[0] === 8")

    lab.screenshot("flops-lab-units", selector=".hetconv-flops-units")
    lab.screenshot("flops-lab-ratio", selector=".hetconv-flops-ratio")
    lab.expect_text('.hetconv-flops-totals [data-key="paper-convention"]', "105.98")
    lab.screenshot("flops-lab-network", selector=".hetconv-flops-network")
    lab.screenshot("flops-lab-breakdown", selector=".hetconv-flops-breakdown")

    lab.page.locator("button.hetconv-measure").first.click()
    lab.expect_text(".hetconv-flops-status", "measured ×", timeout=120)
    lab.wait_for_plot(
        ".hetconv-flops-speedup-fig",
        "(gd) => gd.data.some((t) => t.name === 'HetConv (grouped)' && t.x.length === 1)",
        timeout=30,
    )
    lab.screenshot("flops-lab-latency", selector=".hetconv-flops-latency")
    assert not lab.cell_errors()
    lab.assert_no_external_requests()


def test_after_a_reload_every_section_redraws_its_figures(lab) -> None:
    """Slow device, a reloaded page (the kernel still running): every figure comes back, then
    in the layer, ratio, network and breakdown sections a control changes a figure of its
    section (the latency chart changes when "measure" is pressed, above). Every control is
    swept in Voilà (tests/test_browser_voila_apps.py); see ``check_live_after_reload``."""
    check_live_after_reload(lab, "flops-lab-lab-reload", sections=4)
