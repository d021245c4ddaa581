"""The linked explorer's views: pure functions, (state, filter response) in → plotly data, HTML.

One screen shows a HetConv layer (M, N, K, P) five ways (the app, :mod:`hetconv_edu.apps.
linked_explorer`, wires the controls; notebook 01 opens with it):

1. the controls (the app's widgets);
2. **overview** — the N×M kernel map, the selected filter's row outlined;
3. **detail** — filter n at its real kernel sizes over a window of input channels, each kernel
   above the input channel it reads, and that filter applied to a real image: the image, then
   the K×K path's response + the 1×1 path's response = the output, beside a standard K×K filter
   with the same K×K kernels and centre taps and the difference (what the 1×1 kernels give up);
4. **formula** — FL_H = D_o²·M·N·K²/P + (M − M/P)·D_o²·N with today's numbers, the two terms'
   shares as a bar, the ratio to standard, the weights (:func:`formula_html`);
5. **linking** — every part that belongs to the K×K term (map cells, kernels, input channels,
   response, formula term) carries the link ``"kxk"``, every 1×1 part ``"1x1"``.

Views 2 and 3 are one plotly figure (:func:`linked_figure_data`), so the page draws them at
once. Linking happens in the page: each trace names its link in ``meta`` (``{"link": "kxk"}``);
the app's small script sets the link of the hovered part on the app's root element
(:data:`LINK_ATTRIBUTE`), and CSS rules (:func:`link_css`) then highlight the formula's term
and the figure's *link shapes* — frames drawn with opacity 0 around the filter's kernels and
input channels and around the path responses, named ``"link-kxk"`` / ``"link-1x1"`` and made
visible by their ``data-index``. No Python runs on a hover.

The response maps use a diverging brown–white–teal scale, symmetric around 0: the K×K path, the
1×1 path and the output share one (so the sum can be read), the standard filter and the
difference share another, whose size relative to the first is written under them. The input
channels share a grey scale (0 = black).
"""

from __future__ import annotations

import functools
import html
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from hetconv_edu.flops import hetconv_macs, standard_macs
from hetconv_edu.pattern import Kernel
from hetconv_edu.viz.explorer import (
    ExplorerState,
    FamilyNumbers,
    FigureData,
    explorer_stages,
    family_numbers,
    kind_cells,
)
from hetconv_edu.viz.style import (
    FONT_SIZE,
    KIND_COLORS,
    base_layout,
    css_px,
    kind_hover,
    themed_json,
)

