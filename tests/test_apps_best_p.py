"""The best-P app driven headless, on a results file built here by hand: the budget slider and
the metric toggle give the search's best configuration, "Beat the search" judges a pick, the
honesty check says plainly when the weight-sharing network ranks badly, a missing or broken
results file gives a message (no traceback), and "Run it here" trains, measures and switches
the app to its results, with a Stop that really stops during training (a Stop during the
measurements: tests/test_study_live.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import html
import itertools
import json
import math
import re
from pathlib import Path

import pytest

from hetconv_edu.apps.best_p import (
    CI_LIVE_SETTINGS,
    RESULTS_ENV,
    WEAK_CORRELATION,
    BestPApp,
    budget_bounds,
    budget_from_slider,
    correlation_verdict,
    judge_pick,
    slider_range,
    verdict_text,
)
from hetconv_edu.apps.best_p import live as best_p_live
from hetconv_edu.apps.controls import AnswerChecker
from hetconv_edu.apps.jobs import message_text
from hetconv_edu.data import load_dataset
from hetconv_edu.flops import layer_cost
from hetconv_edu.study.answer import answer_sentence, budget_verdicts, spread, uniform_summaries
from hetconv_edu.study.reference import stamp_reference
from hetconv_edu.study.results import (
    Costs,
    LayerCosts,
    OptimalPResults,
    ResultsFileError,
    Run,
    load_results,
    save_results,
)
from hetconv_edu.viz.best_p import cost_text, plan_html
from tests.datasets import write_fake_cifar10
from tests.test_study_results import TAMPERED, tampered_file

LAYERS = ((8, 16, 16), (16, 16, 16), (16, 32, 8), (32, 32, 8))
"""(M, N, output size) of small_vgg's switchable layers with widths (8, 16, 32)."""
CHOICES = ((1, 2, 4, 8), (1, 2, 4, 8, 16), (1, 2, 4, 8, 16), (1, 2, 4, 8, 16, 32))
RATES = (0.0213, 0.0041, 0.0127, 0.0059)
"""Accuracy lost per doubling of P in each layer (the early layer is the sensitive one)."""

PROVENANCE = {
    "command": "python benchmarks/optimal_p.py data",
    "date": "2025-01-01T00:00:00+00:00",
    "package_version": "0.1.0",
    "machine": {"processor": "Test CPU", "physical_cores": 2},
    "data": {"name": "CIFAR-10", "train_images": 3000},
    "training_budget": {"epochs": 5, "seeds": [0, 1]},
}


def make_layer(index: int) -> LayerCosts:
    """Analytic MACs and parameters; a measured time that falls with the MACs but carries a
    per-group overhead (so the largest P is not the fastest); the loss grows with log2 P."""
    (m, n, size), choices, rate = LAYERS[index], CHOICES[index], RATES[index]
    costs = [layer_cost(f"hetconv:{p}", m, n, 3, size) for p in choices]
    times = tuple(c.macs / 2e7 + 0.0002 * p for c, p in zip(costs, choices, strict=True))
    return LayerCosts(
        name=f"layer {index + 1} ({m}→{n}, {size}×{size})", in_channels=m, out_channels=n,
        out_size=size, stride=1, choices=choices, macs=tuple(c.macs for c in costs),
        params=tuple(c.params for c in costs), infer_ms=times,
        train_ms=tuple(3 * t for t in times),
        loss=tuple(rate * math.log2(p) for p in choices),
    )  # fmt: skip


def run(kind: str, config: tuple[int, ...], seed: int, acc: float, r: OptimalPResults) -> Run:
    params = r.fixed.params + sum(
        layer.params[layer.choices.index(p)] for layer, p in zip(r.layers, config, strict=True)
    )
    costs = Costs(
        round(r.cost(config, "macs")), params, r.cost(config, "infer_ms"),
        r.cost(config, "train_ms"),
    )  # fmt: skip
    if kind == "uniform":
        return Run(kind, config, seed, acc, costs, 30.0)
    return Run(kind, config, seed, acc, costs, 30.0, "macs", costs.macs * 1.05, acc + 0.01)


