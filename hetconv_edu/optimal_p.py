"""What is the best P? Costs, sensitivities and the results file: moved to
:mod:`hetconv_edu.study.results` (the results file), :mod:`hetconv_edu.study.measure` (the
measurements) and :mod:`hetconv_edu.study.costs` (the analytic costs). This module only
re-exports their names, so that code written for ``hetconv_edu.optimal_p`` keeps working."""

from hetconv_edu.study import costs, measure, results
from hetconv_edu.study.costs import *  # noqa: F403
from hetconv_edu.study.measure import *  # noqa: F403
from hetconv_edu.study.results import *  # noqa: F403
from hetconv_edu.study.results import PROVENANCE_KEYS, READABLE_SCHEMAS, TIME_METRICS

__all__ = [
    *results.__all__,
    *measure.__all__,
    *costs.__all__,
    "PROVENANCE_KEYS",
    "READABLE_SCHEMAS",
    "TIME_METRICS",
]
