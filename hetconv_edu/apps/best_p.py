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

``LiveStudy``, ``LiveSettings``, ``CLASS_LIVE_SETTINGS`` and ``StudyStopped`` live in
:mod:`hetconv_edu.study.live` (study logic, no widgets) and are re-exported here.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as W

from hetconv_edu.apps.controls import (
    AnswerChecker,
    Exercise,
    columns,
    disclosure,
    inline_toggles,
    pick_exercise,
)
from hetconv_edu.apps.jobs import SlicedJob, Slices, message_html, message_text
from hetconv_edu.apps.jobs import progress_bar as new_progress_bar
from hetconv_edu.apps.live_figure import LiveFigure
from hetconv_edu.apps.training import CI_SETTINGS, RUNS_ENV, in_ci
from hetconv_edu.data import DataIntegrityError, DatasetNotFoundError, ImageDataset
from hetconv_edu.flops import hetconv_ratio
from hetconv_edu.study.live import CLASS_LIVE_SETTINGS, LiveSettings, LiveStudy, StudyStopped
from hetconv_edu.study.reference import stale_reasons
from hetconv_edu.study.results import (
    METRICS,
    OptimalPResults,
    ResultsFileError,
    default_results_path,
    load_results,
)
from hetconv_edu.study.search import Plan
from hetconv_edu.viz import style
from hetconv_edu.viz.best_p import (
    MEANING_HTML,
    accuracy_vs_cost,
    answer_figure,
    answer_html,
    config_figure,
    cost_text,
    diminishing_returns,
    evolution_table_html,
    findings_sentence,
    honesty_table_html,
    layer_costs_vs_p,
    plan_html,
    predicted_vs_retrained,
    provenance_html,
)
from hetconv_edu.viz.style import css_width
from hetconv_edu.viz.training import RunCurves, training_curves, update_training_curves

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

BUDGET_METRICS: dict[str, str] = {
    "macs": "MACs",
    "infer_ms": "time per image",
}
"""The budget toggle's choices: the metric key and its label."""

WEAK_CORRELATION = 0.5
"""Below this rank correlation the app says the weight-sharing network ranks badly."""

RESULTS_ENV = "HETCONV_EDU_BEST_P_RESULTS"
"""Environment variable: a results file :class:`BestPApp` loads instead of the shipped one
(a teacher's own run of the benchmark, or a test's file)."""


# --------------------------------------------------------------------- budget and pick (pure)


def budget_bounds(results: OptimalPResults, metric: str) -> tuple[float, float]:
    """The slider's range in slider units: from the cheapest configuration of the search's
    front to the costliest of the front and the standard network; for MACs as fractions of
    the standard network's MACs, for times in ms per image."""
    front = results.front(metric)
    lo, hi = front[0].cost, max(front[-1].cost, results.standard.get(metric))
    if metric == "macs":
        return lo / results.standard.macs, hi / results.standard.macs
    return lo, hi


@dataclass(frozen=True)
class SliderRange:
    """The budget slider's settings for a metric, in slider units: the grid ``lo + k·step``
    up to ``hi``, the format of its readout and ``value``, where it starts (on the grid)."""

    lo: float
    hi: float
    step: float
    value: float
    readout_format: str


def slider_range(results: OptimalPResults, metric: str) -> SliderRange:
    """The slider for ``metric``: MACs in steps of 1 % of the standard network starting at
    50 % (or the nearest value in range), times in about 100 steps of whole microseconds
    starting half-way. The bounds of :func:`budget_bounds` are rounded up to the step, so the
    smallest value still fits the cheapest configuration and the largest one the standard
    network; values on the grid are what a browser's slider sends back."""
    lo, hi = budget_bounds(results, metric)
    if metric == "macs":
        step, digits, fmt = 0.01, 2, ".0%"
    else:
        step, digits, fmt = max(0.001, round((hi - lo) / 100, 3)), 3, ".3f"
    lo = round(math.ceil(round(lo / step, 6)) * step, digits)
    hi = max(lo, round(math.ceil(round(hi / step, 6)) * step, digits))
    start = 0.5 if metric == "macs" else (lo + hi) / 2
    k = round((min(max(start, lo), hi) - lo) / step)
    return SliderRange(lo, hi, step, round(lo + k * step, digits), fmt)


