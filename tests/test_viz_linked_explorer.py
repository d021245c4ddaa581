"""The linked explorer's views (hetconv_edu.viz.linked_explorer) for small cases: every drawn
cell, kernel, channel and response is the setting's, every link shape belongs to its term, and
every number of the formula is the FLOPs module's."""

from __future__ import annotations

import base64
import itertools
import json
import re
from dataclasses import dataclass

import numpy as np
import plotly.io as pio
import pytest

from hetconv_edu.apps.live_figure import LiveFigure
from hetconv_edu.flops import hetconv_macs, hetconv_ratio, layer_cost, naive_hetconv_ratio
from hetconv_edu.pattern import Kernel, hetconv_pattern
from hetconv_edu.viz import style
from hetconv_edu.viz.explorer import ExplorerState, cells_to_pattern
from hetconv_edu.viz.linked_explorer import (
    FIGURE_CLASS,
    LINK_ATTRIBUTE,
    RESPONSE_PANELS,
    ROOT_CLASS,
    WINDOW_CHANNELS,
    channel_window,
    formula_html,
    link_css,
    link_shape_indices,
    linked_figure_data,
    unchecked_figure,
)


@dataclass(frozen=True)
class View:
    """A filter response made of random numbers (the views only draw it)."""

    filter_index: int
    image: np.ndarray
    image_name: str
    inputs: np.ndarray
    kxk: np.ndarray
    one: np.ndarray
    output: np.ndarray
    standard: np.ndarray
    input_note: str = "image → test"
    weights_note: str = "random weights (seed 0)"

    @property
    def given_up(self) -> np.ndarray:
        return self.standard - self.output


def view_for(state: ExplorerState, seed: int = 0, channels: int = 3) -> View:
    rng = np.random.default_rng(seed)
    h = 6
    kxk, one = rng.normal(size=(h, h)), rng.normal(size=(h, h))
    return View(
        filter_index=state.filter_index,
        image=rng.integers(0, 256, size=(channels, h, h), dtype=np.uint8),
        image_name="cat (test image 3)",
        inputs=rng.random((state.in_channels, h, h)).astype(np.float32),
        kxk=kxk,
        one=one,
        output=kxk + one,
        standard=3 * rng.normal(size=(h, h)),
    )


STATES = [
    ExplorerState(16, 16, 3, 4, filter_index=5),
    ExplorerState(1, 1, 3, 1, filter_index=0),
    ExplorerState(2, 4, 7, 2, filter_index=3),
    ExplorerState(8, 12, 5, 2, filter_index=11),
    ExplorerState(4, 4, 3, 1, filter_index=0),
    ExplorerState(32, 32, 1, 32, filter_index=30),
    ExplorerState(6, 3, 3, 3, filter_index=2, compare="naive_hetconv"),
]


def traces_on(data, axis: str) -> list[dict]:
    return [t for t in data.traces if t.get("xaxis") == axis]


@pytest.mark.parametrize("state", STATES)
def test_the_map_is_the_shifted_pattern_with_filter_n_outlined(state: ExplorerState):
    data = linked_figure_data(state, view_for(state))
    m, n = state.in_channels, state.out_channels
    cells = traces_on(data, "x")
    assert [t["meta"]["link"] for t in cells] == ["kxk", "1x1"]
    assert all(t["meta"]["pick"] == "filter" for t in cells)
    drawn = cells_to_pattern(cells, (n, m), (Kernel.FULL, Kernel.ONE))
    assert np.array_equal(drawn, hetconv_pattern(m, n, state.p))
    outline = [s for s in data.layout["shapes"] if s.get("xref") == "x"]
    assert outline and all(s["y0"] == state.filter_index - 0.5 for s in outline)


