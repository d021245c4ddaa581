"""The best-P study's answer (:mod:`hetconv_edu.study.answer`): seeds' means and spreads, and the
rule that decides whether a per-layer plan beats uniform P (better only by more than the seeds'
spread)."""

from __future__ import annotations

import statistics
from types import SimpleNamespace

import pytest

from hetconv_edu.study.answer import (
    answer_sentence,
    budget_verdicts,
    seed_summaries,
    spread,
    uniform_summaries,
)
from hetconv_edu.study.results import Costs, EvolutionCheck, Run

STANDARD = Costs(macs=1000, params=100, infer_ms=10.0, train_ms=30.0)


def _costs(macs: int, ms: float) -> Costs:
    return Costs(macs=macs, params=10, infer_ms=ms, train_ms=3 * ms)


def _uniform(p: int, accs: list[float], macs: int, ms: float) -> list[Run]:
    return [
        Run("uniform", (p, p), seed, acc, _costs(macs, ms), 1.0) for seed, acc in enumerate(accs)
    ]


def _plan(config, accs, macs, ms, metric="macs", budget=500.0) -> list[Run]:
    return [
        Run("searched", config, seed, acc, _costs(macs, ms), 1.0, metric, budget, 0.5)
        for seed, acc in enumerate(accs)
    ]


def _check(config, metric="macs", budget=500.0) -> EvolutionCheck:
    return EvolutionCheck(metric, budget, config, 0.5, 0.5, config, 0.5, 3)


def _results(runs, checks) -> SimpleNamespace:
    return SimpleNamespace(runs=tuple(runs), evolution=tuple(checks), standard=STANDARD)


UNIFORM = [
    *_uniform(1, [0.80, 0.81, 0.82], 1000, 10.0),
    *_uniform(2, [0.78, 0.79, 0.80], 600, 8.0),
    *_uniform(4, [0.76, 0.77, 0.78], 400, 7.0),
]


def test_spread_is_the_sample_standard_deviation() -> None:
    assert spread([0.7, 0.8, 0.9]) == pytest.approx(statistics.stdev([0.7, 0.8, 0.9]))
    assert spread([0.75]) is None and spread([]) is None


def test_seed_summaries_group_seeds_and_count_a_reused_run_once() -> None:
    reused = _plan((2, 2), [0.78, 0.79, 0.80], 600, 8.0)  # a plan that is uniform P = 2
    summaries = seed_summaries(_results([*UNIFORM, *reused], []))
    p2 = summaries[(2, 2)]
    assert p2.uniform and p2.seeds == (0, 1, 2) and p2.accs == (0.78, 0.79, 0.80)
    assert p2.mean == pytest.approx(0.79) and p2.spread == pytest.approx(0.01)
    assert p2.label == "P = 2" and p2.text() == "79.0 ± 1.0 % (3 seeds)"
    assert [u.config[0] for u in uniform_summaries(_results(UNIFORM, []))] == [1, 2, 4]


def test_a_plan_is_better_only_by_more_than_the_seeds_spread() -> None:
    # P=(1, 4) costs 500 MACs: uniform P = 4 (400) is the best uniform P at equal or lower
    # cost (P = 2 costs 600, more). Uniform P = 4: 77 ± 1; the plan 79 ± 1: +2 > 1.
    plan = _plan((1, 4), [0.78, 0.79, 0.80], 500, 7.5)
    (v,) = budget_verdicts(_results([*UNIFORM, *plan], [_check((1, 4))]))
    assert v.rival.config == (4, 4) and v.plan.config == (1, 4)
    assert v.margin == pytest.approx(0.02) and v.noise == pytest.approx(0.01) and v.better
    assert v.fraction == pytest.approx(0.5) and v.outcome == "better than uniform P = 4"
    assert "+2.0 points (spread 1.0), better than uniform P = 4" in v.sentence()
    # the same means, a wider spread on the plan's side: within noise
    noisy = _plan((1, 4), [0.765, 0.79, 0.815], 500, 7.5)
    (v,) = budget_verdicts(_results([*UNIFORM, *noisy], [_check((1, 4))]))
    assert v.margin == pytest.approx(0.02) and v.noise == pytest.approx(0.025)
    assert not v.better and v.outcome == "no better than uniform P = 4 within noise"
    # a margin exactly equal to the spread (binary fractions: no rounding) is not more than it
    base = _uniform(4, [0.25, 0.5, 0.75], 400, 7.0)
    equal = _plan((1, 4), [0.5, 0.75, 1.0], 500, 7.5)
    (v,) = budget_verdicts(_results([*base, *equal], [_check((1, 4))]))
    assert v.margin == v.noise == 0.25 and not v.better


