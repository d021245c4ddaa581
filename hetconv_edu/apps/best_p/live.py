"""Section 7 of the best-P app, "Run it here": a :class:`~hetconv_edu.study.live.LiveStudy`
trains a small weight-sharing network, measures layer costs and sensitivities, and the app
switches to its results. It runs as a :class:`~hetconv_edu.apps.jobs.SlicedJob`, so Stop is
heard; the status line and the training curves follow every slice
(:func:`~hetconv_edu.apps.jobs.observed`)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import ipywidgets as W

from hetconv_edu.apps.best_p.sections import LEFT_WIDTH, html_widget
from hetconv_edu.apps.controls import columns
from hetconv_edu.apps.jobs import SlicedJob, Slices, message_html, message_text, observed
from hetconv_edu.apps.jobs import progress_bar as new_progress_bar
from hetconv_edu.apps.live_figure import LiveFigure
from hetconv_edu.apps.training import CI_SETTINGS
from hetconv_edu.data import DataIntegrityError, DatasetNotFoundError, ImageDataset
from hetconv_edu.study.live import LiveSettings, LiveStudy
from hetconv_edu.study.results import OptimalPResults
from hetconv_edu.viz import style
from hetconv_edu.viz.style import css_width
from hetconv_edu.viz.training import RunCurves, training_curves, update_training_curves

CI_LIVE_SETTINGS = LiveSettings(
    widths=tuple(CI_SETTINGS.model_kwargs["widths"]),
    choices=(1, 2, 4, 8),
    subset=CI_SETTINGS.subset,
    val=CI_SETTINGS.test_subset,
    epochs=CI_SETTINGS.epochs,
    batch_size=CI_SETTINGS.batch_size,
    timing_batch=4,
    timing_rounds=1,
    calibration_batches=1,
    batches_per_slice=CI_SETTINGS.batches_per_slice,
)
"""Automatic runs (``HETCONV_EDU_CI=1``): the training app's tiny CI sizes, seconds."""


