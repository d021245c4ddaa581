"""The explorer's pure figure functions (hetconv_edu.viz.explorer) and the shared style
(hetconv_edu.viz.style): every drawn cell, count and cost comes from the pattern model and the
FLOPs module."""

from __future__ import annotations

import itertools
import re

import numpy as np
import plotly.graph_objects as go
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hetconv_edu.flops import (
    depthwise_pointwise_ratio,
    groupwise_pointwise_ratio,
    hetconv_macs,
    hetconv_ratio,
    layer_cost,
    naive_hetconv_ratio,
    standard_macs,
)
from hetconv_edu.pattern import (
    Kernel,
    family_stages,
    hetconv_pattern,
    kernels_per_channel,
    kernels_per_filter,
    stage_weights,
    valid_parts,
)
from hetconv_edu.viz import style
from hetconv_edu.viz.explorer import (
    EXPLORER_FAMILIES,
    FILTER_TRACES,
    FILTER_WINDOW_COLUMNS,
    KINDS,
    MAP_TRACES,
    MAX_PANELS,
    ExplorerState,
    cells_to_pattern,
    conv_spec,
    counters_html,
    explorer_stages,
    family_numbers,
    filter_figure_data,
    filter_window,
    kind_cells,
    map_figure_data,
    map_panels,
)

FAMILIES = list(EXPLORER_FAMILIES)
SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def states(draw, max_p: int = 8, max_mult: int = 5) -> ExplorerState:
    p = draw(st.integers(1, max_p))
    m = p * draw(st.integers(1, max_mult))
    n = p * draw(st.integers(1, max_mult))
    family = draw(st.sampled_from(FAMILIES))
    compare = draw(st.one_of(st.none(), st.sampled_from(FAMILIES)))
    return ExplorerState(
        in_channels=m,
        out_channels=n,
        kernel_size=draw(st.sampled_from([1, 3, 5, 7])),
        p=p,
        family=family,
        compare=compare,
        filter_index=draw(st.integers(0, n - 1)),
        out_size=draw(st.sampled_from([1, 8, 32])),
    )


# ------------------------------------------------------------------------------- style


def test_kind_colors_are_okabe_ito_or_grey_and_differ_in_lightness():
    allowed = set(style.OKABE_ITO.values()) | {style.KIND_COLORS[Kernel.NONE]}
    assert set(style.KIND_COLORS.values()) <= allowed
    assert set(style.KIND_COLORS) == set(Kernel)
    for a, b in itertools.combinations(style.KIND_COLORS.values(), 2):
        # Distinguishable in greyscale: clearly different relative luminance.
        assert style.contrast_ratio(a, b) >= 1.8, (a, b)


def test_family_colors_cover_every_family_and_have_dashes_and_symbols():
    from hetconv_edu.pattern import FAMILIES as ALL

    for fam in ALL:
        assert fam in style.FAMILY_COLORS and fam in style.FAMILY_DASHES
        assert fam in style.FAMILY_SYMBOLS
        assert style.family_color(fam) == style.FAMILY_COLORS[fam]
    assert style.family_color("nope") == style.MUTED
    assert len(set(style.PALETTE)) == len(style.PALETTE) >= 8


def test_contrast_and_luminance_reference_values():
    assert style.relative_luminance("#000000") == 0
    assert style.relative_luminance("#FFFFFF") == pytest.approx(1)
    assert style.contrast_ratio("#000000", "#FFFFFF") == pytest.approx(21)
    with pytest.raises(ValueError):
        style.relative_luminance("red")


@pytest.mark.parametrize("k", [1, 3, 5, 7])
def test_kind_texts_name_the_real_size(k):
    assert style.kind_label(Kernel.FULL, k) == f"{k}×{k} kernel (K×K)"
    assert style.kind_label(Kernel.ONE, k) == "1×1 kernel"
    assert style.kind_label(Kernel.FULL) == "K×K kernel"
    assert style.kind_hover(Kernel.FULL, 3) == "3×3 kernel, 9 weights"
    assert style.kind_hover(Kernel.ONE, k) == "1×1 kernel, 1 weight"
    assert style.kind_hover(Kernel.BOTH, 3).endswith("10 weights")
    assert [style.kind_weights(kind, k) for kind in Kernel] == [0, 1, k * k, k * k + 1]


def test_kind_colorscale_maps_each_code_to_its_colour():
    scale = style.kind_colorscale()
    zmin, zmax = style.KIND_ZRANGE
    for code in Kernel:
        pos = (code - zmin) / (zmax - zmin)
        color = next(c for (lo, c), (hi, _) in itertools.pairwise(scale) if lo <= pos <= hi)
        assert color == style.KIND_COLORS[code]
    assert scale[0][0] == 0 and scale[-1][0] == pytest.approx(1)


