"""What the explorer draws: its setting (:class:`ExplorerState`), the families and their
stages, the panels of the map, the figures' fixed trace counts and pixel budgets, and the
figure data both figures return (:class:`FigureData`)."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import plotly.graph_objects as go

from hetconv_edu.pattern import Kernel, Stage, check_positive_int, family_stages, valid_parts
from hetconv_edu.viz.style import KIND_ORDER

EXPLORER_FAMILIES: dict[str, str] = {
    "hetconv": "HetConv (paper: shifted)",
    "standard": "standard convolution",
    "depthwise_pointwise": "depthwise + pointwise (MobileNet)",
    "groupwise_pointwise": "groupwise (G = P) + pointwise",
    "naive_hetconv": "naive public HetConv",
}
"""The families the explorer offers, keyed by package family name, valued by selector label.

The groupwise family uses G = P, the paper's comparison (HetConv with P = G)."""

MAX_PANELS = 4
"""Map panels: two families side by side, each with up to two stages."""

MAP_PLOT_PX: tuple[int, int] = (460, 248)
"""Width and height (px) the panels of the map figure share, gaps included: with the margins
of :data:`MAP_MARGIN` the figure is 532 px wide in the default style and 550 px in the
projector style, beside the controls on a 1280×720 screen."""
MAP_GRID_PLOT_PX: tuple[int, int] = (460, 360)
"""The same for two rows of panels (a two-stage family compared with another family): the
legend's two rows and the filter's disclosure under them still fit the projector's screen."""
MAP_MARGIN: dict[str, int] = {"l": 56, "r": 16, "t": 44, "b": 88}
"""Margins of the map figure (px, multiples of 4 so the projector's ×1.25 keeps them whole):
tick labels and "filter n" on the left, the panel headings on top, tick labels, "input
channel m" and the legend below."""
MAP_LEGEND_DROP_PX = 58
"""How far below the panels the legend starts (px): under the x axis's title."""
PANEL_GAP_PX: tuple[int, int] = (52, 84)
"""Gap between panels side by side (the right one's tick labels) and between rows of panels
(the upper row's tick labels and the lower row's headings), px."""
GRID_GAP_X_PX = 140
"""Gap between the two stages of a family in two rows of panels: the first stage's heading
carries the family's name, wider than its panel."""
GRID_MARGIN_RIGHT_PX = 56
"""Right margin of two rows of panels: room for the second stage's heading."""
LEGEND_ROW_PX = 24
"""Height of one row of a horizontal legend (px, projector style)."""
LEGEND_ENTRY_PX, LEGEND_CHAR_PX = 56.0, 9.0
"""Estimated width of a legend entry, projector style: symbol and gaps, plus per character."""
MAX_CELL_PX = 24
"""The largest cell of a map (px): a small map is drawn no larger than this."""

KINDS: tuple[Kernel, ...] = KIND_ORDER
MAP_TRACES = MAX_PANELS * len(KINDS) + len(KINDS)
"""Traces of the map figure: one heatmap per (panel, kind), then one legend entry per kind."""
FILTER_TRACES = 2 * len(KINDS)
"""Traces of the filter figure: one heatmap per kind, then one legend entry per kind."""

FILTER_WINDOW_COLUMNS = 64
"""Grid columns the filter strip may use: K + 1 per channel, so K = 3 shows 16 channels."""
FILTER_PLOT_WIDTH_PX = 460
"""Width (px) the filter strips may take, beside the controls on a 1280×720 screen."""
FILTER_MAX_CELL_PX = 12
"""The largest grid cell of the filter strips (px): a 3×3 kernel is at most 36 px wide."""
FILTER_NOTE_LINE_PX = 20
"""Extra top margin (px) for the note's second line (a stage without the selected filter)."""
FILTER_LABEL_PX = 22
"""Height (px) kept above each strip for its label."""
FILTER_MARGIN: dict[str, int] = {"l": 12, "r": 12, "t": 28, "b": 24}
"""Margins of the filter figure (px, multiples of 4): the title and the window note on top
(a second line when a stage lacks the filter), the channel numbers below."""


