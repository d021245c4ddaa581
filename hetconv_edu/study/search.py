"""Choosing P per layer under a budget: Pareto fronts, an exact knapsack, an evolutionary check.

Pure Python and numpy, no torch: the functions take numbers (costs and predicted accuracy losses
per layer and choice) and return configurations, so the notebook can search live and the tests
can compare against brute force.

The model (issue "What is the best P?"): each layer ``i`` takes one of its choices ``c`` of P;
the configuration costs ``fixed + Σ cost_i(c_i)`` (MACs, or measured milliseconds per image)
and is predicted to lose ``Σ loss_i(c_i)`` accuracy against the reference configuration (every
layer at its smallest P), where ``loss_i(c)`` is measured with only layer ``i`` changed (its
*sensitivity*). Finding the least loss within a budget is a multiple-choice knapsack;
:func:`knapsack_front` solves it exactly for every budget at once.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from hetconv_edu.pattern import check_positive_int, valid_parts

__all__ = [
    "LayerOptions",
    "Plan",
    "best_under_budget",
    "brute_force_front",
    "check_divisor_chain",
    "evolutionary_search",
    "knapsack_front",
    "pareto_mask",
    "spearman",
]


@dataclass(frozen=True)
class LayerOptions:
    """One layer's choices of P, with the cost and the predicted accuracy loss of each.

    Attributes:
        name: the layer's label (for tables and figures).
        choices: the P values, ascending.
        costs: cost of the layer at each choice (MACs, or seconds, per image).
        losses: predicted accuracy loss (fraction, 0.01 = one point) at each choice against the
            layer's smallest choice; ``losses[0]`` is 0 by definition.
    """

    name: str
    choices: tuple[int, ...]
    costs: tuple[float, ...]
    losses: tuple[float, ...]

    def __post_init__(self) -> None:
        n = len(self.choices)
        if n == 0 or len(self.costs) != n or len(self.losses) != n:
            raise ValueError(
                f"layer {self.name!r}: need as many costs and losses as choices (at least one), "
                f"got {n} choices, {len(self.costs)} costs, {len(self.losses)} losses"
            )
        if list(self.choices) != sorted(set(self.choices)):
            raise ValueError(
                f"layer {self.name!r}: choices must be distinct and ascending, got {self.choices}"
            )
        if not all(math.isfinite(v) for v in (*self.costs, *self.losses)):
            raise ValueError(f"layer {self.name!r}: costs and losses must be finite numbers")


@dataclass(frozen=True)
class Plan:
    """A per-layer configuration: P of each layer, its total cost and predicted loss."""

    config: tuple[int, ...]
    cost: float
    loss: float


def check_divisor_chain(
    in_channels: int, out_channels: int, choices: Sequence[int], *, name: str = "layer"
) -> tuple[int, ...]:
    """Validate ``choices`` of P for a layer with M = ``in_channels``, N = ``out_channels``.

    Every choice must be a valid P (it divides M and N), and each must divide the next: then the
    K×K positions of a larger P are a subset of those of a smaller one ((m − n) mod P′ = 0
    implies (m − n) mod P = 0 when P divides P′), which is what lets one set of weights with
    nested masks hold every choice. Returns the choices sorted; raises ``ValueError`` naming the
    P values this layer allows.
    """
    m = check_positive_int("in_channels", in_channels)
    n = check_positive_int("out_channels", out_channels)
    chain = sorted({check_positive_int("choice of P", c) for c in choices})
    if not chain:
        raise ValueError(f"{name}: give at least one choice of P")
    allowed = valid_parts(m, n)
    bad = [c for c in chain if c not in allowed]
    if bad:
        raise ValueError(
            f"{name} ({m}→{n} channels) cannot take P = {', '.join(map(str, bad))}: P must "
            f"divide both channel counts; this layer allows P ∈ {{{', '.join(map(str, allowed))}}}"
        )
    for a, b in itertools.pairwise(chain):
        if b % a:
            raise ValueError(
                f"{name}: the choices {chain} are not a divisor chain ({a} does not divide {b}); "
                f"nested masks need each P to divide the next, e.g. powers of two"
            )
    return tuple(chain)


def _prune(plans: list[Plan]) -> list[Plan]:
    """Keep the Pareto-optimal plans (no other plan costs at most as much and loses less),
    sorted by cost; among equal (cost, loss) the first met is kept."""
    plans = sorted(plans, key=lambda p: (p.cost, p.loss))
    front: list[Plan] = []
    for plan in plans:
        if not front or plan.loss < front[-1].loss:
            if front and plan.cost == front[-1].cost:
                continue
            front.append(plan)
    return front


def knapsack_front(layers: Sequence[LayerOptions], fixed_cost: float = 0.0) -> list[Plan]:
    """Exact cost/loss Pareto front of every per-layer configuration (multiple-choice knapsack,
    for every budget at once).

    Dynamic programming over the layers: after layer i the table holds the Pareto-optimal
    partial configurations of layers 0..i. A configuration that is optimal for some budget has
    Pareto-optimal prefixes (otherwise swapping in the dominating prefix would cost no more and
    lose less), so nothing optimal is ever pruned. ``fixed_cost`` (the layers that are not
    searched) is added to every plan. Plans are sorted by cost; the loss falls along the list.
    """
    if not layers:
        raise ValueError("knapsack_front needs at least one layer")
    front = [Plan((), float(fixed_cost), 0.0)]
    for layer in layers:
        front = _prune(
            [
                Plan((*plan.config, p), plan.cost + cost, plan.loss + loss)
                for plan in front
                for p, cost, loss in zip(layer.choices, layer.costs, layer.losses, strict=True)
            ]
        )
    return front


def brute_force_front(layers: Sequence[LayerOptions], fixed_cost: float = 0.0) -> list[Plan]:
    """The same front as :func:`knapsack_front` by trying every configuration (for tests and
    tiny networks only: the number of configurations is the product of the choice counts)."""
    if not layers:
        raise ValueError("brute_force_front needs at least one layer")
    plans = []
    for picks in itertools.product(*(range(len(layer.choices)) for layer in layers)):
        chosen = list(zip(layers, picks, strict=True))
        plans.append(
            Plan(
                tuple(layer.choices[j] for layer, j in chosen),
                float(fixed_cost) + sum(layer.costs[j] for layer, j in chosen),
                sum(layer.losses[j] for layer, j in chosen),
            )
        )
    return _prune(plans)


def best_under_budget(front: Sequence[Plan], budget: float) -> Plan | None:
    """The plan of least predicted loss whose cost is within ``budget`` (None if none is)."""
    within = [plan for plan in front if plan.cost <= budget]
    return min(within, key=lambda p: (p.loss, p.cost)) if within else None


def pareto_mask(costs: Sequence[float], scores: Sequence[float]) -> list[bool]:
    """For points (cost, score), whether each is on the Pareto front: no other point costs at
    most as much and scores at least as well, being strictly better in one of the two."""
    if len(costs) != len(scores):
        raise ValueError(f"need as many costs as scores, got {len(costs)} and {len(scores)}")
    c = np.asarray(costs, dtype=float)
    s = np.asarray(scores, dtype=float)
    mask = []
    for i in range(len(c)):
        dominated = np.any((c <= c[i]) & (s >= s[i]) & ((c < c[i]) | (s > s[i])))
        mask.append(not bool(dominated))
    return mask


def _ranks(values: Sequence[float]) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(len(v), dtype=float)
    for value in np.unique(v):  # ties share their mean rank
        tied = v == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation of paired values (ties get mean ranks); NaN when fewer than
    two pairs or when either side is constant."""
    if len(x) != len(y):
        raise ValueError(f"need paired values, got {len(x)} and {len(y)}")
    if len(x) < 2:
        return float("nan")
    rx, ry = _ranks(x), _ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def evolutionary_search(
    layers: Sequence[LayerOptions],
    evaluate: Callable[[tuple[int, ...]], float],
    budget: float,
    *,
    fixed_cost: float = 0.0,
    population: int = 8,
    generations: int = 4,
    seed: int = 0,
    start: Sequence[tuple[int, ...]] = (),
) -> list[tuple[tuple[int, ...], float]]:
    """A small evolutionary search for the configuration of highest *measured* score within a
    budget, to check the additive model of :func:`knapsack_front` against real evaluations.

    ``evaluate(config)`` returns the score (e.g. accuracy of the weight-sharing network with that
    configuration). The first population is ``start`` (e.g. the knapsack's plan) plus random
    configurations within the budget; each generation keeps the better half and refills with
    mutants (one layer's P moved one step along its choices) and crossovers of the survivors,
    rejecting any over the budget. Every configuration is evaluated once. Returns every
    evaluated (config, score), best first.
    """
    check_positive_int("population", population)
    if not isinstance(generations, int) or generations < 0:
        raise ValueError(f"generations must be an integer >= 0, got {generations!r}")
    rng = random.Random(seed)

    def cost(config: tuple[int, ...]) -> float:
        return fixed_cost + sum(
            layer.costs[layer.choices.index(p)] for layer, p in zip(layers, config, strict=True)
        )

    cheapest = tuple(layer.choices[int(np.argmin(layer.costs))] for layer in layers)
    if cost(cheapest) > budget:
        raise ValueError(
            f"no configuration fits the budget {budget:g}: the cheapest costs {cost(cheapest):g}"
        )
    scores: dict[tuple[int, ...], float] = {}

    def score(config: tuple[int, ...]) -> float:
        if config not in scores:
            scores[config] = float(evaluate(config))
        return scores[config]

    def random_config() -> tuple[int, ...]:
        return tuple(rng.choice(layer.choices) for layer in layers)

    def mutate(config: tuple[int, ...]) -> tuple[int, ...]:
        i = rng.randrange(len(layers))
        choices = layers[i].choices
        j = choices.index(config[i]) + rng.choice((-1, 1))
        j = min(max(j, 0), len(choices) - 1)
        return (*config[:i], choices[j], *config[i + 1 :])

    def crossover(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(x if rng.random() < 0.5 else y for x, y in zip(a, b, strict=True))

    members = [tuple(c) for c in start if cost(tuple(c)) <= budget]
    for _ in range(100 * population):
        if len(members) >= population:
            break
        candidate = random_config()
        if cost(candidate) <= budget and candidate not in members:
            members.append(candidate)
    if not members:
        members = [cheapest]
    for _ in range(generations):
        members.sort(key=score, reverse=True)
        parents = members[: max(1, len(members) // 2)]
        children: list[tuple[int, ...]] = []
        for _ in range(100 * population):
            if len(parents) + len(children) >= population:
                break
            child = (
                mutate(rng.choice(parents))
                if len(parents) < 2 or rng.random() < 0.5
                else crossover(*rng.sample(parents, 2))
            )
            if cost(child) <= budget and child not in parents and child not in children:
                children.append(child)
        members = parents + children
    for member in members:
        score(member)
    return sorted(scores.items(), key=lambda item: item[1], reverse=True)
