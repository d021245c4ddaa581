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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import plotly.graph_objects as go

from hetconv_edu.pattern import Kernel

__all__ = [
    "ACCENT",
    "FAMILY_COLORS",
    "FAMILY_DASHES",
    "FAMILY_SYMBOLS",
    "FONT_FAMILY",
    "FONT_SIZE",
    "KIND_COLORS",
    "KIND_ORDER",
    "KIND_ZRANGE",
    "MUTED",
    "OKABE_ITO",
    "PALETTE",
    "apply_layout",
    "apply_style",
    "base_layout",
    "contrast_ratio",
    "family_color",
    "kind_colorscale",
    "kind_hover",
    "kind_label",
    "kind_legend_traces",
    "kind_weights",
    "relative_luminance",
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
                "line": {"color": "#444444", "width": 1},
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
        "font": {"family": FONT_FAMILY, "size": FONT_SIZE, "color": "#222222"},
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