def make_results(*, ranks_well: bool = True, runs: bool = True) -> OptimalPResults:
    """Hand-made results of small_vgg (widths 8-16-32): four switchable layers, uniform runs
    at P = 1, 2, 4, 8 (two seeds) and two searched configurations, whose retrained accuracy
    follows the predictions (``ranks_well``) or runs against them."""
    layers = tuple(make_layer(i) for i in range(len(LAYERS)))
    fixed = Costs(macs=221_504, params=554, infer_ms=0.05, train_ms=0.15)
    standard = Costs(
        macs=fixed.macs + sum(layer.macs[0] for layer in layers),
        params=fixed.params + sum(layer.params[0] for layer in layers),
        infer_ms=fixed.infer_ms + sum(layer.infer_ms[0] for layer in layers),
        train_ms=fixed.train_ms + sum(layer.train_ms[0] for layer in layers),
    )
    r = OptimalPResults(
        provenance=PROVENANCE, model="small_vgg", model_kwargs={"widths": [8, 16, 32]},
        input_shape=(3, 32, 32), standard=standard, fixed=fixed, reference_acc=0.74,
        layers=layers,
    )  # fmt: skip
    if not runs:
        return r
    configs = [((p,) * 4, "uniform", seed) for p in (1, 2, 4, 8) for seed in (0, 1)]
    configs += [((1, 4, 4, 8), "searched", 0), ((2, 8, 8, 16), "searched", 0)]
    made = []
    for config, kind, seed in configs:
        predicted = r.predicted_acc(config)
        acc = predicted - 0.05 + 0.002 * seed if ranks_well else 1.3 - predicted + 0.002 * seed
        made.append(run(kind, config, seed, acc, r))
    return dataclasses.replace(r, runs=tuple(made))


@pytest.fixture(scope="module")
def results() -> OptimalPResults:
    return make_results()


@pytest.fixture()
def results_file(tmp_path: Path, results: OptimalPResults) -> Path:
    return save_results(results, tmp_path / "optimal_p_small_vgg.json")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("fake_cifar10")
    write_fake_cifar10(root, n_train=400, n_test=100, seed=0)
    return load_dataset("cifar10", root, subset=200, test_subset=100, seed=0)


def best_by_brute_force(r: OptimalPResults, metric: str, budget: float) -> tuple[int, ...]:
    """The configuration of highest predicted accuracy within the budget, by trying them all."""
    fits = [c for c in itertools.product(*CHOICES) if r.cost(c, metric) <= budget]
    return max(fits, key=lambda c: (r.predicted_acc(c), -r.cost(c, metric)))


def summary_cells(app: BestPApp) -> dict[str, str]:
    """The numbers of the budget section's summary table, by data-key."""
    markup = app.summary.value
    cells = {}
    for key in ("config", "predicted", "macs", "infer_ms", "train_ms"):
        start = markup.index(f"data-key='{key}'>") + len(f"data-key='{key}'>")
        cells[key] = message_text(markup[start : markup.index("</td>", start)])
    return cells


# ----------------------------------------------------------------------------- pure functions


def test_budget_bounds_slider_range_and_budget(results: OptimalPResults) -> None:
    r = results
    std = r.standard
    cheapest = sum(layer.macs[-1] for layer in r.layers) + r.fixed.macs  # every layer's top P
    assert budget_bounds(r, "macs") == pytest.approx((cheapest / std.macs, 1.0))
    lo, hi = budget_bounds(r, "infer_ms")
    fastest = r.fixed.infer_ms + sum(min(layer.infer_ms) for layer in r.layers)
    assert lo == pytest.approx(fastest) and hi == pytest.approx(std.infer_ms)

    grid = slider_range(r, "macs")
    assert grid.step == 0.01 and grid.readout_format == ".0%"
    assert grid.lo == math.ceil(100 * cheapest / std.macs) / 100 and grid.hi == 1.0
    assert grid.value == 0.5
    assert r.best("macs", budget_from_slider(r, "macs", grid.lo)) is not None  # lowest fits
    times = slider_range(r, "infer_ms")
    assert times.lo >= lo and times.lo - lo < times.step and times.hi >= hi
    assert times.lo <= times.value <= times.hi and times.readout_format == ".3f"
    k = (times.value - times.lo) / times.step
    assert k == pytest.approx(round(k), abs=1e-6)  # on the grid a browser slider sends back

    assert budget_from_slider(r, "macs", 0.4) == pytest.approx(0.4 * std.macs)
    assert budget_from_slider(r, "infer_ms", 0.25) == 0.25
    with pytest.raises(ValueError, match="metric must be one of"):
        budget_from_slider(r, "joules", 1.0)


