"""The best-P results' reference computation: moved to :mod:`hetconv_edu.study.reference`.

This module only re-exports the names it used to define, so that code written for
``hetconv_edu.study_reference`` keeps working; new code imports from the study package.
"""

from hetconv_edu.study.reference import (
    REFERENCE_BUDGETS,
    REFERENCE_RTOL,
    compare_reference,
    reference_computation,
    stale_reasons,
    stamp_reference,
)

__all__ = [
    "REFERENCE_BUDGETS",
    "REFERENCE_RTOL",
    "compare_reference",
    "reference_computation",
    "stale_reasons",
    "stamp_reference",
]
