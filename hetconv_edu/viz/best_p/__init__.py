"""Figures of "What is the best P?" (notebook 04): pure functions from results to figures.

Everything drawn comes from an :class:`~hetconv_edu.study.results.OptimalPResults` (or, for the
analytic figure, from :func:`hetconv_edu.flops.hetconv_ratio`); nothing is computed here that
the results object does not already give. Two kinds of accuracy appear and are always named:

* **retrained** — a network trained from scratch and tested (``Run.test_acc``);
* **predicted** — the additive model of the weight-sharing network,
  ``reference − Σ sensitivity`` (:meth:`~hetconv_edu.study.results.OptimalPResults.predicted_acc`).

Costs: MACs per image (the paper's count, one forward pass, exact); measured milliseconds per
image on the machine of the results. A trained network's cost is its own measurement; a
prediction's is the additive one (:meth:`~hetconv_edu.study.results.OptimalPResults.cost`: the
fixed part plus each layer's measured time at its P, an approximation for times).

* :func:`accuracy_vs_cost` — retrained: the uniform-P runs (each seed, their mean ± spread, the
  Pareto front, dominated points greyed); or, apart, predicted: the search's front, uniform P
  and the searched configurations as predicted, the budget, the best plan within it and a
  student's pick.
* :func:`answer_figure`, :func:`answer_html` — the study's answer: uniform P and the plans
  retrained from scratch (mean ± spread over seeds) against MACs and measured time, the answer
  in one sentence and each budget's verdict (:mod:`hetconv_edu.study.answer`).
* :func:`layer_costs_vs_p` — per layer, measured time against P beside MACs against P.
* :func:`diminishing_returns` — analytic: what each doubling of P saves, and the 1/K² floor.
* :func:`config_figure` — per-layer P of configurations drawn over the network's layers.
* :func:`predicted_vs_retrained` — the honesty check, with the rank correlation in the title.
* :func:`plan_html`, :func:`honesty_table_html`, :func:`evolution_table_html`,
  :func:`provenance_html`, :data:`MEANING_HTML` — the panels' HTML.

One module per figure or idea: ``common`` (colours, cost scales and texts, the shared
layout), ``uniform`` (uniform P retrained and predicted), ``accuracy`` (accuracy against
cost and its overlays), ``answer``, ``layers``, ``returns`` (the diminishing return of P),
``configs``, ``honesty`` (predictions checked) and ``panels`` (the HTML panels); every
public name is importable from here.
"""

from hetconv_edu.viz.best_p.accuracy import accuracy_vs_cost
from hetconv_edu.viz.best_p.answer import answer_figure, answer_html, findings_sentence
from hetconv_edu.viz.best_p.common import COLORS, cost_text, layer_color, layer_label
from hetconv_edu.viz.best_p.configs import CONFIG_FIGURE_WIDTH, config_figure
from hetconv_edu.viz.best_p.honesty import (
    evolution_table_html,
    honesty_table_html,
    predicted_vs_retrained,
)
from hetconv_edu.viz.best_p.layers import layer_costs_vs_p
from hetconv_edu.viz.best_p.panels import MEANING_HTML, plan_html, provenance_html
from hetconv_edu.viz.best_p.returns import diminishing_returns
from hetconv_edu.viz.best_p.uniform import UniformPoint, uniform_points

__all__ = [
    "COLORS",
    "CONFIG_FIGURE_WIDTH",
    "MEANING_HTML",
    "UniformPoint",
    "accuracy_vs_cost",
    "answer_figure",
    "answer_html",
    "config_figure",
    "cost_text",
    "diminishing_returns",
    "evolution_table_html",
    "findings_sentence",
    "honesty_table_html",
    "layer_color",
    "layer_costs_vs_p",
    "layer_label",
    "plan_html",
    "predicted_vs_retrained",
    "provenance_html",
    "uniform_points",
]