@pytest.mark.parametrize("state", STATES)
def test_filter_n_is_drawn_at_its_real_sizes_above_the_channels_it_reads(state: ExplorerState):
    view = view_for(state)
    data = linked_figure_data(state, view)
    start, count = channel_window(state)
    row = hetconv_pattern(state.in_channels, state.out_channels, state.p)[state.filter_index]
    slots = traces_on(data, "x2")
    kernels, channels = slots[0::2], slots[1::2]
    assert len(kernels) == len(channels) == count
    k = state.kernel_size
    for i, (kernel, channel) in enumerate(zip(kernels, channels, strict=True)):
        kind = Kernel(int(row[start + i]))
        size = k if kind is Kernel.FULL else 1
        assert np.asarray(kernel["z"]).shape == (size, size)
        assert (
            kernel["meta"]["link"]
            == channel["meta"]["link"]
            == {Kernel.FULL: "kxk", Kernel.ONE: "1x1"}[kind]
        )
        assert np.array_equal(channel["z"], view.inputs[start + i])
        assert f"channel {start + i}" in channel["hovertemplate"]
        # the kernel sits above its channel, centred on the same slot
        kernel_centre = kernel["x0"] + (size - 1) * kernel["dx"] / 2
        image_centre = channel["x0"] + (view.inputs.shape[2] - 1) * channel["dx"] / 2
        assert kernel_centre == pytest.approx(i) == pytest.approx(image_centre)
        # heatmap cells are centred on y0 + i·dy: the kernel's lower edge is above the channel's
        assert kernel["y0"] + (size - 0.5) * kernel["dy"] < channel["y0"] - channel["dy"] / 2


@pytest.mark.parametrize("state", STATES)
def test_the_response_maps_are_the_views_arrays_with_the_sum_on_one_scale(state: ExplorerState):
    view = view_for(state)
    data = linked_figure_data(state, view)
    maps = traces_on(data, "x4")
    assert len(maps) == len(RESPONSE_PANELS)
    lefts = [t["x0"] for t in maps]
    width = np.asarray(maps[0]["z"]).shape[1]
    assert all(b >= a + width for a, b in itertools.pairwise(lefts))  # side by side
    for trace, (attr, title, link) in zip(maps, RESPONSE_PANELS, strict=True):
        np.testing.assert_allclose(trace["z"], getattr(view, attr), rtol=1e-6)
        assert trace["meta"].get("link") == link
        assert title in trace["hovertemplate"]
    het = max(np.abs(view.kxk).max(), np.abs(view.one).max(), np.abs(view.output).max())
    assert [t["zmax"] for t in maps[:3]] == pytest.approx([het] * 3)
    assert maps[0]["zmin"] == -maps[0]["zmax"]
    other = max(np.abs(view.standard).max(), np.abs(view.given_up).max())
    assert [t["zmax"] for t in maps[3:]] == pytest.approx([other] * 2)
    photo = next(t for t in data.traces if t["type"] == "image")
    assert np.array_equal(photo["z"], np.transpose(view.image, (1, 2, 0)))


@pytest.mark.parametrize("state", STATES)
def test_every_axis_lies_inside_the_figure(state: ExplorerState):
    layout = linked_figure_data(state, view_for(state)).layout
    for key, axis in layout.items():
        if key.startswith(("xaxis", "yaxis")):
            low, high = axis["domain"]
            assert 0 <= low < high <= 1, (key, axis["domain"])


def test_a_one_channel_image_is_drawn_in_grey():
    state = STATES[0]
    view = view_for(state, channels=1)
    photo = next(t for t in linked_figure_data(state, view).traces if t["type"] == "image")
    assert np.array_equal(photo["z"], np.repeat(view.image, 3, axis=0).transpose(1, 2, 0))


@pytest.mark.parametrize("state", STATES)
def test_link_shapes_frame_every_part_of_their_term_and_are_hidden_until_linked(state):
    data = linked_figure_data(state, view_for(state))
    start, count = channel_window(state)
    row = hetconv_pattern(state.in_channels, state.out_channels, state.p)[state.filter_index]
    window = row[start : start + count]
    indices = link_shape_indices(data.layout)
    shapes = data.layout["shapes"]
    # one frame per window channel of its kind, and one around that path's response
    assert len(indices["kxk"]) == int(np.sum(window == Kernel.FULL)) + 1
    assert len(indices["1x1"]) == int(np.sum(window == Kernel.ONE)) + 1
    assert all(shapes[i]["opacity"] == 0 for i in indices["kxk"] + indices["1x1"])
    css = link_css(data)
    for link, found in indices.items():
        rule = next(r for r in css.splitlines() if f"='{link}']" in r and "shapelayer" in r)
        assert rule.startswith(f".{ROOT_CLASS}[{LINK_ATTRIBUTE}='{link}'] .{FIGURE_CLASS}")
        assert sorted(map(int, re.findall(r"data-index='(\d+)'", rule))) == found
        assert "opacity: 1 !important" in rule
        assert f"[{LINK_ATTRIBUTE}='{link}'] .hetconv-term-{link} {{" in css


