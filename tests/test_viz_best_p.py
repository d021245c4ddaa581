"""The best-P figures are pure functions of a results object: titles, axis labels, legends and
hover text on every figure, and the right numbers on small hand-checkable results (the Pareto
front of the uniform runs and its greyed dominated points, the search's front, the budget, the
best plan, a pick, per-layer costs, the diminishing return of P)."""

from __future__ import annotations

import dataclasses
import html
import math
import subprocess
import sys
from pathlib import Path

import plotly.graph_objects as go
import pytest

from hetconv_edu.flops import hetconv_ratio, layer_cost
from hetconv_edu.study.answer import answer_sentence, budget_verdicts
from hetconv_edu.study.results import Costs, EvolutionCheck, LayerCosts, OptimalPResults, Run
from hetconv_edu.viz.best_p import (
    COLORS,
    MEANING_HTML,
    accuracy_vs_cost,
    answer_figure,
    answer_html,
    config_figure,
    cost_text,
    diminishing_returns,
    evolution_table_html,
    honesty_table_html,
    layer_costs_vs_p,
    plan_html,
    predicted_vs_retrained,
    provenance_html,
    uniform_points,
)
from hetconv_edu.viz.style import COLUMN_WIDTH
from tests.test_apps_best_p import PROVENANCE


def hetconv_layer(
    name: str, m: int, n: int, size: int, choices: tuple[int, ...], times: tuple[float, ...]
) -> LayerCosts:
    """A 3×3 layer with its analytic MACs and parameters, the given times and losses of one
    point per step up the choices."""
    costs = [layer_cost(f"hetconv:{p}", m, n, 3, size) for p in choices]
    return LayerCosts(
        name=name, in_channels=m, out_channels=n, out_size=size, stride=1, choices=choices,
        macs=tuple(c.macs for c in costs), params=tuple(c.params for c in costs),
        infer_ms=times, train_ms=tuple(3 * t for t in times),
        loss=tuple(0.01 * i for i in range(len(choices))),
    )  # fmt: skip


def uniform_run(p: int, seed: int, acc: float, macs: int, infer_ms: float) -> Run:
    return Run("uniform", (p, p), seed, acc, Costs(macs, 100, infer_ms, 3 * infer_ms), 10.0)


# Three uniform P, two seeds each, costs chosen by hand:
#   P=1: 3000 MACs, 3.0 ms, seeds 0.80 / 0.82 (mean 0.81)
#   P=2: 2000 MACs, 2.5 ms, seeds 0.81 / 0.83 (mean 0.82): cheaper and better than P=1
#   P=4: 1500 MACs, 3.5 ms, seeds 0.70 / 0.72 (mean 0.71)
# In MACs the front is P=4, P=2 (P=1 dominated by P=2); in time only P=2 is on it (P=1 and
# P=4 cost more and are less accurate).
RUNS = (
    uniform_run(1, 0, 0.80, 3000, 3.0),
    uniform_run(1, 1, 0.82, 3000, 3.0),
    uniform_run(2, 0, 0.81, 2000, 2.5),
    uniform_run(2, 1, 0.83, 2000, 2.5),
    uniform_run(4, 1, 0.72, 1500, 3.5),
    uniform_run(4, 0, 0.70, 1500, 3.5),
)


def results(runs: tuple[Run, ...] = RUNS) -> OptimalPResults:
    layers = (
        hetconv_layer("layer 1 (16→16, 8×8)", 16, 16, 8, (1, 2, 4), (1.0, 0.6, 0.8)),
        hetconv_layer("layer 2 (16→32, 4×4)", 16, 32, 4, (1, 2, 4, 8), (0.5, 0.4, 0.3, 0.35)),
    )
    fixed = Costs(macs=10_000, params=1_000, infer_ms=0.5, train_ms=1.5)
    standard = Costs(
        macs=fixed.macs + sum(layer.macs[0] for layer in layers),
        params=fixed.params + sum(layer.params[0] for layer in layers),
        infer_ms=2.0,
        train_ms=6.0,
    )
    return OptimalPResults(
        provenance=PROVENANCE, model="small_vgg", model_kwargs={"widths": [16, 16, 32]},
        input_shape=(3, 32, 32), standard=standard, fixed=fixed, reference_acc=0.85,
        layers=layers, runs=runs,
    )  # fmt: skip


def by_name(fig: go.Figure, name: str) -> go.BaseTraceType:
    matches = [t for t in fig.data if t.name == name]
    assert len(matches) == 1, (name, [t.name for t in fig.data])
    return matches[0]