@pytest.mark.parametrize(("metric", "fraction"), [("macs", 0.35), ("macs", 0.6), ("infer_ms", 0.7)])
def test_judge_pick_against_brute_force(
    results: OptimalPResults, metric: str, fraction: float
) -> None:
    r = results
    budget = fraction * r.standard.get(metric)
    best = best_by_brute_force(r, metric, budget)

    matched = judge_pick(r, best, metric, budget)
    assert matched.matched and not matched.over_budget and matched.gap == pytest.approx(0)
    assert matched.best is not None and matched.best_predicted == pytest.approx(
        r.predicted_acc(best)
    )
    kind, text = verdict_text(r, matched, metric)
    assert kind == "ok" and "You matched the search" in text

    uniform = next(
        (p,) * 4 for p in (1, 2, 4, 8) if r.cost((p,) * 4, metric) <= budget
    )  # the most accurate uniform P that fits
    verdict = judge_pick(r, uniform, metric, budget)
    assert verdict.gap == pytest.approx(r.predicted_acc(best) - r.predicted_acc(uniform))
    assert verdict.gap > 0 and not verdict.matched
    kind, text = verdict_text(r, verdict, metric)
    assert kind == "info"
    assert f"does better at this budget by {100 * verdict.gap:.2f} points" in text

    over = judge_pick(r, (1, 1, 1, 1), metric, budget)
    assert over.over_budget and over.cost == pytest.approx(r.standard.get(metric))
    kind, text = verdict_text(r, over, metric)
    assert kind == "warn" and "over the budget" in text
    assert cost_text(r, budget, metric) in text
    with pytest.raises(ValueError, match=r"layer 1 .* takes P ∈ \{1, 2, 4, 8\}, got 16"):
        judge_pick(r, (16, 16, 16, 16), metric, budget)


def test_correlation_verdict_says_plainly_when_ranking_is_bad() -> None:
    good = make_results()
    kind, text = correlation_verdict(good)
    assert kind == "ok" and good.rank_correlation() > WEAK_CORRELATION
    assert f"Spearman ρ = {good.rank_correlation():.2f}" in text

    bad = make_results(ranks_well=False)
    assert bad.rank_correlation() < 0
    kind, text = correlation_verdict(bad)
    assert kind == "warn" and "ranks configurations badly" in text
    assert "trust the networks trained from scratch" in text

    kind, text = correlation_verdict(make_results(runs=False))
    assert kind == "info" and "cannot be checked" in text
    one = dataclasses.replace(good, runs=good.runs[:1])
    kind, text = correlation_verdict(one)
    assert kind == "warn" and "undefined" in text


# ----------------------------------------------------------------------------- the app


