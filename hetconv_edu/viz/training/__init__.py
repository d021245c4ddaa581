"""Figures of training runs: pure functions of data, no training and no widgets in here.

* :func:`training_curves` — training loss per step (raw, faint, and smoothed) and test accuracy
  per epoch of every run on shared axes, one colour per run; :func:`update_training_curves`
  refreshes such a figure in place, for live plots (an app sends it to the page).
* :func:`results_table` / :func:`results_table_html` — accuracy, parameters, MACs, seconds per
  epoch and images per second of every run.
* :func:`confusion_matrix_figure` — a heatmap with class names, counts and per-true-class rates.
* :func:`prediction_grid` — test images with their predicted and true labels, framed green where
  right and red where wrong.
* :func:`accuracy_vs_macs` — test accuracy against MACs of all runs so far.

A run is described by a :class:`RunCurves` (what the curves need) and, once finished, a
:class:`RunResult` (what the table and the scatter need). MACs are multiply-accumulates of one
forward pass of one image, as the paper counts them (FLOPs ≈ 2 × MACs).

One module per figure or idea: ``common`` (run colours, smoothing, counts), ``runs`` (the two
dataclasses), ``curves``, ``table``, ``confusion``, ``predictions`` and ``cost`` (accuracy
against MACs); every public name is importable from here.
"""

from hetconv_edu.viz.training.common import format_count, run_color, smooth
from hetconv_edu.viz.training.confusion import confusion_matrix_figure
from hetconv_edu.viz.training.cost import accuracy_vs_macs
from hetconv_edu.viz.training.curves import training_curves, update_training_curves
from hetconv_edu.viz.training.predictions import RIGHT_COLOR, WRONG_COLOR, prediction_grid
from hetconv_edu.viz.training.runs import RunCurves, RunResult
from hetconv_edu.viz.training.table import TABLE_COLUMNS, results_table, results_table_html

__all__ = [
    "RIGHT_COLOR",
    "TABLE_COLUMNS",
    "WRONG_COLOR",
    "RunCurves",
    "RunResult",
    "accuracy_vs_macs",
    "confusion_matrix_figure",
    "format_count",
    "prediction_grid",
    "results_table",
    "results_table_html",
    "run_color",
    "smooth",
    "training_curves",
    "update_training_curves",
]
