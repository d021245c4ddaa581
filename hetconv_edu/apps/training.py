"""Train and watch (notebook 03): HetConv networks against the same networks with baseline
convolutions, trained one after another on the same data and shown side by side.

``TrainingApp().widget`` holds the controls (data set, network, families to compare, epochs,
subset, a "full run" toggle, Train and Stop), tqdm progress bars, live curves, the results table,
accuracy against MACs, and the confusion matrix and predictions of a chosen finished run.

Training runs in short slices (:meth:`hetconv_edu.train.Trainer.step`) in an asyncio task on the
kernel's event loop, yielding between slices (:class:`hetconv_edu.apps.jobs.SlicedJob`), so a
click on Stop is handled during training. Headless (tests, scripts):
:meth:`TrainingApp.train_blocking`, ``await`` :meth:`TrainingApp.train_async`,
:meth:`TrainingApp.stop`.

Data: :func:`hetconv_edu.data.load_dataset` from ``$HETCONV_EDU_DATA`` (or the project's
``data/``). A missing data set is reported in the app with the loader's instructions, and the
data-set selector offers Fashion-MNIST instead. With ``HETCONV_EDU_CI=1`` (automatic notebook
runs) the app uses tiny settings (:data:`CI_SETTINGS`) and :meth:`TrainingApp.wait` trains by
itself, since nobody presses Train.

Runs are never overwritten: each run writes to ``run_dir/<name>/`` under the first name
(``small_vgg-hetconv4``, ``small_vgg-hetconv4-2``, ...) whose folder holds no run, whether the
earlier run came from this app or from the command line, and the status line says where.
Errors of the background training task (data that cannot be loaded, a run folder that cannot be
written, a diverged training, anything else) are shown in the status line.

Callbacks only read widgets, call package functions and put the results on screen; the figures
come from :mod:`hetconv_edu.viz.training`.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import ipywidgets as W
import plotly.graph_objects as go
import torch

from hetconv_edu.apps.controls import AnswerChecker, Exercise, columns, heading, pick_exercise
from hetconv_edu.apps.jobs import SlicedJob, message_html, message_text, progress_bar
from hetconv_edu.apps.live_figure import LiveFigure
from hetconv_edu.checks import check_int
from hetconv_edu.data import (
    DATASET_LABELS,
    DATASET_NAMES,
    DataIntegrityError,
    DatasetNotFoundError,
    ImageDataset,
    load_dataset_with_notes,
)
from hetconv_edu.flops import hetconv_ratio, network_cost
from hetconv_edu.layers import parse_conv_spec
from hetconv_edu.models import build_model
from hetconv_edu.train import (
    ProgressBar,
    TrainConfig,
    Trainer,
    TrainingError,
    threads_warning,
    unused_run_name,
)
from hetconv_edu.viz import style as viz_style
from hetconv_edu.viz.style import css_width
from hetconv_edu.viz.training import (
    RunCurves,
    RunResult,
    accuracy_vs_macs,
    confusion_matrix_figure,
    prediction_grid,
    results_table_html,
    run_color,
    training_curves,
    update_training_curves,
)

__all__ = [
    "CI_ENV",
    "CI_SETTINGS",
    "CLASS_SETTINGS",
    "EXERCISES",
    "FAMILY_CHOICES",
    "FULL_RUN_SETTINGS",
    "NETWORKS",
    "RUNS_ENV",
    "AppSettings",
    "Run",
    "TrainingApp",
    "check_families",
    "exercise",
    "in_ci",
    "small_vgg_macs_ratio",
    "spread_across_classes",
]

CI_ENV = "HETCONV_EDU_CI"
RUNS_ENV = "HETCONV_EDU_RUNS"
"""Folder of the runs' checkpoints and histories (default: ``runs/`` in the working folder)."""

NETWORKS: tuple[str, ...] = ("small_vgg", "small_resnet")
FAMILY_CHOICES: tuple[str, ...] = (
    "standard",
    "hetconv:2",
    "hetconv:4",
    "hetconv:8",
    "groupwise:4",
    "depthwise_pointwise",
    "naive_hetconv:4",
)
"""Families offered as suggestions; any text :func:`~hetconv_edu.layers.parse_conv_spec` reads
is accepted."""