__all__ = [
    "FIGURE_CLASS",
    "FIGURE_HEIGHT",
    "FIGURE_WIDTH",
    "LINKS",
    "LINK_ATTRIBUTE",
    "RESPONSE_COLORSCALE",
    "RESPONSE_PANELS",
    "ROOT_CLASS",
    "WINDOW_CHANNELS",
    "FilterView",
    "channel_window",
    "formula_html",
    "link_css",
    "link_shape_indices",
    "linked_figure_data",
    "unchecked_figure",
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

FIGURE_WIDTH = 720
FIGURE_HEIGHT = 432
"""Pixel size of the figure: beside the formula panel it fits a 1280×720 screen."""
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
_GREYS = [[0.0, "#000000"], [1.0, "#FFFFFF"]]

RESPONSE_PANELS: tuple[tuple[str, str, str | None], ...] = (
    ("kxk", "K×K path", "kxk"),
    ("one", "1×1 path", "1x1"),
    ("output", "output", None),
    ("standard", "standard", None),
    ("given_up", "difference", None),
)
"""The response maps left to right: (attribute of the response, title, link)."""


_PANEL_HOVER = (
    "K×K path (its M/P K×K kernels)",
    "1×1 path (its 1×1 kernels + bias)",
    "output = K×K path + 1×1 path",
    "standard filter (all K×K taps kept)",
    "difference = standard − output (what the 1×1 kernels give up)",
)


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


# --------------------------------------------------------------------------- geometry


def _px_x(x: float) -> float:
    return round(x / FIGURE_WIDTH, 5)


def _px_y(y: float) -> float:
    """Paper y of a pixel row counted from the top."""
    return round(1.0 - y / FIGURE_HEIGHT, 5)


_MAP = (52, 44, 222, 214)  # left, top, right, bottom in px
_SLOTS = (300, 40, 712)  # left, top, right; the height follows from the channel count
_PHOTO = (40, 318, 126, 404)
_RESPONSES_LEFT, _RESPONSE_SIZE, _RESPONSE_GAP, _RESPONSES_TOP = 160, 86, 18, 318
_DETAIL_TITLE = 294  # bottom of the "filter n on the image" line


def channel_window(state: ExplorerState, width: int = WINDOW_CHANNELS) -> tuple[int, int]:
    """``(start, count)`` of the input channels the detail view draws: at most ``width``,
    from channel 0, or moved so the filter's first K×K kernel (channel n mod P) is in it."""
    m = state.in_channels
    count = min(m, width)
    first = state.filter_index % state.p
    start = 0 if first < count else min(first - count // 4, m - count)
    return start, count


def _axes(
    number: int, domain_x: tuple[float, float], domain_y: tuple[float, float], **extra: Any
) -> dict[str, dict[str, Any]]:
    """Layout entries of subplot ``number`` (1: ``xaxis``/``yaxis``, 2: ``xaxis2``/…), each
    axis anchored to the other; ``x=``/``y=`` add properties."""
    suffix = "" if number == 1 else str(number)
    common = {"showgrid": False, "zeroline": False, "fixedrange": True}
    return {
        f"xaxis{suffix}": {
            "domain": list(domain_x),
            "anchor": f"y{suffix}",
            **common,
            **extra.pop("x", {}),
        },
        f"yaxis{suffix}": {
            "domain": list(domain_y),
            "anchor": f"x{suffix}",
            **common,
            **extra.pop("y", {}),
        },
    }


def _annotation(text: str, x: float, y: float, **kw: Any) -> dict[str, Any]:
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


def _link_shape(link: str, **where: Any) -> dict[str, Any]:
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


def _solid(color: str) -> list[list[Any]]:
    return [[0.0, color], [1.0, color]]


# ----------------------------------------------------------------------------- figure


@functools.lru_cache(maxsize=8)
def _map_cells(m: int, n: int, p: int) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]:
    """Column-form cells of the K×K and the 1×1 kernels of the HetConv map (read-only, kept:
    a 512×512 map takes 10 ms). A HetConv map needs no grid padding (P > 1: every row and
    column holds both kinds), so z is 1 everywhere and travels as bytes."""
    pattern = explorer_stages("hetconv", m, n, p)[0].pattern
    out = []
    for kind in (Kernel.FULL, Kernel.ONE):
        x, y, z = kind_cells(pattern, kind)
        if not np.isnan(z).any():
            z = z.astype(np.uint8)
        for array in (x, y, z):
            array.setflags(write=False)
        out.append((x, y, z))
    return tuple(out)


def linked_figure_data(state: ExplorerState, view: FilterView) -> FigureData:
    """The overview and detail views of ``state`` (a HetConv layer; ``state.family`` is not
    drawn) with filter ``state.filter_index`` applied to an image (``view``).

    Axes: ``x``/``y`` the kernel map; ``x2``/``y2`` the filter's kernels above its input
    channels, one slot per channel of :func:`channel_window`; ``x3``/``y3`` the image;
    ``x4``/``y4`` the response maps of :data:`RESPONSE_PANELS` side by side. Traces carry
    ``meta = {"link": ...}`` (and ``"pick": "filter"`` on the map); link shapes are named
    ``link-kxk`` / ``link-1x1`` and drawn with opacity 0 (:func:`link_css` shows them).

    Raises:
        ValueError: the view's filter is not the state's, or its input has not M channels.
    """
    m, n, k, p = state.in_channels, state.out_channels, state.kernel_size, state.p
    f = state.filter_index
    if view.filter_index != f or view.inputs.shape[0] != m:
        raise ValueError(
            f"the filter response is for filter {view.filter_index} with "
            f"{view.inputs.shape[0]} input channels; the setting needs filter {f} of M={m}"
        )
    pattern = explorer_stages("hetconv", m, n, p)[0].pattern
    traces: list[dict[str, Any]] = []
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    layout: dict[str, Any] = base_layout(
        width=FIGURE_WIDTH,
        height=FIGURE_HEIGHT,
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        showlegend=False,
        hovermode="closest",
        dragmode=False,
    )

    # -- 2. overview: the kernel map
    left, top, right, bottom = _MAP
    side = min(right - left, bottom - top)
    scale = side / max(m, n)
    map_w, map_h = m * scale, n * scale
    layout |= _axes(
        1,
        (_px_x(left), _px_x(left + map_w)),
        (_px_y(top + map_h), _px_y(top)),
        x={
            "range": [-0.5, m - 0.5],
            "title": {"text": "input channel m", "standoff": 2, "font": {"size": FONT_SIZE - 2}},
            "tickfont": {"size": FONT_SIZE - 3},
            "nticks": 5,
            "ticks": "outside",
            "showline": True,
            "linecolor": "#888888",
            "mirror": True,
        },
        y={
            "range": [n - 0.5, -0.5],
            "title": {"text": "filter n", "standoff": 2, "font": {"size": FONT_SIZE - 2}},
            "tickfont": {"size": FONT_SIZE - 3},
            "nticks": 5,
            "ticks": "outside",
            "showline": True,
            "linecolor": "#888888",
            "mirror": True,
        },
    )
    for kind, (x, y, z) in zip((Kernel.FULL, Kernel.ONE), _map_cells(m, n, p), strict=True):
        traces.append(
            {
                "type": "heatmap",
                "xaxis": "x",
                "yaxis": "y",
                "x": x,
                "y": y,
                "z": z,
                "colorscale": _solid(KIND_COLORS[kind]),
                "zmin": 0,
                "zmax": 1,
                "showscale": False,
                "hoverongaps": False,
                "hovertemplate": (
                    f"filter %{{y}}, channel %{{x}}: {kind_hover(kind, k)}"
                    "<br>click: show filter %{y}<extra></extra>"
                ),
                "meta": {"link": KIND_LINK[kind], "pick": "filter"},
            }
        )
    for color, width in (("white", 4), ("#000000", 1.5)):
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "y",
                "x0": -0.5,
                "x1": m - 0.5,
                "y0": f - 0.5,
                "y1": f + 0.5,
                "line": {"color": color, "width": width},
                "fillcolor": "rgba(0,0,0,0)",
                "layer": "above",
            }
        )
    annotations.append(
        _annotation(
            f"<b>Kernel map</b> N×M = {n}×{m}",
            _px_x(8),
            _px_y(30),
            size=FONT_SIZE - 1,
        )
    )
    annotations.append(
        _annotation(
            f"<span style='color:{KIND_COLORS[Kernel.FULL]}'>■</span> {k}×{k}<br>"
            f"<span style='color:{KIND_COLORS[Kernel.ONE]}'>■</span> 1×1",
            _px_x(_MAP[2] + 6),
            _px_y(_MAP[1]),
            yanchor="top",
        )
    )

    # -- 3a. detail: filter n's kernels above its input channels
    start, count = channel_window(state)
    row = pattern[f, start : start + count]
    left, top, right = _SLOTS
    slot_px = (right - left) / WINDOW_CHANNELS  # fewer channels: narrower, never taller
    right = left + count * slot_px
    block = 0.62  # a kernel drawing's width, in slots
    kernel_top, image_top, image_size = 0.08, 0.08 + block + 0.18, 0.82
    units_y = image_top + image_size + 0.06  # y units of the same pixel size as one slot
    bottom = top + units_y * slot_px
    layout |= _axes(
        2,
        (_px_x(left), _px_x(right)),
        (_px_y(bottom), _px_y(top)),
        x={
            "range": [-0.5, count - 0.5],
            "tickmode": "array",
            "tickvals": list(range(count)),
            "ticktext": [f"m={start + i}" for i in range(count)],
            "tickfont": {"size": FONT_SIZE - 3},
            "showline": False,
        },
        y={"range": [units_y, 0.0], "visible": False},
    )
    inputs = view.inputs[start : start + count]
    in_max = float(max(inputs.max(), 1e-12)) if inputs.size else 1.0
    for i, kind in enumerate(row):
        kind = Kernel(int(kind))
        link = KIND_LINK[kind]
        size = k if kind is Kernel.FULL else 1
        cell = block / k
        traces.append(
            {
                "type": "heatmap",
                "xaxis": "x2",
                "yaxis": "y2",
                "z": np.ones((size, size), dtype=np.float32),
                "x0": i - (size - 1) * cell / 2,
                "dx": cell,
                "y0": kernel_top + block / 2 - (size - 1) * cell / 2,
                "dy": cell,
                "colorscale": _solid(KIND_COLORS[kind]),
                "zmin": 0,
                "zmax": 1,
                "showscale": False,
                "xgap": 1,
                "ygap": 1,
                "hovertemplate": (
                    f"filter {f}, channel {start + i}: {kind_hover(kind, k)}<extra></extra>"
                ),
                "meta": {"link": link},
            }
        )
        image = inputs[i]
        h, w = image.shape
        px = image_size / max(h, w)
        traces.append(
            {
                "type": "heatmap",
                "xaxis": "x2",
                "yaxis": "y2",
                "z": image.astype(np.float32),
                "x0": i - image_size / 2 + px / 2,
                "dx": px,
                "y0": image_top + px / 2,
                "dy": px,
                "colorscale": _GREYS,
                "zmin": 0.0,
                "zmax": in_max,
                "showscale": False,
                "hovertemplate": (
                    f"input channel {start + i} (read by a {size}×{size} kernel): "
                    "%{z:.3f}<extra></extra>"
                ),
                "meta": {"link": link},
            }
        )
        shapes.append(
            _link_shape(
                link,
                xref="x2",
                yref="y2",
                x0=i - 0.47,
                x1=i + 0.47,
                y0=0.02,
                y1=image_top + image_size + 0.04,
            )
        )
    window = f"m = {start}–{start + count - 1} of {m}" if count < m else f"all {m} channels"
    annotations.append(
        _annotation(
            f"<b>Filter {f}</b> at real kernel sizes · {window}",
            _px_x(left),
            _px_y(30),
            size=FONT_SIZE - 1,
        )
    )
    annotations.append(
        _annotation(
            f"each kernel reads the grey channel under it<br>input: {html.escape(view.input_note)}",
            _px_x(left),
            _px_y(bottom + 24),
            yanchor="top",
            font={"color": "#555555"},
        )
    )

    # -- 3b. detail: the image and what the filter makes of it
    left, top, right, bottom = _PHOTO
    photo = np.asarray(view.image)
    rgb = np.repeat(photo, 3, axis=0) if photo.shape[0] == 1 else photo[:3]
    layout |= _axes(
        3,
        (_px_x(left), _px_x(right)),
        (_px_y(bottom), _px_y(top)),
        x={"visible": False, "range": [-0.5, rgb.shape[2] - 0.5]},
        # an image trace anchors its y axis to x unless told otherwise
        y={"visible": False, "range": [rgb.shape[1] - 0.5, -0.5], "scaleanchor": "x3"},
    )
    traces.append(
        {
            "type": "image",
            "xaxis": "x3",
            "yaxis": "y3",
            "z": np.ascontiguousarray(np.transpose(rgb, (1, 2, 0)), dtype=np.uint8),
            "hovertemplate": f"{html.escape(view.image_name)}<extra></extra>",
        }
    )
    annotations.append(
        _annotation(
            html.escape(view.image_name.split(" (")[0]),
            _px_x((left + right) / 2),
            _px_y(bottom + 4),
            xanchor="center",
            yanchor="top",
        )
    )
    maps = [np.asarray(getattr(view, attr)) for attr, _title, _link in RESPONSE_PANELS]
    # the HetConv sum (K×K + 1×1 = output) on one scale, the comparison pair on another
    het = float(max(np.abs(a).max() for a in maps[:3])) or 1.0
    other = float(max(np.abs(a).max() for a in maps[3:])) or 1.0
    operators = ("+", "=", "vs", "", "")  # after each map
    # all five maps on one pair of axes (one subplot draws faster than five), in pixel units
    h, w = maps[0].shape
    unit = _RESPONSE_SIZE / max(h, w)  # px per map pixel
    lefts = [
        _RESPONSES_LEFT + j * (_RESPONSE_SIZE + _RESPONSE_GAP) + (14 if j >= 3 else 0)
        for j in range(len(maps))
    ]
    right = lefts[-1] + _RESPONSE_SIZE
    top, bottom = _RESPONSES_TOP, _RESPONSES_TOP + _RESPONSE_SIZE
    layout |= _axes(
        4,
        (_px_x(_RESPONSES_LEFT), _px_x(right)),
        (_px_y(bottom), _px_y(top)),
        x={"visible": False, "range": [-0.5, (right - _RESPONSES_LEFT) / unit - 0.5]},
        y={"visible": False, "range": [_RESPONSE_SIZE / unit - 0.5, -0.5]},
    )
    for j, ((_attr, title, link), values) in enumerate(zip(RESPONSE_PANELS, maps, strict=True)):
        x0, x1 = lefts[j], lefts[j] + _RESPONSE_SIZE
        traces.append(
            {
                "type": "heatmap",
                "xaxis": "x4",
                "yaxis": "y4",
                "z": values.astype(np.float32),
                "x0": (x0 - _RESPONSES_LEFT) / unit,
                "dx": 1,
                "y0": 0,
                "dy": 1,
                "colorscale": RESPONSE_COLORSCALE,
                "zmin": -(het if j < 3 else other),
                "zmax": het if j < 3 else other,
                "showscale": False,
                "hovertemplate": f"{_PANEL_HOVER[j]}: %{{z:.3f}}<extra></extra>",
                "meta": {"link": link} if link else {},
            }
        )
        annotations.append(
            _annotation(title, _px_x((x0 + x1) / 2), _px_y(top - 4), xanchor="center")
        )
        if operators[j]:
            gap_x = x1 + (_RESPONSE_GAP + (14 if j == 2 else 0)) / 2
            annotations.append(
                _annotation(
                    operators[j],
                    _px_x(gap_x),
                    _px_y((top + bottom) / 2),
                    xanchor="center",
                    yanchor="middle",
                    size=FONT_SIZE + 1,
                )
            )
        if link:
            pad = 4
            shapes.append(
                _link_shape(
                    link,
                    xref="paper",
                    yref="paper",
                    x0=_px_x(x0 - pad),
                    x1=_px_x(x1 + pad),
                    y0=_px_y(bottom + pad),
                    y1=_px_y(top - pad - 18),
                )
            )
    annotations.append(
        _annotation(
            "→",
            _px_x((_PHOTO[2] + _RESPONSES_LEFT) / 2),
            _px_y(_RESPONSES_TOP + _RESPONSE_SIZE / 2),
            xanchor="center",
            yanchor="middle",
            size=FONT_SIZE + 1,
        )
    )
    annotations.append(
        _annotation(
            f"<b>Filter {f} on an image</b>: "
            f"<span style='color:#8C510A'>■</span> &lt; 0 &lt; "
            f"<span style='color:#01665E'>■</span>",
            _px_x(8),
            _px_y(_DETAIL_TITLE),
            size=FONT_SIZE - 1,
        )
    )
    pair_x = _RESPONSES_LEFT + 3 * (_RESPONSE_SIZE + _RESPONSE_GAP) + 14
    annotations.append(
        _annotation(
            f"colour scale ×{other / het:.1f}",
            _px_x(pair_x + _RESPONSE_SIZE + _RESPONSE_GAP / 2),
            _px_y(_RESPONSES_TOP + _RESPONSE_SIZE + 4),
            xanchor="center",
            yanchor="top",
            font={"color": "#555555"},
        )
    )
    layout["shapes"] = shapes
    layout["annotations"] = annotations
    themed_traces, themed_layout = themed_json(traces, layout)
    # Every colour, line and font is set here: no template (plotly's expand to thousands of
    # properties, a third of an update's time), in either style.
    themed_layout["template"] = "none"
    return FigureData(themed_traces, themed_layout)