def test_app_loads_the_file_and_the_budget_slider_redraws(
    results: OptimalPResults, results_file: Path
) -> None:
    app = BestPApp(path=results_file)
    r = app.results
    assert r == results and app.shipped == results and app.load_error is None
    assert "Showing the shipped results: small_vgg with 4 switchable layers" in app.message_text
    assert "10 networks trained from scratch" in app.message_text
    assert "has changed since" not in app.message_text
    assert str(results_file) in app.provenance.value and "Test CPU" in app.provenance.value
    # provenance (paths, fingerprints) waits in a closed disclosure
    assert app.provenance.value.startswith("<details><summary>")
    assert "<details open" not in app.provenance.value
    # one plain sentence of what the file shows, computed from it
    uniform: dict[int, list[float]] = {}
    for run in r.runs:
        if run.kind == "uniform":
            uniform.setdefault(run.config[0], []).append(run.test_acc)
    means = {p: 100 * sum(a) / len(a) for p, a in uniform.items()}
    best = max(means, key=lambda p: (means[p], -p))
    assert f"the most accurate was P = {best} ({means[best]:.1f} %)" in app.message_text
    assert f"{min(means.values()):.1f}–{max(means.values()):.1f} % test accuracy" in (
        app.message_text
    )

    def check_summary(metric: str, value: float) -> tuple[int, ...]:
        budget = budget_from_slider(r, metric, value)
        brute = best_by_brute_force(r, metric, budget)
        assert app.plan is not None and r.cost(app.plan.config, metric) <= budget
        assert r.predicted_acc(app.plan.config) == pytest.approx(r.predicted_acc(brute))
        expected = app.plan.config
        cells = summary_cells(app)
        assert cells["config"] == "P = (" + ", ".join(map(str, expected)) + ")"
        assert cells["predicted"] == f"{100 * r.predicted_acc(expected):.1f}%"
        for key in ("macs", "infer_ms", "train_ms"):
            assert cells[key] == cost_text(r, r.cost(expected, key), key)
        assert list(app.config_fig.data[0].y) == list(expected)
        star = next(t for t in app.front_fig.data if t.name == "best within the budget")
        scale = 1e6 if metric == "macs" else 1.0
        assert star.x[0] == pytest.approx(r.cost(expected, metric) / scale)
        assert app.front_fig.layout.shapes[0].x0 == pytest.approx(budget / scale)
        return expected

    assert app.budget_slider.value == 0.5
    at_half = check_summary("macs", 0.5)
    app.budget_slider.value = 0.35
    at_35 = check_summary("macs", 0.35)
    assert at_35 != at_half
    assert app.summary.value == plan_html(r, at_35, heading="Best configuration found")

    app.metric_toggle.value = "infer_ms"  # the slider becomes milliseconds
    grid = slider_range(r, "infer_ms")
    s = app.budget_slider
    assert (s.min, s.max, s.step, s.value) == (grid.lo, grid.hi, grid.step, grid.value)
    assert s.readout_format == ".3f"
    check_summary("infer_ms", grid.value)
    # the exercises ask for a MACs budget whatever the slider shows
    assert app.plan_at(0.35) == r.best("macs", 0.35 * r.standard.macs) != app.plan
    s.value = grid.lo  # the lowest budget still fits a configuration
    check_summary("infer_ms", grid.lo)
    app.metric_toggle.value = "macs"
    assert (s.min, s.value) == (slider_range(r, "macs").lo, 0.5)


def test_results_made_by_other_code_are_flagged(tmp_path: Path, results: OptimalPResults) -> None:
    current = stamp_reference(results, "python benchmarks/optimal_p.py --stamp-reference r.json")
    app = BestPApp(path=save_results(current, tmp_path / "current.json"))
    app.stale_check.join()  # the replay runs beside the app, which shows at once
    assert "hetconv-warn" not in app.message.value and "stale" not in app.message_text
    stamp = current.provenance["reference"]
    values = json.loads(json.dumps(stamp["values"]))
    values["costs"]["layers"][0]["macs"][0] += 1  # what another version of the code counted
    prov = {**current.provenance, "reference": {**stamp, "values": values}}
    old = dataclasses.replace(current, provenance=prov)
    app = BestPApp(path=save_results(old, tmp_path / "old.json"))
    app.stale_check.join()
    assert app.results == old  # still shown
    assert "hetconv-warn" in app.message.value
    assert "These results are stale" in app.message_text
    assert "costs.layers[0].macs[0]: recorded" in app.message_text
    unstamped = BestPApp(path=save_results(results, tmp_path / "unstamped.json"))
    unstamped.stale_check.join()
    assert "record no reference computation" in unstamped.message_text


