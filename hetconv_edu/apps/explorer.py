"""The kernel-arrangement explorer: move P and watch the filters rearrange (notebook 01).

:class:`ExplorerApp` wires controls to the pure figure functions of
:mod:`hetconv_edu.viz.explorer`; every callback reads the controls into an
:class:`~hetconv_edu.viz.explorer.ExplorerState`, computes the figures' data and assigns it to
the two :class:`~hetconv_edu.apps.live_figure.LiveFigure` s (only what changed is assigned in
Python; each figure goes to the page whole, once per change).

:data:`EXERCISES` holds the notebook's exercises; :func:`exercise` makes the checker of one.
"""

from __future__ import annotations

import html
import logging
from typing import Any

import ipywidgets as widgets
import numpy as np

from hetconv_edu.apps.controls import (
    AnswerChecker,
    ChannelControls,
    Exercise,
    LayerValues,
    disclosure,
    pick_exercise,
)
from hetconv_edu.apps.live_figure import NO_FIGURE_CLASS, LiveFigure
from hetconv_edu.flops import hetconv_ratio, layer_cost, naive_hetconv_ratio
from hetconv_edu.pattern import Kernel, hetconv_pattern, kernels_per_channel, kernels_per_filter
from hetconv_edu.viz import style
from hetconv_edu.viz.explorer import (
    EXPLORER_FAMILIES,
    ExplorerState,
    FigureData,
    counters_html,
    filter_figure_data,
    key_numbers_html,
    map_figure_data,
    map_panels,
)
from hetconv_edu.viz.style import css_width

__all__ = ["EXERCISES", "OUT_SIZES", "Exercise", "ExplorerApp", "exercise"]

log = logging.getLogger(__name__)

OUT_SIZES = (1, 4, 8, 16, 32, 56, 112, 224)
"""Output map sizes D_o offered for the MAC counts (32: CIFAR-10's first layers)."""

_FAMILY_OPTIONS = [(label, key) for key, label in EXPLORER_FAMILIES.items()]
_FILTER_DETAILS = "The selected filter at its real size"
_WIDE = {"description_width": "initial"}


def _equal(a: Any, b: Any) -> bool:
    """Deep equality for plotly property values (numpy arrays compared element-wise)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        return bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``new`` that differ from ``old``, nested dicts diffed key by key."""
    out: dict[str, Any] = {}
    for key, value in new.items():
        if key not in old:
            out[key] = value
        elif isinstance(value, dict) and isinstance(old[key], dict):
            sub = _changes(old[key], value)
            if sub:
                out[key] = sub
        elif not _equal(old[key], value):
            out[key] = value
    return out


class _FigureSync:
    """A :class:`LiveFigure` and the data last assigned to it.

    Plotly validates every assigned property in Python (about 0.1 ms each), so only the
    properties that differ from the last assignment are set, all inside one
    ``batch_update`` (the whole figure goes to the page once, at its end).
    """

    def __init__(self, data: FigureData, css_class: str) -> None:
        self.figure = LiveFigure(data.figure(), css_class=css_class)
        self._last = data

    def assign(self, data: FigureData) -> None:
        traces = [
            _changes(old, new) for old, new in zip(self._last.traces, data.traces, strict=True)
        ]
        old_layout = {k: v for k, v in self._last.layout.items() if k != "template"}
        layout = _changes(old_layout, {k: v for k, v in data.layout.items() if k != "template"})
        whole = {k: layout.pop(k) for k in ("annotations", "shapes") if k in layout}
        if any(traces) or layout or whole:
            with self.figure.batch_update():
                for trace, change in zip(self.figure.data, traces, strict=True):
                    if change:
                        trace.update(change)
                if layout:
                    self.figure.layout.update(layout)
                for key, value in whole.items():
                    setattr(self.figure.layout, key, value)
        self._last = data


