"""The best-P app's sections, one small class each: the widgets of one notebook cell and the
callbacks that draw them (wiring only: the numbers come from the results object,
:mod:`~hetconv_edu.apps.best_p.verdicts` and the figures of :mod:`hetconv_edu.viz.best_p`).

Each class is a part of :class:`~hetconv_edu.apps.best_p.app.BestPApp`, which mixes them in:
a section builds its widgets in ``_build_<name>()`` (returning the section's box) and draws
them in ``_draw_<name>()``; all of them read the results shown now (``results``,
``require_results()``) and the ``_quiet`` flag the app sets while it changes widgets itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as W

from hetconv_edu.apps.best_p.verdicts import (
    BUDGET_METRICS,
    PickVerdict,
    budget_from_slider,
    correlation_verdict,
    judge_pick,
    slider_range,
    verdict_text,
)
from hetconv_edu.apps.controls import columns, disclosure, inline_toggles
from hetconv_edu.apps.jobs import message_html
from hetconv_edu.apps.live_figure import LiveFigure
from hetconv_edu.study.results import OptimalPResults
from hetconv_edu.study.search import Plan
from hetconv_edu.viz.best_p import (
    MEANING_HTML,
    accuracy_vs_cost,
    answer_figure,
    answer_html,
    config_figure,
    cost_text,
    diminishing_returns,
    evolution_table_html,
    honesty_table_html,
    layer_costs_vs_p,
    plan_html,
    predicted_vs_retrained,
)
from hetconv_edu.viz.style import css_width

TOGGLE_STYLE = {"description_width": "initial", "button_width": "auto"}
"""Style of the sections' toggle buttons."""

LEFT_WIDTH = 360
"""Width (px, default style) of a section's column of controls."""


def html_widget(value: str = "", css: str | None = None) -> W.HTML:
    """An HTML widget as wide as its place, with the CSS class ``css``."""
    widget = W.HTML(value=value, layout=W.Layout(width="auto"))
    if css:
        widget.add_class(css)
    return widget


class _Section:
    """What every section reads from the app."""

    results: OptimalPResults | None
    _quiet: bool

    def require_results(self) -> OptimalPResults:  # pragma: no cover - the app's
        raise NotImplementedError


class CostsSection(_Section):
    """Section 1: each layer's measured time against P beside its MACs (a toggle picks the
    time), and the analytic diminishing return of P."""

    def _build_costs(self) -> W.VBox:
        self.time_toggle = W.ToggleButtons(
            options=[("inference", "infer_ms"), ("training step", "train_ms")],
            value="infer_ms", description="Measured time", style=TOGGLE_STYLE,
            layout=inline_toggles(),
        )  # fmt: skip
        self.time_toggle.observe(lambda _c: self._draw_costs(), names="value")
        self.layers_fig = LiveFigure()
        self.returns_fig = LiveFigure(diminishing_returns(3))
        self.costs_body = W.VBox(
            [
                self.time_toggle,
                self.layers_fig.widget,
                disclosure("Each doubling of P saves half as much (analytic)",
                           self.returns_fig.widget),
            ]
        )  # fmt: skip
        self.costs_section = W.VBox([self.costs_body])
        return self.costs_section

    def _draw_costs(self) -> None:
        if self.results is not None:
            self.layers_fig.show(layer_costs_vs_p(self.results, self.time_toggle.value))


class UniformSection(_Section):
    """Section 2: uniform P trained from scratch, against MACs and against measured time."""

    def _build_uniform(self) -> W.VBox:
        self.uniform_macs_fig = LiveFigure()
        self.uniform_time_fig = LiveFigure()
        self.uniform_body = columns(
            self.uniform_macs_fig.widget, self.uniform_time_fig.widget, left_width="50%"
        )
        self.uniform_section = W.VBox([self.uniform_body])
        return self.uniform_section

    def _draw_uniform(self) -> None:
        r = self.require_results()
        self.uniform_macs_fig.show(accuracy_vs_cost(r, "macs", search=False, height=460))
        self.uniform_time_fig.show(accuracy_vs_cost(r, "infer_ms", search=False, height=460))


