"""The linked explorer's wiring (hetconv_edu.apps.linked_explorer): every control redraws every
view from the package's numbers, a click on the map picks the filter, trained weights set the
layer, and no setting ends in a traceback."""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pytest

from hetconv_edu.apps.controls import LayerValues
from hetconv_edu.apps.linked_explorer import (
    COMPARE_CHOICES,
    LINK_SCRIPT,
    PICK_CLASS,
    LinkedExplorerApp,
)
from hetconv_edu.data import load_dataset
from hetconv_edu.data.samples import drawn_pattern, samples_of
from hetconv_edu.filter_response import FilterResponder, RandomWeights, TrainedWeights
from hetconv_edu.flops import hetconv_macs, hetconv_ratio
from hetconv_edu.pattern import Kernel, hetconv_pattern, valid_parts
from hetconv_edu.train import TrainConfig, Trainer
from hetconv_edu.viz import style
from hetconv_edu.viz.explorer import cells_to_pattern
from hetconv_edu.viz.linked_explorer import FIGURE_CLASS, LINK_ATTRIBUTE, ROOT_CLASS


def make_app(tmp_path: Path, **kw) -> LinkedExplorerApp:
    return LinkedExplorerApp(images=drawn_pattern(16), run_dir=tmp_path / "runs", **kw)


def shown_map(app: LinkedExplorerApp) -> np.ndarray:
    """The kernel map the figure holds (what Python sends the page)."""
    cells = [t for t in app.figure.data if t.xaxis == "x"]
    as_dicts = [{"x": t.x, "y": t.y, "z": t.z} for t in cells]
    v = app.controls.values
    return cells_to_pattern(as_dicts, (v.out_channels, v.in_channels), (Kernel.FULL, Kernel.ONE))


def formula_value(app: LinkedExplorerApp, key: str) -> str:
    found = re.search(rf"data-value='{key}'>([^<]*)<", app.formula.value)
    assert found, key
    return found.group(1)


def response_maps(app: LinkedExplorerApp) -> list[np.ndarray]:
    return [np.asarray(t.z) for t in app.figure.data if t.xaxis == "x4"][:3]


def test_the_app_shows_every_view_of_its_setting(tmp_path: Path):
    app = make_app(tmp_path, filter_index=5)
    assert app.last_error is None and app.update_count == 1
    assert ROOT_CLASS in app.widget._dom_classes
    assert FIGURE_CLASS in app.figure.widget._dom_classes
    assert np.array_equal(shown_map(app), hetconv_pattern(16, 16, 4))
    assert formula_value(app, "total") == f"{hetconv_macs(32, 16, 16, 3, 4):,}"
    expected = FilterResponder(drawn_pattern(16)).response(RandomWeights(0), 16, 16, 3, 4, 5, 0)
    kxk, one, output = response_maps(app)
    np.testing.assert_allclose(kxk, expected.kxk, rtol=1e-6)
    np.testing.assert_allclose(one, expected.one, rtol=1e-6)
    assert np.array_equal(output, expected.output)
    assert "[data-index=" in app.link_style.value  # the link shapes' highlight rules
    # no trained run: the weights are random and the choice says how to get trained ones
    assert app.weights.disabled and "notebook 03" in app.weights.tooltip


def test_moving_p_redraws_every_view_once(tmp_path: Path):
    app = make_app(tmp_path, filter_index=5)
    sends, before = app.figure.sends, response_maps(app)
    app.controls.p.value = 8
    assert app.last_error is None
    assert app.figure.sends == sends + 1
    assert np.array_equal(shown_map(app), hetconv_pattern(16, 16, 8))
    assert formula_value(app, "ratio") == f"{hetconv_ratio(3, 8):.4f}"
    assert formula_value(app, "total") == f"{hetconv_macs(32, 16, 16, 3, 8):,}"
    after = response_maps(app)
    assert not np.allclose(before[0], after[0])  # the K×K path has half the kernels now
    assert "data-index=" in app.link_style.value


def test_a_click_on_the_map_picks_the_filter(tmp_path: Path):
    app = make_app(tmp_path)
    app.pick.value = 7  # what the page writes on a click on row 7
    assert app.filter_index.value == 7 and app.pick.value == -1
    outline = [s for s in app.figure.layout.shapes if s.xref == "x"]
    assert all(s.y0 == 6.5 for s in outline)
    app.filter_index.value = 2
    app.pick.value = 7  # the same row again still picks it
    assert app.filter_index.value == 7
    app.pick.value = 99  # outside the layer: nothing happens
    assert app.filter_index.value == 7 and app.last_error is None


