"""The shared look of every figure: colour-blind-safe palettes, kernel-kind labels, layout defaults.

Colours come from the Okabe–Ito palette (safe for the common colour-vision deficiencies). The
kernel kinds are also far apart in lightness, so a greyscale printout or a washed-out projector
still separates them, and every figure names each kind in text (legend, hover, labels): colour
is never the only cue.

* :data:`KIND_COLORS`, :func:`kind_label`, :func:`kind_hover`, :func:`kind_weights` — what the
  kernel maps of :mod:`hetconv_edu.pattern` look like and are called.
* :func:`kind_colorscale` — a discrete colourscale for one heatmap over the
  :class:`~hetconv_edu.pattern.Kernel` codes (``zmin``/``zmax`` from :data:`KIND_ZRANGE`).
* :func:`kind_legend_traces` — invisible marker traces that give a figure one legend entry per
  kernel kind (heatmaps have no per-value legend).
* :data:`FAMILY_COLORS`, :data:`FAMILY_DASHES`, :data:`FAMILY_SYMBOLS` — one colour, line dash
  and marker per filter family, for line and bar charts that compare families.
* :data:`PALETTE` — the Okabe–Ito colours in order, for series that are not families.
* :func:`base_layout`, :func:`apply_layout` (alias :func:`apply_style`) — the common fonts,
  margins, template and hover style; figure modules call these, then set their own title.

Projector style (one switch for the whole package):

* :func:`set_projector` / :func:`projector_enabled` — switch every figure and widget between
  the :data:`NORMAL` and :data:`PROJECTOR` :class:`Theme` (larger fonts, thicker lines and
  markers, black text, darker grid and axis lines).
* Figure modules author their figures at the normal size and pass them through
  :func:`themed` (a ``go.Figure``) or :func:`themed_json` (plotly property dicts) last, so a
  new figure comes out in the current theme.
* :func:`track_figure` / :func:`track_widget` / :func:`track_switch` keep weak references to
  what is on screen: switching restyles those figures (anything with a ``restyle(src, dst)``
  method, e.g. the apps' live figures, which draw through :func:`restyle_figure`), gives those
  widgets the CSS
  class :data:`PROJECTOR_CLASS` (the rules of :data:`PROJECTOR_CSS`, shipped inside the
  widget, nothing fetched) and sets the switches' values.
* :func:`css_px` — a font size for the package's own HTML/CSS that grows with the theme.
* :func:`css_width` — a control width that grows with the projector style's control text.

The package's HTML (status messages, notes, tables, answer feedback) carries CSS classes, never
inline colours: :data:`MESSAGE_COLORS` is the one palette of the message kinds and
:data:`PAGE_CSS` holds every rule (the classes of :data:`CSS_CLASSES`, and the projector rules
of :data:`PROJECTOR_CSS`); :func:`track_widget` ships it inside each app's box.
:func:`message_html` makes a status message, :func:`note_html` a grey note, :func:`text_html` a
coloured sentence (answer feedback).

A figure whose plot area is sized in whole pixels (a kernel map: one cell, a whole number of
pixels, so a fine pattern shows no moiré) says so with :data:`PIXEL_EXACT` in its layout's
``meta``; switching the theme then grows its width and height with its margins, so the plot
area keeps its size in pixels. A figure in a column of controls says so with
:data:`COLUMN_WIDTH`: it widens with the column in the projector style.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import ipywidgets as widgets
import plotly.graph_objects as go
import plotly.io as pio

from hetconv_edu.pattern import Kernel
from hetconv_edu.viz.palette import (
    MESSAGE_COLORS,
    MESSAGE_CSS,
    NOTE_COLOR,
    message_html,
    note_details,
    note_html,
    text_html,
)

__all__ = [
    "ACCENT",
    "COLUMN_WIDTH",
    "CONTROL_SCALE",
    "CSS_CLASSES",
    "FAMILY_COLORS",
    "FAMILY_DASHES",
    "FAMILY_SYMBOLS",
    "FONT_FAMILY",
    "FONT_SIZE",
    "KIND_COLORS",
    "KIND_ORDER",
    "KIND_ZRANGE",
    "MESSAGE_COLORS",
    "MUTED",
    "NORMAL",
    "NOTE_COLOR",
    "OKABE_ITO",
    "OUTLINE",
    "PAGE_CLASS",
    "PAGE_CSS",
    "PALETTE",
    "PIXEL_EXACT",
    "PROJECTOR",
    "PROJECTOR_CLASS",
    "PROJECTOR_CSS",
    "TABLE_HEAD",
    "TABLE_STRIPE",
    "TABLE_TOTAL",
    "TEXT_COLOR",
    "WIDE_FIGURE_WIDTH",
    "Restylable",
    "Theme",
    "apply_layout",
    "apply_style",
    "base_layout",
    "contrast_ratio",
    "css_px",
    "css_width",
    "current_theme",
    "family_color",
    "kind_colorscale",
    "kind_hover",
    "kind_label",
    "kind_legend_traces",
    "kind_weights",
    "message_html",
    "note_details",
    "note_html",
    "projector_enabled",
    "relative_luminance",
    "restyle_figure",
    "set_projector",
    "text_html",
    "themed",
    "themed_json",
    "track_figure",
    "track_switch",
    "track_widget",
]

OKABE_ITO: Mapping[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
"""The eight Okabe–Ito colours (Okabe & Ito, "Color Universal Design", 2008)."""

PALETTE: tuple[str, ...] = (
    OKABE_ITO["blue"],
    OKABE_ITO["orange"],
    OKABE_ITO["bluish_green"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["sky_blue"],
    OKABE_ITO["black"],
    OKABE_ITO["yellow"],
)
"""Colours for series that are not filter families (runs, seeds), in the order to use them."""

MUTED = "#8C8C8C"
"""Grey for reference lines, secondary text and "other" series."""

TEXT_COLOR = "#222222"
"""The figures' text colour in the default style (black in the projector style)."""