TRAIN_IMAGES: dict[str, int] = {"cifar10": 50_000, "fashion-mnist": 60_000}
"""Training images of each official data set (the most the "Train images" box allows)."""


@dataclass(frozen=True)
class AppSettings:
    """The starting values of the app's controls and the run settings that have no control."""

    families: tuple[str, ...] = ("standard", "hetconv:2", "hetconv:4")
    network: str = "small_vgg"
    epochs: int = TrainConfig.epochs
    subset: int | None = 4000
    test_subset: int | None = 1000
    batch_size: int = TrainConfig.batch_size
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    batches_per_slice: int = 2
    """Training batches between two yields to the event loop (and curve updates)."""


CLASS_SETTINGS = AppSettings()
"""Class time: standard vs HetConv P=2 and P=4, small_vgg, the trainer's recipe (8 epochs,
batch 128) on 4,000 training and 1,000 test images — a few minutes on 2 CPU cores."""

FULL_RUN_SETTINGS = AppSettings(epochs=30, subset=None, test_subset=None)
"""The "full run" toggle: all 50,000 training and 10,000 test images, 30 epochs (hours on a
laptop CPU, minutes on a GPU)."""

CI_SETTINGS = AppSettings(
    epochs=1,
    subset=200,
    test_subset=100,
    batch_size=50,
    model_kwargs={"widths": (8, 16, 32)},
    batches_per_slice=1,
)
"""Automatic runs (``HETCONV_EDU_CI=1``): a tiny model on a tiny subset, seconds per run."""


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


def in_ci() -> bool:
    """Whether the notebooks run unattended (``HETCONV_EDU_CI`` set to a true value)."""
    return os.environ.get(CI_ENV, "").strip().lower() not in ("", "0", "false", "no")


def check_families(
    network: str, families: Sequence[str], model_kwargs: dict[str, Any] | None = None
) -> list[str]:
    """The families, normalised (``"hetconv:4"``), after checking that each one reads and fits
    every configurable conv of ``network``. Raises ``ValueError`` with a message for people
    (what is wrong and what would work); duplicates are dropped."""
    if not families:
        raise ValueError("choose at least one family to train, e.g. standard and hetconv:4")
    out: list[str] = []
    for text in families:
        spec = parse_conv_spec(str(text))
        try:
            build_model(network, spec, seed=None, **(model_kwargs or {}))
        except ValueError as err:
            raise ValueError(f"{text!r} does not fit {network}: {err}") from None
        if str(spec) not in out:
            out.append(str(spec))
    return out


@dataclass
class Run:
    """One run of a comparison: its config, trainer (once started) and curves."""

    config: TrainConfig
    label: str
    color: str
    curves: RunCurves
    trainer: Trainer | None = None
    result: RunResult | None = None

    @property
    def finished(self) -> bool:
        return self.result is not None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


CURVES_INTERVAL_S = 0.5
"""Seconds between two redraws of the training curves while a run trains (and one at its end)."""


