"""What is the best P? (notebook 04): the results of the best-P study, explored with widgets.

``BestPApp()`` loads the results file shipped with the package
(:func:`hetconv_edu.study.results.load_results`) — instant — or says plainly what is wrong with it.
The notebook shows one section per cell:

* :attr:`BestPApp.source_section` — where the results come from (the file, or a live run);
* :attr:`BestPApp.costs_section` — each layer's measured time against P beside its MACs, and the
  analytic diminishing return of P;
* :attr:`BestPApp.uniform_section` — uniform P trained from scratch: accuracy against MACs and
  against measured time, Pareto front, dominated P greyed;
* :attr:`BestPApp.budget_section` — a budget (MACs as a fraction of the standard network, or ms
  per image) → the best per-layer configuration (:meth:`OptimalPResults.best`), drawn over the
  layers, with its numbers, next to the uniform-P front;
* :attr:`BestPApp.beat_section` — "Beat the search": one P per layer, where the pick lands;
* :attr:`BestPApp.answer_section` — the study's answer in one sentence with its uncertainty
  (computed from the file, :mod:`hetconv_edu.study.answer`), each budget's plan predicted and
  retrained apart, the retrained networks with error bars from the seeds;
* :attr:`BestPApp.honesty_section` — predicted against retrained accuracy, rank correlation;
* :attr:`BestPApp.live_section` — "run it here": a :class:`~hetconv_edu.study.live.LiveStudy`
  trains a small weight-sharing network, measures layer costs and sensitivities and the app
  switches to its results; Stop works (a :class:`~hetconv_edu.apps.jobs.SlicedJob`);
* :attr:`BestPApp.meaning_section` — provenance, and what the results do and do not mean.

The numbers come from the results object and :mod:`hetconv_edu.study.search`; the module-level
functions here (:func:`budget_bounds`, :func:`slider_range`, :func:`budget_from_slider`,
:func:`judge_pick`, :func:`verdict_text`, :func:`correlation_verdict`) turn them into what the
widgets show, and the callbacks only read widgets, call those and put the results on screen.
Figures: :mod:`hetconv_edu.viz.best_p`.

``BestPApp()`` reads the file named by :data:`RESULTS_ENV` when that variable is set, else the
shipped one; ``BestPApp(path=...)`` reads any results file.

The code, one idea a module: :mod:`~hetconv_edu.apps.best_p.app` (:class:`BestPApp`: the
sections put together, which results are shown), :mod:`~hetconv_edu.apps.best_p.sections` (one
small class per section), :mod:`~hetconv_edu.apps.best_p.live` (run it here) and
:mod:`~hetconv_edu.apps.best_p.verdicts` (what the widgets show, no widgets); every public name
is importable from here.

``LiveStudy``, ``LiveSettings``, ``CLASS_LIVE_SETTINGS`` and ``StudyStopped`` live in
:mod:`hetconv_edu.study.live` (study logic, no widgets) and are re-exported here.
"""

from hetconv_edu.apps.best_p.app import RESULTS_ENV, BestPApp
from hetconv_edu.apps.best_p.live import CI_LIVE_SETTINGS
from hetconv_edu.apps.best_p.verdicts import (
    BUDGET_METRICS,
    WEAK_CORRELATION,
    PickVerdict,
    SliderRange,
    budget_bounds,
    budget_from_slider,
    correlation_verdict,
    judge_pick,
    slider_range,
    verdict_text,
)
from hetconv_edu.study.live import CLASS_LIVE_SETTINGS, LiveSettings, LiveStudy, StudyStopped

__all__ = [
    "BUDGET_METRICS",
    "CI_LIVE_SETTINGS",
    "CLASS_LIVE_SETTINGS",
    "RESULTS_ENV",
    "WEAK_CORRELATION",
    "BestPApp",
    "LiveSettings",
    "LiveStudy",
    "PickVerdict",
    "SliderRange",
    "StudyStopped",
    "budget_bounds",
    "budget_from_slider",
    "correlation_verdict",
    "judge_pick",
    "slider_range",
    "verdict_text",
]