OUTLINE = "#333333"
"""Dark grey outline of markers and bars."""

ACCENT = OKABE_ITO["vermillion"]
"""One highlight colour (a selected point, the current setting)."""

KIND_COLORS: Mapping[Kernel, str] = {
    Kernel.FULL: OKABE_ITO["blue"],  # relative luminance 0.15
    Kernel.ONE: OKABE_ITO["orange"],  # 0.42
    Kernel.BOTH: OKABE_ITO["black"],  # 0.00
    Kernel.NONE: "#E8E8E8",  # 0.81, light grey: a position with no kernel
}
"""Colour of each kernel kind. Lightness alone separates them (contrast ratio ≥ 1.8 between
any two), so they survive greyscale printing."""

KIND_ORDER: tuple[Kernel, ...] = (Kernel.FULL, Kernel.ONE, Kernel.BOTH, Kernel.NONE)
"""The order kinds are listed in legends and drawn in figures."""

KIND_ZRANGE: tuple[float, float] = (-0.5, 3.5)
"""``(zmin, zmax)`` to pair with :func:`kind_colorscale` for a heatmap of Kernel codes."""

FAMILY_COLORS: Mapping[str, str] = {
    "standard": OKABE_ITO["blue"],
    "hetconv": OKABE_ITO["bluish_green"],
    "naive_hetconv": OKABE_ITO["vermillion"],
    "depthwise_pointwise": OKABE_ITO["reddish_purple"],
    "groupwise_pointwise": OKABE_ITO["orange"],
    "groupwise": OKABE_ITO["sky_blue"],
    "depthwise": OKABE_ITO["black"],
    "pointwise": MUTED,
}
"""One colour per filter family (keys of :data:`hetconv_edu.pattern.FAMILIES`)."""

FAMILY_DASHES: Mapping[str, str] = {
    "standard": "solid",
    "hetconv": "solid",
    "naive_hetconv": "dash",
    "depthwise_pointwise": "dot",
    "groupwise_pointwise": "dashdot",
    "groupwise": "longdash",
    "depthwise": "longdashdot",
    "pointwise": "dot",
}
"""Line dash per family, so lines differ without colour too."""