class LiveSection:
    """The "Run it here" section: its buttons, message, progress bars and training curves,
    and the live run. Reads the app's ``live_settings``, ``ci``, data and device settings;
    when the run ends it shows its results (``live``) with the app's ``_show_results``."""

    live_settings: LiveSettings
    ci: bool
    live: OptimalPResults | None
    study: LiveStudy | None
    _data: ImageDataset | None

    def _build_live(self) -> W.Box:
        self._job = SlicedJob(self._live_slices)
        self._bars: dict[str, Any] = {}
        self._pace: tuple[float, int] | None = None  # (when, step) of the run's first timed step
        self.run_button = W.Button(description="Run it here", button_style="success", icon="play")
        self.stop_button = W.Button(
            description="Stop", button_style="danger", icon="stop", disabled=True
        )
        self.run_button.on_click(lambda _b: self.start_live())
        self.stop_button.on_click(lambda _b: self.stop_live())
        self.live_message = html_widget(css="hetconv-bestp-live-message")
        self.live_progress = W.VBox(layout=W.Layout(width="auto"))
        self.live_curves = LiveFigure(training_curves(
            [RunCurves("weight-sharing network")],
            title="Weight-sharing network",
        ), action=True)  # fmt: skip
        self.run_button.add_class("hetconv-bestp-run")
        self.stop_button.add_class("hetconv-bestp-stop")
        self.live_curves.add_class("hetconv-bestp-curves")
        self.live_section = columns(
            W.VBox(
                [
                    html_widget(self._live_plan_text()),
                    W.HBox([self.run_button, self.stop_button]),
                    self.live_message,
                    self.live_progress,
                ]
            ),
            self.live_curves.widget,
            left_width=css_width(LEFT_WIDTH),
        )
        return self.live_section

    def _live_plan_text(self) -> str:
        s = self.live_settings
        return (
            "<p class='hetconv-prose'>Trains a weight-sharing small_vgg (widths "
            f"{'-'.join(map(str, s.widths))}, P ∈ {{{', '.join(map(str, s.choices))}}}) for "
            f"{s.epochs} epoch(s) on {s.subset:,} CIFAR-10 training images, then times every "
            f"layer at every P and measures each layer's sensitivity on {s.val:,} images. "
            + (
                "CI mode: tiny settings, fake data."
                if self.ci
                else "How long it takes depends on this machine: while it trains, the message "
                "below estimates the time left from the pace measured so far."
            )
            + "</p>"
        )

    def _say_live(self, kind: str, text: str) -> None:
        notes = [] if self.study is None else self.study.data_notes
        self.live_message.value = message_html(kind, text) + "".join(
            style.note_details("Note on the data", n) for n in notes
        )

    @property
    def live_message_text(self) -> str:
        """The "run it here" message's plain text."""
        return message_text(self.live_message.value)

    @property
    def task(self) -> asyncio.Task | None:
        """The asyncio task of the live run the button started (None before)."""
        return self._job.task

    @property
    def running(self) -> bool:
        """A live run is under way."""
        return self._job.active

    def start_live(self) -> asyncio.Task | None:
        """What Run it here does: start the live study as a task on the running event loop and
        return it (without a loop, run it at once and return None; None if one is running)."""
        if self._job.active:
            self._say_live("warn", "Already running; press Stop first.")
            return None
        return self._job.start()

    def stop_live(self) -> None:
        """What Stop does: end the live run after the current batch or measurement step; the
        app keeps showing the results it showed before."""
        if self.study is None or not self._job.active:
            self._say_live("info", "Nothing is running.")
            return
        self.study.request_stop()
        self._say_live("warn", "Stopping after the current step…")

    def run_live_blocking(self) -> OptimalPResults | None:
        """Run the live study without an event loop (scripts, tests); returns its results."""
        self._job.run_blocking()
        return self.live

    async def wait_live(self) -> OptimalPResults | None:
        """Wait for the live run started by the button (at once when none is running). Under
        ``HETCONV_EDU_CI`` with none run yet, start one: automatic runs press no buttons."""
        if self.task is None and self.ci and self.live is None:
            self.start_live()
        await self._job.wait()
        return self.live

    def _progress(self, stage: str, done: int, total: int) -> None:
        bar = self._bars.get(stage)
        if bar is None:
            labels = {"train": "training", "time": "timing layers", "sensitivity": "sensitivity"}
            units = {"train": "batch", "time": "layer", "sensitivity": "evaluation"}
            bar = new_progress_bar(self.live_progress, total, labels[stage], units[stage])
            if bar is None:
                return
            self._bars[stage] = bar
        bar.update(done - bar.n)

    def _sync_curves(self) -> None:
        t = self.study.trainer if self.study is not None else None
        if t is None:
            return
        curves = RunCurves.from_history(
            "weight-sharing network", t.history.steps, t.history.epochs, t.steps_per_epoch
        )
        with self.live_curves.batch_update():
            update_training_curves(self.live_curves.figure, [curves])

    def _sync_curves_reset(self) -> None:
        with self.live_curves.batch_update():
            update_training_curves(self.live_curves.figure, [RunCurves("weight-sharing network")])

    def _set_busy(self, busy: bool) -> None:
        self.run_button.disabled = busy
        self.stop_button.disabled = not busy

    def _start_study(self) -> LiveStudy:
        """A new live study, with the progress bars, pace and curves of the last one cleared."""
        self.study = study = LiveStudy(
            self.live_settings, data=self._data, data_root=self.data_root, device=self.device,
            threads=self.threads, run_dir=self.run_dir, seed=self.seed, progress=self._progress,
        )  # fmt: skip
        for bar in self._bars.values():
            bar.close()
        self._bars = {}
        self._pace = None
        self.live_progress.children = ()
        self._sync_curves_reset()
        self._set_busy(True)
        self._say_live("info", "Loading the data…")
        return study

    def _on_live_slice(self, item: Any) -> None:
        """After each slice of the study: its stage in the message, the curves after a batch."""
        self._say_live("info", self._stage_text(self.study))
        if item is None:
            self._sync_curves()

    def _live_slices(self) -> Slices:
        study = self._start_study()
        try:
            yield from observed(study.slices(), self._on_live_slice)
            self._sync_curves()
        except DatasetNotFoundError as err:
            self._say_live(
                "error",
                f"{err}\n\nRun it here needs CIFAR-10. Put the files where the message says, "
                "or set HETCONV_EDU_DATA to a folder that holds them, then press Run it here "
                "again. The shipped results above do not need the data.",
            )
            return
        except DataIntegrityError as err:  # truncated, damaged or unsafe data files
            self._say_live(
                "error",
                f"The data could not be loaded: {err}\n\nThen press Run it here again. The "
                "shipped results above do not need the data.",
            )
            return
        except Exception as err:  # shown in the app, not as a traceback in a callback
            self._say_live("error", f"The live run failed: {type(err).__name__}: {err}")
            return
        finally:
            for bar in self._bars.values():
                bar.close()
            self._set_busy(False)
        self._finish_live(study)

    def _finish_live(self, study: LiveStudy) -> None:
        """Say how the run ended; when it finished, show its results."""
        if study.stage == "stopped":
            self._say_live(
                "warn",
                f"Stopped during {self._stage_name(study)}. The app still shows the results it "
                "showed before. Press Run it here to start again.",
            )
            return
        self.live = study.results
        self._quiet = True
        try:
            self.source_toggle.disabled = False
            self.source_toggle.value = "live"
        finally:
            self._quiet = False
        self.results = self.live
        self._show_results()
        self._say_live(
            "ok",
            f"Done in {study.seconds:.0f} s: the app now shows the live results (switch back "
            "with “Show” at the top). No network was retrained, so the honesty check has "
            "nothing to check in a live run.",
        )

    @staticmethod
    def _stage_name(study: LiveStudy) -> str:
        t = study.trainer
        if t is not None and study.stage in ("train", "stopped") and not study.results:
            return f"training (step {t.global_step} of {t.total_steps})"
        return {"data": "loading the data", "time": "the timing",
                "sensitivity": "the sensitivities", "network": "the timing"}.get(
            study.stage, study.stage
        )  # fmt: skip

    def _time_left(self, done: int, total: int) -> str:
        """ " About N s/min of training left", measured: the pace of the steps done so far in
        this run (empty until two steps were timed)."""
        now = time.monotonic()
        if self._pace is None or done < self._pace[1]:
            self._pace = (now, done)
            return ""
        started, first = self._pace
        if done - first < 2:
            return ""
        left = (now - started) / (done - first) * (total - done)
        when = f"{left:.0f} s" if left < 90 else f"{left / 60:.0f} min"
        return f" About {when} of training left at the pace measured so far."

    def _stage_text(self, study: LiveStudy) -> str:
        t = study.trainer
        if study.stage == "train" and t is not None:
            return (
                f"Training the weight-sharing network: step {t.global_step} of "
                f"{t.total_steps} (3 configurations per batch: largest, smallest, random)."
                + self._time_left(t.global_step, t.total_steps)
            )
        return {
            "data": "Loading the data…",
            "time": "Timing every layer at every P on this machine…",
            "sensitivity": "Measuring each layer's sensitivity on the validation images…",
            "network": "Timing the standard network…",
        }.get(study.stage, "Working…")