def test_the_rival_is_the_most_accurate_uniform_p_costing_no_more_in_the_budgets_metric() -> None:
    # 8.0 ms: uniform P = 2 (8.0 ms, equal cost) is allowed and beats P = 4 (7.0 ms)
    plan = _plan((1, 4), [0.78, 0.79, 0.80], 500, 8.0, "infer_ms", 8.5)
    (v,) = budget_verdicts(_results([*UNIFORM, *plan], [_check((1, 4), "infer_ms", 8.5)]))
    assert v.rival.config == (2, 2) and v.margin == pytest.approx(0.0) and not v.better
    assert v.budget_text == (
        "≤ 85 % of the standard network's measured inference time (whole network)"
    )
    # cheaper than every uniform network: nothing to compare with
    cheap = _plan((4, 8), [0.70, 0.71, 0.72], 300, 6.0)
    (v,) = budget_verdicts(_results([*UNIFORM, *cheap], [_check((4, 8))]))
    assert v.rival is None and v.margin is None and not v.better
    assert "cheaper than every uniform P" in v.sentence()


def test_one_seed_has_no_spread_so_the_rule_cannot_tell() -> None:
    plan = _plan((1, 4), [0.90], 500, 7.5)  # far above, but one seed
    (v,) = budget_verdicts(_results([*UNIFORM, *plan], [_check((1, 4))]))
    assert v.margin == pytest.approx(0.13) and v.noise is None and not v.better
    assert v.outcome.startswith("cannot tell against uniform P = 4")
    text = answer_sentence(_results([*UNIFORM, *plan], [_check((1, 4))]))
    assert text.startswith("The seeds cannot tell a per-layer plan from uniform P")


def test_a_plan_that_was_not_retrained_is_said_so() -> None:
    (v,) = budget_verdicts(_results(UNIFORM, [_check((1, 4))]))
    assert v.plan is None and v.outcome == "not retrained" and "not retrained" in v.sentence()
    assert answer_sentence(_results(UNIFORM, [_check((1, 4))])).startswith("No per-layer plan")


def test_answer_sentence_names_wins_or_the_largest_gain_against_its_spread() -> None:
    win = _plan((1, 4), [0.78, 0.79, 0.80], 500, 7.5)
    lose = _plan((1, 2), [0.78, 0.80, 0.82], 800, 9.0, budget=800.0)
    runs, checks = [*UNIFORM, *win, *lose], [_check((1, 4)), _check((1, 2), budget=800.0)]
    text = answer_sentence(_results(runs, checks))
    assert text.startswith("A per-layer P beat uniform P at 1 of 2 budgets")
    assert "P = (1, 4) reached 79.0 ± 1.0 % (3 seeds) against 77.0 ± 1.0 % (3 seeds)" in text
    text = answer_sentence(_results([*UNIFORM, *lose], [_check((1, 2), budget=800.0)]))
    # P=(1, 2) at 800 MACs: the rival is uniform P = 2 (600): +1.0 points, spread 2.0
    assert text.startswith("No per-layer P beat the best uniform P of equal or lower cost")
    assert "(1 budget, 3 seeds per network" in text
    assert "largest gain +1.0 points against a spread of 2.0" in text
    assert "3 seeds per network" in text and text.count(".") >= 1 and "\n" not in text
