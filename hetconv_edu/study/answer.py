"""The answer of the best-P study, with its uncertainty: seeds' means and spreads, and the rule
that decides whether a per-layer plan beats uniform P.

Pure Python (no torch): it reads the runs of an :class:`~hetconv_edu.study.results.OptimalPResults`
(any object with its ``runs``, ``evolution`` and ``standard``), so the figures, the app, the
benchmark's tables and the tests all state the same answer from the same numbers.

* Every network trained from scratch is summarised over its seeds (:func:`seed_summaries`):
  the mean test accuracy and the **spread**, the sample standard deviation over the seeds
  (divisor n − 1; none with a single seed).
* At each budget of the study (one per evolutionary check: a metric and a budget), the plan
  retrained from scratch is compared with the **uniform front at equal or lower cost**: the
  most accurate uniform P (by mean) whose network costs no more than the plan's, in the budget's
  metric — MACs, or the whole network's measured inference time (not the per-layer sum).
* The plan counts as **better than uniform** only when its mean beats that uniform P's mean by
  more than the seeds' spread (the larger of the two spreads); otherwise the answer says "no
  better than uniform P = x within noise". A side with a single seed has no spread, and then
  the rule cannot tell (:func:`budget_verdicts`, :func:`answer_sentence`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BudgetVerdict",
    "SeedSummary",
    "answer_sentence",
    "budget_verdicts",
    "seed_summaries",
    "spread",
    "uniform_summaries",
]

_METRIC_WORDS = {
    "macs": "MACs",
    "infer_ms": "measured inference time (whole network)",
    "train_ms": "measured training-step time (whole network)",
}


def spread(values: Sequence[float]) -> float | None:
    """Sample standard deviation (divisor n − 1) of ``values``; None for fewer than two."""
    n = len(values)
    if n < 2:
        return None
    mean = sum(values) / n
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))


@dataclass(frozen=True)
class SeedSummary:
    """One network configuration trained from scratch with one or more seeds.

    Attributes:
        config: P of every switchable layer.
        uniform: whether every layer has the same P and it was trained as a uniform run.
        seeds: the seeds, ascending; ``accs`` the test accuracy of each (fractions).
        costs: the network's costs (a :class:`~hetconv_edu.study.results.Costs`; the same
            network for every seed, so the first seed's).
    """

    config: tuple[int, ...]
    uniform: bool
    seeds: tuple[int, ...]
    accs: tuple[float, ...]
    costs: Any

    @property
    def mean(self) -> float:
        """Mean test accuracy over the seeds."""
        return sum(self.accs) / len(self.accs)

    @property
    def spread(self) -> float | None:
        """Sample standard deviation over the seeds (None with one seed)."""
        return spread(self.accs)

    def cost(self, metric: str) -> float:
        """The network's cost in ``metric`` (``macs``, ``infer_ms``, ...)."""
        return self.costs.get(metric)

    @property
    def label(self) -> str:
        """``P = 4`` for uniform P, ``P = (2, 4, 4, 8)`` for a per-layer configuration."""
        if self.uniform:
            return f"P = {self.config[0]}"
        return "P = (" + ", ".join(map(str, self.config)) + ")"

    def text(self) -> str:
        """``78.1 ± 0.3 %`` (3 seeds), or ``78.1 %`` (1 seed)."""
        s = self.spread
        noise = "" if s is None else f" ± {100 * s:.1f}"
        n = len(self.accs)
        return f"{100 * self.mean:.1f}{noise} % ({n} seed{'s' if n > 1 else ''})"


def seed_summaries(results: Any) -> dict[tuple[int, ...], SeedSummary]:
    """Every configuration trained from scratch, its seeds together (a run listed twice, as a
    uniform run and as a searched one, counts once), by configuration."""
    runs: dict[tuple[int, ...], dict[int, Any]] = {}
    uniform: set[tuple[int, ...]] = set()
    for run in results.runs:
        runs.setdefault(run.config, {}).setdefault(run.seed, run)
        if run.kind == "uniform":
            uniform.add(run.config)
    return {
        config: SeedSummary(
            config,
            config in uniform,
            tuple(sorted(by_seed)),
            tuple(by_seed[s].test_acc for s in sorted(by_seed)),
            by_seed[min(by_seed)].costs,
        )
        for config, by_seed in runs.items()
    }


def uniform_summaries(results: Any) -> list[SeedSummary]:
    """The uniform-P networks, in increasing P."""
    return sorted(
        (s for s in seed_summaries(results).values() if s.uniform), key=lambda s: s.config[0]
    )


