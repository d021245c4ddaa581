"""The training figures are pure functions of data: traces, colours, labels and texts."""

from __future__ import annotations

import numpy as np
import pytest

from hetconv_edu.viz.training import (
    RIGHT_COLOR,
    WRONG_COLOR,
    RunCurves,
    RunResult,
    accuracy_vs_macs,
    confusion_matrix_figure,
    format_count,
    prediction_grid,
    results_table,
    results_table_html,
    run_color,
    smooth,
    training_curves,
    update_training_curves,
)

CLASSES = tuple(f"class{i}" for i in range(10))


def curves() -> list[RunCurves]:
    return [
        RunCurves.from_history(
            "standard",
            [(1, 2.3, 0.1), (2, 2.0, 0.1), (3, 1.8, 0.1)],
            [{"epoch": 1, "test_acc": 0.4}],
        ),
        RunCurves("HetConv P=4", [1, 2], [2.3, 2.1], [1.0], [0.35]),
    ]


def results() -> list[RunResult]:
    return [
        RunResult("standard", 0.9, 1_000_000, 40_000_000, 10.0, 500.0, 8),
        RunResult("HetConv P=4", 0.88, 400_000, 14_000_000, 6.0, 800.0, 8),
        RunResult("HetConv P=8", 0.5, 300_000, 10_000_000, 2.0, 900.0, 1.5, stopped=True),
    ]


def test_smooth_is_debiased_and_follows_a_constant() -> None:
    assert smooth([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])
    assert smooth([1.0, 3.0], weight=0) == [1.0, 3.0]
    with pytest.raises(ValueError):
        smooth([1.0], weight=1)


def test_training_curves_one_colour_per_run_shared_axes() -> None:
    fig = training_curves(curves())
    assert len(fig.data) == 6
    for i in range(2):
        group = fig.data[3 * i : 3 * i + 3]
        assert {t.line.color for t in group} == {run_color(i)}
        assert {t.legendgroup for t in group} == {group[0].name}
        assert [t.showlegend for t in group] == [False, True, False]
    assert list(fig.data[2].y) == [40.0]  # accuracy in percent, per epoch
    assert fig.layout.xaxis.title.text == "training step (batch)"
    assert fig.layout.yaxis2.title.text == "test accuracy (%)"
    assert all(t.hovertemplate for t in fig.data)


def test_update_training_curves_in_place() -> None:
    runs = [RunCurves("a"), RunCurves("b")]
    fig = training_curves(runs)
    assert all(len(t.x or ()) == 0 for t in fig.data)
    runs[1].steps, runs[1].losses = [1, 2, 3], [2.0, 1.0, 0.5]
    assert update_training_curves(fig, runs) is fig
    assert list(fig.data[3].y) == [2.0, 1.0, 0.5]
    assert len(fig.data[4].y) == 3
    with pytest.raises(ValueError, match="3 per run"):
        update_training_curves(fig, runs[:1])


def test_results_table_figure_and_html() -> None:
    fig = results_table(results())
    cells = fig.data[0].cells.values
    assert list(cells[0]) == ["standard", "HetConv P=4", "HetConv P=8"]
    assert cells[1][0] == "90.0%" and cells[1][2] == "50.0% (stopped)"
    assert cells[3][0] == "40M" and cells[4][1] == "0.35×"
    text = results_table_html(results())
    assert text.count("<tr>") == 4 and "(stopped)" in text and "14M" in text
    assert "no run yet" in results_table_html([])
    assert format_count(1_234_567) == "1.23M" and format_count(None) == "–"


def test_confusion_matrix_rows_are_rates_and_text_counts() -> None:
    m = np.diag(np.full(10, 8)) + 1
    fig = confusion_matrix_figure(m, CLASSES)
    heat = fig.data[0]
    assert np.allclose(np.asarray(heat.z).sum(axis=1), 100)
    assert np.asarray(heat.text)[0, 0] == 9
    assert list(heat.x) == list(CLASSES)
    assert "accuracy" in fig.layout.title.text
    with pytest.raises(ValueError):
        confusion_matrix_figure(np.zeros((3, 3)), CLASSES)


@pytest.mark.parametrize("channels", [1, 3])
def test_prediction_grid_frames_right_green_wrong_red(channels: int) -> None:
    images = np.full((10, channels, 8, 8), 128, dtype=np.uint8)
    true = list(range(10))
    predicted = [0, 1, 2, 3, 4, 5, 6, 7, 9, 8]  # two wrong
    fig = prediction_grid(images, true, predicted, CLASSES, columns=5, scale=2)
    canvas = np.asarray(fig.data[0].z)
    assert canvas.ndim == 3 and canvas.shape[2] == 3
    assert "8 of 10 right" in fig.layout.title.text
    notes = fig.layout.annotations
    assert len(notes) == 10
    assert notes[0].font.color == RIGHT_COLOR and notes[8].font.color == WRONG_COLOR
    assert "(class8)" in notes[8].text and notes[8].text.startswith("class9")
    with pytest.raises(ValueError):
        prediction_grid(images, true[:3], predicted, CLASSES)


def test_accuracy_vs_macs_one_point_per_run() -> None:
    fig = accuracy_vs_macs(results())
    assert len(fig.data) == 3
    assert fig.data[1].x[0] == pytest.approx(14.0) and fig.data[1].y[0] == pytest.approx(88.0)
    assert fig.data[0].marker.color == run_color(0)
    assert "MACs" in fig.layout.xaxis.title.text
    assert len(accuracy_vs_macs([]).data) == 0