class ExplorerApp:
    """The explorer: M/N/K/P controls, family and filter selectors, compare mode, D_o;
    a kernel map, the selected filter, and the counters. Display it (or ``.widget``).

    One screen (1280×720, default and projector style): the controls and the key numbers in
    a column on the left, the map and the filter figure beside them; every count with its
    formula behind the "All counts, with formulas" disclosure under the key numbers.

    ``compare`` names a second family to draw beside ``family`` (compare mode on).
    Families: keys of :data:`hetconv_edu.viz.explorer.EXPLORER_FAMILIES`.
    """

    def __init__(
        self,
        in_channels: int = 16,
        out_channels: int = 16,
        kernel_size: int = 3,
        p: int = 4,
        *,
        family: str = "hetconv",
        compare: str | None = None,
        filter_index: int = 0,
        out_size: int = 32,
        title: str | None = None,
    ) -> None:
        for fam in (family, compare):
            if fam is not None and fam not in EXPLORER_FAMILIES:
                raise ValueError(
                    f"unknown family {fam!r}; choose one of {sorted(EXPLORER_FAMILIES)}"
                )
        self._busy = False
        self.update_count = 0
        self.last_error: str | None = None
        self.controls = ChannelControls(in_channels, out_channels, kernel_size, p)
        self._make_selectors(family, compare, filter_index, out_size)
        self._make_views()
        self._lay_out(title)
        self._wire()

    def _make_selectors(
        self, family: str, compare: str | None, filter_index: int, out_size: int
    ) -> None:
        """The family, compare, filter and D_o selectors and the status line."""
        n = self.controls.values.out_channels
        self.family = widgets.Dropdown(
            options=_FAMILY_OPTIONS,
            value=family,
            description="family",
            style=_WIDE,
            layout=widgets.Layout(width=css_width(330)),
        )
        self.compare_on = widgets.Checkbox(
            value=compare is not None,
            description="compare with",
            indent=False,
            style=_WIDE,
            layout=widgets.Layout(width="auto"),
        )
        self.compare_family = widgets.Dropdown(
            options=_FAMILY_OPTIONS,
            value=compare if compare is not None else "standard",
            disabled=compare is None,
            layout=widgets.Layout(width=css_width(260)),
        )
        self.filter_index = widgets.IntSlider(
            value=min(max(0, filter_index), n - 1),
            min=0,
            max=n - 1,
            description="filter n",
            continuous_update=True,
            style=_WIDE,
            layout=widgets.Layout(width=css_width(330)),
        )
        self.out_size = widgets.Dropdown(
            options=[(f"{d}×{d}", d) for d in OUT_SIZES]
            if out_size in OUT_SIZES
            else [(f"{d}×{d}", d) for d in sorted({*OUT_SIZES, out_size})],
            value=out_size,
            description="output size D<sub>o</sub>×D<sub>o</sub>",
            description_allow_html=True,
            style=_WIDE,
            layout=widgets.Layout(width=css_width(230)),
        )
        self.out_size.add_class(NO_FIGURE_CLASS)  # D_o changes the MAC counts only
        self.status = widgets.HTML(value="")
        self.status.add_class("hetconv-status")

    def _make_views(self) -> None:
        """The two figures, the key numbers and every count with its formula."""
        state = self.state
        self._map = _FigureSync(map_figure_data(state), "hetconv-map")
        self._filter = _FigureSync(filter_figure_data(state), "hetconv-filter")
        self.map_figure: LiveFigure = self._map.figure
        """The kernel maps (figure 1)."""
        self.filter_figure: LiveFigure = self._filter.figure
        """The selected filter at its real kernel sizes (figure 2)."""
        self.counters = widgets.HTML(value=key_numbers_html(state))
        """The key numbers beside the map (per family: kernels of the selected filter,
        weights, MACs, MACs ÷ standard)."""
        self.counters.add_class("hetconv-counters-box")
        self.all_counts = widgets.HTML(value=counters_html(state))
        """Every count with its formula, behind the "All counts, with formulas" disclosure."""
        self.details = disclosure("All counts, with formulas", self.all_counts)

    def _lay_out(self, title: str | None) -> None:
        """The controls' column beside the figures, under the title if there is one."""
        state = self.state
        header = (
            [widgets.HTML(f"<h3 class='hetconv-heading'>{html.escape(title)}</h3>")]
            if title
            else []
        )
        controls = widgets.VBox(
            [
                self.controls.widget,
                self.family,
                widgets.HBox([self.compare_on, self.compare_family]),
                self.filter_index,
                self.out_size,
                self.status,
                self.counters,
                self.details,
            ],
            layout=widgets.Layout(width=css_width(385), flex="0 0 auto"),
        )
        self.filter_details = disclosure(_FILTER_DETAILS)
        """Holds the filter figure while the map needs two rows of panels (no room under it)."""
        self._figures = widgets.VBox(
            layout=widgets.Layout(flex="1 1 0", min_width="0", align_items="flex-start")
        )
        self._place_filter(state)
        self.widget = widgets.VBox(
            [*header, widgets.HBox([controls, self._figures], layout=widgets.Layout(width="100%"))]
        )
        self.widget.add_class("hetconv-explorer")
        style.track_widget(self.widget)

    def _wire(self) -> None:
        """Every control redraws what it changes."""
        self.controls.on_change(self._on_layer)
        for w in (self.family, self.compare_family, self.filter_index, self.out_size):
            w.observe(self._on_change, names="value")
        self.compare_on.observe(self._on_compare, names="value")

    # ------------------------------------------------------------------ state and update

    @property
    def state(self) -> ExplorerState:
        """The setting the controls show now."""
        v = self.controls.values
        return ExplorerState(
            in_channels=v.in_channels,
            out_channels=v.out_channels,
            kernel_size=v.kernel_size,
            p=v.p,
            family=self.family.value,
            compare=self.compare_family.value if self.compare_on.value else None,
            filter_index=int(self.filter_index.value),
            out_size=int(self.out_size.value),
        )

    def update(self) -> None:
        """Redraw both figures and the counters from the controls. Never raises: a failure is
        shown in the status line (and kept in ``last_error``) instead of a traceback."""
        try:
            state = self.state
            self._map.assign(map_figure_data(state))
            self._filter.assign(filter_figure_data(state))
            self._place_filter(state)
            self.counters.value = key_numbers_html(state)
            self.all_counts.value = counters_html(state)
        except Exception as exc:  # a student's click must never end in a traceback
            log.exception("explorer update failed")
            self.last_error = f"{type(exc).__name__}: {exc}"
            self.status.value = style.message_html(
                "error", f"This setting could not be drawn: {exc}"
            )
            return
        self.last_error = None
        self.status.value = ""
        self.update_count += 1

    def set(self, **values: Any) -> ExplorerState:
        """Set several controls at once and redraw once (presets, tests).

        Keys: ``in_channels``, ``out_channels``, ``kernel_size``, ``p`` (moved to the nearest
        valid value like a student's change), ``family``, ``compare`` (a family or None),
        ``filter_index`` (clamped to 0 … N − 1), ``out_size``.
        """
        layer_keys = ("in_channels", "out_channels", "kernel_size", "p")
        unknown = set(values) - {*layer_keys, "family", "compare", "filter_index", "out_size"}
        if unknown:
            raise ValueError(f"unknown explorer settings: {sorted(unknown)}")
        self._busy = True
        try:
            layer = {k: values[k] for k in layer_keys if k in values}
            if layer:
                self.controls.set(**layer)
            if "family" in values:
                self.family.value = values["family"]
            if "compare" in values:
                compare = values["compare"]
                self.compare_on.value = compare is not None
                self.compare_family.disabled = compare is None
                if compare is not None:
                    self.compare_family.value = compare
            self._sync_filter_range()
            if "filter_index" in values:
                self.filter_index.value = min(
                    max(0, int(values["filter_index"])), self.filter_index.max
                )
            if "out_size" in values:
                self.out_size.value = values["out_size"]
        finally:
            self._busy = False
        self.update()
        return self.state

    def _place_filter(self, state: ExplorerState) -> None:
        """The filter figure under the map, or behind its disclosure while the map has two
        rows of panels (then the map takes the whole column)."""
        below = len(map_panels(state)) <= 2
        filter_box = self.filter_figure.widget if below else self.filter_details
        if below and self.filter_details.children:
            self.filter_details.children = ()
        if not below and not self.filter_details.children:
            self.filter_details.children = (self.filter_figure.widget,)
            self.filter_details.titles = (_FILTER_DETAILS,)
        if tuple(self._figures.children) != (self.map_figure.widget, filter_box):
            self._figures.children = (self.map_figure.widget, filter_box)

    # ------------------------------------------------------------------ callbacks

    def _sync_filter_range(self) -> None:
        n = self.controls.values.out_channels
        if self.filter_index.max != n - 1:
            if self.filter_index.value > n - 1:
                self.filter_index.value = n - 1
            self.filter_index.max = n - 1

    def _on_layer(self, _values: LayerValues) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            self._sync_filter_range()
        finally:
            self._busy = False
        self.update()

    def _on_change(self, _change: dict) -> None:
        if not self._busy:
            self.update()

    def _on_compare(self, change: dict) -> None:
        self.compare_family.disabled = not change["new"]
        if not self._busy:
            self.update()

    def _repr_mimebundle_(self, **kwargs):  # display the app itself in a notebook
        return self.widget._repr_mimebundle_(**kwargs)