class TrainingApp:
    """Train several filter families one after another and watch them learn side by side.

    Args:
        dataset: ``"cifar10"`` or ``"fashion-mnist"`` (the selector's start value).
        data_root: the data folder (default ``$HETCONV_EDU_DATA`` or the project's ``data/``).
        settings: starting values (default :data:`CLASS_SETTINGS`, or :data:`CI_SETTINGS` when
            ``HETCONV_EDU_CI`` is set).
        run_dir: folder of the runs' files (default ``$HETCONV_EDU_RUNS`` or ``runs``).
        seed: the one seed of every run (same initial weights where shapes agree, same data
            subset and order).
        data: an :class:`~hetconv_edu.data.ImageDataset` to use instead of loading one (tests).
        device, threads: as :class:`~hetconv_edu.train.TrainConfig`.
        download: let the loader download a missing data set (off by default: in class the
            files are provided, and an offline machine should say so at once, not time out).

    Attributes: ``widget`` (everything), ``runs`` (the current comparison's :class:`Run` list),
    ``message`` (the HTML message area), the controls (``dataset_select``, ``network_select``,
    ``families_input``, ``epochs_input``, ``subset_input``, ``full_run_toggle``,
    ``train_button``, ``stop_button``), ``curves`` (a live figure, see
    :mod:`hetconv_edu.apps.live_figure`).
    """

    def __init__(
        self,
        *,
        dataset: str = "cifar10",
        data_root: str | None = None,
        settings: AppSettings | None = None,
        run_dir: str | None = None,
        seed: int = 0,
        data: ImageDataset | None = None,
        device: str = "auto",
        threads: int | None = None,
        download: bool = False,
    ) -> None:
        self.ci = in_ci()
        self.settings = settings or (CI_SETTINGS if self.ci else CLASS_SETTINGS)
        self.data_root = data_root
        self.run_dir = run_dir or os.environ.get(RUNS_ENV) or "runs"
        self.seed = seed
        self.device = device
        self.threads = threads
        self.download = download
        self._given_data = data
        self._data_cache: dict[tuple, tuple[ImageDataset, list[str]]] = {}
        self.data_notes: list[str] = []
        """The loader's notes on the data in use (e.g. "not the official files"): every
        message of the app ends with them."""
        self.runs: list[Run] = []
        self.finished_runs: list[Run] = []
        self._job = SlicedJob(self._train_slices, on_error=self._on_task_error)
        self.running = False
        self._stop_requested = False
        self._current: Run | None = None
        self._build_widgets(dataset)

    # ---- widgets -------------------------------------------------------------------------

    def _build_widgets(self, dataset: str) -> None:
        style = {"description_width": css_width(110)}
        families_label = self._make_settings(dataset, style)
        self._make_outputs(style)
        self._wire()
        self._lay_out(families_label)
        if self.ci:
            self._say("info", "CI mode (HETCONV_EDU_CI): tiny model, tiny subset, 1 epoch.")
        else:
            self._say("info", self._plan_text())

    def _make_settings(self, dataset: str, style: dict) -> W.HTML:
        """The settings' controls; returns the families' label (laid out beside their input)."""
        s = self.settings
        self.dataset_select = W.Dropdown(
            options=[(DATASET_LABELS[name], name) for name in DATASET_NAMES],
            value=dataset, description="Data set", style=style,
            layout=W.Layout(width=css_width(330)),
        )  # fmt: skip
        self.network_select = W.Dropdown(
            options=list(NETWORKS), value=s.network, description="Network", style=style,
            layout=W.Layout(width=css_width(330)),
        )  # fmt: skip
        self.families_input = W.TagsInput(
            value=list(s.families), allowed_tags=[], allow_duplicates=False,
            placeholder="add a family, e.g. hetconv:8", layout=W.Layout(width=css_width(260)),
        )  # fmt: skip
        families_label = W.HTML("<b>Families</b>", layout=W.Layout(width=css_width(110)))
        self.families_hint = W.HTML(
            viz_style.note_html(
                "Type and press Enter: "
                + ", ".join(f"<code>{f}</code>" for f in FAMILY_CHOICES)
                + ". The first family is the baseline of the MACs column."
            )
        )
        self.epochs_input = W.BoundedIntText(
            value=s.epochs, min=1, max=200, description="Epochs",
            style={"description_width": "initial"}, layout=W.Layout(width=css_width(130)),
        )  # fmt: skip
        self.subset_input = W.BoundedIntText(
            value=s.subset or 50_000, min=100, max=60_000, step=500,
            description="Train images", style={"description_width": "initial"},
            layout=W.Layout(width=css_width(200)),
        )  # fmt: skip
        self.full_run_toggle = W.ToggleButton(
            value=False, description="Full run", icon="hourglass-half",
            tooltip=(
                f"All training and test images, {FULL_RUN_SETTINGS.epochs} epochs: hours on a "
                "laptop CPU"
            ),
        )  # fmt: skip
        return families_label

    def _make_outputs(self, style: dict) -> None:
        """Train and Stop, the status line, progress, curves, results and the inspector."""
        self.train_button = W.Button(description="Train", button_style="success", icon="play")
        self.stop_button = W.Button(
            description="Stop", button_style="danger", icon="stop", disabled=True
        )
        self.message = W.HTML(layout=W.Layout(width="auto", min_height="34px"))
        self.progress_box = W.VBox(layout=W.Layout(width="auto"))
        self.curves = LiveFigure(training_curves([]), action=True)  # Train draws on it
        self.curves_box = W.Box([self.curves.widget], layout=W.Layout(width="100%"))
        self.curves_box.add_class("hetconv-curves")
        self.table = W.HTML(results_table_html([]))
        self.scatter = LiveFigure(accuracy_vs_macs([]), action=True)
        self.confusion_fig = LiveFigure()
        self.predictions_fig = LiveFigure()
        self.inspect_select = W.Dropdown(
            options=[],
            description="Inspect run",
            disabled=True,  # enabled once there are two finished runs to choose between
            style=style,
            layout=W.Layout(width=css_width(420)),
        )
        self.inspect_box = W.HBox(  # the confusion matrix beside the predictions
            layout=W.Layout(width="100%", grid_gap="16px", align_items="flex-start")
        )
        self.inspect_message = W.HTML()

    def _wire(self) -> None:
        """The subset's limit for the data set, then every control's callback."""
        self._limit_subset()
        self.dataset_select.observe(self._on_dataset, names="value")
        self.full_run_toggle.observe(self._on_full_run, names="value")
        self.families_input.observe(self._on_families, names="value")
        # the "Ready: …" line follows every setting it names (the full-run toggle says its own)
        for control in (self.network_select, self.epochs_input, self.subset_input):
            control.observe(self._on_families, names="value")
        self.inspect_select.observe(self._on_inspect, names="value")
        self.train_button.on_click(lambda _b: self.start())
        self.stop_button.on_click(lambda _b: self.stop())

    def _lay_out(self, families_label: W.HTML) -> None:
        """The three sections the notebook shows one by one, and the whole app."""
        wide = W.Layout(width="auto")
        self.controls = W.VBox(
            [
                self.dataset_select,
                self.network_select,
                W.HBox([families_label, self.families_input]),
                self.families_hint,
                W.HBox([self.epochs_input, self.subset_input]),
                W.HBox([self.train_button, self.stop_button, self.full_run_toggle]),
                self.message,
                self.progress_box,  # under the controls: the curves have the column's height
            ]
        )
        self.training_section = columns(self.controls, self.curves_box, left_width=css_width(380))
        self.results_section = W.VBox(
            [heading("Results"), self.table, self.scatter.widget], layout=wide
        )
        self.inspect_section = W.VBox(
            [self.inspect_select, self.inspect_message, self.inspect_box], layout=wide
        )
        self.widget = W.VBox(
            [self.training_section, self.results_section, self.inspect_section],
            layout=W.Layout(width="100%"),
        )
        self.widget.add_class("hetconv-training-app")
        for section in (self.training_section, self.results_section, self.inspect_section):
            viz_style.track_widget(section)  # the notebook shows the sections one by one
        self.train_button.add_class("hetconv-train")
        self.stop_button.add_class("hetconv-stop")
        self.message.add_class("hetconv-training-message")
        self.training_section.add_class("hetconv-training-section")
        self.table.add_class("hetconv-results-table")

    def _say(self, kind: str, text: str) -> None:
        """Show a status message; the loader's notes on the data follow it, each a one-line
        summary that opens to the whole note."""
        notes = "".join(viz_style.note_details("Note on the data", n) for n in self.data_notes)
        self.message.value = message_html(kind, text) + notes

    @property
    def message_text(self) -> str:
        """The message area's text without markup (for tests and scripts)."""
        return message_text(self.message.value)

    def _plan_text(self) -> str:
        epochs, subset, _ = self._data_settings()
        images = "all" if subset is None else f"{subset:,}"
        text = (
            f"Ready: {len(self.families_input.value)} runs of {self.network_select.value}, "
            f"{epochs} epochs on {images} training images each, one after another. Press Train."
        )
        warning = threads_warning(self.threads)
        return text if warning is None else f"{text}\nWarning: {warning}."

    def train_images_available(self) -> int:
        """Training images of the chosen data set (of the ``data`` given to the app, if any)."""
        if self._given_data is not None:
            return len(self._given_data.train_labels)
        return TRAIN_IMAGES[self.dataset_select.value]

    def _limit_subset(self) -> None:
        """The "Train images" box allows at most what the chosen official data set has (a
        smaller data folder is checked by :meth:`plan`)."""
        self.subset_input.max = TRAIN_IMAGES[self.dataset_select.value]

    def _data_settings(self) -> tuple[int, int | None, int | None]:
        if self.full_run_toggle.value:
            f = FULL_RUN_SETTINGS
            return f.epochs, f.subset, f.test_subset
        subset = int(self.subset_input.value)
        return int(self.epochs_input.value), subset, self.settings.test_subset

    def _on_full_run(self, change: dict) -> None:
        full = bool(change["new"])
        self.epochs_input.disabled = full
        self.subset_input.disabled = full
        if not self.running:
            self._say("warn" if full else "info", self._plan_text())
        if full:
            self._say(
                "warn",
                f"Full run: all images, {FULL_RUN_SETTINGS.epochs} epochs per family — hours "
                "on a laptop CPU, minutes on a GPU. Stop keeps what was trained so far.",
            )

    def _on_dataset(self, change: dict) -> None:
        self._limit_subset()
        if not self.running:
            self._say("info", self._plan_text())

    def _on_families(self, change: dict) -> None:
        if self.running:
            return
        try:
            check_families(
                self.network_select.value, self.families_input.value, self.settings.model_kwargs
            )
        except ValueError as err:
            self._say("error", str(err))
        else:
            self._say("info", self._plan_text())

    # ---- planning ------------------------------------------------------------------------

    def plan(self) -> list[TrainConfig]:
        """The configs the Train button would train now (raises ``ValueError`` with a message
        when the families do not fit)."""
        network = self.network_select.value
        s = self.settings
        families = check_families(network, self.families_input.value, s.model_kwargs)
        epochs, subset, test_subset = self._data_settings()
        available = self.train_images_available()
        if subset is not None and subset > available:
            raise ValueError(
                f"Train images is {subset:,}, but the data set has {available:,} training "
                f"images: choose at most {available:,} (or Full run for all of them)."
            )
        configs = [
            TrainConfig(
                model=network,
                conv=family,
                model_kwargs=dict(s.model_kwargs),
                dataset=self.dataset_select.value,
                data_root=self.data_root,
                subset=subset,
                test_subset=test_subset,
                epochs=epochs,
                batch_size=s.batch_size,
                seed=self.seed,
                device=self.device,
                threads=self.threads,
                run_dir=self.run_dir,
            )
            for family in families
        ]
        # Never replace a run (an earlier one of this app, or of the command line).
        return [replace(c, name=unused_run_name(self.run_dir, c.run_name)) for c in configs]

    def load_data(self, config: TrainConfig) -> ImageDataset:
        """The data of ``config`` (cached per data set and subset; the ``data`` given to the
        app when there is one). Raises :class:`~hetconv_edu.data.DatasetNotFoundError` or
        :class:`~hetconv_edu.data.DataIntegrityError`."""
        if self._given_data is not None:
            return self._given_data
        key = (config.dataset, config.data_root, config.subset, config.test_subset, config.seed)
        if key not in self._data_cache:
            self._data_cache[key] = load_dataset_with_notes(
                config.dataset, config.data_root, subset=config.subset,
                test_subset=config.test_subset, seed=config.seed, download=self.download,
            )  # fmt: skip
        data, self.data_notes = self._data_cache[key]
        return data

    # ---- training ------------------------------------------------------------------------

    @property
    def task(self) -> asyncio.Task | None:
        """The asyncio task of the comparison the Train button started (None before)."""
        return self._job.task

    def start(self) -> asyncio.Task | None:
        """What the Train button does: start the comparison as a task on the running event
        loop (the kernel's) and return it. Without a running loop (a plain script) it trains at
        once with :meth:`train_blocking` and returns None; likewise None when a comparison is
        already running."""
        if self.running or self._job.active:
            self._say("warn", "Training is already running; press Stop first.")
            return None
        return self._job.start()

    def stop(self) -> None:
        """What the Stop button does: stop after the current batch, keep what was trained
        (history, checkpoint, a row in the table marked "stopped") and train no further run."""
        if not self.running:
            self._say("info", "Nothing is training.")
            return
        self._stop_requested = True
        if self._current is not None and self._current.trainer is not None:
            self._current.trainer.request_stop()
        self._say("warn", "Stopping after the current batch…")

    async def train_async(self) -> list[Run]:
        """Train the planned runs one after another, yielding to the event loop after every
        slice of batches; returns the runs (also in :attr:`runs`)."""
        await self._job.run_async()
        return self.runs

    def train_blocking(self) -> list[Run]:
        """Train the planned runs without an event loop (scripts, tests); Stop cannot be
        clicked meanwhile, but :meth:`stop` from a callback works."""
        self._job.run_blocking()
        return self.runs

    async def wait(self) -> list[Run]:
        """Wait for the comparison started by the Train button (returns at once when nothing is
        running). Under ``HETCONV_EDU_CI`` with nothing trained yet, train first: automatic
        notebook runs press no buttons."""
        if self.task is None and self.ci and not self.finished_runs:
            self.start()
        await self._job.wait()
        return self.runs

    def _train_slices(self) -> Iterator[None]:
        if self.running:
            self._say("warn", "Training is already running; press Stop first.")
            return
        try:
            configs = self.plan()
        except ValueError as err:
            self._say("error", str(err))
            return
        try:
            data = self.load_data(configs[0])
        except DatasetNotFoundError as err:
            self._say_missing(err)
            return
        except (DataIntegrityError, ValueError, OSError) as err:  # damaged, too few images
            self._say("error", f"The data could not be loaded: {err}\n\nThen press Train again.")
            return
        self.running = True
        self._stop_requested = False
        self._set_busy(True)
        try:
            yield from self._train_runs(configs, data)
        except (TrainingError, ValueError, OSError) as err:  # messages written for people
            self._say("error", f"Training stopped: {err}")
        finally:
            self.running = False
            self._current = None
            self._set_busy(False)

    def _on_task_error(self, err: Exception) -> None:
        """Any other error of the background task: on the page, not lost in the task."""
        self._say(
            "error",
            f"Training failed: {type(err).__name__}: {err}. Press Train to try again; if it "
            "happens again, please report it.",
        )

    def _say_missing(self, err: DatasetNotFoundError) -> None:
        other = " or ".join(
            DATASET_LABELS[name] for name in DATASET_NAMES if name != self.dataset_select.value
        )
        self._say(
            "error",
            f"{err}\n\nNo internet here? Choose {other} in the Data set menu if you have it, "
            "or set HETCONV_EDU_DATA to a folder that holds the files, then press Train again.",
        )

    def _set_busy(self, busy: bool) -> None:
        self.train_button.disabled = busy
        self.stop_button.disabled = not busy
        for w in (self.dataset_select, self.network_select, self.families_input):
            w.disabled = busy
        full = self.full_run_toggle.value
        self.epochs_input.disabled = busy or full
        self.subset_input.disabled = busy or full
        self.full_run_toggle.disabled = busy

    def _train_runs(self, configs: list[TrainConfig], data: ImageDataset) -> Iterator[None]:
        self.runs = [
            Run(c, c.label, run_color(i), RunCurves(c.label, color=run_color(i)))
            for i, c in enumerate(configs)
        ]
        self.curves.show(training_curves([r.curves for r in self.runs]))
        for index, run in enumerate(self.runs):
            if self._stop_requested:
                break
            # one bar, the current run's (the message says which of how many): seven runs'
            # bars would not fit beside the curves on one screen
            self.progress_box.children = ()
            self._say("info", f"Run {index + 1} of {len(self.runs)}: {run.label} — building…")
            yield
            run.trainer = trainer = Trainer(run.config, data)
            self._current = run
            run.curves.steps_per_epoch = trainer.steps_per_epoch
            bar = trainer.add_callback(
                ProgressBar(
                    "run", partial(progress_bar, self.progress_box, unit="batch"), run.label
                )
            )
            self._say(
                "info",
                f"Run {index + 1} of {len(self.runs)}: {run.label}, {trainer.total_steps} "
                f"steps ({run.config.epochs} epochs × {trainer.steps_per_epoch} batches of "
                f"{run.config.batch_size}), files in {trainer.run_path}/.",
            )
            every = max(1, self.settings.batches_per_slice)
            synced = -math.inf
            try:
                while True:
                    more = trainer.step(every)
                    if self._stop_requested and not trainer.stopped and more:
                        trainer.request_stop()
                    if not more or time.monotonic() - synced >= CURVES_INTERVAL_S:
                        # the whole figure goes to the page: a few times a second, not per
                        # batch, so a slow browser keeps up and a Stop click is not queued
                        self._sync_curves(run)
                        synced = time.monotonic()
                    yield
                    if not more:
                        break
            finally:
                bar.close()
            self._finish_run(run)
            yield
        stopped = self._stop_requested
        done = [r for r in self.runs if r.finished]
        if stopped:
            self._say(
                "warn",
                f"Stopped. {len(done)} of {len(self.runs)} runs in the table; the stopped run "
                "is marked, its history and checkpoint kept in "
                f"{self.run_dir}/.",
            )
        else:
            self._say("ok", f"Done: {len(done)} runs trained. Read the table below.")

    def _sync_curves(self, run: Run) -> None:
        t = run.trainer
        fresh = RunCurves.from_history(
            run.label, t.history.steps, t.history.epochs, t.steps_per_epoch
        )
        run.curves.steps, run.curves.losses = fresh.steps, fresh.losses
        run.curves.epochs, run.curves.test_acc = fresh.epochs, fresh.test_acc
        with self.curves.batch_update():
            update_training_curves(self.curves.figure, [r.curves for r in self.runs])

    def _finish_run(self, run: Run) -> None:
        t = run.trainer
        records = t.history.epochs
        stopped = bool(t.stopped) or not t.finished
        acc = records[-1].test_acc if records else None
        if stopped and t.global_step > 0:
            # A stopped run is evaluated where it stopped, so its row says what it learned.
            acc = t.evaluate("test")[1]
        run.result = RunResult(
            name=run.label,
            test_acc=acc,
            params=t.params,
            macs=t.macs,
            seconds_per_epoch=_mean([r.seconds for r in records]),
            images_per_s=_mean([r.images_per_s for r in records]),
            epochs=t.global_step / t.steps_per_epoch,
            stopped=stopped,
            network=run.config.model,
            color=run.color,
        )
        if run not in self.finished_runs:
            self.finished_runs.append(run)
        self._refresh_results()
        self._select_inspect(run)

    # ---- results -------------------------------------------------------------------------

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

    def _ipython_display_(self) -> None:  # pragma: no cover - display hook
        from IPython.display import display

        display(self.widget)


