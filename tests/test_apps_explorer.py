"""The explorer app and the shared controls, driven headlessly (no browser): set control values
as a student would, then check what the figures and counters hold against the pattern model
and the FLOPs module."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hetconv_edu.apps.controls import (
    AnswerChecker,
    ChannelControls,
    LayerValues,
    channel_controls,
    nearest_valid_part,
    parse_number,
)
from hetconv_edu.apps.explorer import EXERCISES, ExplorerApp, exercise
from hetconv_edu.apps.live_figure import LiveFigure
from hetconv_edu.flops import hetconv_ratio, layer_cost, naive_hetconv_ratio
from hetconv_edu.pattern import (
    Kernel,
    family_stages,
    hetconv_pattern,
    kernels_per_channel,
    kernels_per_filter,
    valid_parts,
)
from hetconv_edu.viz.explorer import (
    EXPLORER_FAMILIES,
    KINDS,
    ExplorerState,
    cells_to_pattern,
    family_numbers,
    map_figure_data,
)

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01_kernel_explorer.ipynb"


def figure_pattern(app: ExplorerApp, panel: int = 0) -> np.ndarray:
    """The kernel map panel ``panel`` of the app's live figure holds (what Python sends)."""
    traces = app.map_figure.data[4 * panel : 4 * panel + 4]
    as_dicts = [{"x": t.x, "y": t.y, "z": t.z} for t in traces]
    shape = (int(max(np.max(t.y) for t in traces if len(t.y))) + 1,
             int(max(np.max(t.x) for t in traces if len(t.x))) + 1)  # fmt: skip
    return cells_to_pattern(as_dicts, shape, KINDS)


def counter(app: ExplorerApp, key: str, family: str = "hetconv") -> str:
    m = re.search(rf"data-counter='{key}' data-family='{family}'>([^<]*)", app.counters.value)
    assert m, (key, family)
    return m.group(1)


# ------------------------------------------------------------------------------ controls


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 64), st.integers(1, 64), st.integers(1, 64))
def test_nearest_valid_part_is_valid_and_nearest(m, n, p):
    q = nearest_valid_part(p, m, n)
    allowed = valid_parts(m, n)
    assert q in allowed
    assert all(abs(q - p) <= abs(r - p) for r in allowed)
    if p in allowed:
        assert q == p


def test_p_offers_only_valid_parts_and_follows_m_and_n():
    c = channel_controls(16, 16, 3, 8)
    seen: list[LayerValues] = []
    c.on_change(seen.append)
    assert list(c.p.options) == valid_parts(16, 16) and c.p.value == 8
    c.in_channels.value = 12  # P = 8 no longer divides M: moves to the nearest valid P
    assert list(c.p.options) == [1, 2, 4] and c.p.value == 4
    assert "P = 8 does not divide" in c.note.value and "moved to 4" in c.note.value
    c.out_channels.value = 7  # no common divisor but 1
    assert list(c.p.options) == [1] and c.p.value == 1
    assert "Only P = 1" in c.note.value
    assert c.p.disabled  # one stop: nothing to move
    assert seen == [LayerValues(12, 16, 3, 4), LayerValues(12, 7, 3, 1)]  # one call per change
    c.kernel_size.value = 5
    assert seen[-1] == LayerValues(12, 7, 5, 1) and len(seen) == 3
    c.out_channels.value = 8  # 12 and 8 share 2 and 4: P can move again
    assert list(c.p.options) == [1, 2, 4] and not c.p.disabled
    assert not channel_controls(16, 16, 3, 8).p.disabled
    assert ChannelControls(7, 12, 3, 1).p.disabled


def test_every_reachable_setting_is_valid():
    c = ChannelControls(8, 8, 3, 2, max_channels=48)
    for m, n in itertools.product([1, 6, 9, 12, 48], [4, 6, 7, 48]):
        c.in_channels.value = m
        c.out_channels.value = n
        for p in c.p.options:
            c.p.value = p
            v = c.values
            assert v.in_channels % v.p == 0 and v.out_channels % v.p == 0
    c.in_channels.value = 10_000  # bounded: clamps instead of failing
    assert c.values.in_channels == 48