# ----------------------------------------------------------------------------- exercises


def _full_in_filter(m: int, n: int, p: int, f: int) -> int:
    return int(kernels_per_filter(hetconv_pattern(m, n, p), Kernel.FULL)[f])


def _filters_covering(m: int, n: int, p: int, c: int) -> int:
    return int(kernels_per_channel(hetconv_pattern(m, n, p), Kernel.FULL)[c])


def _first_full_channel(m: int, n: int, p: int, f: int) -> int:
    row = hetconv_pattern(m, n, p)[f]
    return int(next(i for i, kind in enumerate(row) if kind == Kernel.FULL))


EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        "<b>1.</b> A HetConv layer has M = 64 input channels, N = 64 filters and P = 8. "
        "How many 3×3 kernels does <b>filter 7</b> hold?",
        lambda: _full_in_filter(64, 64, 8, 7),
        hint="every P-th kernel of a filter is K×K.",
    ),
    Exercise(
        "<b>2.</b> Same layer (M = N = 64, P = 8). <b>Filter 13</b>: at which input channel "
        "is its <i>first</i> 3×3 kernel (channels count from 0)?",
        lambda: _first_full_channel(64, 64, 8, 13),
        hint="the K×K kernels of filter n sit where (m − n) mod P = 0.",
    ),
    Exercise(
        "<b>3.</b> Same layer. From how many filters does <b>input channel 10</b> receive a "
        "3×3 kernel?",
        lambda: _filters_covering(64, 64, 8, 10),
        hint="count the K×K cells in one column of the map.",
    ),
    Exercise(
        "<b>4.</b> M = N = 256, K = 3, P = 4, no bias. How many weights does the HetConv "
        "layer hold?",
        lambda: layer_cost("hetconv:4", 256, 256, 3, 1, bias=False).params,
        hint="N·(M·K²/P + M − M/P).",
    ),
    Exercise(
        "<b>5.</b> K = 3, P = 4. The naive public implementation needs how many percent "
        "<i>more</i> MACs than the paper's HetConv? (one decimal, e.g. 12.5)",
        lambda: 100 * (naive_hetconv_ratio(3, 4) / hetconv_ratio(3, 4) - 1),
        tolerance=0.05,
        unit="%",
        hint="compare 1/P + 1/K² with 1/P + (1 − 1/P)/K².",
    ),
)
"""The exercises of notebook 01; answers computed by the package."""


def exercise(number: int) -> AnswerChecker:
    """The checker of exercise ``number`` (1-based) of :data:`EXERCISES`, ready to display."""
    return pick_exercise(EXERCISES, number).checker()
