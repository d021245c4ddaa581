"""The best-P study's answer: moved to :mod:`hetconv_edu.study.answer`.

This module only re-exports the names it used to define, so that code written for
``hetconv_edu.study_answer`` keeps working; new code imports from the study package.
"""

from hetconv_edu.study.answer import (
    BudgetVerdict,
    SeedSummary,
    answer_sentence,
    budget_verdicts,
    seed_summaries,
    spread,
    uniform_summaries,
)

__all__ = [
    "BudgetVerdict",
    "SeedSummary",
    "answer_sentence",
    "budget_verdicts",
    "seed_summaries",
    "spread",
    "uniform_summaries",
]