def test_beat_the_search_dropdowns_and_copy(results_file: Path) -> None:
    app = BestPApp(path=results_file)
    r = app.results
    assert [list(p.options) for p in app.pickers] == [list(c) for c in CHOICES]
    assert app.pick == (4, 4, 4, 4)  # the middle uniform P to start from
    app.pickers[0].value = 1  # one dropdown: the verdict and figures follow
    verdict = judge_pick(r, (1, 4, 4, 4), "macs", 0.5 * r.standard.macs)
    assert app.verdict() == verdict
    assert message_text(app.pick_message.value) == verdict_text(r, verdict, "macs")[1]
    assert [t.name for t in app.beat_config_fig.data] == ["search's best", "your pick"]
    assert list(app.beat_config_fig.data[1].y) == [1, 4, 4, 4]
    cross = next(t for t in app.beat_front_fig.data if t.name == "your pick (predicted)")
    assert cross.x[0] == pytest.approx(r.cost((1, 4, 4, 4), "macs") / 1e6)
    app.copy_button.click()
    assert app.pick == app.plan.config
    assert "You matched the search" in message_text(app.pick_message.value)
    app.budget_slider.value = 0.3  # a smaller budget: the copied plan no longer fits
    assert app.verdict().over_budget and "over the budget" in message_text(app.pick_message.value)
    with pytest.raises(ValueError, match="takes P"):
        app.set_pick((3, 1, 1, 1))


def test_honesty_section_shows_the_check_or_says_there_is_none(tmp_path: Path) -> None:
    bad = BestPApp(make_results(ranks_well=False))
    assert "ranks configurations badly" in message_text(bad.correlation_message.value)
    assert bad.honesty_fig_box.layout.display is None
    assert len(bad.honesty_fig.data) == 3  # the diagonal, uniform and searched runs
    assert bad.honesty_table.value.count("<tr>") == 1 + 10

    none = BestPApp(make_results(runs=False))
    assert none.honesty_fig_box.layout.display == "none"
    assert "cannot be checked" in message_text(none.correlation_message.value)
    # with no run from scratch, the uniform configurations' predictions stand in
    names = [t.name for t in none.uniform_macs_fig.data]
    assert names == ["uniform P (predicted)"]


def test_the_answer_is_stated_from_the_file_with_its_uncertainty() -> None:
    """The shipped file (whatever its schema): the sentence is the one computed from it, each
    budget's plan shows its predicted and retrained accuracy apart, and the retrained networks
    are drawn with error bars from their seeds."""
    r = load_results()
    app = BestPApp()
    assert html.escape(answer_sentence(r)) in app.answer.value
    assert app.answer.value.count("<tr>") == 1 + len(r.evolution)
    for v in budget_verdicts(r):
        assert html.escape(v.outcome) in app.answer.value
    assert app.answer_fig_box.layout.display is None
    uniform = next(t for t in app.answer_fig.data if t.name == "uniform P (retrained)")
    spreads = [spread(u.accs) for u in uniform_summaries(r)]
    assert list(uniform.error_y.array) == pytest.approx([100 * s for s in spreads])
    none = BestPApp(make_results(runs=False))
    assert none.answer_fig_box.layout.display == "none"
    assert "No per-layer plan was retrained" in none.answer.value