def test_legend_traces_and_layout_helpers():
    traces = style.kind_legend_traces([Kernel.FULL, Kernel.ONE], 5)
    assert [t.name for t in traces] == ["5×5 kernel (K×K)", "1×1 kernel"]
    assert [t.legendgroup for t in traces] == ["kind2", "kind1"]
    layout = style.base_layout(height=300, margin={"l": 1, "r": 2, "t": 3, "b": 4})
    assert layout["height"] == 300 and layout["margin"]["l"] == 1
    assert layout["font"]["size"] == style.FONT_SIZE
    fig = go.Figure()
    assert style.apply_layout(fig, height=123) is fig
    assert fig.layout.height == 123 and fig.layout.font.size == style.FONT_SIZE
    assert style.apply_style is style.apply_layout


# ----------------------------------------------------------------------------- state


@pytest.mark.parametrize(
    "kwargs",
    [
        {"in_channels": 12, "out_channels": 8, "p": 3},  # 3 does not divide 8
        {"p": 0},
        {"family": "nope"},
        {"compare": "nope"},
        {"filter_index": 16},
        {"filter_index": -1},
        {"kernel_size": 0},
        {"in_channels": True},
    ],
)
def test_state_rejects_impossible_settings(kwargs):
    with pytest.raises(ValueError):
        ExplorerState(**kwargs)


def test_conv_spec_matches_flops_families():
    assert conv_spec("hetconv", 4) == "hetconv:4"
    assert conv_spec("standard", 4) == "standard"
    assert conv_spec("groupwise_pointwise", 2) == "groupwise_pointwise:2"
    with pytest.raises(ValueError):
        conv_spec("nope", 1)


# ------------------------------------------------------------------------ figure 1: map


def test_kind_cells_column_form_is_compact_and_round_trips():
    pat = hetconv_pattern(512, 512, 8)
    x, y, z = kind_cells(pat, Kernel.FULL)
    assert x.dtype == np.int16 and y.dtype == np.int16 and z.dtype == np.float32
    assert x.size == 512 * 512 // 8 and np.all(z == 1)
    assert np.all((x - y) % 8 == 0)
    traces = [dict(zip("xyz", kind_cells(pat, kind), strict=True)) for kind in KINDS]
    assert np.array_equal(cells_to_pattern(traces, pat.shape), pat)


def test_kind_cells_pads_missing_rows_and_columns_with_gaps():
    pat = np.full((3, 4), Kernel.ONE, dtype=np.int8)
    pat[1, 2] = Kernel.FULL  # one K×K cell: its trace covers one row and one column only
    x, y, z = kind_cells(pat, Kernel.FULL)
    assert set(x.tolist()) == {0, 1, 2, 3} and set(y.tolist()) == {0, 1, 2}
    real = ~np.isnan(z)
    assert real.sum() == 1 and (x[real][0], y[real][0]) == (2, 1)
    empty = kind_cells(pat, Kernel.BOTH)
    assert all(a.size == 0 for a in empty)


@SETTINGS
@given(states())
def test_map_traces_equal_the_pattern_model(state):
    data = map_figure_data(state)
    assert len(data.traces) == MAP_TRACES
    panels = map_panels(state)
    expected = [
        s.pattern
        for fam in state.families
        for s in family_stages(
            fam, state.in_channels, state.out_channels, p=state.p, groups=state.p
        )
    ]
    assert len(panels) == len(expected) <= MAX_PANELS
    for i in range(MAX_PANELS):
        slot = data.traces[4 * i : 4 * i + 4]
        if i < len(expected):
            assert np.array_equal(cells_to_pattern(slot, expected[i].shape), expected[i])
            for kind, trace in zip(KINDS, slot, strict=True):
                assert style.kind_hover(kind, state.kernel_size) in trace["hovertemplate"]
                assert trace["colorscale"][0][1] == style.KIND_COLORS[kind]
        else:
            assert all(np.size(t["x"]) == 0 for t in slot)
    present = {int(k) for p in expected for k in np.unique(p)}
    legend = data.traces[-len(KINDS) :]
    shown = {int(t["legendgroup"].removeprefix("kind")) for t in legend if t["showlegend"]}
    assert shown == present
    # one heading per panel; the selected filter outlined wherever that stage has it
    assert len(data.layout["annotations"]) == len(expected)
    outlined = sum(state.filter_index < p.shape[0] for p in expected)
    assert len(data.layout["shapes"]) == 2 * outlined
    data.figure()  # valid plotly