@pytest.mark.parametrize("state", STATES)
def test_the_formula_is_fl_h_with_the_numbers_of_the_setting(state: ExplorerState):
    text = formula_html(state)
    m, n, k, p, d = (
        state.in_channels,
        state.out_channels,
        state.kernel_size,
        state.p,
        state.out_size,
    )

    def value(key: str) -> str:
        found = re.search(rf"data-value='{key}'>([^<]*)<", text)
        assert found, key
        return found.group(1)

    kxk, one = int(value("kxk").replace(",", "")), int(value("one").replace(",", ""))
    assert kxk == d * d * m * n * k * k // p and one == (m - m // p) * d * d * n
    assert kxk + one == int(value("total").replace(",", "")) == hetconv_macs(d, m, n, k, p)
    assert float(value("ratio")) == pytest.approx(hetconv_ratio(k, p), abs=5e-5)
    weights = layer_cost(f"hetconv:{p}", m, n, k, d, bias=False).params
    assert value("weights") == f"{weights:,}"
    assert f"{d}²·{m}·{n}·{k}²/{p}" in text and f"({m} − {m // p})·{d}²·{n}" in text
    share = 100 * kxk / (kxk + one)
    assert f"width:{share:.1f}%'>K×K {share:.0f} %" in text
    # every term names its link, for the highlight and for the page's hover
    assert text.count("data-link='kxk'") == text.count("data-link='1x1'") == 5
    full = np.flatnonzero(hetconv_pattern(m, n, p)[state.filter_index] == Kernel.FULL)
    assert f"{len(full)} K×K at m = {', '.join(map(str, full[:6]))}" in text


def test_the_formula_compares_with_the_chosen_family():
    state = ExplorerState(16, 16, 3, 4, compare="naive_hetconv")
    text = formula_html(state)
    naive = naive_hetconv_ratio(3, 4)
    assert f"= {naive:.4f}" in text
    change = 100 * (hetconv_ratio(3, 4) / naive - 1)
    assert f"{abs(change):.1f} % fewer MACs" in text
    assert "vs " not in formula_html(ExplorerState(16, 16, 3, 4))


def test_the_channel_window_holds_the_filters_first_kxk_kernel():
    for m, p in ((16, 4), (64, 16), (512, 512), (8, 8), (4, 2)):
        for f in (0, 1, p - 1, m - 1):
            state = ExplorerState(m, m, 3, p, filter_index=f)
            start, count = channel_window(state)
            assert count == min(m, WINDOW_CHANNELS) and 0 <= start <= m - count
            assert start <= f % p < start + count


def test_a_view_of_another_filter_is_refused():
    state = ExplorerState(8, 8, 3, 2, filter_index=3)
    with pytest.raises(ValueError, match="for filter 2 with 8 input channels; the setting needs"):
        linked_figure_data(state, view_for(ExplorerState(8, 8, 3, 2, filter_index=2)))


@pytest.mark.parametrize("projector", [False, True])
def test_the_unchecked_figure_is_the_checked_one(projector: bool):
    style.set_projector(projector)
    try:
        state = STATES[0]
        data = linked_figure_data(state, view_for(state))
        checked = json.loads(pio.to_json(data.figure()))
        fast = LiveFigure(unchecked_figure(data)).bundle()
        assert _plain(fast) == _plain(checked)
    finally:
        style.set_projector(False)


def _plain(value):
    """JSON with plotly's typed-array specs decoded and floats rounded (both encodings)."""
    if isinstance(value, dict):
        if "bdata" in value and "dtype" in value:
            data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
            return [round(float(x), 5) for x in data.ravel()]
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        flat = np.asarray(value, dtype=object).ravel().tolist() if _nested(value) else value
        return [_plain(v) for v in flat]
    return round(value, 5) if isinstance(value, float) else value


def _nested(value: list) -> bool:
    return bool(value) and isinstance(value[0], list) and not isinstance(value[0][0], dict)


def test_every_part_has_its_title():
    state = ExplorerState(16, 16, 3, 4, filter_index=5)
    texts = [a["text"] for a in linked_figure_data(state, view_for(state)).layout["annotations"]]
    for title in ("Kernel map", "Filter 5</b> at real kernel sizes", "Filter 5 on an image"):
        assert any(title in t for t in texts), title
    assert any(t.startswith("cat") for t in texts)  # the image's class under it
