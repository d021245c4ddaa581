"""Small widget helpers the lab's sections share."""

from __future__ import annotations

import math
from collections.abc import Sequence

import ipywidgets as W

from hetconv_edu.viz import style as viz_style

GAP_PX = 16
"""Between the families' table and their chart (px)."""
MARGINS_PX = 8
"""The margins of the table's and the chart's widgets together (ipywidgets: 2 px a side)."""


def html(value: str = "") -> W.HTML:
    return W.HTML(value=value)


def note(text: str) -> W.HTML:
    return W.HTML(viz_style.note_html(text))


def flow(*children: W.Widget) -> W.HBox:
    """Controls in a row that wraps onto the next line when the projector style widens them."""
    return W.HBox(list(children), layout=W.Layout(flex_flow="row wrap", align_items="center"))


def reselect(slider: W.SelectionSlider, options: Sequence[int]) -> None:
    """Give ``slider`` new options, keeping the closest valid value (never an invalid one)."""
    options = list(options)
    if list(slider.options) == options:
        return
    old = slider.value
    best = min(options, key=lambda v: (abs(math.log2(v) - math.log2(old)), v))
    slider.options = options  # resets the value to options[0] …
    slider.value = best  # … so choose the closest one again