def test_set_changes_several_controls_with_one_notification():
    c = channel_controls(16, 16, 3, 4)
    seen: list[LayerValues] = []
    c.on_change(seen.append)
    assert c.set(in_channels=64, out_channels=64, kernel_size=7, p=6) == LayerValues(64, 64, 7, 4)
    assert seen == [LayerValues(64, 64, 7, 4)]


def test_controls_reject_bad_construction():
    with pytest.raises(ValueError):
        channel_controls(16, 16, 4, 1)  # 4 is not an offered kernel size
    with pytest.raises(ValueError):
        channel_controls(0, 16)
    assert channel_controls(16, 16, 3, 5).values.p == 4  # nearest valid start


@pytest.mark.parametrize(
    ("text", "value"),
    [("8", 8), (" 1,024 ", 1024), ("0.25", 0.25), ("1/4", 0.25), ("8.3%", 8.3), ("", None),
     ("abc", None), ("1/0", None), ("nan", None), ("inf", None)],
)  # fmt: skip
def test_parse_number(text, value):
    assert parse_number(text) == value


def test_answer_checker_grades_with_a_computed_answer():
    calls = []

    def answer() -> int:
        calls.append(1)
        return 8

    chk = AnswerChecker("How many?", answer, hint="think", reveal_after=2)
    assert calls == []  # computed when checked, not at construction
    chk.box.value = "seven"
    assert chk.check() is False and "Type a number" in chk.feedback.value
    assert chk.attempts == 0
    assert chk.check("7") is False and "Not quite" in chk.feedback.value
    assert "think" in chk.feedback.value and "The answer is" not in chk.feedback.value
    assert chk.check(6) is False and "The answer is 8" in chk.feedback.value
    chk.box.value = "8"
    chk.button.click()
    assert chk.solved and "Right" in chk.feedback.value
    with pytest.raises(TypeError):
        AnswerChecker("q", 8)  # an answer must be computed, never typed in
    tol = AnswerChecker("ratio?", lambda: 1 / 3, tolerance=0.001)
    assert tol.check("0.333") and not tol.check("0.33")
    assert "application/vnd.jupyter.widget-view+json" in tol._repr_mimebundle_()


# ------------------------------------------------------------------------------ the app