@dataclass(frozen=True)
class ExplorerState:
    """One setting of the explorer: the layer (M, N, K, P), the families, the filter, D_o.

    ``compare`` names a second family drawn beside ``family`` (None: one family).
    Raises ``ValueError`` for impossible settings (P not dividing M and N, unknown family,
    filter index outside 0 … N − 1).
    """

    in_channels: int = 16
    out_channels: int = 16
    kernel_size: int = 3
    p: int = 4
    family: str = "hetconv"
    compare: str | None = None
    filter_index: int = 0
    out_size: int = 32

    def __post_init__(self) -> None:
        m = check_positive_int("in_channels", self.in_channels)
        n = check_positive_int("out_channels", self.out_channels)
        check_positive_int("kernel_size", self.kernel_size)
        check_positive_int("out_size", self.out_size)
        p = check_positive_int("p", self.p)
        if p not in valid_parts(m, n):
            raise ValueError(
                f"P={p} must divide M={m} and N={n}; allowed values: {valid_parts(m, n)}"
            )
        for fam in (self.family, self.compare):
            if fam is not None and fam not in EXPLORER_FAMILIES:
                raise ValueError(
                    f"unknown family {fam!r}; choose one of {sorted(EXPLORER_FAMILIES)}"
                )
        if isinstance(self.filter_index, bool) or not 0 <= int(self.filter_index) < n:
            raise ValueError(f"filter_index must be in 0 … {n - 1}, got {self.filter_index!r}")

    @property
    def families(self) -> tuple[str, ...]:
        """The families drawn: ``(family,)`` or ``(family, compare)``."""
        return (self.family,) if self.compare is None else (self.family, self.compare)


@dataclass(frozen=True)
class FigureData:
    """Traces (plotly property dicts, each with its ``type``) and layout of one figure.

    The trace count is fixed per figure kind, so trace i of one state updates trace i of the
    figure built from another.
    """

    traces: tuple[dict[str, Any], ...]
    layout: dict[str, Any] = field(default_factory=dict)

    def figure(self) -> go.Figure:
        """A static ``go.Figure`` of this data."""
        return go.Figure(data=list(self.traces), layout=self.layout)


# ------------------------------------------------------------------------- families, stages


def conv_spec(family: str, p: int) -> str:
    """The :func:`hetconv_edu.layers.parse_conv_spec` text of an explorer family at part P."""
    if family in ("hetconv", "naive_hetconv", "groupwise_pointwise"):
        return f"{family}:{p}"
    if family in ("standard", "depthwise_pointwise"):
        return family
    raise ValueError(f"unknown family {family!r}; choose one of {sorted(EXPLORER_FAMILIES)}")


def family_title(family: str, p: int) -> str:
    """Short display name: ``"HetConv P=4"``, ``"groupwise G=4 + pointwise"``, …"""
    return {
        "hetconv": f"HetConv P={p}",
        "standard": "standard",
        "depthwise_pointwise": "depthwise + pointwise",
        "groupwise_pointwise": f"groupwise G={p} + pointwise",
        "naive_hetconv": f"naive HetConv P={p}",
    }[family]


def explorer_stages(family: str, in_channels: int, out_channels: int, p: int) -> list[Stage]:
    """The kernel maps of ``family`` (:func:`hetconv_edu.pattern.family_stages`), G = P.

    Memoized (one update draws the same maps three times); the maps are read-only.
    """
    return list(_cached_stages(family, in_channels, out_channels, p))


@lru_cache(maxsize=32)
def _cached_stages(family: str, in_channels: int, out_channels: int, p: int) -> tuple[Stage, ...]:
    stages = family_stages(family, in_channels, out_channels, p=p, groups=p)
    for stage in stages:
        stage.pattern.setflags(write=False)
    return tuple(stages)


@dataclass(frozen=True)
class MapPanel:
    """One drawn kernel map: which family and stage, its title, and the N×M map."""

    family: str
    title: str
    stage: Stage
    stage_index: int
    n_stages: int
    family_index: int = 0
    p: int = 1

    @property
    def heading(self) -> str:
        """Panel heading (HTML): the family in bold, its shape or stage below. A second stage
        sits beside the first, under the same family name: only its stage is named."""
        rows, cols = self.stage.pattern.shape
        if self.n_stages == 1:
            line = f"{rows} filters × {cols} channels"
        else:
            # the family's name says G; the stage keeps its kind and kernel size
            name = self.stage.name.split(",")[0]
            line = f"stage {self.stage_index + 1}: {html.escape(name)}"
            if self.stage_index > 0:
                return line
        return f"<b>{html.escape(family_title(self.family, self.p))}</b><br>{line}"


def map_panels(state: ExplorerState) -> list[MapPanel]:
    """The panels of the map figure, in drawing order (family, then stage)."""
    panels = []
    for f, fam in enumerate(state.families):
        stages = explorer_stages(fam, state.in_channels, state.out_channels, state.p)
        for i, stage in enumerate(stages):
            title = family_title(fam, state.p)
            if len(stages) > 1:
                title += f" · stage {i + 1}: {stage.name}"
            panels.append(MapPanel(fam, title, stage, i, len(stages), f, state.p))
    return panels
