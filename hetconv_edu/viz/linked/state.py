"""What the linked explorer's views read and share: the filter response they draw
(:class:`FilterView`), the window of input channels the detail view shows, and the names the
page uses to link the views (the root's class and attribute, the two links).

Every part that belongs to the K×K term (map cells, kernels, input channels, response, formula
term) carries the link ``"kxk"``, every 1×1 part ``"1x1"``.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from hetconv_edu.pattern import Kernel
from hetconv_edu.viz.explorer import ExplorerState

__all__ = [
    "FIGURE_CLASS",
    "KIND_LINK",
    "LINKS",
    "LINK_ATTRIBUTE",
    "PANEL_HOVER",
    "RESPONSE_COLORSCALE",
    "RESPONSE_PANELS",
    "ROOT_CLASS",
    "WINDOW_CHANNELS",
    "FilterView",
    "channel_window",
]

ROOT_CLASS = "hetconv-linked-explorer"
"""CSS class of the app's root box (the element holding the link attribute)."""
FIGURE_CLASS = "hetconv-linked-figure"
"""CSS class of the app's live figure."""
LINK_ATTRIBUTE = "data-hetconv-link"
"""Attribute of the root element naming the hovered link (``kxk`` or ``1x1``), absent if none."""
LINKS: tuple[str, ...] = ("kxk", "1x1")
"""The links: the K×K term and everything it counts, the 1×1 term and everything it counts."""
KIND_LINK: dict[Kernel, str] = {Kernel.FULL: "kxk", Kernel.ONE: "1x1"}
"""The link of each kernel kind."""

WINDOW_CHANNELS = 8
"""Input channels the detail view draws (a window of M; the map shows all)."""

RESPONSE_COLORSCALE: list[list[Any]] = [
    [0.0, "#8C510A"],
    [0.25, "#D8B365"],
    [0.5, "#F5F5F5"],
    [0.75, "#5AB4AC"],
    [1.0, "#01665E"],
]
"""ColorBrewer BrBG (colour-blind safe): brown < 0 < teal, white at 0; not the kinds' colours."""

RESPONSE_PANELS: tuple[tuple[str, str, str | None], ...] = (
    ("kxk", "K×K path", "kxk"),
    ("one", "1×1 path", "1x1"),
    ("output", "output", None),
    ("standard", "standard", None),
    ("given_up", "difference", None),
)
"""The response maps left to right: (attribute of the response, title, link)."""
PANEL_HOVER: tuple[str, ...] = (
    "K×K path (its M/P K×K kernels)",
    "1×1 path (its 1×1 kernels + bias)",
    "output = K×K path + 1×1 path",
    "standard filter (all K×K taps kept)",
    "difference = standard − output (what the 1×1 kernels give up)",
)
"""What each response map of :data:`RESPONSE_PANELS` shows, for its hover text."""


class FilterView(Protocol):
    """What the detail view needs of a filter response
    (:class:`hetconv_edu.filter_response.FilterResponse` has it): float arrays ``inputs``
    (M, H, W) and ``kxk``, ``one``, ``output``, ``standard``, ``given_up`` (H_o, W_o); the
    image (C, H, W) uint8 and its name; notes on the input and the weights."""

    filter_index: int
    image: np.ndarray
    image_name: str
    inputs: np.ndarray
    kxk: np.ndarray
    one: np.ndarray
    output: np.ndarray
    standard: np.ndarray
    input_note: str
    weights_note: str

    @property
    def given_up(self) -> np.ndarray: ...


def channel_window(state: ExplorerState, width: int = WINDOW_CHANNELS) -> tuple[int, int]:
    """``(start, count)`` of the input channels the detail view draws: at most ``width``,
    from channel 0, or moved so the filter's first K×K kernel (channel n mod P) is in it."""
    m = state.in_channels
    count = min(m, width)
    first = state.filter_index % state.p
    start = 0 if first < count else min(first - count // 4, m - count)
    return start, count
