"""Notebooks 02, 03 and 04 as code-free apps (Voilà, started by scripts/app.sh, what `make app`
runs) on the slow device: the page's CPU slowed (the harness default) and two CPU-bound
processes beside the kernel. Every figure control of every section must change a figure of its
section in the page; nothing may come from a host other than 127.0.0.1. (Notebook 01 is
tests/test_browser_voila.py.)

Fails (never skips) when Chromium is missing. The lists of controls go to test-artifacts/.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_harness import check_every_control_redraws, voila_app

from hetconv_edu.apps.best_p import RESULTS_ENV
from hetconv_edu.optimal_p import save_results
from tests.datasets import write_fake_cifar10
from tests.test_apps_best_p import make_results

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

NOTEBOOKS = {
    "02_flops_lab.ipynb": 15,  # the least number of figure controls each app must offer
    "03_train_cifar10.ipynb": 1,
    "04_best_p.ipynb": 7,
}


def _env(notebook: str, tmp: Path) -> dict[str, str]:
    env = {"HETCONV_EDU_CI": "1"}
    if notebook.startswith(("03", "04")):
        write_fake_cifar10(tmp / "data", n_train=400, n_test=100, seed=0)
        env |= {"HETCONV_EDU_DATA": str(tmp / "data"), "HETCONV_EDU_RUNS": str(tmp / "runs")}
    if notebook.startswith("04"):
        env[RESULTS_ENV] = str(save_results(make_results(), tmp / "optimal_p_small_vgg.json"))
    return env


@pytest.mark.parametrize("notebook", list(NOTEBOOKS))
def test_every_control_of_every_section_redraws_its_figures(notebook: str, tmp_path: Path) -> None:
    label = f"voila-{notebook[:2]}"
    with voila_app(notebook, env=_env(notebook, tmp_path), label=label) as app:
        app.open_app()
        assert app.cell_errors() == []
        assert app.wait_for_figures() > 0
        check_every_control_redraws(app, f"{label}-controls", minimum=NOTEBOOKS[notebook])
        app.screenshot(f"{label}-after-sweep")
        app.assert_no_external_requests()
