"""The best-P study, small and live: what the notebook's "Run it here" runs (no widgets).

:class:`LiveStudy` trains a small weight-sharing network on a subset of CIFAR-10, times every
layer at every P, measures each layer's sensitivity and the standard network, and returns an
:class:`~hetconv_edu.study.results.OptimalPResults` with provenance and no retrained runs. It
is written as a job of short slices (:mod:`hetconv_edu.slices`), so an app can run it on the
notebook's event loop and stop it; :class:`hetconv_edu.apps.best_p.BestPApp` shows it.
:data:`CLASS_LIVE_SETTINGS` are the sizes for a class.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from hetconv_edu.data import ImageDataset, load_dataset_with_notes
from hetconv_edu.models import build_model
from hetconv_edu.slices import Offload, Slices
from hetconv_edu.study.driver import StudyStopped
from hetconv_edu.study.measure import (
    evaluate_config,
    measure_layers,
    measure_network,
    measure_sensitivity,
    provenance,
)
from hetconv_edu.study.results import Costs, LayerCosts, OptimalPResults, fixed_costs
from hetconv_edu.study.supernet import SuperNetTrainer
from hetconv_edu.train import TrainConfig, unused_run_name

__all__ = ["CLASS_LIVE_SETTINGS", "LiveSettings", "LiveStudy"]


@dataclass(frozen=True)
class LiveSettings:
    """What "run it here" trains and measures: a small weight-sharing network on a subset."""

    model: str = "small_vgg"
    widths: tuple[int, ...] = (16, 32, 64)
    choices: tuple[int, ...] = (1, 2, 4, 8, 16)
    """P values every switchable layer may take (a divisor chain)."""
    subset: int = 2000
    """Training images (class-balanced subset)."""
    val: int = 500
    """Test images used by the search as its validation split (nothing is retrained here)."""
    epochs: int = 3
    batch_size: int = 64
    timing_batch: int = 16
    timing_rounds: int = 3
    calibration_batches: int = 4
    batches_per_slice: int = 1
    """Training batches between two yields to the event loop (and curve updates)."""


CLASS_LIVE_SETTINGS = LiveSettings()
"""Class time: widths 16-32-64, P ∈ {1, 2, 4, 8, 16}, 3 epochs on 2,000 images (about 5
minutes on 2 CPU cores: the sandwich rule trains 3 configurations per batch)."""


class LiveStudy:
    """The best-P study, small and live: train a weight-sharing network
    (:class:`~hetconv_edu.study.supernet.SuperNetTrainer`), time every layer at every P
    (:func:`~hetconv_edu.study.measure.measure_layers`), measure each layer's sensitivity
    (:func:`~hetconv_edu.study.measure.measure_sensitivity` with
    :func:`~hetconv_edu.study.measure.evaluate_config`) and the standard network
    (:func:`~hetconv_edu.study.measure.measure_network`), into an :class:`OptimalPResults` with
    provenance and no retrained runs.

    :meth:`slices` is the work as a :data:`~hetconv_edu.slices.Slices` generator (training
    batches between yields, measurements offloaded); :meth:`request_stop` ends it at the next
    batch or measurement. ``progress(stage, done, total)`` is called as work is done (stage
    ``"train"``, ``"time"``, ``"sensitivity"``), from a worker thread during measurements.

    Attributes: ``stage`` (``"idle"``, ``"data"``, ``"train"``, ``"time"``,
    ``"sensitivity"``, ``"network"``, ``"done"``, ``"stopped"``), ``trainer`` (once built),
    ``results`` (when done), ``seconds``.
    """

    def __init__(
        self,
        settings: LiveSettings,
        *,
        data: ImageDataset | None = None,
        data_root: str | None = None,
        device: str = "auto",
        threads: int | None = None,
        run_dir: str = "runs",
        seed: int = 0,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.settings = settings
        self.data = data
        self.data_notes: list[str] = []
        """The data loader's notes (e.g. "not the official files"), shown by the app."""
        self.data_root = data_root
        self.device = device
        self.threads = threads
        self.run_dir = run_dir
        self.seed = seed
        self.progress = progress or (lambda stage, done, total: None)
        self.stage = "idle"
        self.trainer: SuperNetTrainer | None = None
        self.results: OptimalPResults | None = None
        self.seconds = 0.0
        self._stop = threading.Event()

    def request_stop(self) -> None:
        """Stop after the current batch or the current measurement step."""
        self._stop.set()
        if self.trainer is not None:
            self.trainer.request_stop()

    @property
    def stop_requested(self) -> bool:
        """Stop was requested."""
        return self._stop.is_set()

    def _check(self, stage: str) -> Callable[..., None]:
        """A progress callback for a measurement that raises :class:`StudyStopped` after Stop."""

        def tick(*_args: object) -> None:
            if self._stop.is_set():
                raise StudyStopped(stage)

        return tick

    def load(self) -> ImageDataset:
        """The data: the ``data`` given, or a class-balanced CIFAR-10 subset (``subset``
        training images, ``val`` test images as the search's validation split). Raises
        :class:`~hetconv_edu.data.DatasetNotFoundError` when CIFAR-10 is missing."""
        if self.data is not None:
            return self.data
        s = self.settings
        data, self.data_notes = load_dataset_with_notes(
            "cifar10", self.data_root, subset=s.subset, test_subset=s.val, seed=self.seed,
            download=False,
        )  # fmt: skip
        return data

    def slices(self) -> Slices:
        """The whole study, one slice at a time; sets :attr:`results` when it ends normally."""
        s = self.settings
        started = time.perf_counter()
        self._stop.clear()
        self.stage = "data"
        data = yield Offload(self.load)
        config = TrainConfig(
            model=s.model, conv="standard", model_kwargs={"widths": list(s.widths)},
            epochs=s.epochs, batch_size=s.batch_size, seed=self.seed, device=self.device,
            threads=self.threads, run_dir=self.run_dir,
            name=unused_run_name(self.run_dir, "best_p_live"),
        )  # fmt: skip
        self.trainer = trainer = SuperNetTrainer(config, data, choices=s.choices)
        self.stage = "train"
        while trainer.step(s.batches_per_slice):
            self.progress("train", trainer.global_step, trainer.total_steps)
            if self._stop.is_set():
                trainer.request_stop()
            yield None
        self.progress("train", trainer.global_step, trainer.total_steps)
        if trainer.stopped or self._stop.is_set():
            self.stage = "stopped"
            return
        yield None
        net = trainer.model
        shape = tuple(data.train_images.shape[1:])
        try:
            self.stage = "time"
            layers = yield Offload(lambda: self._time_layers(net, shape))
            self.stage = "sensitivity"
            reference, losses = yield Offload(lambda: self._sensitivity(trainer))
            self.stage = "network"
            standard = yield Offload(lambda: self._standard(data, shape))
        except StudyStopped:
            self.stage = "stopped"
            return
        layers = [replace(layer, loss=loss) for layer, loss in zip(layers, losses, strict=True)]
        self.seconds = time.perf_counter() - started
        self.results = OptimalPResults(
            provenance=self._provenance(data),
            model=s.model,
            model_kwargs={"widths": list(s.widths)},
            input_shape=shape,
            standard=standard,
            fixed=fixed_costs(standard, layers),
            reference_acc=reference,
            layers=tuple(layers),
            notes={"live": True},
        )
        self.stage = "done"

    def _time_layers(self, net: Any, shape: tuple[int, ...]) -> list[LayerCosts]:
        s, tick = self.settings, self._check("time")
        total = len(net.slots)
        done = [0]

        def progress(_label: str) -> None:
            tick()
            self.progress("time", done[0], total)
            done[0] += 1

        layers = measure_layers(
            net, shape, batch=s.timing_batch, rounds=s.timing_rounds, progress=progress
        )
        self.progress("time", total, total)
        return layers

    def _sensitivity(self, trainer: SuperNetTrainer) -> tuple[float, list[tuple[float, ...]]]:
        s, tick = self.settings, self._check("sensitivity")

        def evaluate(config: tuple[int, ...]) -> float:
            return evaluate_config(trainer, config, calibration_batches=s.calibration_batches)

        def progress(done: int, total: int) -> None:
            self.progress("sensitivity", done, total)
            tick()

        return measure_sensitivity(evaluate, trainer.model.choices, progress=progress)

    def _standard(self, data: ImageDataset, shape: tuple[int, ...]) -> Costs:
        s = self.settings
        model = build_model(
            s.model, "standard", seed=self.seed, num_classes=data.num_classes,
            in_channels=data.in_channels, widths=s.widths,
        )  # fmt: skip
        return measure_network(
            {"standard": model}, shape, batch=s.timing_batch, rounds=s.timing_rounds
        )["standard"]

    def _provenance(self, data: ImageDataset) -> dict[str, Any]:
        s = self.settings
        t = self.trainer
        return provenance(
            ["BestPApp run it here (notebook 04)"],
            {
                "name": data.name,
                "source": self.data_root or os.environ.get("HETCONV_EDU_DATA") or "data/",
                "train_images": len(data.train_labels),
                "validation_images": len(data.test_labels),
                "validation": "test images, used only by the search (nothing is retrained)",
            },
            {
                "epochs": s.epochs,
                "steps": t.global_step if t is not None else 0,
                "batch_size": s.batch_size,
                "widths": list(s.widths),
                "choices": list(s.choices),
                "sandwich": "largest + smallest + 1 random configuration per step",
                "timing_batch": s.timing_batch,
                "timing_rounds": s.timing_rounds,
                "calibration_batches": s.calibration_batches,
                "device": str(t.device) if t is not None else self.device,
                "seconds": round(self.seconds, 1),
            },
        )