def test_missing_results_file_gives_a_message_not_a_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "optimal_p_small_vgg.json"
    app = BestPApp(path=missing)
    assert app.results is None and app.shipped is None
    text = app.message_text
    assert f"no results file at {missing}" in text and "benchmarks/optimal_p.py" in text
    assert "Run it here" in text and "Traceback" not in app.message.value
    assert "hetconv-error" in app.message.value
    for body in (app.costs_body, app.uniform_body, app.budget_body, app.beat_body):
        assert body.layout.display == "none"
    for section in (app.uniform_section, app.budget_section, app.beat_section):
        assert "No results to show yet" in section.children[0].value
    assert len(app.returns_fig.data) > 0  # the analytic figure needs no results
    assert app.source_toggle.disabled
    app.budget_slider.value = 0.6  # controls do nothing, and raise nothing
    with pytest.raises(ResultsFileError, match="no results file at"):
        app.require_results()
    checker = AnswerChecker("How many?", lambda: len(app.require_results().layers))
    checker.box.value = "4"
    checker.button.click()  # explained in the feedback, not raised inside the callback
    feedback = checker.feedback.value
    assert "cannot be checked yet" in feedback
    assert "no results file at" in feedback and "Run it here" in feedback
    assert checker.attempts == 0 and not checker.solved


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not valid JSON"), (json.dumps({"schema": "other/9"}), "schema is 'other/9'")],
)
def test_broken_results_file_is_explained(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "broken.json"
    path.write_text(content)
    app = BestPApp(path=path)
    assert app.results is None and message in app.message_text
    assert str(path) in app.message_text


@pytest.mark.parametrize(("edit", "message"), TAMPERED)
def test_tampered_results_file_is_refused_with_one_message(tmp_path: Path, edit, message) -> None:
    path = tampered_file(tmp_path, edit)
    app = BestPApp(path=path)  # never raises, never shows the file as truth
    assert app.results is None and app.shipped is None
    assert re.search(message, app.message_text) and str(path) in app.message_text
    assert "hetconv-error" in app.message.value and "Traceback" not in app.message.value
    for body in (app.costs_body, app.uniform_body, app.budget_body, app.beat_body):
        assert body.layout.display == "none"


def test_results_file_that_is_not_utf8_is_refused_with_one_message(tmp_path: Path) -> None:
    path = save_results(make_results(), tmp_path / "r.json")
    path.write_bytes(path.read_bytes().replace(b"CIFAR-10", b"CIFAR\xff10"))
    app = BestPApp(path=path)
    assert app.results is None and "not a UTF-8 text file" in app.message_text


def test_environment_variable_names_the_results_file(
    results_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(RESULTS_ENV, str(results_file))
    app = BestPApp()
    assert app.path == results_file and app.results is not None
    monkeypatch.delenv(RESULTS_ENV)
    assert BestPApp(path=results_file.parent / "x.json").results is None


# ----------------------------------------------------------------------------- run it here

TINY_LIVE = dataclasses.replace(CI_LIVE_SETTINGS, choices=(1, 2, 4), timing_batch=2)


def test_live_run_in_ci_trains_measures_and_switches_the_app(
    tmp_path: Path, tiny_data, results_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HETCONV_EDU_CI", "1")
    app = BestPApp(path=results_file, data=tiny_data, run_dir=str(tmp_path / "runs"), device="cpu")
    assert app.live_settings == CI_LIVE_SETTINGS
    shipped = app.results
    live = asyncio.run(app.wait_live())  # CI: waiting starts the run (no button is pressed)
    assert live is not None and app.live is live and app.results is live
    assert "Done in" in app.live_message_text
    assert app.source_toggle.value == "live" and not app.source_toggle.disabled
    assert "Showing the live run" in app.message_text
    # what was measured: every layer at every choice, a loss of 0 at the smallest P
    assert [layer.choices for layer in live.layers] == [CI_LIVE_SETTINGS.choices] * 4
    for layer in live.layers:
        assert len(layer.infer_ms) == len(layer.loss) == 4 and layer.loss[0] == 0
        assert all(t > 0 for t in layer.infer_ms)
    assert live.runs == () and 0 <= live.reference_acc <= 1
    assert live.provenance["command"] == "BestPApp run it here (notebook 04)"
    steps = app.study.trainer.total_steps
    assert live.provenance["training_budget"]["steps"] == steps > 0
    curves = app.live_curves.data
    assert len(curves[0].x) == steps  # the live curves got every training step
    assert app.run_button.disabled is False and app.stop_button.disabled is True
    # the budget section now answers for the live results
    assert app.plan == live.best("macs", 0.5 * live.standard.macs)
    app.source_toggle.value = "shipped"
    assert app.results is shipped and "Showing the shipped results" in app.message_text
    assert asyncio.run(app.wait_live()) is live  # nothing running: returns at once


def test_stop_during_training_stops_early_and_keeps_the_shown_results(
    tmp_path: Path, tiny_data, results_file: Path
) -> None:
    settings = dataclasses.replace(TINY_LIVE, epochs=4, batch_size=20)  # 10 batches × 4 epochs
    app = BestPApp(
        path=results_file, data=tiny_data, live_settings=settings, run_dir=str(tmp_path / "runs"),
        device="cpu",
    )  # fmt: skip
    shipped = app.results

    async def press_stop_after(steps: int) -> int:
        while not (app.study and app.study.trainer and app.study.trainer.global_step >= steps):
            await asyncio.sleep(0)
        app.stop_button.click()
        return app.study.trainer.global_step

    async def main() -> int:
        task = app.start_live()
        assert task is not None
        await asyncio.sleep(0)
        assert app.running and app.start_live() is None  # a second run is refused
        assert app.run_button.disabled and not app.stop_button.disabled
        clicked_at = await asyncio.wait_for(press_stop_after(3), timeout=60)
        await asyncio.wait_for(task, timeout=60)
        return clicked_at

    clicked_at = asyncio.run(main())
    trainer = app.study.trainer
    assert trainer.total_steps == 40
    assert clicked_at <= trainer.global_step <= clicked_at + settings.batches_per_slice
    assert trainer.stopped and app.study.stage == "stopped" and app.study.results is None
    assert app.live is None and app.results is shipped and app.source_toggle.disabled
    assert "Stopped during training" in app.live_message_text
    assert len(app.live_curves.data[0].x) == trainer.global_step
    assert not app.running and not app.run_button.disabled and app.stop_button.disabled
    app.stop_live()
    assert "Nothing is running" in app.live_message_text


def test_live_run_without_cifar10_explains_what_to_do(tmp_path: Path, results_file: Path) -> None:
    empty = tmp_path / "no_data"
    empty.mkdir()
    app = BestPApp(path=results_file, data_root=str(empty), live_settings=TINY_LIVE,
                   run_dir=str(tmp_path / "runs"), device="cpu")  # fmt: skip
    assert app.run_live_blocking() is None
    text = app.live_message_text
    assert "Run it here needs CIFAR-10" in text and "HETCONV_EDU_DATA" in text
    assert "Traceback" not in app.live_message.value
    assert app.results is app.shipped and not app.run_button.disabled


def test_live_run_with_a_damaged_batch_explains_what_to_do(
    tmp_path: Path, results_file: Path
) -> None:
    folder = write_fake_cifar10(tmp_path / "data", n_train=100, n_test=20)
    (folder / "data_batch_2").write_bytes((folder / "data_batch_2").read_bytes()[:300])
    app = BestPApp(path=results_file, data_root=str(folder.parent), live_settings=TINY_LIVE,
                   run_dir=str(tmp_path / "runs"), device="cpu")  # fmt: skip
    assert app.run_live_blocking() is None
    text = app.live_message_text
    assert (
        text.startswith("The data could not be loaded") and "data_batch_2 could not be read" in text
    )
    assert "Traceback" not in app.live_message.value
    assert app.results is app.shipped and not app.run_button.disabled


def test_exercises_live_in_the_app_and_grade_from_the_results(results_file: Path) -> None:
    app = BestPApp(path=results_file)
    r = app.results
    expected = [
        (1 - 1 / 9) / (2 * 8),  # the saving of P 8 → 16, (1 − 1/K²)/(2P)
        math.prod(len(layer.choices) for layer in r.layers),
        100 * r.predicted_acc(r.best("macs", 0.40 * r.standard.macs).config),
    ]
    for number, value in enumerate(expected, start=1):
        checker = app.exercise(number)
        assert checker.expected == pytest.approx(value)
        assert checker.check(value) and not app.exercise(number).check(value + 1)
    with pytest.raises(ValueError, match="exercise number must be 1 … 3, got 4"):
        app.exercise(4)


def test_time_left_comes_from_the_measured_pace(monkeypatch: pytest.MonkeyPatch) -> None:
    app = BestPApp(results=make_results())
    clock = iter([100.0, 104.0, 108.0, 500.0])
    monkeypatch.setattr(best_p_live.time, "monotonic", lambda: next(clock))
    assert app._time_left(10, 100) == ""  # the first step seen starts the clock
    assert app._time_left(11, 100) == ""  # one step is no pace yet
    # 2 steps in 8 s: 4 s a step, 88 steps left
    assert app._time_left(12, 100) == " About 6 min of training left at the pace measured so far."
    assert "About 5 minutes" not in app._live_plan_text()
