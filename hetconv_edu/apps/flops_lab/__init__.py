"""The FLOPs and latency lab (notebook 02): widgets wired to the cost model, the timer and the
figures of :mod:`hetconv_edu.viz.flops_lab`.

``FlopsLabApp().widget`` shows everything; the notebook displays one section per cell:

* :attr:`FlopsLabApp.layer_section` — one layer (D_o, M, N, K, P, G): exact numbers of five
  filter families, the HetConv formula with the values substituted, a bar chart;
* :attr:`FlopsLabApp.units_section` — MACs vs FLOPs, and why tools disagree;
* :attr:`FlopsLabApp.ratio_section` — the cost ratio against P and its 1/K² floor;
* :attr:`FlopsLabApp.network_section` — a whole network per layer, analytic vs measured, and
  the paper's VGG-16 table next to ours;
* :attr:`FlopsLabApp.breakdown_section` — where the MACs go, layer by layer;
* :attr:`FlopsLabApp.latency_section` — the paper's latency (sequential stages) and measured
  wall-clock time on this machine with :func:`hetconv_edu.timing.time_layers`. Before measuring,
  the time the measurement would take is estimated from one batch-1 pass of each layer
  (:func:`estimate_measure_seconds`); settings that would take longer than the app's
  ``time_limit_s`` are refused with the estimate, so the kernel is never blocked for long.

Callbacks only read widgets, call package functions and put the results on screen.

The code, one idea a module: :mod:`~hetconv_edu.apps.flops_lab.app` (:class:`FlopsLabApp`: the
sections put together, the lesson defaults), one small class per section —
:mod:`~hetconv_edu.apps.flops_lab.layer` (sections 1 and 2),
:mod:`~hetconv_edu.apps.flops_lab.ratio` (3), :mod:`~hetconv_edu.apps.flops_lab.network` (4 and
5, which share their controls), :mod:`~hetconv_edu.apps.flops_lab.latency` (6 and 7) — and, with
no widgets, :mod:`~hetconv_edu.apps.flops_lab.networks` (the networks and their cached costs),
:mod:`~hetconv_edu.apps.flops_lab.measure` (the flop counter and the timer) and
:mod:`~hetconv_edu.apps.flops_lab.exercises`; :mod:`~hetconv_edu.apps.flops_lab.widgets` holds
the small widget helpers. Every public name is importable from here.
"""

from hetconv_edu.apps.flops_lab.app import FlopsLabApp
from hetconv_edu.apps.flops_lab.exercises import EXERCISES, exercise
from hetconv_edu.apps.flops_lab.layer import WHY_TOOLS_DISAGREE
from hetconv_edu.apps.flops_lab.measure import (
    estimate_measure_seconds,
    measure_layer_families,
    measure_speedups,
)
from hetconv_edu.apps.flops_lab.network import SHARED_NETWORK_NOTE
from hetconv_edu.apps.flops_lab.networks import (
    NETWORK_FAMILIES,
    NETWORKS,
    cached_network_cost,
    network_parts,
)
from hetconv_edu.apps.flops_lab.ratio import RATIO_PARTS

__all__ = [
    "EXERCISES",
    "NETWORKS",
    "NETWORK_FAMILIES",
    "RATIO_PARTS",
    "SHARED_NETWORK_NOTE",
    "WHY_TOOLS_DISAGREE",
    "FlopsLabApp",
    "cached_network_cost",
    "estimate_measure_seconds",
    "exercise",
    "measure_layer_families",
    "measure_speedups",
    "network_parts",
]