def budget_from_slider(results: OptimalPResults, metric: str, value: float) -> float:
    """The budget in the metric's own units: ``value`` × the standard network's MACs for
    ``"macs"`` (a fraction), ``value`` itself for times (ms per image)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(map(repr, METRICS))}, got {metric!r}")
    return value * results.standard.macs if metric == "macs" else float(value)


@dataclass(frozen=True)
class PickVerdict:
    """A student's configuration judged against the search at a budget (additive model)."""

    config: tuple[int, ...]
    cost: float
    predicted: float
    budget: float
    best: Plan | None
    """The search's plan within the budget (None when nothing fits)."""

    @property
    def over_budget(self) -> bool:
        """The pick costs more than the budget."""
        return self.cost > self.budget

    @property
    def best_predicted(self) -> float | None:
        """The search's predicted accuracy within the budget."""
        return None if self.best is None else self.predicted + self.gap

    @property
    def gap(self) -> float:
        """How much more accuracy the search predicts than the pick (≥ 0 within the budget:
        the knapsack is exact for the additive model)."""
        return 0.0 if self.best is None else self._best_acc - self.predicted

    @property
    def matched(self) -> bool:
        """Within the budget and as accurate as the search (to rounding)."""
        return not self.over_budget and self.gap <= 1e-9

    _best_acc: float = math.nan


def judge_pick(
    results: OptimalPResults, config: Sequence[int], metric: str, budget: float
) -> PickVerdict:
    """Judge ``config`` at ``budget`` (in ``metric``'s units): its additive cost and predicted
    accuracy against the best plan within the budget, :meth:`OptimalPResults.best`."""
    config = results.check_config(config)
    best = results.best(metric, budget)
    return PickVerdict(
        config=config,
        cost=results.cost(config, metric),
        predicted=results.predicted_acc(config),
        budget=budget,
        best=best,
        _best_acc=math.nan if best is None else results.reference_acc - best.loss,
    )


def verdict_text(results: OptimalPResults, verdict: PickVerdict, metric: str) -> tuple[str, str]:
    """(message kind, plain text) saying whether the pick beats the search at the budget."""
    pick = f"Your pick P = {verdict.config}: predicted {100 * verdict.predicted:.1f}%, " + (
        cost_text(results, verdict.cost, metric)
    )
    if verdict.over_budget:
        return "warn", (
            f"{pick}. That is over the budget ({cost_text(results, verdict.budget, metric)}): "
            "raise P in some layers, or move the budget slider."
        )
    best = verdict.best
    assert best is not None  # the pick fits, so the search found something within the budget
    search = (
        f"the search's plan P = {best.config} predicts {100 * verdict.best_predicted:.1f}% "
        f"for {cost_text(results, best.cost, metric)}"
    )
    if verdict.matched:
        return "ok", (
            f"{pick}. You matched the search at this budget ({search}). Nobody can beat it "
            "under the additive model: the knapsack is exact. Whether the model is right is "
            "the honesty check's question."
        )
    return "info", (
        f"{pick}. The search does better at this budget by {100 * verdict.gap:.2f} points: "
        f"{search}. Which layers differ? The bars show both."
    )


def correlation_verdict(results: OptimalPResults) -> tuple[str, str]:
    """(message kind, plain text) on how well the weight-sharing network ranks configurations:
    Spearman's ρ between predicted and retrained accuracy, weak below :data:`WEAK_CORRELATION`."""
    runs = {(r.config, r.seed) for r in results.runs}
    if not runs:
        return "info", (
            "No network was retrained from scratch in these results (a live run trains only the "
            "weight-sharing network), so the predictions cannot be checked here. The shipped "
            "results file has the check."
        )
    rho = results.rank_correlation()
    if math.isnan(rho):
        return "warn", (
            f"The rank correlation is undefined with these {len(runs)} run(s): it needs at "
            "least two runs whose accuracies differ."
        )
    few = f" With only {len(runs)} runs, ρ itself is uncertain." if len(runs) < 10 else ""
    if rho < WEAK_CORRELATION:
        return "warn", (
            f"Spearman ρ = {rho:.2f} (below {WEAK_CORRELATION}): the weight-sharing network "
            "ranks configurations badly here. Its predictions are not a reliable guide for "
            "this network and training budget; trust the networks trained from scratch." + few
        )
    return "ok", (
        f"Spearman ρ = {rho:.2f}: the weight-sharing network ranks these configurations "
        f"reasonably well (the levels can differ; the order is what the search needs).{few}"
    )


# --------------------------------------------------------------------- run it here


CI_LIVE_SETTINGS = LiveSettings(
    widths=tuple(CI_SETTINGS.model_kwargs["widths"]),
    choices=(1, 2, 4, 8),
    subset=CI_SETTINGS.subset,
    val=CI_SETTINGS.test_subset,
    epochs=CI_SETTINGS.epochs,
    batch_size=CI_SETTINGS.batch_size,
    timing_batch=4,
    timing_rounds=1,
    calibration_batches=1,
    batches_per_slice=CI_SETTINGS.batches_per_slice,
)
"""Automatic runs (``HETCONV_EDU_CI=1``): the training app's tiny CI sizes, seconds."""


# --------------------------------------------------------------------- the app

