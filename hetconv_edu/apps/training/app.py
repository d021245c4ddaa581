""":class:`TrainingApp`: the controls, the training job and the results put together."""

from __future__ import annotations

import os

from hetconv_edu.apps.jobs import SlicedJob
from hetconv_edu.apps.training.form import TrainingForm
from hetconv_edu.apps.training.job import TrainingJob
from hetconv_edu.apps.training.results import ResultsSection
from hetconv_edu.apps.training.runs import Run
from hetconv_edu.apps.training.settings import (
    CI_SETTINGS,
    CLASS_SETTINGS,
    RUNS_ENV,
    AppSettings,
    in_ci,
)
from hetconv_edu.data import ImageDataset


class TrainingApp(TrainingForm, TrainingJob, ResultsSection):
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

    def _ipython_display_(self) -> None:  # pragma: no cover - display hook
        from IPython.display import display

        display(self.widget)
