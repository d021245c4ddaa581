"""Notebook 04 in a real JupyterLab + Chromium: run all cells (CI mode: the live study runs on
a fake CIFAR-10), switch back to the results file, move the budget slider with the keyboard and
check that the configuration, its numbers and the figures change to what the package computes;
then the same in milliseconds, and a pick in "Beat the search".

The results file is the hand-made one of ``tests/test_apps_best_p.py``, named to the kernel by
``HETCONV_EDU_BEST_P_RESULTS``. Fails (never skips) when Chromium is missing. Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_harness import check_live_after_reload, jupyter_lab

from hetconv_edu.apps.best_p import (
    BUDGET_METRICS,
    RESULTS_ENV,
    budget_from_slider,
    judge_pick,
    slider_range,
    verdict_text,
)
from hetconv_edu.optimal_p import OptimalPResults, save_results
from hetconv_edu.viz.best_p import cost_text
from tests.datasets import write_fake_cifar10
from tests.test_apps_best_p import make_results

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

NOTEBOOK = "04_best_p.ipynb"
SUMMARY = ".hetconv-bestp-summary"
CONFIG_FIG = ".hetconv-bestp-config-fig"
FRONT_FIG = ".hetconv-bestp-front-fig"
MESSAGE = ".hetconv-bestp-message"
LIVE_MESSAGE = ".hetconv-bestp-live-message"
PICK_MESSAGE = ".hetconv-bestp-verdict"
COSTS = ("macs", "infer_ms", "train_ms")

RESULTS = make_results()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("best_p")
    write_fake_cifar10(tmp / "data", n_train=400, n_test=100, seed=0)
    env = {
        "HETCONV_EDU_CI": "1",
        "HETCONV_EDU_DATA": str(tmp / "data"),
        "HETCONV_EDU_RUNS": str(tmp / "runs"),
        RESULTS_ENV: str(save_results(RESULTS, tmp / "optimal_p_small_vgg.json")),
    }
    with jupyter_lab(env=env, label="best-p") as lab:
        lab.open_notebook(NOTEBOOK)
        lab.run_all_cells(timeout=300)
        yield lab


def config_text(config: tuple[int, ...]) -> str:
    return "P = (" + ", ".join(map(str, config)) + ")"


def expect_summary(lab, r: OptimalPResults, metric: str, value: float) -> tuple[int, ...]:
    """Wait until the summary shows the search's best plan at slider ``value`` (as the package
    computes it), then check every number of it and both figures."""
    plan = r.best(metric, budget_from_slider(r, metric, value))
    assert plan is not None
    lab.expect_text(f"{SUMMARY} td[data-key='config']", config_text(plan.config))
    cells = {key: lab.text(f"{SUMMARY} td[data-key='{key}']") for key in ("predicted", *COSTS)}
    expected = {key: cost_text(r, r.cost(plan.config, key), key) for key in COSTS}
    expected["predicted"] = f"{100 * r.predicted_acc(plan.config):.1f}%"
    assert cells == expected
    bars = json.dumps(list(plan.config)).replace(" ", "")
    lab.wait_for_plot(
        CONFIG_FIG,
        f"(gd) => gd.data.length > 0 && JSON.stringify(Array.from(gd.data[0].y)) === '{bars}'",
    )
    scale = 1e6 if metric == "macs" else 1.0
    lab.wait_for_plot(
        FRONT_FIG,
        "(gd) => gd.data.some((t) => t.name === 'best within the budget' && "
        f"Math.abs(t.x[0] - {plan.cost / scale!r}) < 1e-9)",
    )
    return plan.config


def test_notebook_runs_and_the_live_run_finishes(lab) -> None:
    assert lab.cell_errors() == []
    assert lab.page_errors == []
    # CI mode ran "Run it here" during Run All and the app switched to its results.
    lab.expect_text(LIVE_MESSAGE, "Done in", timeout=60)
    lab.expect_text(MESSAGE, "Showing the live run")
    curves = lab.plot(".hetconv-bestp-curves")
    assert curves is not None and len(curves["data"]) == 3  # raw loss, smoothed, accuracy
    assert len(curves["data"][0]["x"]) > 0  # the training steps of the live run
    assert lab.page.locator(".hetconv-exercise").count() == 3
    lab.screenshot("best-p-live", selector=".hetconv-bestp-live")
    lab.assert_no_external_requests()


def test_moving_the_budget_changes_configuration_and_numbers(lab) -> None:
    r = RESULTS
    source = lab.page.locator(".hetconv-bestp-source .widget-toggle-button")
    source.filter(has_text="shipped results file").click()
    lab.expect_text(MESSAGE, "Showing the shipped results: small_vgg with 4 switchable layers")

    assert lab.readout("Budget") == "50%"
    at_half = expect_summary(lab, r, "macs", 0.50)
    lab.screenshot("best-p-budget-50", selector=".hetconv-bestp-budget")

    lab.press("Budget", "ArrowLeft", times=15)  # 1 % of the standard network's MACs per key
    assert lab.readout("Budget") == "35%"
    at_35 = expect_summary(lab, r, "macs", 0.35)
    assert at_35 != at_half  # the hand-made results do change plan between the two budgets
    lab.expect_text(
        ".hetconv-bestp-front-fig", f"budget {cost_text(r, 0.35 * r.standard.macs, 'macs')}"
    )
    lab.screenshot("best-p-budget-35", selector=".hetconv-bestp-budget")

    lab.page.locator(".hetconv-bestp-budget .widget-toggle-button").filter(
        has_text=BUDGET_METRICS["infer_ms"]
    ).click()
    grid = slider_range(r, "infer_ms")
    lab.expect_text(".hetconv-bestp-budget .widget-readout", f"{grid.value:.3f}")
    in_time = expect_summary(lab, r, "infer_ms", grid.value)
    lab.press("Budget", "ArrowLeft", times=10)  # ten steps of the time grid down
    tighter = round(grid.value - 10 * grid.step, 3)
    lab.expect_text(".hetconv-bestp-budget .widget-readout", f"{tighter:.3f}")
    assert expect_summary(lab, r, "infer_ms", tighter) != in_time
    lab.screenshot("best-p-budget-time", selector=".hetconv-bestp-budget")
    assert lab.page_errors == [] and lab.cell_errors() == []


def test_a_pick_in_beat_the_search_is_judged_by_the_package(lab) -> None:
    r = RESULTS
    lab.page.locator(".hetconv-bestp-budget .widget-toggle-button").filter(
        has_text=BUDGET_METRICS["macs"]
    ).click()
    lab.expect_text(".hetconv-bestp-budget .widget-readout", "50%")
    budget = 0.5 * r.standard.macs
    labels = [f"layer {i + 1} ({x.in_channels}→{x.out_channels})" for i, x in enumerate(r.layers)]
    select = lab.control(labels[0])
    select.scroll_into_view_if_needed()
    select.select_option(label="2")
    pick = (2, 4, 4, 4)  # the dropdowns start at the middle uniform P, 4
    kind, text = verdict_text(r, judge_pick(r, pick, "macs", budget), "macs")
    assert kind == "info"
    lab.expect_text(PICK_MESSAGE, text)
    lab.screenshot("best-p-beat", selector=".hetconv-bestp-beat")

    lab.page.locator(".hetconv-bestp-beat button", has_text="Start from the search's plan").click()
    plan = r.best("macs", budget)
    lab.expect_text(PICK_MESSAGE, f"Your pick {config_text(plan.config)}")
    lab.expect_text(PICK_MESSAGE, "You matched the search at this budget")
    chosen = [lab.control(label).locator("option:checked").inner_text() for label in labels]
    assert chosen == [str(p) for p in plan.config]  # the dropdowns show the copied plan
    lab.screenshot("best-p-beat-matched", selector=".hetconv-bestp-beat")
    lab.screenshot("best-p-page")
    assert lab.page_errors == [] and lab.cell_errors() == []
    lab.assert_no_external_requests()


def test_after_a_reload_every_section_redraws_its_figures(lab) -> None:
    """Slow device, a reloaded page (the kernel still running): every figure comes back, then
    a control of each section (the time toggle, a budget control, a layer's dropdown in "Beat
    the search") changes a figure of its section (the live curves change when it runs,
    above). Every control is swept in Voilà (tests/test_browser_voila_apps.py); see
    ``check_live_after_reload``."""
    check_live_after_reload(lab, "best-p-lab-reload", sections=3)