def test_map_layout_keeps_cells_square_and_filter_zero_on_top():
    data = map_figure_data(ExplorerState(12, 8, 3, 4))
    xa, ya = data.layout["xaxis"], data.layout["yaxis"]
    assert ya["scaleanchor"] == "x" and ya["scaleratio"] == 1
    assert xa["range"] == [-0.5, 11.5] and ya["range"] == [7.5, -0.5]
    assert xa["title"]["text"] == "input channel m" and ya["title"]["text"] == "filter n"
    assert data.layout["xaxis2"]["visible"] is False


@pytest.mark.parametrize(
    "state",
    [
        ExplorerState(16, 16, 3, 4, compare="standard"),
        ExplorerState(256, 256, 3, 4),  # the "real layer": 1 px per kernel, no moiré
        ExplorerState(512, 512, 3, 4),  # larger than the screen's share: still whole pixels
        ExplorerState(16, 16, 3, 4, "depthwise_pointwise", "groupwise_pointwise"),
        ExplorerState(12, 8, 5, 2, "naive_hetconv", "hetconv"),
    ],
)
def test_map_cells_are_whole_pixels_in_both_styles(state):
    """A fine pattern drawn at a fractional number of pixels per cell shows moiré: every map
    cell is a whole number of pixels, in the default and the projector style."""
    for theme in (style.NORMAL, style.PROJECTOR):
        fig = style.restyle_figure(map_figure_data(state).figure(), style.NORMAL, theme)
        lay = fig.layout
        width = lay.width - lay.margin.l - lay.margin.r
        height = lay.height - lay.margin.t - lay.margin.b
        cells = set()
        for i, panel in enumerate(map_panels(state)):
            suffix = "" if i == 0 else str(i + 1)
            xa, ya = lay[f"xaxis{suffix}"], lay[f"yaxis{suffix}"]
            n_rows, n_cols = panel.stage.pattern.shape
            for axis, span, n in ((xa, width, n_cols), (ya, height, n_rows)):
                px = (axis.domain[1] - axis.domain[0]) * span / n
                offset = axis.domain[0] * span
                assert px >= 1 and abs(px - round(px)) < 1e-6, (theme.name, i, px)
                assert abs(offset - round(offset)) < 1e-6, (theme.name, i, offset)
                cells.add(round(px))
        assert len(cells) == 1  # square cells, the same size in every panel


def test_compare_of_two_stage_families_uses_a_grid():
    state = ExplorerState(16, 16, 3, 4, "depthwise_pointwise", "groupwise_pointwise")
    data = map_figure_data(state)
    doms = [(data.layout[f"xaxis{s}"]["domain"], data.layout[f"yaxis{s}"]["domain"])
            for s in ("", "2", "3", "4")]  # fmt: skip
    assert doms[0][1] == doms[1][1] != doms[2][1] == doms[3][1]  # two rows
    assert doms[0][0] == doms[2][0] != doms[1][0]  # two columns
    assert data.layout["height"] > map_figure_data(ExplorerState(16, 16, 3, 4)).layout["height"]


def test_small_maps_print_the_kernel_size_in_cells_large_ones_do_not():
    small = map_figure_data(ExplorerState(8, 8, 5, 2)).traces
    assert small[0]["texttemplate"] == "%{text}"
    assert set(small[0]["text"]) == {"5"} and set(small[1]["text"]) == {"1"}
    large = map_figure_data(ExplorerState(256, 256, 3, 4)).traces
    assert large[0]["texttemplate"] == "" and large[0]["text"] is None


# ----------------------------------------------------------------------- figure 2: filter


@SETTINGS
@given(states())
def test_filter_strip_draws_the_selected_filters_kernels_at_real_size(state):
    data = filter_figure_data(state)
    assert len(data.traces) == FILTER_TRACES
    start, width = filter_window(state)
    k, n = state.kernel_size, state.filter_index
    rows = [
        p.stage.pattern[n, start : start + width]
        for p in map_panels(state)
        if n < p.stage.out_channels
    ]
    for kind, trace in zip(KINDS, data.traces[: len(KINDS)], strict=True):
        real = int(np.sum(~np.isnan(np.asarray(trace["z"], dtype=float))))
        count = sum(int(np.sum(r == kind)) for r in rows)
        cells_per_kernel = k * k if kind in (Kernel.FULL, Kernel.BOTH) else 1
        assert real == count * cells_per_kernel, kind
        labelled = [t for t in trace["text"] if t]
        assert len(labelled) == real
        assert all(style.kind_hover(kind, k) in t for t in labelled)
    assert len(data.layout["annotations"]) == 1 + len(rows)  # the window note, one per strip
    data.figure()


def test_filter_window_follows_the_first_kxk_kernel_of_large_filters():
    state = ExplorerState(512, 512, 7, 256, filter_index=300)
    start, width = filter_window(state)
    first = int(np.flatnonzero(hetconv_pattern(512, 512, 256)[300] == Kernel.FULL)[0])
    assert width == FILTER_WINDOW_COLUMNS // 8 and start <= first < start + width
    assert filter_window(ExplorerState(16, 16, 3, 4)) == (0, 16)
    assert "of 512" in filter_figure_data(state).layout["annotations"][0]["text"]


