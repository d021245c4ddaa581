"""Controls shared by the apps: the layer's M/N/K/P, and answer checkers for exercises.

* :func:`channel_controls` / :class:`ChannelControls` — M (input channels), N (filters),
  K (kernel size) and P (part). P only ever offers :func:`~hetconv_edu.pattern.valid_parts`
  of the current M and N; when M or N change, P moves to the nearest valid value and a note
  says so. Apps register one callback with :meth:`ChannelControls.on_change`, called once per
  change with valid :class:`LayerValues`.
* :class:`AnswerChecker` — a prompt, an answer box, a Check button and a right/wrong message.
  The expected answer is computed by a callable from the package, never typed in.
* :func:`projector_switch` — a toggle button for the package's projector style
  (:func:`hetconv_edu.viz.style.set_projector`).

No widget here can produce a traceback from a click or a keystroke: boxes are bounded, P is a
choice among valid values, and a checker explains unreadable input instead of raising.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ipywidgets as widgets

from hetconv_edu.checks import check_int
from hetconv_edu.pattern import check_positive_int, valid_parts
from hetconv_edu.viz import style
from hetconv_edu.viz.style import css_width

__all__ = [
    "AnswerChecker",
    "ChannelControls",
    "Exercise",
    "LayerValues",
    "channel_controls",
    "columns",
    "disclosure",
    "heading",
    "inline_toggles",
    "nearest_valid_part",
    "parse_number",
    "pick_exercise",
    "projector_switch",
]

KERNEL_SIZES = (1, 3, 5, 7)
MAX_CHANNELS = 512
_DESCRIPTION = {"description_width": "initial"}


def inline_toggles() -> widgets.Layout:
    """Layout of a ToggleButtons whose description sits left of its buttons (ipywidgets puts
    it above them): one row instead of two."""
    return widgets.Layout(display="flex", flex_flow="row", align_items="center")


@dataclass(frozen=True)
class LayerValues:
    """One valid layer setting: M, N, K and a P that divides M and N."""

    in_channels: int
    out_channels: int
    kernel_size: int
    p: int


def nearest_valid_part(p: int, in_channels: int, out_channels: int) -> int:
    """The valid P (common divisor of M and N) closest to ``p``; on a tie the smaller one."""
    allowed = valid_parts(in_channels, out_channels)
    return min(allowed, key=lambda q: (abs(q - p), q))


class ChannelControls:
    """M, N, K and P controls whose P always divides M and N (see :func:`channel_controls`).

    Attributes: ``in_channels``, ``out_channels`` (``BoundedIntText``), ``kernel_size``
    (``ToggleButtons``), ``p`` (``SelectionSlider`` over the valid parts, disabled when only
    P = 1 is valid), ``note`` (``HTML``: why P moved), ``widget`` (all of them in a ``VBox``).
    """

    def __init__(
        self,
        in_channels: int = 16,
        out_channels: int = 16,
        kernel_size: int = 3,
        p: int = 1,
        *,
        max_channels: int = MAX_CHANNELS,
        kernel_sizes: Sequence[int] = KERNEL_SIZES,
        continuous_update: bool = True,
    ) -> None:
        m = min(check_positive_int("in_channels", in_channels), max_channels)
        n = min(check_positive_int("out_channels", out_channels), max_channels)
        kernel_sizes = tuple(check_positive_int("kernel_size", k) for k in kernel_sizes)
        k = check_positive_int("kernel_size", kernel_size)
        if k not in kernel_sizes:
            raise ValueError(f"kernel_size={k} is not one of the offered sizes {kernel_sizes}")
        p = nearest_valid_part(check_positive_int("p", p), m, n)
        self._callbacks: list[Callable[[LayerValues], None]] = []
        self._busy = False
        self._make_channels(m, n, max_channels)
        self._make_kernel_and_part(m, n, k, p, kernel_sizes, continuous_update)
        self.note = widgets.HTML(value=self._options_note(m, n))
        self.note.add_class("hetconv-p-note")
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.in_channels, self.out_channels]),
                self.kernel_size,
                self.p,
                self.note,
            ]
        )
        self.in_channels.observe(self._on_channels, names="value")
        self.out_channels.observe(self._on_channels, names="value")
        self.kernel_size.observe(self._on_simple, names="value")
        self.p.observe(self._on_simple, names="value")

    def _make_channels(self, m: int, n: int, max_channels: int) -> None:
        """The M and N boxes."""
        self.in_channels = widgets.BoundedIntText(
            value=m,
            min=1,
            max=max_channels,
            description="M input channels",
            tooltip="M: input channels (each filter holds one kernel per input channel)",
            style=_DESCRIPTION,
            layout=widgets.Layout(width=css_width(185)),
        )
        self.out_channels = widgets.BoundedIntText(
            value=n,
            min=1,
            max=max_channels,
            description="N filters",
            tooltip="N: filters = output channels",
            style=_DESCRIPTION,
            layout=widgets.Layout(width=css_width(140)),
        )

    def _make_kernel_and_part(
        self,
        m: int,
        n: int,
        k: int,
        p: int,
        kernel_sizes: Sequence[int],
        continuous_update: bool,
    ) -> None:
        """The K toggles and the P slider over the valid parts (disabled when only P = 1 is)."""
        self.kernel_size = widgets.ToggleButtons(
            options=[(f"{s}×{s}", s) for s in kernel_sizes],
            value=k,
            description="K kernel",
            tooltips=[f"K = {s}: the large kernels are {s}×{s}" for s in kernel_sizes],
            style={**_DESCRIPTION, "button_width": css_width(52)},
            layout=inline_toggles(),
        )
        self.p = widgets.SelectionSlider(
            options=valid_parts(m, n),
            value=p,
            description="P part",
            tooltip="P: every P-th kernel of a filter is K×K; P must divide M and N",
            continuous_update=continuous_update,
            style=_DESCRIPTION,
            disabled=len(valid_parts(m, n)) == 1,
            layout=widgets.Layout(width=css_width(330)),
        )

    # ------------------------------------------------------------------ public API

    @property
    def values(self) -> LayerValues:
        """The current (always valid) setting."""
        return LayerValues(
            int(self.in_channels.value),
            int(self.out_channels.value),
            int(self.kernel_size.value),
            int(self.p.value),
        )

    def on_change(self, callback: Callable[[LayerValues], None]) -> None:
        """Call ``callback(values)`` once after every change of any control."""
        self._callbacks.append(callback)

    def set(
        self,
        *,
        in_channels: int | None = None,
        out_channels: int | None = None,
        kernel_size: int | None = None,
        p: int | None = None,
    ) -> LayerValues:
        """Set several controls at once (a preset), then notify once. An invalid ``p`` moves
        to the nearest valid one, as for a student's change. Returns the values set."""
        self._busy = True
        try:
            if in_channels is not None:
                self.in_channels.value = in_channels
            if out_channels is not None:
                self.out_channels.value = out_channels
            if kernel_size is not None:
                self.kernel_size.value = kernel_size
            self._sync_parts(p if p is not None else int(self.p.value))
        finally:
            self._busy = False
        self._notify()
        return self.values

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _options_note(m: int, n: int, moved: tuple[int, int] | None = None) -> str:
        allowed = valid_parts(m, n)
        text = f"P must divide M = {m} and N = {n}: P ∈ {{{', '.join(map(str, allowed))}}}."
        if len(allowed) == 1:
            text += " Only P = 1 (standard convolution): M and N share no divisor."
        if moved is not None:
            old, new = moved
            text = f"P = {old} does not divide both M and N, so P moved to {new}. " + text
        return style.note_html(html.escape(text))

    def _sync_parts(self, wanted: int) -> None:
        m, n = int(self.in_channels.value), int(self.out_channels.value)
        allowed = valid_parts(m, n)
        new = nearest_valid_part(wanted, m, n)
        # Called with self._busy set: the intermediate values below notify nobody.
        if list(self.p.options) != allowed:
            self.p.options = allowed  # selects the first option …
        if self.p.value != new:
            self.p.value = new  # … so set the nearest valid P after it
        self.p.disabled = len(allowed) == 1  # a slider with one stop is no control
        self.note.value = self._options_note(m, n, (wanted, new) if new != wanted else None)

    def _on_channels(self, _change: dict) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            self._sync_parts(int(self.p.value))
        finally:
            self._busy = False
        self._notify()

    def _on_simple(self, _change: dict) -> None:
        if self._busy:
            return
        m, n = int(self.in_channels.value), int(self.out_channels.value)
        self.note.value = self._options_note(m, n)
        self._notify()

    def _notify(self) -> None:
        values = self.values
        for callback in self._callbacks:
            callback(values)