def assert_labelled(fig: go.Figure) -> None:
    """A title, a title on every axis that holds data, a name on every trace in the legend,
    and hover text on every trace that is not marked hoverinfo='skip'."""
    assert fig.layout.title.text
    for trace in fig.data:
        xaxis = "xaxis" + (trace.xaxis or "x")[1:]
        yaxis = "yaxis" + (trace.yaxis or "y")[1:]
        assert fig.layout[xaxis].title.text, (trace.name, xaxis)
        assert fig.layout[yaxis].title.text, (trace.name, yaxis)
        if trace.showlegend is not False:
            assert trace.name, trace
        if trace.hoverinfo != "skip":
            assert trace.hovertext or trace.hovertemplate, trace.name


# ----------------------------------------------------------------------------- uniform P


def test_uniform_points_group_the_seeds_by_p() -> None:
    points = uniform_points(results())
    assert [pt.p for pt in points] == [1, 2, 4]
    assert [pt.accs for pt in points] == [(0.80, 0.82), (0.81, 0.83), (0.70, 0.72)]
    assert [pt.mean_acc for pt in points] == pytest.approx([0.81, 0.82, 0.71])
    assert [pt.cost("macs") for pt in points] == [3000, 2000, 1500]


def test_pareto_front_and_greyed_points_in_macs() -> None:
    fig = accuracy_vs_cost(results(), "macs", search=False)
    assert_labelled(fig)
    front = by_name(fig, "uniform P: Pareto front (means)")
    assert list(front.x) == pytest.approx([1500e-6, 2000e-6])  # millions of MACs, by cost
    assert list(front.y) == pytest.approx([71.0, 82.0])
    on = by_name(fig, "uniform P: mean ± spread over seeds")
    assert list(on.text) == ["P=4", "P=2"]
    assert on.marker.color == COLORS["uniform"]
    # ± the sample standard deviation of the two seeds, in points: |0.70 − 0.72| / √2
    assert list(on.error_y.array) == pytest.approx([2 / math.sqrt(2)] * 2)
    assert "± 1.4 (sample std over seeds)" in on.hovertext[0]
    dominated = by_name(fig, "uniform P: dominated (greyed)")
    assert list(dominated.text) == ["P=1"]
    assert dominated.marker.color == COLORS["dominated"]
    assert list(dominated.x) == pytest.approx([3000e-6])
    assert list(dominated.y) == pytest.approx([81.0])
    assert "dominated" in dominated.hovertext[0]
    seeds = by_name(fig, "uniform P: each seed")
    colors = {
        (round(x * 1e6), round(y, 6)): c
        for x, y, c in zip(seeds.x, seeds.y, seeds.marker.color, strict=True)
    }
    assert colors[(3000, 80.0)] == colors[(3000, 82.0)] == COLORS["dominated"]
    assert colors[(2000, 83.0)] == colors[(1500, 70.0)] == COLORS["uniform"]
    assert len(seeds.hovertext) == 6 and "seed 1" in seeds.hovertext[1]
    assert fig.layout.xaxis.title.text == "MACs per image (millions)"
    assert fig.layout.yaxis.title.text == "retrained test accuracy (%)"
    assert fig.layout.title.text == "Uniform P: accuracy vs MACs"
    low, high = fig.layout.xaxis.range  # MACs from zero (the saving is seen to scale), the
    assert -0.1 * high < low < 0 < high  # zero's tick just off the corner of the y axis
    # the dotted mean line goes through every P in cost order
    means = by_name(fig, "uniform P: mean over seeds")
    assert list(means.y) == pytest.approx([71.0, 82.0, 81.0])


def test_pareto_front_in_measured_time_differs() -> None:
    fig = accuracy_vs_cost(results(), "infer_ms", search=False)
    assert list(by_name(fig, "uniform P: Pareto front (means)").x) == [2.5]
    assert list(by_name(fig, "uniform P: dominated (greyed)").text) == ["P=1", "P=4"]
    assert fig.layout.xaxis.title.text == "inference time per image (ms)"
    assert fig.layout.title.text == "Uniform P: accuracy vs time"
    assert fig.layout.xaxis.range[1] >= 3.5  # every point and its label fit
    assert 0 < fig.layout.xaxis.range[0] < 2.5  # times zoom in on the points