@dataclass(frozen=True)
class BudgetVerdict:
    """The rule at one budget of the study.

    Attributes:
        metric, budget: the budget (``macs`` or ``infer_ms``, in MACs or ms per image).
        fraction: the budget as a fraction of the standard network's cost.
        config: the plan the search chose (the knapsack's).
        plan: the plan retrained from scratch (None: not retrained).
        rival: the most accurate uniform P costing no more than the plan (None: the plan is
            cheaper than every uniform P, or was not retrained).
        margin: plan mean − rival mean (fraction; None without both).
        noise: the larger of the two spreads (None when either has a single seed).
        better: the plan beats the rival by more than ``noise``.
    """

    metric: str
    budget: float
    fraction: float
    config: tuple[int, ...]
    plan: SeedSummary | None
    rival: SeedSummary | None
    margin: float | None
    noise: float | None
    better: bool

    @property
    def budget_text(self) -> str:
        """``≤ 45 % of the standard network's MACs``."""
        return (
            f"≤ {100 * self.fraction:.0f} % of the standard network's "
            f"{_METRIC_WORDS.get(self.metric, self.metric)}"
        )

    @property
    def outcome(self) -> str:
        """``better than uniform P = 4``, ``no better than uniform P = 4 within noise``,
        ``cannot tell (one seed)``, ``cheaper than every uniform P`` or ``not retrained``."""
        if self.plan is None:
            return "not retrained"
        if self.rival is None:
            return "cheaper than every uniform P"
        if self.better:
            return f"better than uniform {self.rival.label}"
        if self.noise is None:
            return f"cannot tell against uniform {self.rival.label} (a single seed, no spread)"
        return f"no better than uniform {self.rival.label} within noise"

    def sentence(self) -> str:
        """The verdict at this budget, with both accuracies and the margin against the noise."""
        plan = "P = (" + ", ".join(map(str, self.config)) + ")"
        head = f"At {self.budget_text}, the plan {plan}"
        if self.plan is None:
            return f"{head} was not retrained from scratch."
        if self.rival is None:
            return (
                f"{head} reached {self.plan.text()} and is cheaper than every uniform P, so "
                "there is no uniform network to compare at equal or lower cost."
            )
        assert self.margin is not None
        noise = "" if self.noise is None else f" (spread {100 * self.noise:.1f})"
        return (
            f"{head} reached {self.plan.text()} against {self.rival.text()} for uniform "
            f"{self.rival.label}: {100 * self.margin:+.1f} points{noise}, {self.outcome}."
        )


def budget_verdicts(results: Any) -> list[BudgetVerdict]:
    """The rule at every budget of ``results`` (its evolutionary checks, in order); costs are
    the networks' own (MACs, or whole-network measured times)."""
    summaries = seed_summaries(results)
    uniform = [s for s in summaries.values() if s.uniform]
    verdicts = []
    for check in results.evolution:
        plan = summaries.get(tuple(check.knapsack_config))
        rival = None
        if plan is not None:
            cost = plan.cost(check.metric)
            fits = [u for u in uniform if u.cost(check.metric) <= cost]
            rival = max(fits, key=lambda u: (u.mean, -u.cost(check.metric)), default=None)
        margin = noise = None
        if plan is not None and rival is not None:
            margin = plan.mean - rival.mean
            if plan.spread is not None and rival.spread is not None:
                noise = max(plan.spread, rival.spread)
        verdicts.append(
            BudgetVerdict(
                metric=check.metric,
                budget=check.budget,
                fraction=check.budget / results.standard.get(check.metric),
                config=tuple(check.knapsack_config),
                plan=plan,
                rival=rival,
                margin=margin,
                noise=noise,
                better=margin is not None and noise is not None and margin > noise,
            )
        )
    return verdicts


def answer_sentence(results: Any) -> str:
    """The study's answer in one plain sentence with its uncertainty, computed from the runs:
    at how many budgets a per-layer plan beat uniform P by more than the seeds' spread (the
    clearest such win), or that none did (with the largest gain against its spread)."""
    verdicts = budget_verdicts(results)
    compared = [v for v in verdicts if v.margin is not None]
    if not compared:
        return (
            "No per-layer plan was retrained against a uniform P of equal or lower cost, so "
            "these results cannot say whether choosing P per layer beats one P for all layers."
        )
    seeds = sorted({n for v in compared for n in (len(v.plan.accs), len(v.rival.accs))})
    seed_text = "–".join(map(str, (seeds[0], seeds[-1]) if len(seeds) > 1 else seeds))
    wins = [v for v in compared if v.better]
    untold = [v for v in compared if v.noise is None]
    tail = (
        f"; at {len(untold)} budget{'s' if len(untold) > 1 else ''} a single seed leaves no "
        "spread to judge by"
        if untold
        else ""
    )
    if wins:
        best = max(wins, key=lambda v: v.margin - v.noise)
        return (
            f"A per-layer P beat uniform P at {len(wins)} of {len(compared)} budgets by more "
            f"than the seeds' spread ({seed_text} seeds per network); the clearest: at "
            f"{best.budget_text}, P = ({', '.join(map(str, best.config))}) reached "
            f"{best.plan.text()} against {best.rival.text()} for uniform {best.rival.label}"
            f"{tail}."
        )
    budgets = f"{len(compared)} budget{'s' if len(compared) > 1 else ''}"
    judged = [v for v in compared if v.noise is not None]
    if not judged:
        return (
            f"The seeds cannot tell a per-layer plan from uniform P at any of the study's "
            f"budgets ({budgets}): a network trained with a single seed has no spread to judge by."
        )
    top = max(judged, key=lambda v: v.margin)
    return (
        f"No per-layer P beat the best uniform P of equal or lower cost by more than the seeds' "
        f"spread at any of the study's budgets ({budgets}, {seed_text} seeds per network; "
        f"largest gain {100 * top.margin:+.1f} points against a spread of "
        f"{100 * top.noise:.1f}, at {top.budget_text}): within noise, one P for all layers "
        f"is as good{tail}."
    )