def channel_controls(
    in_channels: int = 16,
    out_channels: int = 16,
    kernel_size: int = 3,
    p: int = 1,
    *,
    max_channels: int = MAX_CHANNELS,
    kernel_sizes: Sequence[int] = KERNEL_SIZES,
    continuous_update: bool = True,
) -> ChannelControls:
    """M/N/K/P controls with P kept valid (a ``p`` that does not divide M and N starts at the
    nearest valid value). Display ``.widget``; read ``.values``; register ``.on_change(cb)``."""
    return ChannelControls(
        in_channels,
        out_channels,
        kernel_size,
        p,
        max_channels=max_channels,
        kernel_sizes=kernel_sizes,
        continuous_update=continuous_update,
    )


# --------------------------------------------------------------------------- answers


def parse_number(text: str) -> float | None:
    """Read a typed answer: ``"8"``, ``" 1,024 "``, ``"0.333"``, ``"1/3"``, ``"33%"`` (as 33).

    Returns None for text that is not a number (no exception).
    """
    cleaned = text.strip().replace(",", "").replace("_", "").replace(" ", "").rstrip("%")
    if not cleaned:
        return None
    try:
        if "/" in cleaned:
            num, _, den = cleaned.partition("/")
            value = float(num) / float(den)
        else:
            value = float(cleaned)
    except (ValueError, ZeroDivisionError):
        return None
    return value if math.isfinite(value) else None


