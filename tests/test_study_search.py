"""Choosing P per layer (:mod:`hetconv_edu.study.search`): divisor chains and their nested masks,
the exact knapsack front against brute force and a direct Pareto definition, budgets, the Pareto
mask, Spearman's rank correlation, and the evolutionary check."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hetconv_edu.layers import ARRANGEMENTS, hetconv_mask
from hetconv_edu.pattern import valid_parts
from hetconv_edu.study.search import (
    LayerOptions,
    Plan,
    best_under_budget,
    brute_force_front,
    check_divisor_chain,
    evolutionary_search,
    knapsack_front,
    pareto_mask,
    spearman,
)

# ---------------------------------------------------------------- divisor chains, nested masks


@st.composite
def chained_layers(draw):
    """(M, N, K, chain): a divisor chain 1 | p1 | p2 ... built from factors 2 and 3, and channel
    counts that every P of the chain divides."""
    chain = [1]
    for _ in range(draw(st.integers(0, 3))):
        chain.append(chain[-1] * draw(st.sampled_from([2, 3])))
    top = chain[-1]
    m = top * draw(st.integers(1, 3))
    n = top * draw(st.integers(1, 3))
    return m, n, draw(st.sampled_from([1, 3, 5])), chain


@settings(max_examples=60, deadline=None)
@given(chained_layers())
def test_masks_of_a_divisor_chain_are_nested(layer):
    m, n, k, chain = layer
    assert check_divisor_chain(m, n, chain) == tuple(chain)
    c = k // 2
    for arrangement in ARRANGEMENTS:
        masks = {p: hetconv_mask(m, n, k, p, arrangement) for p in chain}
        for p in chain:
            mask = masks[p]
            assert mask.shape == (n, m, k, k)
            assert set(np.unique(mask)) <= {0.0, 1.0}
            assert np.all(mask[:, :, c, c] == 1)  # every kernel keeps its centre tap
            assert int(mask.sum()) == n * (m * k * k // p + m - m // p)
        for p, q in itertools.combinations(chain, 2):  # p divides q
            assert q % p == 0
            assert np.all(masks[q] <= masks[p]), (arrangement, p, q)
            if k > 1 and q > p:  # strictly fewer weights
                assert masks[q].sum() < masks[p].sum()


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 24),
    st.integers(1, 24),
    st.lists(st.integers(1, 24), min_size=1, max_size=4),
)
def test_check_divisor_chain_matches_its_definition(m, n, choices):
    allowed = valid_parts(m, n)
    chain = sorted(set(choices))
    valid = all(c in allowed for c in chain) and all(
        b % a == 0 for a, b in itertools.pairwise(chain)
    )
    if valid:
        assert check_divisor_chain(m, n, choices) == tuple(chain)
    else:
        with pytest.raises(ValueError):
            check_divisor_chain(m, n, choices)


def test_check_divisor_chain_messages():
    assert check_divisor_chain(8, 16, [4, 1, 2, 2]) == (1, 2, 4)
    with pytest.raises(ValueError, match=r"conv3 \(6→12 channels\) cannot take P = 4") as err:
        check_divisor_chain(6, 12, [1, 2, 4], name="conv3")
    assert "allows P ∈ {1, 2, 3, 6}" in str(err.value)
    with pytest.raises(ValueError, match=r"P = 5, 8: .*allows P ∈ \{1, 2, 4\}"):
        check_divisor_chain(4, 8, [1, 5, 8])
    with pytest.raises(ValueError, match=r"not a divisor chain \(2 does not divide 3\)"):
        check_divisor_chain(6, 6, [1, 2, 3])
    with pytest.raises(ValueError, match="at least one"):
        check_divisor_chain(4, 4, [])
    for bad in (0, -2, 2.0, True):
        with pytest.raises(ValueError):
            check_divisor_chain(4, 4, [1, bad])


# ---------------------------------------------------------------- knapsack against brute force


@st.composite
def layer_options(draw, max_layers: int = 4):
    """2..max_layers layers of 1..4 choices, integer costs and integer-valued losses (so sums
    are exact and equal totals really are ties)."""
    layers = []
    for i in range(draw(st.integers(2, max_layers))):
        k = draw(st.integers(1, 4))
        choices = tuple(2**j for j in range(k))
        costs = tuple(float(c) for c in draw(st.lists(st.integers(0, 30), min_size=k, max_size=k)))
        losses = tuple(
            float(v) for v in draw(st.lists(st.integers(-3, 12), min_size=k, max_size=k))
        )
        layers.append(LayerOptions(f"layer{i}", choices, costs, losses))
    return layers


def every_config(layers, fixed_cost=0.0):
    """(config, cost, loss) of every configuration, summed here."""
    out = []
    for picks in itertools.product(*(range(len(layer.choices)) for layer in layers)):
        config = tuple(layer.choices[j] for layer, j in zip(layers, picks, strict=True))
        cost = fixed_cost + sum(layer.costs[j] for layer, j in zip(layers, picks, strict=True))
        loss = sum(layer.losses[j] for layer, j in zip(layers, picks, strict=True))
        out.append((config, cost, loss))
    return out


def pareto_pairs(points):
    """The distinct (cost, loss) pairs that no other pair dominates, by definition."""
    pairs = set(points)
    return sorted(
        (c, v)
        for c, v in pairs
        if not any(c2 <= c and v2 <= v and (c2, v2) != (c, v) for c2, v2 in pairs)
    )


def summed(layers, config, fixed_cost=0.0):
    indices = [layer.choices.index(p) for layer, p in zip(layers, config, strict=True)]
    cost = fixed_cost + sum(layer.costs[j] for layer, j in zip(layers, indices, strict=True))
    loss = sum(layer.losses[j] for layer, j in zip(layers, indices, strict=True))
    return cost, loss


@settings(max_examples=150, deadline=None)
@given(layer_options(), st.integers(0, 50), st.lists(st.floats(-5, 150), max_size=6))
def test_knapsack_equals_brute_force(layers, fixed, budgets):
    fixed = float(fixed)
    front = knapsack_front(layers, fixed_cost=fixed)
    brute = brute_force_front(layers, fixed_cost=fixed)
    assert [(p.cost, p.loss) for p in front] == [(p.cost, p.loss) for p in brute]
    everything = every_config(layers, fixed)
    assert [(p.cost, p.loss) for p in front] == pareto_pairs([(c, v) for _, c, v in everything])
    for plan in front:
        assert isinstance(plan, Plan) and len(plan.config) == len(layers)
        assert all(p in layer.choices for layer, p in zip(layers, plan.config, strict=True))
        assert (plan.cost, plan.loss) == summed(layers, plan.config, fixed)
    for a, b in itertools.pairwise(front):
        assert a.cost < b.cost and a.loss > b.loss
    # fixed_cost only shifts the front
    assert [(p.cost - fixed, p.loss) for p in front] == [
        (p.cost, p.loss) for p in knapsack_front(layers)
    ]
    cheapest = min(c for _, c, _ in everything)
    for budget in [*budgets, cheapest, cheapest - 0.5, *(c for _, c, _ in everything[:5])]:
        best = best_under_budget(front, budget)
        within = [v for _, c, v in everything if c <= budget]
        if not within:
            assert best is None
        else:
            assert best is not None and best.cost <= budget and best.loss == min(within)


def test_knapsack_small_example_by_hand():
    layers = [
        LayerOptions("a", (1, 2), (10.0, 4.0), (0.0, 3.0)),
        LayerOptions("b", (1, 2, 4), (8.0, 5.0, 1.0), (0.0, 1.0, 5.0)),
    ]
    # every configuration: (1,1) 18/0, (1,2) 15/1, (1,4) 11/5, (2,1) 12/3, (2,2) 9/4, (2,4) 5/8
    front = knapsack_front(layers, fixed_cost=100.0)
    assert [(p.config, p.cost, p.loss) for p in front] == [
        ((2, 4), 105.0, 8.0),
        ((2, 2), 109.0, 4.0),
        ((2, 1), 112.0, 3.0),
        ((1, 2), 115.0, 1.0),
        ((1, 1), 118.0, 0.0),
    ]
    assert best_under_budget(front, 111.0).config == (2, 2)
    assert best_under_budget(front, 118.0).config == (1, 1)
    assert best_under_budget(front, 104.9) is None


def test_bad_layer_options_raise():
    with pytest.raises(ValueError, match="as many costs and losses as choices"):
        LayerOptions("a", (1, 2), (1.0,), (0.0, 1.0))
    with pytest.raises(ValueError, match="as many costs and losses as choices"):
        LayerOptions("a", (1, 2), (1.0, 2.0), (0.0,))
    with pytest.raises(ValueError, match="at least one"):
        LayerOptions("a", (), (), ())
    with pytest.raises(ValueError, match="distinct and ascending"):
        LayerOptions("a", (2, 1), (1.0, 2.0), (0.0, 1.0))
    with pytest.raises(ValueError, match="distinct and ascending"):
        LayerOptions("a", (1, 1), (1.0, 2.0), (0.0, 1.0))
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match="finite"):
            LayerOptions("a", (1, 2), (1.0, bad), (0.0, 1.0))
        with pytest.raises(ValueError, match="finite"):
            LayerOptions("a", (1, 2), (1.0, 2.0), (bad, 1.0))
    with pytest.raises(ValueError, match="at least one layer"):
        knapsack_front([])
    with pytest.raises(ValueError, match="at least one layer"):
        brute_force_front([])


# ---------------------------------------------------------------- Pareto mask, Spearman


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 8), st.integers(0, 8)), min_size=0, max_size=15))
def test_pareto_mask_matches_definition(points):
    costs = [float(c) for c, _ in points]
    scores = [float(s) for _, s in points]
    expected = [
        not any(
            c2 <= c and s2 >= s and (c2 < c or s2 > s) for c2, s2 in zip(costs, scores, strict=True)
        )
        for c, s in zip(costs, scores, strict=True)
    ]
    mask = pareto_mask(costs, scores)
    assert mask == expected
    if points:
        assert any(mask)  # the cheapest of the best-scoring points is never dominated


def test_pareto_mask_example_and_errors():
    #            a    b    c    d    e (duplicate of b)
    costs = [1.0, 2.0, 3.0, 2.5, 2.0]
    scores = [0.5, 0.8, 0.7, 0.9, 0.8]
    assert pareto_mask(costs, scores) == [True, True, False, True, True]
    with pytest.raises(ValueError, match="as many costs as scores"):
        pareto_mask([1.0, 2.0], [1.0])


def average_ranks(values):
    """1-based ranks, ties sharing their mean rank, by counting."""
    return [sum(w < v for w in values) + (sum(w == v for w in values) + 1) / 2 for v in values]


def pearson(a, b):
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True))
    return cov / math.sqrt(sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(-5, 5), st.integers(-5, 5)), min_size=2, max_size=12))
def test_spearman_matches_pearson_of_average_ranks(pairs):
    x = [float(a) for a, _ in pairs]
    y = [float(b) for _, b in pairs]
    rho = spearman(x, y)
    if len(set(x)) == 1 or len(set(y)) == 1:
        assert math.isnan(rho)
        return
    assert rho == pytest.approx(pearson(average_ranks(x), average_ranks(y)), abs=1e-12)
    assert -1 - 1e-12 <= rho <= 1 + 1e-12
    assert spearman(y, x) == pytest.approx(rho, abs=1e-12)
    # ranks only: any strictly increasing transform leaves it unchanged
    assert spearman([v**3 + 7 for v in x], [math.exp(v) for v in y]) == pytest.approx(
        rho, abs=1e-12
    )


def test_spearman_known_values():
    # no ties: 1 − 6 Σd² / (n (n² − 1)); d = (−1, 1, −1, 1, 0), Σd² = 4 → 1 − 24/120 = 0.8
    assert spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.8, abs=1e-12)
    # ties: ranks (1, 2.5, 2.5, 4) and (1, 2, 3, 4) → 4.5 / sqrt(4.5 · 5) = sqrt(0.9)
    assert spearman([1, 2, 2, 3], [10, 20, 30, 40]) == pytest.approx(math.sqrt(0.9), abs=1e-12)
    assert spearman([0.1, 0.5, 0.7, 3.0], [1, 8, 27, 1000]) == pytest.approx(1.0)
    assert spearman([0.1, 0.5, 0.7, 3.0], [9, 4, 1, -6]) == pytest.approx(-1.0)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))
    assert math.isnan(spearman([1, 2, 3], [4, 4, 4]))
    assert math.isnan(spearman([1], [2]))
    assert math.isnan(spearman([], []))
    with pytest.raises(ValueError, match="paired"):
        spearman([1, 2, 3], [1, 2])


# ---------------------------------------------------------------- evolutionary search


def random_layers(rng: random.Random, count: int, choices: int = 3) -> list[LayerOptions]:
    """Costs falling and losses rising with P, integer-valued, as real layers behave."""
    layers = []
    for i in range(count):
        costs = sorted((float(rng.randint(1, 20)) for _ in range(choices)), reverse=True)
        losses = sorted(float(rng.randint(0, 10)) for _ in range(choices))
        layers.append(LayerOptions(f"l{i}", tuple(2**j for j in range(choices)), costs, losses))
    return layers


def additive(layers, calls=None):
    """The score the knapsack's model predicts: minus the summed losses."""

    def evaluate(config):
        if calls is not None:
            calls.append(config)
        return -summed(layers, config)[1]

    return evaluate