FAMILY_SYMBOLS: Mapping[str, str] = {
    "standard": "square",
    "hetconv": "circle",
    "naive_hetconv": "x",
    "depthwise_pointwise": "diamond",
    "groupwise_pointwise": "triangle-up",
    "groupwise": "triangle-down",
    "depthwise": "star",
    "pointwise": "cross",
}
"""Marker symbol per family, so markers differ without colour too."""

FONT_FAMILY = "Inter, 'Segoe UI', 'Helvetica Neue', Arial, sans-serif"
"""System fonts only: nothing is fetched from the network."""

FONT_SIZE = 15
"""Base font size in px: readable on a classroom projector."""

WIDE_FIGURE_WIDTH = 1040
"""Width (px) of a figure that has its section's width to itself on a 1280 px screen."""

SIDE_FIGURE_WIDTH = 540
"""Width (px) of a figure beside a column of controls, or of two figures side by side: what
is left of a 1280 px wide notebook in the projector style, whose controls are wider."""


def family_color(family: str) -> str:
    """The colour of a filter family (:data:`MUTED` for an unknown name)."""
    return FAMILY_COLORS.get(family, MUTED)


def kind_weights(kind: Kernel, kernel_size: int) -> int:
    """Weights of one kernel of ``kind``: K² (K×K), 1 (1×1), K² + 1 (overlap), 0 (none)."""
    k2 = kernel_size * kernel_size
    return {Kernel.FULL: k2, Kernel.ONE: 1, Kernel.BOTH: k2 + 1, Kernel.NONE: 0}[Kernel(kind)]


def kind_label(kind: Kernel, kernel_size: int | None = None) -> str:
    """Legend text of a kernel kind, with the real size when ``kernel_size`` is given.

    ``kind_label(Kernel.FULL, 3)`` → ``"3×3 kernel (K×K)"``.
    """
    kind = Kernel(kind)
    k = "K" if kernel_size is None else str(kernel_size)
    if kind is Kernel.FULL:
        return "K×K kernel" if kernel_size is None else f"{k}×{k} kernel (K×K)"
    if kind is Kernel.ONE:
        return "1×1 kernel"
    if kind is Kernel.BOTH:
        return f"{k}×{k} + 1×1 on one channel (overlap)"
    return "no kernel (other group)"


def kind_hover(kind: Kernel, kernel_size: int) -> str:
    """Hover text of one kernel: ``"3×3 kernel, 9 weights"``."""
    kind = Kernel(kind)
    k, w = kernel_size, kind_weights(kind, kernel_size)
    plural = "" if w == 1 else "s"
    if kind is Kernel.FULL:
        return f"{k}×{k} kernel, {w} weight{plural}"
    if kind is Kernel.ONE:
        return "1×1 kernel, 1 weight"
    if kind is Kernel.BOTH:
        return f"{k}×{k} kernel + 1×1 kernel, {w} weights"
    return "no kernel, 0 weights"


def kind_colorscale(kinds: Iterable[Kernel] = KIND_ORDER) -> list[list[Any]]:
    """A stepped colourscale mapping each Kernel code to its colour, for one heatmap of codes.

    Use with ``zmin, zmax = KIND_ZRANGE``. Codes not in ``kinds`` get the NONE colour.
    """
    wanted = {Kernel(k) for k in kinds}
    zmin, zmax = KIND_ZRANGE
    scale: list[list[Any]] = []
    for code in sorted(Kernel):
        color = KIND_COLORS[code] if code in wanted else KIND_COLORS[Kernel.NONE]
        lo = (code - 0.5 - zmin) / (zmax - zmin)
        hi = (code + 0.5 - zmin) / (zmax - zmin)
        scale += [[lo, color], [hi, color]]
    return scale