class AnswerChecker:
    """An exercise: prompt, answer box, Check button, feedback. Display ``.widget``.

    ``answer`` is a zero-argument callable from the package that computes the expected
    number (so the exercise can never disagree with the model). An answer is right when it is
    within ``tolerance`` of the expected value (absolute; 0 means exact). After ``reveal_after``
    wrong tries the feedback shows the expected answer (0: never). When the expected number
    cannot be computed yet (``answer`` raises ``ValueError`` or ``OSError``, e.g. no results
    file), the feedback says why and the try does not count.
    """

    def __init__(
        self,
        prompt: str,
        answer: Callable[[], float],
        *,
        tolerance: float = 0.0,
        unit: str = "",
        hint: str = "",
        reveal_after: int = 3,
        placeholder: str = "your answer",
    ) -> None:
        if not callable(answer):
            raise TypeError("answer must be a callable computing the expected value")
        self._answer = answer
        self.tolerance = float(tolerance)
        self.unit = unit
        self.hint = hint
        self.reveal_after = int(reveal_after)
        self.attempts = 0
        self.solved = False
        self.prompt = widgets.HTML(value=f"<div class='hetconv-prose'>{prompt}</div>")
        self.box = widgets.Text(
            placeholder=placeholder,
            description="Answer",
            style=_DESCRIPTION,
            layout=widgets.Layout(width=css_width(260)),
            continuous_update=True,
        )
        self.button = widgets.Button(description="Check", button_style="primary", icon="check")
        self.feedback = widgets.HTML(value="")
        self.feedback.add_class("hetconv-feedback")
        self.button.on_click(lambda _button: self.check())
        self.widget = widgets.VBox(
            [self.prompt, widgets.HBox([self.box, self.button]), self.feedback]
        )
        self.widget.add_class("hetconv-exercise")
        style.track_widget(self.widget)

    @property
    def expected(self) -> float:
        """The expected answer, computed now by the package."""
        return self._answer()

    def _format(self, value: float) -> str:
        text = f"{int(value):,}" if float(value).is_integer() else f"{value:.4g}"
        return f"{text} {self.unit}".strip()

    def check(self, value: str | float | None = None) -> bool:
        """Grade ``value`` (default: the box's text), update the feedback, return right/wrong."""
        if value is None:
            value = self.box.value
        number = parse_number(value) if isinstance(value, str) else float(value)
        if number is None:
            self.feedback.value = style.note_html(
                "Type a number (e.g. <code>8</code>, <code>0.25</code> or <code>1/4</code>), "
                "then press Check.",
                tag="span",
            )
            return False
        try:
            expected = self.expected
        except (ValueError, OSError) as err:
            self.feedback.value = style.note_html(
                f"This exercise cannot be checked yet: {html.escape(str(err))}", tag="span"
            )
            return False
        self.attempts += 1
        right = abs(number - expected) <= self.tolerance + 1e-9 * max(1.0, abs(expected))
        if right:
            self.solved = True
            self.feedback.value = style.text_html(
                "ok", f"✔ Right: {html.escape(self._format(expected))}."
            )
        else:
            text = f"✘ Not quite ({html.escape(self._format(number))})."
            if self.hint:
                text += f" Hint: {self.hint}"
            if self.reveal_after and self.attempts >= self.reveal_after:
                text += f" The answer is {html.escape(self._format(expected))}."
            self.feedback.value = style.text_html("warn", text)
        return right

    def _repr_mimebundle_(self, **kwargs):  # display the checker itself in a notebook
        return self.widget._repr_mimebundle_(**kwargs)


