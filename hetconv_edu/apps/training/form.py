"""The app's controls, status line and sections, and the callbacks that keep the "Ready: …" line
and the subset's limit in step with the settings."""

from __future__ import annotations

import ipywidgets as W

from hetconv_edu.apps.controls import columns, heading
from hetconv_edu.apps.jobs import message_html, message_text
from hetconv_edu.apps.live_figure import LiveFigure
from hetconv_edu.apps.training.settings import (
    FAMILY_CHOICES,
    FULL_RUN_SETTINGS,
    NETWORKS,
    TRAIN_IMAGES,
    check_families,
)
from hetconv_edu.data import DATASET_LABELS, DATASET_NAMES
from hetconv_edu.train import threads_warning
from hetconv_edu.viz import style as viz_style
from hetconv_edu.viz.style import css_width
from hetconv_edu.viz.training import accuracy_vs_macs, results_table_html, training_curves


class TrainingForm:
    """The controls and the status line: the settings a comparison is planned from."""

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
