"""What is the best P? Costs, sensitivities and the results file: moved to
:mod:`hetconv_edu.study.results` (the results file) and :mod:`hetconv_edu.study.measure` (the
measurements).

This module only re-exports the names it used to define, so that code written for
``hetconv_edu.optimal_p`` keeps working; new code imports from the study package.
"""

from hetconv_edu.study.measure import (
    analytic_layers,
    evaluate_config,
    fit_time_model,
    git_commit,
    measure_layers,
    measure_network,
    measure_sensitivity,
    model_costs,
    provenance,
    split_validation,
    study_config,
)
from hetconv_edu.study.results import (
    METRICS,
    PROVENANCE_KEYS,
    READABLE_SCHEMAS,
    SCHEMA,
    TIME_METRICS,
    Costs,
    EvolutionCheck,
    LayerCosts,
    OptimalPResults,
    ResultsFileError,
    Run,
    default_results_path,
    fixed_costs,
    load_results,
    save_results,
)

__all__ = [
    "METRICS",
    "PROVENANCE_KEYS",
    "READABLE_SCHEMAS",
    "SCHEMA",
    "TIME_METRICS",
    "Costs",
    "EvolutionCheck",
    "LayerCosts",
    "OptimalPResults",
    "ResultsFileError",
    "Run",
    "analytic_layers",
    "default_results_path",
    "evaluate_config",
    "fit_time_model",
    "fixed_costs",
    "git_commit",
    "load_results",
    "measure_layers",
    "measure_network",
    "measure_sensitivity",
    "model_costs",
    "provenance",
    "save_results",
    "split_validation",
    "study_config",
]