def unchecked_figure(data: FigureData) -> go.Figure:
    """``data`` (from :func:`linked_figure_data`) as a ``go.Figure`` built without plotly's
    property-by-property validation, which takes 90 ms for its 20-odd traces, shapes and
    annotations (the whole update budget): the same figure JSON as ``data.figure()``
    (tested)."""
    layout = dict(data.layout)
    if isinstance(layout.get("template"), str):
        layout["template"] = pio.templates[layout["template"]].to_plotly_json()
    return go.Figure(data=list(data.traces), layout=layout, _validate=False)


# ----------------------------------------------------------------------------- linking


def link_shape_indices(layout: dict[str, Any]) -> dict[str, list[int]]:
    """Indices of the link shapes in ``layout["shapes"]``, by link."""
    out: dict[str, list[int]] = {link: [] for link in LINKS}
    for i, shape in enumerate(layout.get("shapes", ())):
        name = str(shape.get("name", ""))
        if name.startswith("link-") and name[5:] in out:
            out[name[5:]].append(i)
    return out


def link_css(data: FigureData) -> str:
    """The CSS that highlights every part of a link while the root carries it: the formula's
    term and bar segment (classes ``hetconv-term-<link>``) and the figure's link shapes."""
    rules = []
    for link, indices in link_shape_indices(data.layout).items():
        scope = f".{ROOT_CLASS}[{LINK_ATTRIBUTE}='{link}']"
        if indices:
            paths = ",".join(f"[data-index='{i}']" for i in indices)
            rules.append(
                f"{scope} .{FIGURE_CLASS} .shapelayer path:is({paths}) {{opacity: 1 !important}}"
            )
        rules.append(f"{scope} .hetconv-term-{link} {{{_HIGHLIGHT[link]}}}")
    return "\n".join(rules)


