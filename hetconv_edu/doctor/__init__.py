"""The setup doctor: what is wrong with a student's setup, in plain words, and how to fix it.

``python -m hetconv_edu doctor`` prints a report; ``check_setup()`` in a notebook's first cell
shows it in colour. Four checks, each a function returning :class:`Finding` s (level ``ok``,
``warn`` or ``error``, a topic, a message and a fix):

* :func:`check_versions` — jupyterlab, ipywidgets, jupyterlab_widgets and plotly against
  :data:`KNOWN_PROBLEMS`, the combinations known not to work (and missing packages).
* :func:`check_server_restart` — a running Jupyter server that started before the widget
  extensions were installed: its pages cannot show widgets ("Failed to load model class" or
  nothing) until the *server* is restarted; restarting the kernel does not help.
* :func:`check_datasets` — CIFAR-10 and Fashion-MNIST found or not, with
  :mod:`hetconv_edu.data`'s own lookup and its message saying where to put them.
* :func:`check_torch` — torch's version, the training device and the CPU threads.

Every check takes its inputs as arguments whose defaults read the real environment, so tests
can hand it a broken one. :func:`diagnose` runs them all into a :class:`Report`.

What Python cannot see, the page shows: :func:`check_setup` ends with a small widget that
reads "Widgets work in this page" when the browser can draw widgets; when it cannot, JupyterLab
falls back to the widget's text version, which says to restart the server.

One module per idea: :mod:`~hetconv_edu.doctor.report` (findings and the report),
:mod:`~hetconv_edu.doctor.versions`, :mod:`~hetconv_edu.doctor.server`,
:mod:`~hetconv_edu.doctor.datasets` and :mod:`~hetconv_edu.doctor.torch_setup` (one check
each), :mod:`~hetconv_edu.doctor.diagnosis` (all of them) and
:mod:`~hetconv_edu.doctor.notebook` (the report and the widget probe in a notebook); every name
is importable from ``hetconv_edu.doctor``. torch is imported only inside the checks that need it,
after :func:`torch_import_error` says it can be, so the doctor reports a missing or broken torch
instead of failing with it.
"""

from __future__ import annotations

from hetconv_edu.doctor.datasets import check_datasets
from hetconv_edu.doctor.diagnosis import diagnose
from hetconv_edu.doctor.notebook import WIDGETS_BROKEN, WIDGETS_WORK, check_setup, report_outputs
from hetconv_edu.doctor.report import (
    LEVELS,
    REPORT_CSS,
    SETUP_CLASS,
    SETUP_CSS,
    Finding,
    Report,
)
from hetconv_edu.doctor.server import (
    RESTART_SERVER,
    WIDGET_EXTENSIONS,
    ServerStart,
    check_server_restart,
    extension_install_times,
    running_servers,
)
from hetconv_edu.doctor.torch_setup import TORCH_FIX, check_torch, torch_import_error
from hetconv_edu.doctor.versions import (
    FRONT_END_PACKAGES,
    KNOWN_PROBLEMS,
    KnownProblem,
    check_versions,
    installed_versions,
)

__all__ = [
    "FRONT_END_PACKAGES",
    "KNOWN_PROBLEMS",
    "LEVELS",
    "REPORT_CSS",
    "RESTART_SERVER",
    "SETUP_CLASS",
    "SETUP_CSS",
    "TORCH_FIX",
    "WIDGETS_BROKEN",
    "WIDGETS_WORK",
    "WIDGET_EXTENSIONS",
    "Finding",
    "KnownProblem",
    "Report",
    "ServerStart",
    "check_datasets",
    "check_server_restart",
    "check_setup",
    "check_torch",
    "check_versions",
    "diagnose",
    "extension_install_times",
    "installed_versions",
    "report_outputs",
    "running_servers",
    "torch_import_error",
]
