"""Where the linked explorer's figure puts things: pixel boxes of its panels, converted to
plotly's paper coordinates, and the building blocks every panel uses (axes, labels, link
frames) gathered in :class:`Parts`.

The figure is :data:`FIGURE_WIDTH` × :data:`FIGURE_HEIGHT` pixels; boxes are given in pixels
counted from the top left and converted with :func:`px_x` / :func:`px_y`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hetconv_edu.pattern import Kernel
from hetconv_edu.viz.style import FONT_SIZE, KIND_COLORS

__all__ = [
    "DETAIL_TITLE",
    "FIGURE_HEIGHT",
    "FIGURE_WIDTH",
    "MAP_BOX",
    "PHOTO_BOX",
    "RESPONSES_LEFT",
    "RESPONSES_TOP",
    "RESPONSE_GAP",
    "RESPONSE_SIZE",
    "SLOTS_BOX",
    "Parts",
    "annotation",
    "axes",
    "link_shape",
    "px_x",
    "px_y",
    "solid",
]

FIGURE_WIDTH = 720
FIGURE_HEIGHT = 432
"""Pixel size of the figure: beside the formula panel it fits a 1280×720 screen."""

MAP_BOX = (52, 44, 222, 214)
"""The kernel map's box: left, top, right, bottom in px."""
SLOTS_BOX = (300, 40, 712)
"""The filter's kernels over its channels: left, top, right; the height follows the count."""
PHOTO_BOX = (40, 318, 126, 404)
"""The test image's box: left, top, right, bottom in px."""
RESPONSES_LEFT, RESPONSE_SIZE, RESPONSE_GAP, RESPONSES_TOP = 160, 86, 18, 318
"""The response maps' row: its left edge, each map's size, the gap between maps, its top."""
DETAIL_TITLE = 294
"""Bottom of the "filter n on the image" line."""


def px_x(x: float) -> float:
    """Paper x of a pixel column counted from the left."""
    return round(x / FIGURE_WIDTH, 5)


def px_y(y: float) -> float:
    """Paper y of a pixel row counted from the top."""
    return round(1.0 - y / FIGURE_HEIGHT, 5)


@dataclass
class Parts:
    """What a panel adds to the figure: traces, shapes, annotations and layout entries."""

    traces: list[dict[str, Any]] = field(default_factory=list)
    shapes: list[dict[str, Any]] = field(default_factory=list)
    annotations: list[dict[str, Any]] = field(default_factory=list)
    layout: dict[str, Any] = field(default_factory=dict)

    def extend(self, other: Parts) -> Parts:
        """Add ``other``'s parts after this one's (drawing order is list order); returns self."""
        self.traces += other.traces
        self.shapes += other.shapes
        self.annotations += other.annotations
        self.layout |= other.layout
        return self


def axes(
    number: int, domain_x: tuple[float, float], domain_y: tuple[float, float], **extra: Any
) -> dict[str, dict[str, Any]]:
    """Layout entries of subplot ``number`` (1: ``xaxis``/``yaxis``, 2: ``xaxis2``/…), each
    axis anchored to the other; ``x=``/``y=`` add properties."""
    suffix = "" if number == 1 else str(number)
    common = {"showgrid": False, "zeroline": False, "fixedrange": True}
    return {
        f"{axis}axis{suffix}": {
            "domain": list(domain),
            "anchor": f"{other}{suffix}",
            **common,
            **extra.pop(axis, {}),
        }
        for axis, other, domain in (("x", "y", domain_x), ("y", "x", domain_y))
    }


def annotation(text: str, x: float, y: float, **kw: Any) -> dict[str, Any]:
    """A label at paper coordinates (x, y), anchored bottom left unless ``kw`` says otherwise;
    ``size`` is its font size, ``font`` more font properties."""
    return {
        "text": text,
        "x": x,
        "y": y,
        "xref": "paper",
        "yref": "paper",
        "showarrow": False,
        "xanchor": kw.pop("xanchor", "left"),
        "align": kw.pop("align", "left"),
        "yanchor": kw.pop("yanchor", "bottom"),
        "font": {"size": kw.pop("size", FONT_SIZE - 2), **kw.pop("font", {})},
        **kw,
    }


def link_shape(link: str, **where: Any) -> dict[str, Any]:
    """A frame in the colour of ``link``'s kernel kind, named ``link-<link>`` and drawn with
    opacity 0 (the CSS of :func:`hetconv_edu.viz.linked.linking.link_css` shows it)."""
    color = KIND_COLORS[Kernel.FULL if link == "kxk" else Kernel.ONE]
    return {
        "type": "rect",
        "name": f"link-{link}",
        "opacity": 0,
        "line": {"color": color, "width": 3},
        "fillcolor": "rgba(0,0,0,0)",
        "layer": "above",
        **where,
    }


def solid(color: str) -> list[list[Any]]:
    """A colour scale of one colour (cells drawn as flat colour)."""
    return [[0.0, color], [1.0, color]]