def test_without_uniform_runs_the_predictions_stand_in() -> None:
    r = results(runs=())
    fig = accuracy_vs_cost(r, "macs", search=False)
    assert "(predicted)" in fig.layout.title.text
    assert fig.layout.yaxis.title.text == "predicted accuracy (%)"
    predicted = by_name(fig, "uniform P (predicted)")
    # uniform P ∈ {1, 2, 4}: the cost and predicted accuracy of (P, P)
    assert list(predicted.x) == pytest.approx([r.cost((p, p), "macs") / 1e6 for p in (1, 2, 4)])
    assert list(predicted.y) == pytest.approx([85.0, 83.0, 81.0])  # 0.85 − 2 × 0.01 per step


# ----------------------------------------------------------------------------- the search


def test_search_front_budget_plan_and_pick() -> None:
    r = results()
    budget = 0.6 * r.standard.macs
    plan = r.best("macs", budget)
    assert plan is not None
    fig = accuracy_vs_cost(r, "macs", budget=budget, plan=plan, pick=(1, 8))
    assert_labelled(fig)
    front = by_name(fig, "search: best per-layer P (predicted)")
    expected = r.front("macs")
    assert list(front.x) == pytest.approx([p.cost / 1e6 for p in expected])
    assert list(front.y) == pytest.approx([100 * (0.85 - p.loss) for p in expected])
    assert [t.split("</b>")[0] for t in front.hovertext] == [
        "<b>P = (" + ", ".join(map(str, p.config)) + ")" for p in expected
    ]
    star = by_name(fig, "best within the budget")
    assert list(star.x) == pytest.approx([plan.cost / 1e6])
    assert list(star.y) == pytest.approx([100 * (0.85 - plan.loss)])
    pick = by_name(fig, "your pick (predicted)")
    assert list(pick.x) == pytest.approx([r.cost((1, 8), "macs") / 1e6])
    assert list(pick.y) == pytest.approx([100 * r.predicted_acc((1, 8))])  # 0.85 − 0.03
    assert pick.y[0] == pytest.approx(82.0)
    (line,) = fig.layout.shapes
    assert line.x0 == line.x1 == pytest.approx(budget / 1e6)
    (note,) = fig.layout.annotations
    assert note.text == f"budget {cost_text(r, budget, 'macs')}" and "60% of standard" in note.text
    assert fig.layout.title.text == "Predicted by the weight-sharing net"
    assert fig.layout.yaxis.title.text == "predicted accuracy (%)"  # the title says by what


def _with_plan() -> OptimalPResults:
    """:func:`results` with the plan P = (2, 4) retrained with two seeds (0.78, 0.80) and
    searched at a MAC budget of 2,800 (one evolutionary check)."""
    costs = Costs(2500, 100, 2.2, 6.6)
    plan = tuple(
        Run("searched", (2, 4), seed, acc, costs, 9.0, "macs", 2800.0, 0.79)
        for seed, acc in ((0, 0.78), (1, 0.80))
    )
    check = EvolutionCheck("macs", 2800.0, (2, 4), 0.82, 0.79, (2, 4), 0.79, 5)
    return dataclasses.replace(results((*RUNS, *plan)), evolution=(check,))


def test_the_search_figure_shows_predictions_apart_from_retrained_accuracy() -> None:
    r = _with_plan()
    fig = accuracy_vs_cost(r, "infer_ms")
    predicted = by_name(fig, "searched configuration (predicted)")
    assert list(predicted.y) == pytest.approx([100 * r.predicted_acc((2, 4))])  # one per plan
    assert list(predicted.x) == pytest.approx([r.cost((2, 4), "infer_ms")])
    assert "searched for MACs per image ≤ 2.8k MACs" in predicted.hovertext[0]
    names = [t.name for t in fig.data]
    assert not [n for n in names if "retrained" in n or n.startswith("uniform P:")], names


def test_answer_figure_shows_every_retrained_network_with_its_seeds_spread() -> None:
    r = _with_plan()
    fig = answer_figure(r)
    assert_labelled(fig)
    uniform = [t for t in fig.data if t.name == "uniform P (retrained)"]
    plans = [t for t in fig.data if t.name == "searched plan (retrained)"]
    assert len(uniform) == len(plans) == 2  # against MACs and against measured time
    macs, time = uniform
    assert list(macs.text) == ["P=1", "P=2", "P=4"]
    assert list(macs.y) == pytest.approx([81.0, 82.0, 71.0])
    assert list(macs.x) == pytest.approx([3000e-6, 2000e-6, 1500e-6])
    assert list(time.x) == pytest.approx([3.0, 2.5, 3.5])
    assert list(macs.error_y.array) == pytest.approx([100 * 0.02 / math.sqrt(2)] * 3)
    assert list(plans[0].y) == pytest.approx([79.0])
    assert list(plans[0].error_y.array) == pytest.approx([100 * 0.02 / math.sqrt(2)])
    assert list(plans[1].x) == [2.2] and "79.0 ± 1.4 % (2 seeds)" in plans[1].hovertext[0]
    assert fig.layout.yaxis.title.text == "retrained test accuracy (%)"


