"""Planning and training a comparison: the runs' configs, their data, and the background task
that trains them in short slices (Stop is handled between two)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from dataclasses import replace
from functools import partial

from hetconv_edu.apps.jobs import progress_bar
from hetconv_edu.apps.training.runs import CURVES_INTERVAL_S, Run, mean_or_none
from hetconv_edu.apps.training.settings import check_families
from hetconv_edu.data import (
    DATASET_LABELS,
    DATASET_NAMES,
    DataIntegrityError,
    DatasetNotFoundError,
    ImageDataset,
    load_dataset_with_notes,
)
from hetconv_edu.train import ProgressBar, TrainConfig, Trainer, TrainingError, unused_run_name
from hetconv_edu.viz.training import (
    RunCurves,
    RunResult,
    run_color,
    training_curves,
    update_training_curves,
)


class TrainingJob:
    """The comparison planned from the controls, trained one run after another."""

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
            seconds_per_epoch=mean_or_none([r.seconds for r in records]),
            images_per_s=mean_or_none([r.images_per_s for r in records]),
            epochs=t.global_step / t.steps_per_epoch,
            stopped=stopped,
            network=run.config.model,
            color=run.color,
        )
        if run not in self.finished_runs:
            self.finished_runs.append(run)
        self._refresh_results()
        self._select_inspect(run)