_HIGHLIGHT = {
    "kxk": f"background: {KIND_COLORS[Kernel.FULL]}; color: #FFFFFF; "
    f"outline: 2px solid {KIND_COLORS[Kernel.FULL]};",
    "1x1": f"background: {KIND_COLORS[Kernel.ONE]}; color: #000000; "
    f"outline: 2px solid {KIND_COLORS[Kernel.ONE]};",
}


# ----------------------------------------------------------------------------- formula


def _n(value: int) -> str:
    return f"{value:,}"


def _term(link: str, content: str) -> str:
    return f"<span class='hetconv-term hetconv-term-{link}' data-link='{link}'>{content}</span>"


def _channels(values: Sequence[int], limit: int = 6) -> str:
    shown = ", ".join(map(str, values[:limit]))
    return shown + (", …" if len(values) > limit else "")


def formula_html(state: ExplorerState) -> str:
    """The formula panel: FL_H with its terms written out with the setting's numbers (each term
    a :func:`link_css` target), the terms' shares as a bar, the ratio to a standard layer, the
    weights, filter n's kernels and the compared family's ratio.

    Values carry ``data-value`` attributes (``kxk``, ``one``, ``total``, ``ratio``,
    ``weights``) so tests can read them. FL_H is :func:`hetconv_edu.flops.hetconv_macs`, the
    compared family's numbers :func:`hetconv_edu.viz.explorer.family_numbers`.
    """
    m, n, k, p, d = (
        state.in_channels,
        state.out_channels,
        state.kernel_size,
        state.p,
        state.out_size,
    )
    kxk = d * d * m * n * k * k // p
    one = (m - m // p) * d * d * n
    total = hetconv_macs(d, m, n, k, p)  # the paper's FL_H = kxk + one
    weights = n * (m * k * k // p + m - m // p)  # = layer_cost(...).params, tested
    standard = standard_macs(d, m, n, k)
    share = kxk / total
    row = explorer_stages("hetconv", m, n, p)[0].pattern[state.filter_index]
    full = [int(c) for c in np.flatnonzero(row == Kernel.FULL)]
    ones = m - len(full)
    value = "<b data-value='{key}'>{text}</b>"
    sq = "²"
    lines = [
        "<div class='hetconv-f-title'>Cost in MACs, output "
        f"D<sub>o</sub>×D<sub>o</sub> = {d}×{d}</div>",
        "<div class='hetconv-f-line'>FL<sub>H</sub> = "
        + _term("kxk", f"D<sub>o</sub>{sq}·M·N·K{sq}/P")
        + " + "
        + _term("1x1", f"(M − M/P)·D<sub>o</sub>{sq}·N")
        + "</div>",
        "<div class='hetconv-f-line'>= "
        + _term("kxk", f"{d}{sq}·{m}·{n}·{k}{sq}/{p}")
        + " + "
        + _term("1x1", f"({m} − {m // p})·{d}{sq}·{n}")
        + "</div>",
        "<div class='hetconv-f-line'>= "
        + _term("kxk", value.format(key="kxk", text=_n(kxk)))
        + " + "
        + _term("1x1", value.format(key="one", text=_n(one)))
        + " = "
        + value.format(key="total", text=_n(total))
        + "</div>",
        "<div class='hetconv-f-bar' title='shares of FL_H'>"
        + f"<span class='hetconv-term hetconv-term-kxk hetconv-bar-kxk' data-link='kxk' "
        f"style='width:{100 * share:.1f}%'>K×K {100 * share:.0f} %</span>"
        + f"<span class='hetconv-term hetconv-term-1x1 hetconv-bar-1x1' data-link='1x1' "
        f"style='width:{100 * (1 - share):.1f}%'>1×1 {100 * (1 - share):.0f} %</span></div>",
        "<div class='hetconv-f-line'>÷ standard D<sub>o</sub>²·M·N·K² = "
        f"{_n(standard)}: "
        + value.format(key="ratio", text=f"{total / standard:.4f}")
        + " = 1/P + (1 − 1/P)/K²</div>",
        "<div class='hetconv-f-line'>weights N·(M·K²/P + M − M/P) = "
        + value.format(key="weights", text=_n(weights))
        + f" (standard {_n(n * m * k * k)})</div>",
        f"<div class='hetconv-f-line'>filter {state.filter_index}: "
        + _term("kxk", f"{len(full)} K×K at m = {_channels(full)}")
        + " + "
        + _term("1x1", f"{ones} × 1×1")
        + "</div>",
    ]
    if state.compare is not None and state.compare != "hetconv":
        other = _compared(replace(state, filter_index=0), state.compare)
        change = 100 * (total / other.macs - 1)
        lines.append(
            f"<div class='hetconv-f-line'>vs {html.escape(other.title)}: {other.formula} = "
            f"{other.ratio:.4f}; HetConv: {abs(change):.1f} % "
            f"{'fewer' if change < 0 else 'more'} MACs</div>"
        )
    return f"{_FORMULA_CSS}<div class='hetconv-cost-panel'>{''.join(lines)}</div>"


@functools.lru_cache(maxsize=32)
def _compared(state: ExplorerState, family: str) -> FamilyNumbers:
    """The compared family's numbers (kept: at M = N = 512 they take 10 ms)."""
    return family_numbers(state, family)


_FORMULA_CSS = (
    "<style>"
    f".hetconv-cost-panel{{font-size:{css_px(14)};line-height:1.45;color:#222}}"
    f".hetconv-cost-panel .hetconv-f-title{{font-weight:bold;font-size:{css_px(15)};"
    "margin-bottom:4px}"
    ".hetconv-cost-panel .hetconv-f-line{margin:2px 0}"
    ".hetconv-cost-panel .hetconv-term{border-radius:3px;padding:0 2px;cursor:default}"
    f".hetconv-cost-panel .hetconv-term-kxk{{box-shadow:inset 0 -3px {KIND_COLORS[Kernel.FULL]}}}"
    f".hetconv-cost-panel .hetconv-term-1x1{{box-shadow:inset 0 -3px {KIND_COLORS[Kernel.ONE]}}}"
    ".hetconv-cost-panel .hetconv-f-bar{display:flex;margin:6px 0;height:1.6em;"
    "border:1px solid #888;white-space:nowrap;overflow:hidden}"
    ".hetconv-cost-panel .hetconv-f-bar .hetconv-term{display:inline-block;border-radius:0;"
    f"padding:0 4px;box-sizing:border-box;font-size:{css_px(13)}}}"
    f".hetconv-cost-panel .hetconv-bar-kxk{{background:{KIND_COLORS[Kernel.FULL]};color:#FFF}}"
    f".hetconv-cost-panel .hetconv-bar-1x1{{background:{KIND_COLORS[Kernel.ONE]};color:#000}}"
    "</style>"
)