def test_answer_html_states_the_computed_answer_and_each_budget_apart() -> None:
    r = _with_plan()
    markup = answer_html(r)
    assert html.escape(answer_sentence(r)) in markup
    (verdict,) = budget_verdicts(r)
    # P = (2, 4) costs 2,500 MACs: the best uniform P of equal or lower cost is P = 2 (82 %)
    assert verdict.rival.config == (2, 2) and not verdict.better
    assert f"<td class='num'>{100 * r.predicted_acc((2, 4)):.1f}%</td>" in markup  # predicted
    assert "<td class='num'>79.0 ± 1.4 % (2 seeds)</td>" in markup  # retrained, apart
    assert "P = 2: 82.0 ± 1.4 % (2 seeds)" in markup
    assert "no better than uniform P = 2 within noise" in markup
    assert answer_html(results(runs=())).count("<tr>") == 0  # nothing retrained: the sentence


def test_cost_text_says_share_of_standard() -> None:
    r = results()
    assert cost_text(r, r.standard.macs / 2, "macs").endswith("MACs (50% of standard)")
    assert cost_text(r, 1.0, "infer_ms") == "1 ms (50% of standard)"  # standard: 2.0 ms
    with pytest.raises(ValueError, match="metric must be one of"):
        cost_text(r, 1.0, "joules")


# ----------------------------------------------------------------------------- per-layer costs


def test_layer_costs_vs_p_relative_values_fastest_ring_and_floor() -> None:
    r = results()
    fig = layer_costs_vs_p(r)
    assert_labelled(fig)
    left = [t for t in fig.data if t.xaxis == "x" and t.mode == "lines+markers"]
    right = [t for t in fig.data if t.xaxis == "x2" and t.mode == "lines+markers"]
    assert [list(t.y) for t in left] == [
        pytest.approx([1.0, 0.6, 0.8]),
        pytest.approx([1.0, 0.8, 0.6, 0.7]),
    ]
    assert list(right[0].y) == pytest.approx([hetconv_ratio(3, p) for p in (1, 2, 4)])
    assert list(right[1].y) == pytest.approx([hetconv_ratio(3, p) for p in (1, 2, 4, 8)])
    assert left[0].line.color == right[0].line.color != left[1].line.color
    rings = [t for t in fig.data if t.marker.symbol == "circle-open"]
    assert [(list(t.x), list(t.y)) for t in rings] == [
        ([2], pytest.approx([0.6])),  # layer 1 is fastest at P=2, not at its largest P
        ([4], pytest.approx([0.6])),  # layer 2 at P=4, not P=8
    ]
    floor = by_name(fig, "MACs floor 1/K² = 1/9")
    assert list(floor.y) == pytest.approx([1 / 9, 1 / 9]) and floor.xaxis == "x2"
    assert fig.layout.xaxis.type == fig.layout.xaxis2.type == "log"
    assert fig.layout.annotations[0].text == "measured: inference time"
    train = layer_costs_vs_p(r, "train_ms")
    assert train.layout.annotations[0].text == "measured: training-step time"
    with pytest.raises(ValueError, match="time_metric"):
        layer_costs_vs_p(r, "macs")


def test_diminishing_returns_halve_at_every_doubling() -> None:
    fig = diminishing_returns(3, 64)
    assert_labelled(fig)
    bars = next(t for t in fig.data if t.type == "bar")
    assert list(bars.x) == ["1→2", "2→4", "4→8", "8→16", "16→32", "32→64"]
    # (1 − 1/9)/(2P): 4/9, 2/9, 1/9, 1/18, 1/36, 1/72
    assert list(bars.y) == pytest.approx([8 / 9 / (2 * p) for p in (1, 2, 4, 8, 16, 32)])
    cost = by_name(fig, "cost r(P) = 1/P + (1 − 1/P)/K²")
    assert list(cost.y) == pytest.approx([hetconv_ratio(3, p) for p in (1, 2, 4, 8, 16, 32, 64)])
    saved = by_name(fig, "saved so far 1 − r(P)")
    assert [a + b for a, b in zip(cost.y, saved.y, strict=True)] == pytest.approx([1.0] * 7)
    assert list(by_name(fig, "cost floor 1/K² = 0.111").y) == pytest.approx([1 / 9] * 2)
    assert "K = 3" in fig.layout.title.text
    assert math.isclose(diminishing_returns(5, 8).data[0].y[-1], hetconv_ratio(5, 8))
    with pytest.raises(ValueError, match="kernel_size"):
        diminishing_returns(1)
    with pytest.raises(ValueError, match="max_p"):
        diminishing_returns(3, 1)


