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

The code, one idea a module: :mod:`~hetconv_edu.apps.training.app` (:class:`TrainingApp`, the
parts put together), :mod:`~hetconv_edu.apps.training.form` (the controls, the status line, the
sections), :mod:`~hetconv_edu.apps.training.job` (planning and the background training),
:mod:`~hetconv_edu.apps.training.results` (the table, the scatter, the inspector),
:mod:`~hetconv_edu.apps.training.settings` (starting values, networks, families),
:mod:`~hetconv_edu.apps.training.runs` (:class:`Run`) and
:mod:`~hetconv_edu.apps.training.exercises`; every public name is importable from here.
"""

from hetconv_edu.apps.training.app import TrainingApp
from hetconv_edu.apps.training.exercises import EXERCISES, exercise, small_vgg_macs_ratio
from hetconv_edu.apps.training.results import spread_across_classes
from hetconv_edu.apps.training.runs import CURVES_INTERVAL_S, Run
from hetconv_edu.apps.training.settings import (
    CI_ENV,
    CI_SETTINGS,
    CLASS_SETTINGS,
    FAMILY_CHOICES,
    FULL_RUN_SETTINGS,
    NETWORKS,
    RUNS_ENV,
    TRAIN_IMAGES,
    AppSettings,
    check_families,
    in_ci,
)

__all__ = [
    "CI_ENV",
    "CI_SETTINGS",
    "CLASS_SETTINGS",
    "CURVES_INTERVAL_S",
    "EXERCISES",
    "FAMILY_CHOICES",
    "FULL_RUN_SETTINGS",
    "NETWORKS",
    "RUNS_ENV",
    "TRAIN_IMAGES",
    "AppSettings",
    "Run",
    "TrainingApp",
    "check_families",
    "exercise",
    "in_ci",
    "small_vgg_macs_ratio",
    "spread_across_classes",
]
