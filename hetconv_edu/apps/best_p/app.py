"""The best-P app (:class:`BestPApp`): its sections (:mod:`~hetconv_edu.apps.best_p.sections`,
:mod:`~hetconv_edu.apps.best_p.live`) put together over the results shown now, the shipped
file or a live run, and the notebook's exercises."""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path

import ipywidgets as W

from hetconv_edu.apps.best_p.live import CI_LIVE_SETTINGS, LiveSection
from hetconv_edu.apps.best_p.sections import (
    TOGGLE_STYLE,
    AnswerSection,
    BeatSection,
    CostsSection,
    HonestySection,
    MeaningSection,
    UniformSection,
    html_widget,
)
from hetconv_edu.apps.controls import AnswerChecker, Exercise, inline_toggles, pick_exercise
from hetconv_edu.apps.jobs import message_html, message_text
from hetconv_edu.apps.training import RUNS_ENV, in_ci
from hetconv_edu.data import ImageDataset
from hetconv_edu.flops import hetconv_ratio
from hetconv_edu.study.live import CLASS_LIVE_SETTINGS, LiveSettings, LiveStudy
from hetconv_edu.study.reference import stale_reasons
from hetconv_edu.study.results import (
    OptimalPResults,
    ResultsFileError,
    default_results_path,
    load_results,
)
from hetconv_edu.viz import style
from hetconv_edu.viz.best_p import findings_sentence, provenance_html

RESULTS_ENV = "HETCONV_EDU_BEST_P_RESULTS"
"""Environment variable: a results file :class:`BestPApp` loads instead of the shipped one
(a teacher's own run of the benchmark, or a test's file)."""

NO_RESULTS = style.text_html(
    "warn",
    "No results to show yet: see the message at the top, or press <b>Run it here</b> in the "
    "“Run it here” section.",
)
"""The note each section shows in place of its body when there are no results."""


class BestPApp(
    CostsSection,
    UniformSection,
    BeatSection,
    AnswerSection,
    HonestySection,
    LiveSection,
    MeaningSection,
):
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
        self._quiet = False
        self._build()
        self._show_results()

    # ---- widgets -----------------------------------------------------------------------

    def _build(self) -> None:
        sections = {
            "source": self._build_source(),
            "costs": self._build_costs(),
            "uniform": self._build_uniform(),
            "budget": self._build_budget(),
            "beat": self._build_beat(),
            "answer": self._build_answer(),
            "honesty": self._build_honesty(),
            "live": self._build_live(),
            "meaning": self._build_meaning(),
        }
        for name, section in sections.items():
            section.add_class(f"hetconv-bestp-{name}")
            style.track_widget(section)  # the notebook shows the sections one by one
        self.widget = W.VBox(list(sections.values()), layout=W.Layout(width="100%"))
        self.widget.add_class("hetconv-bestp-app")
        self._say_live("info", "Ready. Press Run it here.")

    def _build_source(self) -> W.VBox:
        self.message = html_widget(css="hetconv-bestp-message")
        self.source_toggle = W.ToggleButtons(
            options=[("shipped results file", "shipped"), ("live run", "live")],
            value="shipped", description="Show", style=TOGGLE_STYLE, disabled=True,
            layout=inline_toggles(),
        )  # fmt: skip
        self.source_toggle.observe(self._on_source, names="value")
        self.source_section = W.VBox([self.message, self.source_toggle])
        return self.source_section

    # ---- which results -----------------------------------------------------------------

    def _say(self, kind: str, text: str) -> None:
        self.message.value = message_html(kind, text)

    def _check_stale(self, r: OptimalPResults, shown: str) -> None:
        """Replay the results' reference computation (a second or two, in a background thread
        so the app shows at once) and warn if they are stale, while they are still shown."""
        try:
            stale = stale_reasons(r, in_child=True)
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

    @property
    def message_text(self) -> str:
        """The load message's plain text (tests and scripts)."""
        return message_text(self.message.value)

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

    def _result_sections(self) -> tuple[tuple[W.Box, W.Box], ...]:
        """(section, body) of every section that draws the results."""
        return (
            (self.costs_section, self.costs_body),
            (self.uniform_section, self.uniform_body),
            (self.budget_section, self.budget_body),
            (self.beat_section, self.beat_body),
            (self.answer_section, self.answer_body),
            (self.honesty_section, self.honesty_body),
        )

    def _show_results(self) -> None:
        r = self.results
        if r is None:
            self._show_nothing()
            return
        for section, body in self._result_sections():
            section.children = tuple(
                c for c in section.children if getattr(c, "value", None) != NO_RESULTS
            )
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
        self._draw_answer()
        self._draw_honesty()

    def _show_nothing(self) -> None:
        """No results: say why, hide every section's body and put a note in its place."""
        self._say(
            "error",
            f"{self.load_error}\n\nThe explorer has nothing to show until a results file "
            "is there. You can still run the study here (section “Run it here”, about 5 "
            "minutes), or ask your teacher for the file.",
        )
        for section, body in self._result_sections():
            body.layout.display = "none"
            if not any(getattr(c, "value", None) == NO_RESULTS for c in section.children):
                section.children = (html_widget(NO_RESULTS), *section.children)
        self.provenance.value = ""

    def _ipython_display_(self) -> None:  # pragma: no cover - display hook
        from IPython.display import display

        display(self.widget)