@dataclass(frozen=True)
class Exercise:
    """One exercise: its question, the package function computing the answer, a tolerance.

    The answer lives in the package, not in a notebook cell, so neither the projected notebook
    nor a student copy shows the expression that computes it.
    """

    prompt: str
    answer: Callable[[], float]
    tolerance: float = 0.0
    unit: str = ""
    hint: str = ""

    def checker(self) -> AnswerChecker:
        """A fresh :class:`~hetconv_edu.apps.controls.AnswerChecker` for this exercise."""
        return AnswerChecker(
            self.prompt, self.answer, tolerance=self.tolerance, unit=self.unit, hint=self.hint
        )


def pick_exercise(exercises: Sequence[Exercise], number: int) -> Exercise:
    """Exercise ``number`` (1-based) of ``exercises``.

    Raises:
        ValueError: ``number`` is not 1 … ``len(exercises)``.
    """
    number = check_int("number", number)
    if not 1 <= number <= len(exercises):
        raise ValueError(f"exercise number must be 1 … {len(exercises)}, got {number!r}")
    return exercises[number - 1]


def columns(
    left: widgets.Widget, right: widgets.Widget, *, left_width: str, gap: str = "16px"
) -> widgets.HBox:
    """``left`` (``left_width`` wide, a CSS width such as :func:`css_width` makes) and
    ``right`` (the rest of the row) side by side: one screen for controls and a figure."""
    left.layout.width = left_width
    left.layout.flex = "0 0 auto"
    right.layout.flex = "1 1 0"
    right.layout.min_width = "0"
    return widgets.HBox(
        [left, right], layout=widgets.Layout(width="100%", grid_gap=gap, align_items="flex-start")
    )


def disclosure(title: str, *children: widgets.Widget) -> widgets.Accordion:
    """``children`` behind a closed disclosure titled ``title`` (one click opens it): what a
    section shows on demand, so the section itself fits one screen. With no children, an
    empty one to fill later (its ``children``: one widget)."""
    content = list(children) if len(children) <= 1 else [widgets.VBox(list(children))]
    box = widgets.Accordion(content, titles=(title,), selected_index=None)
    box.add_class("hetconv-details")
    box.layout.align_self = "stretch"
    return box


def heading(text: str) -> widgets.HTML:
    """A section's heading (``text`` is HTML)."""
    return widgets.HTML(f"<h3 class='hetconv-heading'>{text}</h3>")


def projector_switch() -> widgets.ToggleButton:
    """A "Projector style" toggle button: on, every figure and widget of the package (those on
    screen too) switches to large fonts, thick lines and high contrast; off, back.

    Every switch shows the current state, wherever it was pressed or
    :func:`~hetconv_edu.viz.style.set_projector` was called.
    """
    switch = widgets.ToggleButton(
        value=style.projector_enabled(),
        description="Projector style",
        tooltip="Large fonts, thick lines and high contrast for a classroom projector",
        layout=widgets.Layout(width="auto"),
    )
    switch.add_class("hetconv-projector-switch")
    switch.observe(lambda change: style.set_projector(bool(change["new"])), names="value")
    style.track_widget(switch)
    return style.track_switch(switch)
