"""The finished runs: the results table, accuracy against MACs, and a chosen run's confusion
matrix and predictions (test images spread across the classes)."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import torch

from hetconv_edu.apps.training.runs import Run
from hetconv_edu.checks import check_int
from hetconv_edu.viz.training import (
    RunResult,
    accuracy_vs_macs,
    confusion_matrix_figure,
    prediction_grid,
    results_table_html,
)


def spread_across_classes(labels: Sequence[int], count: int) -> list[int]:
    """Indices of ``count`` examples (fewer if there are fewer) taken one class at a time:
    the first example of every class in class order, then the second of every class, and so
    on. A test set sorted by class (all airplanes first) still shows every class.

    Args:
        labels: the class of each example, in the data set's order.
        count: how many indices to return (>= 0).

    Raises:
        ValueError: ``count`` is not an integer >= 0.
    """
    count = check_int("count", count, minimum=0)
    by_class: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        by_class.setdefault(int(label), []).append(index)
    queues = [by_class[c] for c in sorted(by_class)]
    chosen: list[int] = []
    for rank in range(max((len(q) for q in queues), default=0)):
        chosen += [q[rank] for q in queues if rank < len(q)]
        if len(chosen) >= count:
            break
    return chosen[:count]


class ResultsSection:
    """The results of the finished runs, and the inspector of one of them."""

    @property
    def results(self) -> list[RunResult]:
        """Results of the current comparison's finished (or stopped) runs, in order."""
        return [r.result for r in self.runs if r.result is not None]

    def _refresh_results(self) -> None:
        results = self.results
        self.table.value = results_table_html(results)
        self.scatter.show(accuracy_vs_macs(results))

    def results_table(self) -> go.Figure:
        """The results table of the current comparison as a figure (for the notebook)."""
        from hetconv_edu.viz.training import results_table

        return results_table(self.results)

    def accuracy_vs_macs(self) -> go.Figure:
        """Accuracy against MACs of the current comparison's finished runs."""
        return accuracy_vs_macs(self.results)

    def _run_by_label(self, label: str | None) -> Run | None:
        for run in self.runs:
            if run.label == label and run.finished:
                return run
        return None

    def _select_inspect(self, run: Run) -> None:
        options = [r.label for r in self.runs if r.finished]
        self.inspect_select.options = options
        self.inspect_select.disabled = len(options) < 2
        if self.inspect_select.value == run.label:
            self._on_inspect({"new": run.label})
        else:
            self.inspect_select.value = run.label

    def _on_inspect(self, change: dict) -> None:
        run = self._run_by_label(change["new"])
        if run is None:
            self.inspect_box.children = ()
            return
        self.confusion_fig.show(self.confusion_matrix(run.label))
        self.predictions_fig.show(self.predictions(run.label))
        self.inspect_box.children = (self.confusion_fig.widget, self.predictions_fig.widget)

    def _trainer_of(self, label: str | None) -> Run:
        if label is None:
            done = [r for r in self.runs if r.finished]
            if not done:
                raise ValueError("no finished run yet: press Train (and wait for a run to end)")
            return done[-1]
        run = self._run_by_label(label)
        if run is None:
            labels = [r.label for r in self.runs if r.finished]
            raise ValueError(f"no finished run {label!r}; finished runs: {labels}")
        return run

    def confusion_matrix(self, label: str | None = None) -> go.Figure:
        """Confusion-matrix heatmap of a finished run on the test set (default: the last)."""
        run = self._trainer_of(label)
        t = run.trainer
        matrix = t.confusion_matrix().numpy()
        acc = matrix.trace() / matrix.sum()
        return confusion_matrix_figure(
            matrix, t.dataset.classes,
            title=f"{run.label}: confusion matrix, {100 * acc:.0f}% of "
            f"{int(matrix.sum()):,} right",
        )  # fmt: skip

    def predictions(self, label: str | None = None, count: int = 12) -> go.Figure:
        """``count`` test images taken across the classes (:func:`spread_across_classes`)
        with a finished run's predictions."""
        run = self._trainer_of(label)
        t = run.trainer
        chosen = torch.as_tensor(spread_across_classes(t.dataset.test_labels.tolist(), count))
        images = t.dataset.test_images[chosen]
        predicted = t.predict(images).argmax(1)
        return prediction_grid(
            images, t.dataset.test_labels[chosen].tolist(), predicted.tolist(),
            t.dataset.classes, columns=4,
        )  # fmt: skip
