"""Choosing P per layer under a budget: moved to :mod:`hetconv_edu.study.search`.

This module only re-exports the names it used to define, so that code written for
``hetconv_edu.search`` keeps working; new code imports from the study package.
"""

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
