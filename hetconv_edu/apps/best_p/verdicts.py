"""What the best-P app's widgets show, computed from the results: the budget slider's range
and the budget it means (:func:`slider_range`, :func:`budget_from_slider`), a student's pick
judged against the search (:func:`judge_pick`, :func:`verdict_text`) and the honesty check's
verdict (:func:`correlation_verdict`). No widgets."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from hetconv_edu.study.results import METRICS, OptimalPResults
from hetconv_edu.study.search import Plan
from hetconv_edu.viz.best_p import cost_text

BUDGET_METRICS: dict[str, str] = {
    "macs": "MACs",
    "infer_ms": "time per image",
}
"""The budget toggle's choices: the metric key and its label."""

WEAK_CORRELATION = 0.5
"""Below this rank correlation the app says the weight-sharing network ranks badly."""


# --------------------------------------------------------------------- budget and pick (pure)


def budget_bounds(results: OptimalPResults, metric: str) -> tuple[float, float]:
    """The slider's range in slider units: from the cheapest configuration of the search's
    front to the costliest of the front and the standard network; for MACs as fractions of
    the standard network's MACs, for times in ms per image."""
    front = results.front(metric)
    lo, hi = front[0].cost, max(front[-1].cost, results.standard.get(metric))
    if metric == "macs":
        return lo / results.standard.macs, hi / results.standard.macs
    return lo, hi


@dataclass(frozen=True)
class SliderRange:
    """The budget slider's settings for a metric, in slider units: the grid ``lo + k·step``
    up to ``hi``, the format of its readout and ``value``, where it starts (on the grid)."""

    lo: float
    hi: float
    step: float
    value: float
    readout_format: str


def slider_range(results: OptimalPResults, metric: str) -> SliderRange:
    """The slider for ``metric``: MACs in steps of 1 % of the standard network starting at
    50 % (or the nearest value in range), times in about 100 steps of whole microseconds
    starting half-way. The bounds of :func:`budget_bounds` are rounded up to the step, so the
    smallest value still fits the cheapest configuration and the largest one the standard
    network; values on the grid are what a browser's slider sends back."""
    lo, hi = budget_bounds(results, metric)
    if metric == "macs":
        step, digits, fmt = 0.01, 2, ".0%"
    else:
        step, digits, fmt = max(0.001, round((hi - lo) / 100, 3)), 3, ".3f"
    lo = round(math.ceil(round(lo / step, 6)) * step, digits)
    hi = max(lo, round(math.ceil(round(hi / step, 6)) * step, digits))
    start = 0.5 if metric == "macs" else (lo + hi) / 2
    k = round((min(max(start, lo), hi) - lo) / step)
    return SliderRange(lo, hi, step, round(lo + k * step, digits), fmt)


def budget_from_slider(results: OptimalPResults, metric: str, value: float) -> float:
    """The budget in the metric's own units: ``value`` × the standard network's MACs for
    ``"macs"`` (a fraction), ``value`` itself for times (ms per image)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(map(repr, METRICS))}, got {metric!r}")
    return value * results.standard.macs if metric == "macs" else float(value)


@dataclass(frozen=True)
class PickVerdict:
    """A student's configuration judged against the search at a budget (additive model)."""

    config: tuple[int, ...]
    cost: float
    predicted: float
    budget: float
    best: Plan | None
    """The search's plan within the budget (None when nothing fits)."""

    @property
    def over_budget(self) -> bool:
        """The pick costs more than the budget."""
        return self.cost > self.budget

    @property
    def best_predicted(self) -> float | None:
        """The search's predicted accuracy within the budget."""
        return None if self.best is None else self.predicted + self.gap

    @property
    def gap(self) -> float:
        """How much more accuracy the search predicts than the pick (≥ 0 within the budget:
        the knapsack is exact for the additive model)."""
        return 0.0 if self.best is None else self._best_acc - self.predicted

    @property
    def matched(self) -> bool:
        """Within the budget and as accurate as the search (to rounding)."""
        return not self.over_budget and self.gap <= 1e-9

    _best_acc: float = math.nan


def judge_pick(
    results: OptimalPResults, config: Sequence[int], metric: str, budget: float
) -> PickVerdict:
    """Judge ``config`` at ``budget`` (in ``metric``'s units): its additive cost and predicted
    accuracy against the best plan within the budget, :meth:`OptimalPResults.best`."""
    config = results.check_config(config)
    best = results.best(metric, budget)
    return PickVerdict(
        config=config,
        cost=results.cost(config, metric),
        predicted=results.predicted_acc(config),
        budget=budget,
        best=best,
        _best_acc=math.nan if best is None else results.reference_acc - best.loss,
    )


def verdict_text(results: OptimalPResults, verdict: PickVerdict, metric: str) -> tuple[str, str]:
    """(message kind, plain text) saying whether the pick beats the search at the budget."""
    pick = f"Your pick P = {verdict.config}: predicted {100 * verdict.predicted:.1f}%, " + (
        cost_text(results, verdict.cost, metric)
    )
    if verdict.over_budget:
        return "warn", (
            f"{pick}. That is over the budget ({cost_text(results, verdict.budget, metric)}): "
            "raise P in some layers, or move the budget slider."
        )
    best = verdict.best
    assert best is not None  # the pick fits, so the search found something within the budget
    search = (
        f"the search's plan P = {best.config} predicts {100 * verdict.best_predicted:.1f}% "
        f"for {cost_text(results, best.cost, metric)}"
    )
    if verdict.matched:
        return "ok", (
            f"{pick}. You matched the search at this budget ({search}). Nobody can beat it "
            "under the additive model: the knapsack is exact. Whether the model is right is "
            "the honesty check's question."
        )
    return "info", (
        f"{pick}. The search does better at this budget by {100 * verdict.gap:.2f} points: "
        f"{search}. Which layers differ? The bars show both."
    )


def correlation_verdict(results: OptimalPResults) -> tuple[str, str]:
    """(message kind, plain text) on how well the weight-sharing network ranks configurations:
    Spearman's ρ between predicted and retrained accuracy, weak below :data:`WEAK_CORRELATION`."""
    runs = {(r.config, r.seed) for r in results.runs}
    if not runs:
        return "info", (
            "No network was retrained from scratch in these results (a live run trains only the "
            "weight-sharing network), so the predictions cannot be checked here. The shipped "
            "results file has the check."
        )
    rho = results.rank_correlation()
    if math.isnan(rho):
        return "warn", (
            f"The rank correlation is undefined with these {len(runs)} run(s): it needs at "
            "least two runs whose accuracies differ."
        )
    few = f" With only {len(runs)} runs, ρ itself is uncertain." if len(runs) < 10 else ""
    if rho < WEAK_CORRELATION:
        return "warn", (
            f"Spearman ρ = {rho:.2f} (below {WEAK_CORRELATION}): the weight-sharing network "
            "ranks configurations badly here. Its predictions are not a reliable guide for "
            "this network and training budget; trust the networks trained from scratch." + few
        )
    return "ok", (
        f"Spearman ρ = {rho:.2f}: the weight-sharing network ranks these configurations "
        f"reasonably well (the levels can differ; the order is what the search needs).{few}"
    )