class BudgetSection(_Section):
    """Section 3: a budget (MACs or time per image) → the search's best configuration, its
    numbers and its P per layer, beside the search's front."""

    def _build_budget(self) -> W.VBox:
        self.metric_toggle = W.ToggleButtons(
            options=[(label, key) for key, label in BUDGET_METRICS.items()],
            value="macs", description="Budget in", style=TOGGLE_STYLE, layout=inline_toggles(),
        )  # fmt: skip
        self.budget_slider = W.FloatSlider(
            value=0.5, min=0.1, max=1.0, step=0.01, description="Budget",
            readout_format=".0%", continuous_update=False, style={"description_width": "initial"},
            layout=W.Layout(width=css_width(380)),
        )  # fmt: skip
        self.summary = html_widget(css="hetconv-bestp-summary")
        self.config_fig = LiveFigure()
        self.front_fig = LiveFigure()
        self.metric_toggle.observe(self._on_metric, names="value")
        self.budget_slider.observe(self._on_budget, names="value")
        self.config_fig.add_class("hetconv-bestp-config-fig")
        self.front_fig.add_class("hetconv-bestp-front-fig")
        self.budget_body = columns(
            W.VBox([self.metric_toggle, self.budget_slider, self.summary, self.config_fig.widget]),
            self.front_fig.widget,
            left_width=css_width(LEFT_WIDTH),
        )
        self.budget_section = W.VBox([self.budget_body])
        return self.budget_section

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

    def _draw_pick(self) -> None:  # pragma: no cover - the beat section's
        raise NotImplementedError


class BeatSection(BudgetSection):
    """Section 4, "Beat the search": one P per layer from dropdowns, judged against the
    search's best plan at section 3's budget, drawn where it lands."""

    def _build_beat(self) -> W.VBox:
        self.pickers_box = W.VBox()
        self.pickers: list[W.Dropdown] = []
        self.copy_button = W.Button(
            description="Start from the search's plan",
            icon="copy",
            layout=W.Layout(width="fit-content"),
        )
        self.copy_button.on_click(lambda _b: self.copy_plan())
        self.pick_message = html_widget(css="hetconv-bestp-verdict")
        self.beat_config_fig = LiveFigure()
        self.beat_front_fig = LiveFigure()
        self.beat_body = columns(
            W.VBox(
                [self.pickers_box, self.copy_button, self.pick_message, self.beat_config_fig.widget]
            ),
            self.beat_front_fig.widget,
            left_width=css_width(LEFT_WIDTH),
        )
        self.beat_section = W.VBox([self.beat_body])
        return self.beat_section

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


class AnswerSection(_Section):
    """Section 5: the study's answer in one sentence, each budget's verdict, and the
    retrained networks with their seeds' spread (hidden when nothing was retrained)."""

    def _build_answer(self) -> W.VBox:
        self.answer = html_widget(css="hetconv-bestp-answer")
        self.answer_fig = LiveFigure()
        self.answer_fig_box = W.Box([self.answer_fig.widget])  # hidden when nothing retrained
        self.answer_body = columns(self.answer, self.answer_fig_box, left_width=css_width(380))
        self.answer_section = W.VBox([self.answer_body])
        return self.answer_section

    def _draw_answer(self) -> None:
        r = self.require_results()
        self.answer.value = answer_html(r)
        if r.runs:
            self.answer_fig.show(answer_figure(r))
        self.answer_fig_box.layout.display = None if r.runs else "none"


class HonestySection(_Section):
    """Section 6: predicted against retrained accuracy, the rank correlation's verdict, every
    retrained run, and how the search found its plans."""

    def _build_honesty(self) -> W.VBox:
        self.correlation_message = html_widget(css="hetconv-bestp-correlation")
        self.honesty_table = html_widget(css="hetconv-bestp-honesty")
        self.evolution_table = html_widget()
        self.honesty_fig = LiveFigure()
        self.honesty_fig_box = W.Box([self.honesty_fig.widget])  # hidden when nothing was retrained
        self.honesty_body = W.VBox(
            [
                columns(
                    W.VBox([self.correlation_message, self.honesty_table]),
                    self.honesty_fig_box,
                    left_width=css_width(LEFT_WIDTH),
                ),
                disclosure("How the search found its plans", self.evolution_table),
            ]
        )
        self.honesty_section = W.VBox([self.honesty_body])
        return self.honesty_section

    def _draw_honesty(self) -> None:
        r = self.require_results()
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


class MeaningSection(_Section):
    """Section 8: what the results do and do not mean, and their provenance."""

    def _build_meaning(self) -> W.VBox:
        self.provenance = html_widget(css="hetconv-bestp-provenance")
        self.meaning_section = W.VBox(
            [html_widget(MEANING_HTML), disclosure("Provenance: how these results were made",
                                                   self.provenance)]
        )  # fmt: skip
        return self.meaning_section