def kind_legend_traces(
    kinds: Iterable[Kernel],
    kernel_size: int,
    *,
    xaxis: str = "x",
    yaxis: str = "y",
    legendgroup_prefix: str = "kind",
) -> list[go.Scatter]:
    """One invisible square-marker trace per kind, named by :func:`kind_label`: legend entries.

    Each sits in legend group ``f"{legendgroup_prefix}{int(kind)}"``; give the heatmap traces of
    that kind the same group and a click on the legend entry hides or shows them too.
    """
    return [
        go.Scatter(
            x=[None],
            y=[None],
            xaxis=xaxis,
            yaxis=yaxis,
            mode="markers",
            marker={
                "symbol": "square",
                "size": 15,
                "color": KIND_COLORS[Kernel(kind)],
                "line": {"color": OUTLINE, "width": 1},
            },
            name=kind_label(kind, kernel_size),
            legendgroup=f"{legendgroup_prefix}{int(kind)}",
            showlegend=True,
            hoverinfo="skip",
        )
        for kind in kinds
    ]


def base_layout(**overrides: Any) -> dict[str, Any]:
    """The common layout: white template, projector-sized system fonts, margins, hover style.

    Keyword arguments replace top-level keys (``margin={...}`` replaces the whole margin).
    """
    layout: dict[str, Any] = {
        "template": "plotly_white",
        "font": {"family": FONT_FAMILY, "size": FONT_SIZE, "color": TEXT_COLOR},
        "title": {"font": {"size": FONT_SIZE + 3}, "x": 0.01, "xanchor": "left"},
        "margin": {"l": 70, "r": 30, "t": 60, "b": 60},
        "hoverlabel": {"font": {"family": FONT_FAMILY, "size": FONT_SIZE - 1}},
        "legend": {"font": {"size": FONT_SIZE - 1}},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
    }
    layout.update(overrides)
    return layout


def apply_layout(fig: go.Figure, **overrides: Any) -> go.Figure:
    """Apply :func:`base_layout` (with ``overrides``) to ``fig`` in place and return it.

    Works for ``go.Figure`` and ``go.FigureWidget``; call it first, then set the figure's own
    title and axes.
    """
    fig.update_layout(**base_layout(**overrides))
    return fig


apply_style = apply_layout
"""Alias of :func:`apply_layout`."""