def test_filter_figure_explains_a_stage_without_that_filter():
    state = ExplorerState(4, 8, 3, 2, "depthwise_pointwise", filter_index=6)
    data = filter_figure_data(state)
    assert "has only 4 filters" in data.layout["annotations"][0]["text"]
    assert len(data.layout["annotations"]) == 2  # note + the pointwise stage (has filter 6)


# ---------------------------------------------------------------------- figure 3: numbers


@SETTINGS
@given(states())
def test_counters_come_from_the_pattern_model_and_the_flops_module(state):
    m, n, k, p, d = (
        state.in_channels,
        state.out_channels,
        state.kernel_size,
        state.p,
        state.out_size,
    )
    for fam in state.families:
        nums = family_numbers(state, fam)
        cost = layer_cost(conv_spec(fam, p), m, n, k, d, bias=False)
        assert nums.macs == cost.macs and nums.weights == cost.params
        assert nums.standard == standard_macs(d, m, n, k)
        assert nums.flops == 2 * nums.macs
        stages = explorer_stages(fam, m, n, p)
        assert sum(s.weights for s in nums.stages) == nums.weights
        for count, stage in zip(nums.stages, stages, strict=True):
            assert count.weights == stage_weights(stage.pattern, k)
            if state.filter_index < stage.out_channels:
                row = state.filter_index
                assert count.full_in_filter == kernels_per_filter(stage.pattern, Kernel.FULL)[row]
                assert count.one_in_filter == kernels_per_filter(stage.pattern, Kernel.ONE)[row]
            else:
                assert count.full_in_filter is None
            cover = kernels_per_channel(stage.pattern, Kernel.FULL)
            assert count.full_per_channel == (cover.min(), cover.max())
        if fam == "hetconv":
            assert nums.macs == hetconv_macs(d, m, n, k, p)
            assert nums.weights == n * (m * k * k // p + m - m // p)
        assert nums.ratio == pytest.approx(nums.formula_value)


def test_ratio_formulas_use_the_flops_functions_with_numbers_substituted():
    state = ExplorerState(16, 16, 3, 4)
    het = family_numbers(state, "hetconv")
    assert het.formula == "1/P + (1 − 1/P)/K²"
    assert het.formula_numbers.startswith("1/4 + (1 − 1/4)/3²")
    assert het.formula_value == hetconv_ratio(3, 4)
    assert family_numbers(state, "naive_hetconv").formula_value == naive_hetconv_ratio(3, 4)
    assert family_numbers(state, "depthwise_pointwise").formula_value == (
        depthwise_pointwise_ratio(16, 3)
    )
    assert family_numbers(state, "groupwise_pointwise").formula_value == (
        groupwise_pointwise_ratio(4, 3)
    )
    # M ≠ N: the groupwise stage is M→M, so the M = N formula is replaced and explained
    gw = family_numbers(ExplorerState(16, 8, 3, 4), "groupwise_pointwise")
    assert gw.formula == "M/(N·G) + 1/K²" and "M = N" in gw.formula_note
    assert gw.ratio == pytest.approx(gw.formula_value)


def _counter(html_text: str, key: str, family: str) -> str:
    m = re.search(rf"data-counter='{key}' data-family='{family}'>([^<]*)", html_text)
    assert m, (key, family)
    return m.group(1)


def test_counters_html_shows_the_numbers_and_states_units():
    state = ExplorerState(64, 64, 3, 8, "hetconv", "standard", filter_index=7, out_size=32)
    text = counters_html(state)
    het = family_numbers(state)
    assert _counter(text, "full_in_filter", "hetconv") == "8"
    assert _counter(text, "one_in_filter", "hetconv") == "56"
    assert _counter(text, "weights", "hetconv") == f"{het.weights:,}"
    assert _counter(text, "macs", "hetconv") == f"{het.macs:,}"
    assert _counter(text, "ratio", "hetconv") == f"{hetconv_ratio(3, 8):.4f}"
    assert _counter(text, "full_in_filter", "standard") == "64"
    assert "D<sub>o</sub> = 32" in text and "the paper calls them FLOPs" in text
    assert "2 × MACs" in text and "filter 7" in text


def test_valid_parts_are_all_drawable():
    for m, n in [(1, 1), (7, 5), (12, 8), (64, 64)]:
        for p in valid_parts(m, n):
            for fam in FAMILIES:
                state = ExplorerState(m, n, 3, p, fam, "hetconv")
                map_figure_data(state)
                filter_figure_data(state)
                counters_html(state)