def small_vgg_macs_ratio(conv: str) -> float:
    """MACs of ``small_vgg`` with 3×3 convolutions ``conv`` over those of the standard one, on
    one 32×32 CIFAR-10 image."""
    shape = (1, 3, 32, 32)
    standard = network_cost(build_model("small_vgg", "standard"), shape).macs
    return network_cost(build_model("small_vgg", conv), shape).macs / standard


EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        "1. One 3×3 layer: what fraction of a standard convolution's MACs does HetConv with "
        "P = 4 need? (a number between 0 and 1, two decimals)",
        lambda: hetconv_ratio(3, 4),
        tolerance=0.005,
        hint="1/P of the kernels are 3×3, the rest are 1×1: 1/P + (1 − 1/P)/K².",
    ),
    Exercise(
        "2. The whole small_vgg: what fraction of the standard network's MACs does HetConv "
        "P = 4 need? Why is it more than your answer to 1? (two decimals)",
        lambda: small_vgg_macs_ratio("hetconv:4"),
        tolerance=0.005,
        hint="The first convolution (3 input channels) and the classifier stay standard.",
    ),
)
"""The exercises of notebook 03; answers computed by the package (never shown in a cell)."""


def exercise(number: int) -> AnswerChecker:
    """The checker of exercise ``number`` (1-based) of :data:`EXERCISES`, ready to display."""
    return pick_exercise(EXERCISES, number).checker()