# ----------------------------------------------------------------------------- configurations


def test_config_figure_draws_p_per_layer_with_hover() -> None:
    r = results()
    fig = config_figure(r, {"search's best": (2, 8), "your pick": (1, 1)}, title="Two")
    assert_labelled(fig)
    assert [list(t.y) for t in fig.data] == [[2, 8], [1, 1]]
    assert [t.name for t in fig.data] == ["search's best", "your pick"]
    assert list(fig.data[0].x) == ["1: 16→16", "2: 16→32"]
    assert list(fig.data[0].text) == ["2", "8"]  # each bar's P on it
    assert fig.layout.xaxis.tickangle == 0  # upright
    assert fig.layout.meta[COLUMN_WIDTH]  # as wide as its column of controls, in both styles
    hover = fig.data[0].hovertext[1]
    macs = r.layers[1].macs[3]
    assert f"{macs / 1000:.3g}k MACs" in hover and "sensitivity: −3.00 points" in hover
    assert fig.layout.yaxis.type == "log" and list(fig.layout.yaxis.tickvals) == [1, 2, 4, 8]
    assert fig.layout.title.text == "Two"
    with pytest.raises(ValueError, match=r"takes P ∈ \{1, 2, 4\}, got 8"):
        config_figure(r, {"bad": (8, 8)})


def test_predicted_vs_retrained_points_and_rank_correlation() -> None:
    r = results()
    fig = predicted_vs_retrained(r)
    assert_labelled(fig)
    uniform = by_name(fig, "uniform runs")
    assert list(uniform.x) == pytest.approx([100 * r.predicted_acc(run.config) for run in RUNS])
    assert list(uniform.y) == pytest.approx([100 * run.test_acc for run in RUNS])
    assert f"Spearman ρ = {r.rank_correlation():.2f} over 6 runs" in fig.layout.title.text
    diagonal = by_name(fig, "retrained = predicted")
    assert list(diagonal.x) == list(diagonal.y)
    empty = predicted_vs_retrained(results(runs=()))
    assert "undefined" in empty.layout.title.text


# ----------------------------------------------------------------------------- HTML panels


def test_plan_html_numbers_come_from_the_results() -> None:
    r = results()
    markup = plan_html(r, (2, 4), heading="Best configuration found")
    assert "Best configuration found" in markup
    assert "data-key='config'>P = (2, 4)<" in markup
    assert f"data-key='predicted'>{100 * r.predicted_acc((2, 4)):.1f}%<" in markup
    assert "data-key='predicted'>82.0%<" in markup  # 0.85 − 0.01 − 0.02
    for key in ("macs", "infer_ms", "train_ms"):
        assert f"data-key='{key}'>{cost_text(r, r.cost((2, 4), key), key)}<" in markup
    with pytest.raises(ValueError):
        plan_html(r, (3, 4), heading="x")


def test_honesty_evolution_provenance_and_meaning_panels() -> None:
    r = results()
    table = honesty_table_html(r)
    assert table.count("<tr>") == 1 + len(RUNS)
    assert "P=4" in table and "70.0%" in table
    assert "cannot be checked" in honesty_table_html(results(runs=()))
    assert evolution_table_html(r) == ""
    prov = provenance_html(r, source="/x/results.json")
    for key in ("source", "command", "date", "package version", "machine", "data"):
        assert f"<th>{key}</th>" in prov
    assert "training budget" in prov and "Test CPU" in prov and "/x/results.json" in prov
    for limit in ("One data set", "One machine", "Small networks", "Short training"):
        assert limit in MEANING_HTML


def test_the_figures_import_and_draw_without_torch() -> None:
    # A fresh interpreter: this test process has torch loaded already.
    script = (
        "import sys\n"
        "from hetconv_edu.viz.best_p import diminishing_returns\n"
        "from hetconv_edu.study.results import OptimalPResults\n"
        "diminishing_returns(3)\n"
        "print('torch' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False", "hetconv_edu.viz.best_p imported torch"