def relative_luminance(color: str) -> float:
    """WCAG relative luminance (0 = black, 1 = white) of a ``#RRGGBB`` colour."""
    hex_ = color.lstrip("#")
    if len(hex_) != 6:
        raise ValueError(f"expected a #RRGGBB colour, got {color!r}")
    channels = [int(hex_[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast_ratio(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours, 1 (same lightness) to 21 (black on white)."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


# ------------------------------------------------------------------------------ projector


@dataclass(frozen=True)
class Theme:
    """How figures are drawn relative to the sizes their modules author (the normal ones).

    ``font_scale`` multiplies every font size (and the margins and table row heights that hold
    the text), ``line_scale`` every line width, ``marker_scale`` every marker size;
    ``font_color`` is the figure's text colour, ``grid_color`` / ``axis_color`` /
    ``axis_width`` the grid and axis lines of its template; ``control_scale`` how much wider
    the controls are (:func:`css_width`), and with them a figure in their column
    (:data:`COLUMN_WIDTH`).
    """

    name: str
    font_scale: float
    line_scale: float
    marker_scale: float
    font_color: str
    grid_color: str
    axis_color: str
    axis_width: float
    control_scale: float = 1.0

    @functools.cache  # noqa: B019 - two module-level themes, never freed anyway
    def template(self) -> go.layout.Template:
        """``plotly_white`` with this theme's grid and axis lines (every x and y axis)."""
        template = go.layout.Template(pio.templates["plotly_white"])
        axis = {
            "gridcolor": self.grid_color,
            "linecolor": self.axis_color,
            "linewidth": self.axis_width,
            "zerolinecolor": self.grid_color,
            "tickcolor": self.axis_color,
        }
        template.layout.xaxis.update(axis)
        template.layout.yaxis.update(axis)
        return template


NORMAL = Theme("normal", 1.0, 1.0, 1.0, TEXT_COLOR, "#EBF0F8", "#444444", 1.0)
"""The look of a laptop screen: the sizes the figure modules write."""

PROJECTOR = Theme("projector", 1.25, 2.0, 1.5, "#000000", "#B8B8B8", "#000000", 2.0, 1.4)
"""The look of a classroom projector: fonts ×1.25, lines ×2, markers ×1.5, black text,
darker grid, controls ×1.4 wider. The figure factors are exact binary fractions, so switching
back restores every size (a column's width is rounded to whole pixels, see
:data:`COLUMN_WIDTH`)."""

PROJECTOR_CLASS = "hetconv-projector"
"""CSS class of a tracked widget while the projector style is on."""

PAGE_CLASS = "hetconv-page"
"""CSS class of every tracked widget (an app's section, a control): the rules of
:data:`PAGE_CSS` that only the package's own widgets take hang on it."""

CONTROL_SCALE = PROJECTOR.control_scale
"""How much wider the projector style's controls are: their text grows from 13 px to 18 px
(×1.385), so a box sized for its text in the default style holds it in the projector style."""

PROJECTOR_CSS = f"""
.{PROJECTOR_CLASS} {{
  --hetconv-scale: {PROJECTOR.font_scale};
  --hetconv-control-scale: {CONTROL_SCALE};
  --jp-widgets-font-size: 18px;
  --jp-widgets-inline-height: 32px;
  --jp-widgets-inline-margin: 2px;
  --jp-widgets-input-padding: 4px;
  --jp-widgets-input-border-width: 2px;
  --jp-widgets-slider-handle-size: 22px;
  --jp-widgets-slider-track-thickness: 6px;
  --jp-widgets-color: #000000;
  --jp-widgets-label-color: #000000;
  --jp-widgets-readout-color: #000000;
  --jp-widgets-input-color: #000000;
  --jp-widgets-input-border-color: #333333;
  color: #000000;
}}
.{PROJECTOR_CLASS} .widget-html-content {{ font-size: var(--jp-widgets-font-size); }}
.{PROJECTOR_CLASS} .widget-html-content h3 {{ font-size: 24px; }}
.{PROJECTOR_CLASS} .widget-html-content h4 {{ font-size: 21px; }}
.{PROJECTOR_CLASS} .widget-toggle-button {{ width: auto !important; padding: 0 10px; }}
.{PROJECTOR_CLASS} .hetconv-note, .{PROJECTOR_CLASS} .hetconv-message {{ color: #000000; }}
"""
"""The widgets' projector look, switched by :data:`PROJECTOR_CLASS`: larger fonts, controls
and slider handles, black text. ``--hetconv-scale`` scales the sizes written with
:func:`css_px`. Part of :data:`PAGE_CSS`."""

TABLE_HEAD = "#DFE6EF"
"""Background of a table's header row (and of a total row, lighter: :data:`TABLE_TOTAL`)."""
TABLE_TOTAL = "#E8EEF8"
TABLE_STRIPE = "#F6F6F6"
TABLE_RULE = "#CCCCDD"
"""The lines between a table's cells."""
"""Background of every other row of a long table."""

CSS_CLASSES: Mapping[str, str] = {
    "hetconv-message": "a status message; with a kind class hetconv-info/-ok/-warn/-error",
    "hetconv-text-ok": "a sentence in the ok colour, bold (a right answer)",
    "hetconv-text-warn": "a sentence in the warn colour, bold (a wrong answer, a warning)",
    "hetconv-text-error": "a sentence in the error colour, bold (a failure)",
    "hetconv-note": "secondary text: grey, a little smaller",
    "hetconv-heading": "a section heading (h3) with little space around it",
    "hetconv-table": "a data table: ruled cells, a shaded header; td.num right-aligned digits",
    "hetconv-formula": "a worked formula: monospace on grey, a green rule on the left",
    "hetconv-prose": "a paragraph of explanation, kept to a readable line length",
}
"""The CSS classes of :data:`PAGE_CSS` for the package's HTML, and what each is for."""

PAGE_CSS = (
    (
        MESSAGE_CSS + ".hetconv-note{font-size:{note};line-height:1.35}"
        ".hetconv-heading{margin:2px 0 4px 0}"
        ".hetconv-table{border-collapse:collapse;font-size:{table};margin:2px 0;line-height:1.3}"
        f".hetconv-table th,.hetconv-table td{{border:1px solid {TABLE_RULE};padding:2px 8px;"
        "text-align:left;vertical-align:top}"
        f".hetconv-table th{{background:{TABLE_HEAD}}}"
        ".hetconv-table td.num{text-align:right;font-variant-numeric:tabular-nums;"
        "white-space:nowrap}"
        f".hetconv-table tr.total td{{font-weight:bold;background:{TABLE_TOTAL}}}"
        f".hetconv-formula{{font-family:monospace;background:{TABLE_STRIPE};padding:4px 9px;"
        f"margin:4px 0;border-left:3px solid {OKABE_ITO['bluish_green']};white-space:pre-wrap;"
        "line-height:1.4}"
        ".hetconv-prose{max-width:62em;margin:2px 0}"
        ".hetconv-table td.label{white-space:nowrap}"
        ".hetconv-note,.hetconv-message{overflow-wrap:anywhere}"
        f".{PAGE_CLASS} .widget-html-content code{{font-size:0.95em}}"
        # ipywidgets spaces every line of an HTML widget a control's height apart: text runs
        # at the spacing of text instead
        f".{PAGE_CLASS} .widget-html-content > :not(style){{line-height:1.4}}"
        ".hetconv-projector .jupyter-widget-Collapse-header,"
        ".hetconv-projector .lm-AccordionPanel-title,"
        ".hetconv-projector .jupyter-widget-tagsinput,"
        ".hetconv-projector .widget-tagsinput,"
        ".hetconv-projector .jupyter-widget-tag,"
        ".hetconv-projector .widget-tag{font-size:18px}" + PROJECTOR_CSS
    )
    .replace("{note}", "calc(14px * var(--hetconv-scale, 1))")
    .replace("{table}", "calc(14px * var(--hetconv-scale, 1))")
)
"""Every CSS rule of the package's widgets and HTML (the classes of :data:`CSS_CLASSES` and
:data:`PROJECTOR_CSS`). Shipped as a hidden ``<style>`` element inside each tracked box
(:func:`track_widget`): nothing is fetched."""


def css_px(size: float) -> str:
    """A CSS font size of ``size`` px that grows with the projector style (:data:`PROJECTOR_CSS`).

    ``css_px(13)`` → ``"calc(13px * var(--hetconv-scale, 1))"``.
    """
    if isinstance(size, bool) or not isinstance(size, int | float) or size <= 0:
        raise ValueError(f"size must be a positive number of px, got {size!r}")
    return f"calc({size:g}px * var(--hetconv-scale, 1))"


def css_width(size: float) -> str:
    """A CSS width of ``size`` px for a control (a box, a dropdown, a description) that grows
    with the projector style's larger control text (:data:`CONTROL_SCALE`), so what fits in
    the default style is never cut off in the projector style.

    ``css_width(210)`` → ``"calc(210px * var(--hetconv-control-scale, 1))"``.
    """
    if isinstance(size, bool) or not isinstance(size, int | float) or size <= 0:
        raise ValueError(f"size must be a positive number of px, got {size!r}")
    return f"calc({size:g}px * var(--hetconv-control-scale, 1))"


_theme: Theme = NORMAL
_figures: list[weakref.ref[Restylable]] = []
_widgets: list[weakref.ref[widgets.DOMWidget]] = []
_switches: list[weakref.ref[widgets.ToggleButton]] = []


def current_theme() -> Theme:
    """The theme new figures are made in: :data:`PROJECTOR` or :data:`NORMAL`."""
    return _theme


def projector_enabled() -> bool:
    """True while the projector style is on."""
    return _theme is PROJECTOR


_LINE_KEYS = frozenset({"linewidth", "gridwidth", "zerolinewidth", "tickwidth"})


def _times(value: Any, scale: tuple[float, float]) -> Any:
    """``value * new / old`` for ``scale = (old, new)``; a whole result is an int.

    Dividing last keeps a round trip exact (``12 → 15 → 12``), and whole sizes stay ints.
    """
    old, new = scale
    result = value * new / old
    return int(result) if float(result).is_integer() else result


def _scaled(value: Any, scale: tuple[float, float]) -> Any:
    """A number, or each number of a list/array (None kept), rescaled by :func:`_times`."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return _times(value, scale)
    try:
        return [None if v is None else _times(v, scale) for v in value]
    except TypeError:
        return value


def _scale_kind(key: str, name: str) -> str | None:
    """Which :class:`Theme` scale property ``name`` under ``key`` follows, if any."""
    if (name == "size" and key.endswith("font")) or (
        (key == "margin" and name in ("l", "r", "t", "b"))
        or (key in ("cells", "header") and name == "height")
    ):
        return "font_scale"
    if name == "size" and key == "marker":
        return "marker_scale"
    if (name == "width" and key == "line") or name in _LINE_KEYS:
        return "line_scale"
    return None


def _restyle_props(obj: Any, key: str, src: Theme, dst: Theme) -> Any:
    """A copy of plotly properties ``obj`` (found under ``key``) drawn in ``dst`` instead of
    ``src``: font sizes, line widths, marker sizes, margins and table row heights rescaled,
    the theme's text colour swapped."""
    if isinstance(obj, list | tuple):
        if obj and isinstance(obj[0], dict):
            return [_restyle_props(o, key, src, dst) for o in obj]
        return obj
    if not isinstance(obj, dict):
        return obj
    out: dict[str, Any] = {}
    for name, value in obj.items():
        scale = _scale_kind(key, name)
        if scale is not None:
            out[name] = _scaled(value, (getattr(src, scale), getattr(dst, scale)))
        elif name == "template":
            out[name] = value
        elif isinstance(value, dict | list | tuple):
            out[name] = _restyle_props(value, name, src, dst)
        elif name == "color" and key == "font" and value == src.font_color:
            out[name] = dst.font_color
        else:
            out[name] = value
    return out


PIXEL_EXACT = "pixel_exact"
"""Key of a layout's ``meta`` (``meta={PIXEL_EXACT: True}``): the figure's plot area is sized
in whole pixels and keeps its size when the theme changes (its margins grow, so do its
``width`` and ``height``)."""


COLUMN_WIDTH = "column_width"
"""Key of a layout's ``meta`` (``meta={COLUMN_WIDTH: True}``): the figure stands in a column of
controls (one :func:`css_width` wide) and is as wide as it: in the projector style, whose
controls and their column are wider, so is the figure (whole pixels), and its text, larger
there, keeps the room it has in the default style."""


def _restyle_layout(layout: dict[str, Any], src: Theme, dst: Theme) -> dict[str, Any]:
    out = _restyle_props(layout, "layout", src, dst)
    if src is not dst and "template" in layout:
        out["template"] = dst.template() if dst is not NORMAL else "plotly_white"
    meta = layout.get("meta")
    if isinstance(meta, dict) and meta.get(COLUMN_WIDTH) and layout.get("width") is not None:
        out["width"] = round(layout["width"] * dst.control_scale / src.control_scale)
    if isinstance(meta, dict) and meta.get(PIXEL_EXACT) and "margin" in layout:
        old, new = layout["margin"], out["margin"]
        for size, sides in (("width", "lr"), ("height", "tb")):
            if layout.get(size) is not None:
                grow = sum(new.get(k, 0) - old.get(k, 0) for k in sides)
                out[size] = _times(layout[size] + grow, (1, 1))
    return out


def themed_json(
    traces: Iterable[dict[str, Any]], layout: dict[str, Any]
) -> tuple[tuple[dict[str, Any], ...], dict[str, Any]]:
    """Trace and layout property dicts authored at the normal sizes, in the current theme
    (new dicts; the same content while the projector style is off)."""
    traces = tuple(traces)
    if _theme is NORMAL:
        return traces, layout
    return (
        tuple(_restyle_props(t, "trace", NORMAL, _theme) for t in traces),
        _restyle_layout(layout, NORMAL, _theme),
    )


def themed(fig: go.Figure) -> go.Figure:
    """Draw ``fig`` (authored at the normal sizes) in the current theme, in place; returns it.

    Figure modules call this last, after every trace and layout property is set.
    """
    return restyle_figure(fig, NORMAL, _theme)


def restyle_figure(fig: go.Figure, src: Theme, dst: Theme) -> go.Figure:
    """Redraw ``fig`` (drawn in theme ``src``) in theme ``dst``, in place; returns it."""
    if src is not dst:
        for trace in fig.data:
            trace.update(_restyle_props(trace.to_plotly_json(), "trace", src, dst))
        fig.layout = _restyle_layout(fig.layout.to_plotly_json(), src, dst)
    return fig


def _alive(refs: list[weakref.ref[Any]]) -> Iterator[Any]:
    """The objects still alive in ``refs`` (dead references are dropped)."""
    live = [r for r in refs if r() is not None]
    refs[:] = live
    for ref in live:
        obj = ref()
        if obj is not None:
            yield obj


def _remember(refs: list[weakref.ref[Any]], obj: Any) -> None:
    if not any(r() is obj for r in refs):
        refs.append(weakref.ref(obj))


class Restylable(Protocol):
    """What :func:`track_figure` keeps: a figure on screen that can redraw itself in another
    theme (e.g. :class:`hetconv_edu.apps.live_figure.LiveFigure`)."""

    def restyle(self, src: Theme, dst: Theme) -> None: ...


def track_figure(fig: Restylable) -> Restylable:
    """Keep a weak reference to ``fig`` (a figure on screen, already in the current theme):
    :func:`set_projector` calls its ``restyle(old, new)``. Returns ``fig``.

    Raises:
        TypeError: if ``fig`` has no ``restyle`` method (a bare ``go.Figure`` is not on screen).
    """
    if not callable(getattr(fig, "restyle", None)):
        raise TypeError(
            "track_figure takes a figure on screen with a restyle(src, dst) method "
            f"(an apps LiveFigure), got {type(fig).__name__}"
        )
    _remember(_figures, fig)
    return fig


def _stylesheet() -> widgets.HTML:
    return widgets.HTML(f"<style>{PAGE_CSS}</style>", layout=widgets.Layout(display="none"))


def track_widget(widget: widgets.DOMWidget) -> widgets.DOMWidget:
    """Keep a weak reference to ``widget`` (an app's root box, a control): it carries
    :data:`PROJECTOR_CLASS` while the projector style is on. A box also gets a hidden
    ``<style>`` child with :data:`PAGE_CSS`, so the rules reach every page that shows it
    (JupyterLab, Voilà) without a network. Returns ``widget``."""
    if not isinstance(widget, widgets.DOMWidget):
        raise TypeError(f"track_widget takes an ipywidgets DOMWidget, got {type(widget).__name__}")
    if isinstance(widget, widgets.Box) and not any(
        isinstance(c, widgets.HTML) and PAGE_CSS in c.value for c in widget.children
    ):
        widget.children = (*widget.children, _stylesheet())
    widget.add_class(PAGE_CLASS)
    if projector_enabled():
        widget.add_class(PROJECTOR_CLASS)
    _remember(_widgets, widget)
    return widget


def track_switch(switch: widgets.ToggleButton) -> widgets.ToggleButton:
    """Keep a weak reference to a projector switch: :func:`set_projector` sets its value, so
    every switch on screen shows the current state. Returns ``switch``."""
    if not isinstance(switch, widgets.ToggleButton):
        raise TypeError(f"track_switch takes a ToggleButton, got {type(switch).__name__}")
    _remember(_switches, switch)
    return switch


def set_projector(on: bool = True) -> None:
    """Switch the projector style on (``True``) or off (``False``) for the whole package.

    New figures come out in the new theme; the tracked figures are restyled in place, the
    tracked widgets gain or lose :data:`PROJECTOR_CLASS`, the tracked switches follow.
    """
    global _theme
    if not isinstance(on, bool):
        raise TypeError(f"on must be True or False, got {on!r} ({type(on).__name__})")
    new = PROJECTOR if on else NORMAL
    old, _theme = _theme, new
    if old is not new:  # the cheap CSS class first: the page restyles at once
        for widget in _alive(_widgets):
            (widget.add_class if on else widget.remove_class)(PROJECTOR_CLASS)
    for switch in _alive(_switches):
        if switch.value != on:
            switch.value = on
    if old is not new:  # then each figure is redrawn (sent whole) in the new theme
        for fig in _alive(_figures):
            fig.restyle(old, new)