@pytest.mark.parametrize("trial", range(8))
def test_evolutionary_search_finds_the_optimum_of_an_additive_score(trial):
    rng = random.Random(trial)
    layers = random_layers(rng, 3)
    everything = every_config(layers, 5.0)
    costs = sorted({c for _, c, _ in everything})
    budget = costs[len(costs) // 3]
    best_loss = min(v for _, c, v in everything if c <= budget)
    calls = []
    results = evolutionary_search(
        layers,
        additive(layers, calls),
        budget,
        fixed_cost=5.0,
        population=12,
        generations=6,
        seed=trial,
    )
    config, score = results[0]
    assert score == -best_loss and summed(layers, config, 5.0)[0] <= budget
    assert best_under_budget(knapsack_front(layers, 5.0), budget).loss == best_loss
    # every configuration evaluated exactly once, each within budget, best first
    assert len(calls) == len(set(calls)) == len(results)
    assert {c for c, _ in results} == set(calls)
    assert all(summed(layers, c, 5.0)[0] <= budget for c, _ in results)
    assert [s for _, s in results] == sorted((s for _, s in results), reverse=True)
    assert all(s == additive(layers)(c) for c, s in results)


@settings(max_examples=40, deadline=None)
@given(layer_options(), st.integers(0, 2**16), st.floats(0, 1), st.integers(1, 6))
def test_evolutionary_search_never_exceeds_the_budget(layers, seed, where, population):
    everything = every_config(layers, 2.0)
    lo = min(c for _, c, _ in everything)
    hi = max(c for _, c, _ in everything)
    budget = lo + where * (hi - lo)
    calls = []
    # a start configuration over the budget is dropped, never evaluated
    over = [c for c, cost, _ in everything if cost > budget]
    results = evolutionary_search(
        layers,
        additive(layers, calls),
        budget,
        fixed_cost=2.0,
        population=population,
        generations=3,
        seed=seed,
        start=over[:2],
    )
    assert results and len(calls) == len(set(calls)) == len(results)
    assert all(summed(layers, c, 2.0)[0] <= budget for c, _ in results)
    assert not set(over) & set(calls)
    # the same seed gives the same search
    again = evolutionary_search(
        layers,
        additive(layers),
        budget,
        fixed_cost=2.0,
        population=population,
        generations=3,
        seed=seed,
        start=over[:2],
    )
    assert again == results


def test_evolutionary_search_uses_start_and_checks_arguments():
    layers = random_layers(random.Random(3), 4)
    everything = every_config(layers)
    budget = sorted(c for _, c, _ in everything)[len(everything) // 2]
    plan = best_under_budget(knapsack_front(layers), budget)
    results = evolutionary_search(
        layers, additive(layers), budget, population=4, generations=0, start=[plan.config]
    )
    assert results[0] == (plan.config, -plan.loss)
    cheapest = min(c for _, c, _ in everything)
    with pytest.raises(ValueError, match="no configuration fits the budget"):
        evolutionary_search(layers, additive(layers), cheapest - 1)
    # a budget equal to the cheapest cost admits exactly the cheapest configurations
    results = evolutionary_search(layers, additive(layers), cheapest, generations=2)
    assert all(summed(layers, c)[0] == cheapest for c, _ in results)
    with pytest.raises(ValueError, match="population"):
        evolutionary_search(layers, additive(layers), budget, population=0)
    with pytest.raises(ValueError, match="generations"):
        evolutionary_search(layers, additive(layers), budget, generations=-1)