def test_changing_m_keeps_p_valid_and_filter_n_in_range(tmp_path: Path):
    app = make_app(tmp_path, filter_index=15)
    app.controls.p.value = 16
    app.controls.in_channels.value = 12
    assert app.controls.p.value in valid_parts(12, 16) and app.controls.p.value == 4
    app.controls.out_channels.value = 6
    assert app.filter_index.max == 5 and app.filter_index.value == 5
    assert app.last_error is None
    assert np.array_equal(shown_map(app), hetconv_pattern(12, 6, app.controls.p.value))


def test_the_other_controls_redraw_their_views(tmp_path: Path):
    app = make_app(tmp_path)
    app.out_size.value = 8
    assert formula_value(app, "total") == f"{hetconv_macs(8, 16, 16, 3, 4):,}"
    app.compare.value = "standard"
    assert "vs standard: 1 = 1.0000" in app.formula.value
    assert {key for _label, key in COMPARE_CHOICES} == {
        None,
        "standard",
        "naive_hetconv",
        "depthwise_pointwise",
        "groupwise_pointwise",
    }
    app.kernel_size.value = 5  # the bar's K menu drives the shared K control
    assert app.controls.kernel_size.value == 5
    kernels = [t for t in app.figure.data if t.xaxis == "x2"][0::2]
    assert {np.asarray(t.z).shape for t in kernels} == {(5, 5), (1, 1)}
    assert app.last_error is None


def test_a_failure_is_a_message_not_a_traceback(tmp_path: Path, monkeypatch):
    app = make_app(tmp_path)

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(app.responder, "response", broken)
    app.controls.p.value = 2
    assert app.last_error == "RuntimeError: out of memory"
    assert "could not be drawn: out of memory" in app.status.value


def test_the_page_script_is_in_the_app_and_names_its_parts(tmp_path: Path):
    app = make_app(tmp_path)
    hidden = [c for c in app.widget.children if "onerror" in str(getattr(c, "value", ""))]
    assert len(hidden) == 1 and hidden[0].layout.display == "none"
    script = html.unescape(re.search(r'onerror="([^"]*)"', hidden[0].value).group(1))
    assert script == " ".join(LINK_SCRIPT.split())
    for part in (ROOT_CLASS, LINK_ATTRIBUTE, PICK_CLASS, "plotly_hover", "plotly_click"):
        assert part in script
    assert "//" not in script.replace("data:,", "")  # one line: a // comment would end it
    assert PICK_CLASS in app.pick._dom_classes and app.pick.layout.display == "none"


def test_the_projector_style_redraws_the_figure(tmp_path: Path):
    app = make_app(tmp_path)
    size = app.figure.layout.annotations[0].font.size
    try:
        style.set_projector(True)
        assert app.figure.layout.annotations[0].font.size == pytest.approx(size * 1.25)
        app.controls.p.value = 8
        assert app.last_error is None
        assert app.figure.layout.annotations[0].font.size == pytest.approx(size * 1.25)
    finally:
        style.set_projector(False)


# ------------------------------------------------------------------------------- trained


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, data_root: Path) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    config = TrainConfig(
        model="small_vgg", conv="hetconv:4", model_kwargs={"widths": [8, 16, 32]},
        data_root=str(data_root), download=False, epochs=1, subset=64, test_subset=32,
        batch_size=32, threads=1, run_dir=str(runs), device="cpu", name="tiny",
    )  # fmt: skip
    Trainer(config).run(progress=False)
    return runs


def test_trained_weights_set_the_layer_and_leave_when_the_layer_changes(
    run_dir: Path, data_root: Path
):
    images = samples_of(load_dataset("cifar10", data_root, download=False))
    app = LinkedExplorerApp(images=images, run_dir=run_dir)
    assert not app.weights.disabled
    assert [label for label, _ in app.weights.options] == ["random (seed 0)", "trained: tiny"]
    app.weights.value = str(run_dir / "tiny")
    assert isinstance(app.weights_in_use, TrainedWeights) and app.last_error is None
    assert app.controls.values == LayerValues(8, 16, 3, 4)
    assert np.array_equal(shown_map(app), hetconv_pattern(8, 16, 4))
    assert "first layers of tiny" in " ".join(a.text for a in app.figure.layout.annotations)
    app.controls.p.value = 2  # not the trained layer any more
    assert isinstance(app.weights_in_use, RandomWeights) and app.weights.value == "random"
    assert "The trained layer is M=8, N=16, K=3, P=4" in app.status.value
    assert app.last_error is None
    # a run trained on another data set is not offered for these images
    other = LinkedExplorerApp(images=drawn_pattern(), run_dir=run_dir)
    assert other.weights.disabled and len(other.weights.options) == 1