_NO_RESULTS = style.text_html(
    "warn",
    "No results to show yet: see the message at the top, or press <b>Run it here</b> in the "
    "“Run it here” section.",
)


def _html(value: str = "", css: str | None = None) -> W.HTML:
    widget = W.HTML(value=value, layout=W.Layout(width="auto"))
    if css:
        widget.add_class(css)
    return widget


class BestPApp:
    """The best-P explorer (see the module docstring).

    Args:
        results: results to show; default: :func:`~hetconv_edu.study.results.load_results` of
            ``path``.
        path: results file (default: the one shipped with the package).
        live_settings: what "run it here" trains (default :data:`CLASS_LIVE_SETTINGS`, or
            :data:`CI_LIVE_SETTINGS` when ``HETCONV_EDU_CI`` is set).
        data: an :class:`~hetconv_edu.data.ImageDataset` for "run it here" instead of loading
            CIFAR-10 (tests).
        data_root, device, threads, run_dir, seed: as :class:`LiveStudy`.

    Attributes: ``results`` (shown now, None if none), ``shipped`` and ``live`` (the two
    sources), ``widget`` (every section), ``message`` (the load message), the controls
    (``metric_toggle``, ``budget_slider``, ``pickers``, ``source_toggle``, ``time_toggle``,
    ``run_button``, ``stop_button``) and figures (``front_fig``, ``config_fig``,
    ``beat_front_fig``, ``beat_config_fig``, ``layers_fig``, ``returns_fig``,
    ``uniform_macs_fig``, ``uniform_time_fig``, ``honesty_fig``, ``live_curves``).
    """

    def __init__(
        self,
        results: OptimalPResults | None = None,
        *,
        path: str | Path | None = None,
        live_settings: LiveSettings | None = None,
        data: ImageDataset | None = None,
        data_root: str | None = None,
        device: str = "auto",
        threads: int | None = None,
        run_dir: str | None = None,
        seed: int = 0,
    ) -> None:
        self.ci = in_ci()
        self.live_settings = live_settings or (CI_LIVE_SETTINGS if self.ci else CLASS_LIVE_SETTINGS)
        if path is None:
            path = os.environ.get(RESULTS_ENV) or default_results_path()
        self.path = Path(path)
        self._data = data
        self.data_root = data_root
        self.device = device
        self.threads = threads
        self.run_dir = run_dir or os.environ.get(RUNS_ENV) or "runs"
        self.seed = seed
        self.shipped: OptimalPResults | None = results
        self.live: OptimalPResults | None = None
        self.load_error: str | None = None
        if results is None:
            try:
                self.shipped = load_results(self.path)
            except ResultsFileError as err:
                self.load_error = str(err)
        self.results: OptimalPResults | None = self.shipped
        self.study: LiveStudy | None = None
        self.stale_check: threading.Thread | None = None
        """The background replay of the shown results' reference computation (join it to
        read its warning)."""
        self._job = SlicedJob(self._live_slices)
        self._bars: dict[str, Any] = {}
        self._pace: tuple[float, int] | None = None  # (when, step) of the run's first timed step
        self._quiet = False
        self._build()
        self._show_results()

    # ---- widgets -----------------------------------------------------------------------

    def _build(self) -> None:
        wide = {"description_width": "initial", "button_width": "auto"}  # toggle buttons
        self.message = _html(css="hetconv-bestp-message")
        self.source_toggle = W.ToggleButtons(
            options=[("shipped results file", "shipped"), ("live run", "live")],
            value="shipped", description="Show", style=wide, disabled=True, layout=inline_toggles(),
        )  # fmt: skip
        self.source_toggle.observe(self._on_source, names="value")

        self.time_toggle = W.ToggleButtons(
            options=[("inference", "infer_ms"), ("training step", "train_ms")],
            value="infer_ms", description="Measured time", style=wide, layout=inline_toggles(),
        )  # fmt: skip
        self.time_toggle.observe(lambda _c: self._draw_costs(), names="value")
        self.layers_fig = LiveFigure()
        self.returns_fig = LiveFigure(diminishing_returns(3))

        self.uniform_macs_fig = LiveFigure()
        self.uniform_time_fig = LiveFigure()

        self.metric_toggle = W.ToggleButtons(
            options=[(label, key) for key, label in BUDGET_METRICS.items()],
            value="macs", description="Budget in", style=wide, layout=inline_toggles(),
        )  # fmt: skip
        self.budget_slider = W.FloatSlider(
            value=0.5, min=0.1, max=1.0, step=0.01, description="Budget",
            readout_format=".0%", continuous_update=False, style={"description_width": "initial"},
            layout=W.Layout(width=css_width(380)),
        )  # fmt: skip
        self.summary = _html(css="hetconv-bestp-summary")
        self.config_fig = LiveFigure()
        self.front_fig = LiveFigure()
        self.metric_toggle.observe(self._on_metric, names="value")
        self.budget_slider.observe(self._on_budget, names="value")

        self.pickers_box = W.VBox()
        self.pickers: list[W.Dropdown] = []
        self.copy_button = W.Button(
            description="Start from the search's plan",
            icon="copy",
            layout=W.Layout(width="fit-content"),
        )
        self.copy_button.on_click(lambda _b: self.copy_plan())
        self.pick_message = _html(css="hetconv-bestp-verdict")
        self.beat_config_fig = LiveFigure()
        self.beat_front_fig = LiveFigure()

        self.answer = _html(css="hetconv-bestp-answer")
        self.answer_fig = LiveFigure()
        self.answer_fig_box = W.Box([self.answer_fig.widget])  # hidden when nothing retrained
        self.correlation_message = _html(css="hetconv-bestp-correlation")
        self.honesty_table = _html(css="hetconv-bestp-honesty")
        self.evolution_table = _html()
        self.honesty_fig = LiveFigure()
        self.honesty_fig_box = W.Box([self.honesty_fig.widget])  # hidden when nothing was retrained

        self.run_button = W.Button(description="Run it here", button_style="success", icon="play")
        self.stop_button = W.Button(
            description="Stop", button_style="danger", icon="stop", disabled=True
        )
        self.run_button.on_click(lambda _b: self.start_live())
        self.stop_button.on_click(lambda _b: self.stop_live())
        self.live_message = _html(css="hetconv-bestp-live-message")
        self.live_progress = W.VBox(layout=W.Layout(width="auto"))
        self.live_curves = LiveFigure(training_curves(
            [RunCurves("weight-sharing network")],
            title="Weight-sharing network",
        ), action=True)  # fmt: skip
        self.provenance = _html(css="hetconv-bestp-provenance")

        left = css_width(360)
        self.source_section = W.VBox([self.message, self.source_toggle])
        self.costs_body = W.VBox(
            [
                self.time_toggle,
                self.layers_fig.widget,
                disclosure("Each doubling of P saves half as much (analytic)",
                           self.returns_fig.widget),
            ]
        )  # fmt: skip
        self.costs_section = W.VBox([self.costs_body])
        self.uniform_body = columns(
            self.uniform_macs_fig.widget, self.uniform_time_fig.widget, left_width="50%"
        )
        self.uniform_section = W.VBox([self.uniform_body])
        self.budget_body = columns(
            W.VBox([self.metric_toggle, self.budget_slider, self.summary, self.config_fig.widget]),
            self.front_fig.widget,
            left_width=left,
        )
        self.budget_section = W.VBox([self.budget_body])
        self.beat_body = columns(
            W.VBox(
                [self.pickers_box, self.copy_button, self.pick_message, self.beat_config_fig.widget]
            ),
            self.beat_front_fig.widget,
            left_width=left,
        )
        self.beat_section = W.VBox([self.beat_body])
        self.answer_body = columns(self.answer, self.answer_fig_box, left_width=css_width(380))
        self.answer_section = W.VBox([self.answer_body])
        self.honesty_body = W.VBox(
            [
                columns(
                    W.VBox([self.correlation_message, self.honesty_table]),
                    self.honesty_fig_box,
                    left_width=left,
                ),
                disclosure("How the search found its plans", self.evolution_table),
            ]
        )
        self.honesty_section = W.VBox([self.honesty_body])
        self.live_section = columns(
            W.VBox(
                [
                    _html(self._live_plan_text()),
                    W.HBox([self.run_button, self.stop_button]),
                    self.live_message,
                    self.live_progress,
                ]
            ),
            self.live_curves.widget,
            left_width=left,
        )
        self.meaning_section = W.VBox(
            [_html(MEANING_HTML), disclosure("Provenance: how these results were made",
                                             self.provenance)]
        )  # fmt: skip
        sections = {
            "source": self.source_section,
            "costs": self.costs_section,
            "uniform": self.uniform_section,
            "budget": self.budget_section,
            "beat": self.beat_section,
            "answer": self.answer_section,
            "honesty": self.honesty_section,
            "live": self.live_section,
            "meaning": self.meaning_section,
        }
        for name, section in sections.items():
            section.add_class(f"hetconv-bestp-{name}")
            style.track_widget(section)  # the notebook shows the sections one by one
        self.widget = W.VBox(list(sections.values()), layout=W.Layout(width="100%"))
        self.widget.add_class("hetconv-bestp-app")
        self.config_fig.add_class("hetconv-bestp-config-fig")
        self.front_fig.add_class("hetconv-bestp-front-fig")
        self.run_button.add_class("hetconv-bestp-run")
        self.stop_button.add_class("hetconv-bestp-stop")
        self.live_curves.add_class("hetconv-bestp-curves")
        self._say_live("info", "Ready. Press Run it here.")

    def _live_plan_text(self) -> str:
        s = self.live_settings
        return (
            "<p class='hetconv-prose'>Trains a weight-sharing small_vgg (widths "
            f"{'-'.join(map(str, s.widths))}, P ∈ {{{', '.join(map(str, s.choices))}}}) for "
            f"{s.epochs} epoch(s) on {s.subset:,} CIFAR-10 training images, then times every "
            f"layer at every P and measures each layer's sensitivity on {s.val:,} images. "
            + (
                "CI mode: tiny settings, fake data."
                if self.ci
                else "How long it takes depends on this machine: while it trains, the message "
                "below estimates the time left from the pace measured so far."
            )
            + "</p>"
        )

    # ---- which results -----------------------------------------------------------------

    def _say(self, kind: str, text: str) -> None:
        self.message.value = message_html(kind, text)

    def _check_stale(self, r: OptimalPResults, shown: str) -> None:
        """Replay the results' reference computation (a second or two, in a background thread
        so the app shows at once) and warn if they are stale, while they are still shown."""
        try:
            stale = stale_reasons(r)
        except Exception as err:  # a thread has no one to raise to: say it on the page
            stale = [f"the check itself failed: {err}"]
        if stale and self.results is r:
            self._say(
                "warn",
                f"{shown}\n\nThese results are stale: this version of the package computes "
                "other numbers than the code that made them (its reference computation "
                f"differs: {'; '.join(stale[:3])}). Make them again with the command in "
                "section 7's provenance.",
            )

    def _say_live(self, kind: str, text: str) -> None:
        notes = [] if self.study is None else self.study.data_notes
        self.live_message.value = message_html(kind, text) + "".join(
            style.note_details("Note on the data", n) for n in notes
        )

    @property
    def message_text(self) -> str:
        """The load message's plain text (tests and scripts)."""
        return message_text(self.message.value)

    @property
    def live_message_text(self) -> str:
        """The "run it here" message's plain text."""
        return message_text(self.live_message.value)

    def require_results(self) -> OptimalPResults:
        """The results shown now; :class:`~hetconv_edu.study.results.ResultsFileError` saying what
        to do when there are none."""
        if self.results is None:
            raise ResultsFileError(
                (self.load_error or "no results")
                + "; or press Run it here in the notebook's “Run it here” section"
            )
        return self.results

    @property
    def exercises(self) -> tuple[Exercise, ...]:
        """The exercises of notebook 04; answers computed by the package from the results
        shown (never shown in a cell)."""
        return (
            Exercise(
                "1. A 3×3 HetConv layer already at P = 8 goes to P = 16. What further fraction "
                "of the standard layer's MACs does that save? (three decimals)",
                lambda: hetconv_ratio(3, 8) - hetconv_ratio(3, 16),
                tolerance=0.0005,
                hint="Each doubling P → 2P saves (1 − 1/K²)/(2P): see the right plot of section 1.",
            ),
            Exercise(
                "2. How many different per-layer configurations can the search choose from in "
                "the results shown? (count the choices in each dropdown of section 4 and "
                "combine them)",
                lambda: math.prod(len(layer.choices) for layer in self.require_results().layers),
                hint="Every layer picks its P independently of the others.",
            ),
            Exercise(
                "3. Set the budget of section 3 to 40 % of the standard network's MACs. What "
                "accuracy does the search predict for its best configuration? (in %, one "
                "decimal)",
                lambda: 100 * self.require_results().predicted_acc(self.plan_at(0.40).config),
                tolerance=0.05,
                unit="%",
                hint="Budget in “MACs (fraction of standard)”, slider at 40%: read “predicted "
                "accuracy”.",
            ),
        )

    def exercise(self, number: int) -> AnswerChecker:
        """The checker of exercise ``number`` (1-based) of :attr:`exercises`, ready to
        display."""
        return pick_exercise(self.exercises, number).checker()

    def _on_source(self, change: dict) -> None:
        if self._quiet:
            return
        self.results = self.live if change["new"] == "live" else self.shipped
        self._show_results()

    def _show_results(self) -> None:
        r = self.results
        bodies = (self.costs_body, self.uniform_body, self.budget_body, self.beat_body,
                  self.answer_body, self.honesty_body)  # fmt: skip
        if r is None:
            self._say(
                "error",
                f"{self.load_error}\n\nThe explorer has nothing to show until a results file "
                "is there. You can still run the study here (section “Run it here”, about 5 "
                "minutes), or ask your teacher for the file.",
            )
            for body in bodies:
                body.layout.display = "none"
            for section in (self.costs_section, self.uniform_section, self.budget_section,
                            self.beat_section, self.answer_section,
                            self.honesty_section):  # fmt: skip
                if not any(getattr(c, "value", None) == _NO_RESULTS for c in section.children):
                    section.children = (_html(_NO_RESULTS), *section.children)
            self.provenance.value = ""
            return
        for section in (self.costs_section, self.uniform_section, self.budget_section,
                        self.beat_section, self.answer_section,
                        self.honesty_section):  # fmt: skip
            section.children = tuple(
                c for c in section.children if getattr(c, "value", None) != _NO_RESULTS
            )
        for body in bodies:
            body.layout.display = None
        live = r is self.live
        source = "a live run in this notebook" if live else str(self.path)
        prov = r.provenance
        shown = (
            f"Showing {'the live run' if live else 'the shipped results'}: {r.model} with "
            f"{len(r.layers)} switchable layers, {len(r.runs)} networks trained from scratch, "
            f"made {prov.get('date', '?')} (section 7 says how). {findings_sentence(r)}"
        )
        self._say("ok", shown)
        if not live:
            self.stale_check = threading.Thread(
                target=self._check_stale, args=(r, shown), daemon=True
            )
            self.stale_check.start()
        self.provenance.value = (
            "<details><summary><b>Provenance</b>: the command, machine, data, files and "
            "reference computation behind these results (click to open)</summary>"
            f"{provenance_html(r, source=source)}</details>"
        )
        self._draw_costs()
        self._draw_uniform()
        self._build_pickers()
        self._set_budget_range(self.metric_toggle.value)
        self._draw_budget()
        self._draw_honesty()

    # ---- costs and uniform P -----------------------------------------------------------

    def _draw_costs(self) -> None:
        if self.results is not None:
            self.layers_fig.show(layer_costs_vs_p(self.results, self.time_toggle.value))

    def _draw_uniform(self) -> None:
        r = self.require_results()
        self.uniform_macs_fig.show(accuracy_vs_cost(r, "macs", search=False, height=460))
        self.uniform_time_fig.show(accuracy_vs_cost(r, "infer_ms", search=False, height=460))

    # ---- budget → best configuration ---------------------------------------------------

    @property
    def metric(self) -> str:
        """The budget's metric: ``"macs"`` or ``"infer_ms"``."""
        return self.metric_toggle.value

    @property
    def budget(self) -> float:
        """The budget in the metric's units (MACs, or ms per image)."""
        return budget_from_slider(self.require_results(), self.metric, self.budget_slider.value)

    @property
    def plan(self) -> Plan | None:
        """The search's best configuration within the budget."""
        return self.plan_at(self.budget_slider.value, self.metric)

    def plan_at(self, value: float, metric: str = "macs") -> Plan | None:
        """The search's best configuration with the budget slider at ``value`` (a fraction of
        the standard network's MACs, or ms per image), whatever the slider shows now."""
        r = self.require_results()
        return r.best(metric, budget_from_slider(r, metric, value))

    def _set_budget_range(self, metric: str) -> None:
        grid = slider_range(self.require_results(), metric)
        s = self.budget_slider
        self._quiet = True
        try:
            with s.hold_sync():  # one message: the browser's slider gets the new range at once
                s.max = max(grid.hi, s.max)  # widen first: min may never pass max
                s.min = min(grid.lo, s.min)
                s.step = grid.step
                s.value = grid.value
                s.min, s.max = grid.lo, grid.hi
                s.readout_format = grid.readout_format
        finally:
            self._quiet = False

    def _on_metric(self, change: dict) -> None:
        if self._quiet or self.results is None:
            return
        self._set_budget_range(change["new"])
        self._draw_budget()

    def _on_budget(self, change: dict) -> None:
        if self._quiet or self.results is None:
            return
        self._draw_budget()

    def _draw_budget(self) -> None:
        r = self.require_results()
        metric, budget, plan = self.metric, self.budget, self.plan
        front = r.front(metric)
        if plan is None:
            self.summary.value = message_html(
                "warn",
                f"Nothing fits a budget of {cost_text(r, budget, metric)}: the cheapest "
                f"configuration costs {cost_text(r, front[0].cost, metric)}.",
            )
        else:
            self.summary.value = plan_html(r, plan.config, heading="Best configuration found")
            self.config_fig.show(
                config_figure(r, {"search's best": plan.config}, title="Its P, layer by layer"),
            )
        self.front_fig.show(
            accuracy_vs_cost(r, metric, front=front, budget=budget, plan=plan, height=540),
        )
        self._draw_pick()

    # ---- beat the search ---------------------------------------------------------------

    def _build_pickers(self) -> None:
        r = self.require_results()
        uniform = r.uniform_choices()
        start = uniform[len(uniform) // 2] if uniform else None
        self.pickers = []
        for i, layer in enumerate(r.layers):
            value = start if start in layer.choices else layer.choices[0]
            picker = W.Dropdown(
                options=list(layer.choices), value=value,
                description=f"layer {i + 1} ({layer.in_channels}→{layer.out_channels})",
                style={"description_width": "initial"}, layout=W.Layout(width=css_width(190)),
            )  # fmt: skip
            picker.observe(self._on_pick, names="value")
            self.pickers.append(picker)
        self.pickers_box.children = tuple(self.pickers)

    @property
    def pick(self) -> tuple[int, ...]:
        """The student's configuration: one P per switchable layer, from the dropdowns."""
        return tuple(int(p.value) for p in self.pickers)

    def set_pick(self, config: Sequence[int]) -> None:
        """Set every dropdown at once (one redraw)."""
        config = self.require_results().check_config(config)
        self._quiet = True
        try:
            for picker, p in zip(self.pickers, config, strict=True):
                picker.value = p
        finally:
            self._quiet = False
        self._draw_pick()

    def copy_plan(self) -> None:
        """What the "Start from the search's plan" button does."""
        plan = self.plan
        if plan is not None:
            self.set_pick(plan.config)

    def verdict(self) -> PickVerdict:
        """The pick judged against the search at the current budget."""
        return judge_pick(self.require_results(), self.pick, self.metric, self.budget)

    def _on_pick(self, change: dict) -> None:
        if not self._quiet and self.results is not None:
            self._draw_pick()

    def _draw_pick(self) -> None:
        r = self.require_results()
        verdict = self.verdict()
        kind, text = verdict_text(r, verdict, self.metric)
        self.pick_message.value = message_html(kind, text)
        configs = {"your pick": verdict.config}
        if verdict.best is not None:
            configs = {"search's best": verdict.best.config, **configs}
        self.beat_config_fig.show(config_figure(r, configs, title="P per layer"))
        self.beat_front_fig.show(
            accuracy_vs_cost(
                r, self.metric, budget=verdict.budget, plan=verdict.best, pick=verdict.config,
                title="Where your pick lands", height=540,
            ),
        )  # fmt: skip

    # ---- honesty -----------------------------------------------------------------------

    def _draw_honesty(self) -> None:
        r = self.require_results()
        self.answer.value = answer_html(r)
        if r.runs:
            self.answer_fig.show(answer_figure(r))
        self.answer_fig_box.layout.display = None if r.runs else "none"
        kind, text = correlation_verdict(r)
        self.correlation_message.value = message_html(kind, text)
        self.honesty_table.value = honesty_table_html(r)
        self.evolution_table.value = (
            "<p><b>The additive model checked on the weight-sharing network</b> (knapsack plan "
            "against a small evolutionary search, both measured):</p>" + evolution_table_html(r)
            if r.evolution
            else ""
        )
        self.honesty_fig.show(predicted_vs_retrained(r))
        self.honesty_fig_box.layout.display = None if r.runs else "none"

    # ---- run it here -------------------------------------------------------------------

    @property
    def task(self) -> asyncio.Task | None:
        """The asyncio task of the live run the button started (None before)."""
        return self._job.task

    @property
    def running(self) -> bool:
        """A live run is under way."""
        return self._job.active

    def start_live(self) -> asyncio.Task | None:
        """What Run it here does: start the live study as a task on the running event loop and
        return it (without a loop, run it at once and return None; None if one is running)."""
        if self._job.active:
            self._say_live("warn", "Already running; press Stop first.")
            return None
        return self._job.start()

    def stop_live(self) -> None:
        """What Stop does: end the live run after the current batch or measurement step; the
        app keeps showing the results it showed before."""
        if self.study is None or not self._job.active:
            self._say_live("info", "Nothing is running.")
            return
        self.study.request_stop()
        self._say_live("warn", "Stopping after the current step…")

    def run_live_blocking(self) -> OptimalPResults | None:
        """Run the live study without an event loop (scripts, tests); returns its results."""
        self._job.run_blocking()
        return self.live

    async def wait_live(self) -> OptimalPResults | None:
        """Wait for the live run started by the button (at once when none is running). Under
        ``HETCONV_EDU_CI`` with none run yet, start one: automatic runs press no buttons."""
        if self.task is None and self.ci and self.live is None:
            self.start_live()
        await self._job.wait()
        return self.live

    def _progress(self, stage: str, done: int, total: int) -> None:
        bar = self._bars.get(stage)
        if bar is None:
            labels = {"train": "training", "time": "timing layers", "sensitivity": "sensitivity"}
            units = {"train": "batch", "time": "layer", "sensitivity": "evaluation"}
            bar = new_progress_bar(self.live_progress, total, labels[stage], units[stage])
            if bar is None:
                return
            self._bars[stage] = bar
        bar.update(done - bar.n)

    def _sync_curves(self) -> None:
        t = self.study.trainer if self.study is not None else None
        if t is None:
            return
        curves = RunCurves.from_history(
            "weight-sharing network", t.history.steps, t.history.epochs, t.steps_per_epoch
        )
        with self.live_curves.batch_update():
            update_training_curves(self.live_curves.figure, [curves])

    def _set_busy(self, busy: bool) -> None:
        self.run_button.disabled = busy
        self.stop_button.disabled = not busy

    def _live_slices(self) -> Slices:
        self.study = study = LiveStudy(
            self.live_settings, data=self._data, data_root=self.data_root, device=self.device,
            threads=self.threads, run_dir=self.run_dir, seed=self.seed, progress=self._progress,
        )  # fmt: skip
        for bar in self._bars.values():
            bar.close()
        self._bars = {}
        self._pace = None
        self.live_progress.children = ()
        self._sync_curves_reset()
        self._set_busy(True)
        self._say_live("info", "Loading the data…")
        try:
            work = study.slices()
            value: Any = None
            error: BaseException | None = None
            while True:
                try:
                    item = work.throw(error) if error is not None else work.send(value)
                except StopIteration:
                    break
                value, error = None, None
                self._say_live("info", self._stage_text(study))
                if item is None:
                    self._sync_curves()
                try:
                    value = yield item
                except Exception as err:  # hand the offloaded step's error back to the study
                    error = err
            self._sync_curves()
        except DatasetNotFoundError as err:
            self._say_live(
                "error",
                f"{err}\n\nRun it here needs CIFAR-10. Put the files where the message says, "
                "or set HETCONV_EDU_DATA to a folder that holds them, then press Run it here "
                "again. The shipped results above do not need the data.",
            )
            return
        except DataIntegrityError as err:  # truncated, damaged or unsafe data files
            self._say_live(
                "error",
                f"The data could not be loaded: {err}\n\nThen press Run it here again. The "
                "shipped results above do not need the data.",
            )
            return
        except Exception as err:  # shown in the app, not as a traceback in a callback
            self._say_live("error", f"The live run failed: {type(err).__name__}: {err}")
            return
        finally:
            for bar in self._bars.values():
                bar.close()
            self._set_busy(False)
        if study.stage == "stopped":
            self._say_live(
                "warn",
                f"Stopped during {self._stage_name(study)}. The app still shows the results it "
                "showed before. Press Run it here to start again.",
            )
            return
        self.live = study.results
        self._quiet = True
        try:
            self.source_toggle.disabled = False
            self.source_toggle.value = "live"
        finally:
            self._quiet = False
        self.results = self.live
        self._show_results()
        self._say_live(
            "ok",
            f"Done in {study.seconds:.0f} s: the app now shows the live results (switch back "
            "with “Show” at the top). No network was retrained, so the honesty check has "
            "nothing to check in a live run.",
        )

    def _sync_curves_reset(self) -> None:
        with self.live_curves.batch_update():
            update_training_curves(self.live_curves.figure, [RunCurves("weight-sharing network")])

    @staticmethod
    def _stage_name(study: LiveStudy) -> str:
        t = study.trainer
        if t is not None and study.stage in ("train", "stopped") and not study.results:
            return f"training (step {t.global_step} of {t.total_steps})"
        return {"data": "loading the data", "time": "the timing",
                "sensitivity": "the sensitivities", "network": "the timing"}.get(
            study.stage, study.stage
        )  # fmt: skip

    def _time_left(self, done: int, total: int) -> str:
        """ " About N s/min of training left", measured: the pace of the steps done so far in
        this run (empty until two steps were timed)."""
        now = time.monotonic()
        if self._pace is None or done < self._pace[1]:
            self._pace = (now, done)
            return ""
        started, first = self._pace
        if done - first < 2:
            return ""
        left = (now - started) / (done - first) * (total - done)
        when = f"{left:.0f} s" if left < 90 else f"{left / 60:.0f} min"
        return f" About {when} of training left at the pace measured so far."

    def _stage_text(self, study: LiveStudy) -> str:
        t = study.trainer
        if study.stage == "train" and t is not None:
            return (
                f"Training the weight-sharing network: step {t.global_step} of "
                f"{t.total_steps} (3 configurations per batch: largest, smallest, random)."
                + self._time_left(t.global_step, t.total_steps)
            )
        return {
            "data": "Loading the data…",
            "time": "Timing every layer at every P on this machine…",
            "sensitivity": "Measuring each layer's sensitivity on the validation images…",
            "network": "Timing the standard network…",
        }.get(study.stage, "Working…")

    def _ipython_display_(self) -> None:  # pragma: no cover - display hook
        from IPython.display import display

        display(self.widget)