def test_moving_p_redraws_the_map_from_the_pattern_model():
    app = ExplorerApp(16, 16, 3, 4)
    assert np.array_equal(figure_pattern(app), hetconv_pattern(16, 16, 4))
    for p in valid_parts(16, 16):
        app.controls.p.value = p
        assert np.array_equal(figure_pattern(app), hetconv_pattern(16, 16, p)), p
        nums = family_numbers(app.state)
        assert counter(app, "full_in_filter") == str(16 // p)
        assert counter(app, "one_in_filter") == str(16 - 16 // p)
        weights = layer_cost(f"hetconv:{p}", 16, 16, 3, 32, bias=False).params
        assert counter(app, "weights") == f"{weights:,}"
        assert counter(app, "macs") == f"{nums.macs:,}"
        assert counter(app, "ratio") == f"{hetconv_ratio(3, p):.4f}"
    assert app.last_error is None


def test_every_family_and_compare_mode_draws_its_stages():
    app = ExplorerApp(12, 8, 5, 2)
    for fam, other in itertools.product(EXPLORER_FAMILIES, [None, *EXPLORER_FAMILIES]):
        app.set(family=fam, compare=other)
        assert app.last_error is None, (fam, other, app.last_error)
        expected = [
            s.pattern for f in app.state.families for s in family_stages(f, 12, 8, p=2, groups=2)
        ]
        for i, pat in enumerate(expected):
            assert np.array_equal(figure_pattern(app, i), pat), (fam, other, i)
        headings = [a.text for a in app.map_figure.layout.annotations]
        assert len(headings) == len(expected)


def test_m_and_n_changes_keep_everything_valid_and_clamp_the_filter():
    app = ExplorerApp(16, 16, 3, 8, filter_index=15)
    app.controls.out_channels.value = 6  # P = 8 impossible; filter 15 no longer exists
    s = app.state
    assert s.p in valid_parts(16, 6) and s.p == 2
    assert app.filter_index.max == 5 and s.filter_index == 5
    assert np.array_equal(figure_pattern(app), hetconv_pattern(16, 6, 2))
    assert app.last_error is None
    app.controls.out_channels.value = 32
    assert app.filter_index.max == 31 and app.last_error is None


def test_a_sweep_of_student_clicks_never_errors():
    app = ExplorerApp(8, 8, 3, 2, compare="naive_hetconv")
    clicks = itertools.product([1, 5, 6, 12], [1, 4, 9], [1, 7], EXPLORER_FAMILIES)
    for m, n, k, fam in clicks:
        app.controls.in_channels.value = m
        app.controls.out_channels.value = n
        app.controls.kernel_size.value = k
        app.family.value = fam
        for p in app.controls.p.options:
            app.controls.p.value = p
            assert app.last_error is None, (m, n, k, fam, p, app.last_error)
        app.filter_index.value = app.filter_index.max
        app.compare_on.value = not app.compare_on.value
        assert app.last_error is None
    assert app.status.value == ""


def test_one_change_one_update_one_whole_figure_sent_per_figure():
    app = ExplorerApp(32, 32, 3, 4)
    figures = {"map": app.map_figure, "filter": app.filter_figure}
    before = {name: fig.sends for name, fig in figures.items()}
    count = app.update_count
    app.controls.p.value = 8
    assert app.update_count == count + 1
    assert {name: fig.sends - before[name] for name, fig in figures.items()} == {
        "map": 1,
        "filter": 1,
    }
    # what the page was sent is the whole new figure, equal to a fresh one at P = 8
    fresh = LiveFigure(map_figure_data(ExplorerState(32, 32, 3, 8)).figure())
    assert app.map_figure.sent == fresh.bundle() == app.map_figure.bundle()
    app.controls.in_channels.value = 24  # P moves to 8 → still one update
    assert app.update_count == count + 2


def test_filter_selector_highlights_the_row_and_redraws_the_strip():
    app = ExplorerApp(16, 16, 3, 4)
    app.filter_index.value = 5
    shapes = app.map_figure.layout.shapes
    assert {(s.y0, s.y1) for s in shapes} == {(4.5, 5.5)}
    assert "Filter 5" in app.filter_figure.layout.title.text
    full = app.filter_figure.data[0]
    real = ~np.isnan(np.asarray(full.z, dtype=float))
    assert real.sum() == 9 * int(kernels_per_filter(hetconv_pattern(16, 16, 4), Kernel.FULL)[5])
    assert counter(app, "full_in_filter") == "4"


def test_app_rejects_unknown_settings():
    with pytest.raises(ValueError):
        ExplorerApp(family="nope")
    with pytest.raises(ValueError):
        ExplorerApp().set(colour="red")


# ----------------------------------------------------------------------------- exercises


def test_exercise_answers_are_computed_by_the_package():
    expected = [
        int(kernels_per_filter(hetconv_pattern(64, 64, 8), Kernel.FULL)[7]),
        int(np.flatnonzero(hetconv_pattern(64, 64, 8)[13] == Kernel.FULL)[0]),
        int(kernels_per_channel(hetconv_pattern(64, 64, 8), Kernel.FULL)[10]),
        layer_cost("hetconv:4", 256, 256, 3, 1, bias=False).params,
        100 * (naive_hetconv_ratio(3, 4) / hetconv_ratio(3, 4) - 1),
    ]
    assert len(EXERCISES) == len(expected)
    for i, (ex, value) in enumerate(zip(EXERCISES, expected, strict=True), start=1):
        assert ex.answer() == pytest.approx(value)
        chk = exercise(i)
        assert chk.check(str(value)) and chk.solved
    with pytest.raises(ValueError):
        exercise(0)


def test_notebook_cells_are_thin_and_solutions_tagged_and_consistent():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    for src in code:
        assert not re.search(r"^\s*(def|class|for|while|if)\b", src, re.M), src
        for line in src.splitlines():
            if line.startswith(("import", "from")):
                assert line.startswith("from hetconv_edu"), line
    assert sum("exercise(" in src for src in code) == len(EXERCISES)
    solutions = [c.source for c in nb.cells if "solution" in c.metadata.get("tags", [])]
    assert len(solutions) == len(EXERCISES)
    for text, ex in zip(solutions, EXERCISES, strict=True):
        value = ex.answer()
        shown = f"{value:,.0f}" if float(value).is_integer() else f"{value:.1f}"
        assert shown in text, (shown, text)
    assert json.loads(NOTEBOOK.read_text())["metadata"]["kernelspec"]["name"] == "python3"
