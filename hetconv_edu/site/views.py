"""What the page shows for each setting, computed by the package's figure functions.

Two sections, each a dict of figures (:func:`~hetconv_edu.site.pack.figure_json`) and HTML:

* :func:`explorer_view` — the kernel explorer of notebook 01 for one HetConv layer
  (M, N, K, P, filter n): the N×M kernel map (:func:`hetconv_edu.viz.explorer.map_figure_data`),
  the selected filter at its real size (:func:`~hetconv_edu.viz.explorer.filter_figure_data`)
  and the counters with the cost ratio's formula
  (:func:`~hetconv_edu.viz.explorer.counters_html`).
* :func:`lab_view` — the per-layer cost lab of notebook 02 for one (M, N, K, P): the five
  filter families' exact MACs, parameters and ratios with FL_H's formula and this layer's
  numbers (:func:`hetconv_edu.viz.flops_lab.layer_numbers_html`) and the ratio against P
  (:func:`~hetconv_edu.viz.flops_lab.ratio_curve_figure`). The groupwise family uses G = P,
  the paper's comparison. (The lab's bar chart is left out: plotly builds it slowly, about a
  tenth of a second per setting, and its numbers are the table's.)

:func:`layer_chunk` gathers every view of one layer (M, N) of a :class:`SiteGrid` into one
pooled chunk: the page loads one chunk per layer a student looks at.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from hetconv_edu.site.grid import SiteGrid
from hetconv_edu.site.pack import Pool, figure_json
from hetconv_edu.viz.explorer import (
    ExplorerState,
    counters_html,
    filter_figure_data,
    map_figure_data,
)
from hetconv_edu.viz.flops_lab import (
    family_costs,
    layer_numbers_html,
    ratio_curve_figure,
)

__all__ = [
    "explorer_key",
    "explorer_state",
    "explorer_view",
    "lab_key",
    "lab_view",
    "layer_chunk",
    "layer_key",
]


def layer_key(in_channels: int, out_channels: int) -> str:
    """The key of a layer's chunk: ``"M,N"``."""
    return f"{in_channels},{out_channels}"


def explorer_key(kernel_size: int, p: int, filter_index: int) -> str:
    """The key of an explorer view inside its layer's chunk: ``"K,P,n"``."""
    return f"{kernel_size},{p},{filter_index}"


def lab_key(kernel_size: int, p: int) -> str:
    """The key of a cost-lab view inside its layer's chunk: ``"K,P"``."""
    return f"{kernel_size},{p}"


def explorer_state(
    m: int, n: int, k: int, p: int, filter_index: int, out_size: int
) -> ExplorerState:
    """The explorer's state for a page setting: one HetConv layer (its counters still give the
    standard layer's MACs and the ratio)."""
    return ExplorerState(
        in_channels=m,
        out_channels=n,
        kernel_size=k,
        p=p,
        family="hetconv",
        filter_index=filter_index,
        out_size=out_size,
    )


Template = Callable[[dict[str, Any]], Any] | None


def explorer_view(state: ExplorerState, template: Template = None) -> dict[str, Any]:
    """The explorer's map, filter figure and counters for ``state`` (``template``: see
    :func:`~hetconv_edu.site.pack.figure_json`)."""
    return {
        "map": figure_json(map_figure_data(state), template),
        "filter": figure_json(filter_figure_data(state), template),
        "counters": counters_html(state),
    }


@lru_cache(maxsize=64)
def _ratio_curve(kernel_size: int, p: int) -> dict[str, Any]:
    # The same curve for every M and N: drawn once per (K, P).
    return figure_json(ratio_curve_figure(kernel_size, p))


def lab_view(
    m: int, n: int, k: int, p: int, out_size: int, template: Template = None
) -> dict[str, Any]:
    """The cost lab's numbers (with FL_H's formula) and ratio curve for one layer setting,
    the groupwise family with G = P."""
    rows = family_costs(out_size, m, n, k, p, p)
    ratio = dict(_ratio_curve(k, p))
    if template is not None:
        ratio["layout"] = {**ratio["layout"], "template": template(ratio["layout"]["template"])}
    return {"numbers": layer_numbers_html(rows, out_size, m, n, k, p), "ratio": ratio}


def layer_chunk(
    grid: SiteGrid, m: int, n: int, step: Callable[[], None] | None = None
) -> dict[str, Any]:
    """Every view of the layer (M, N) in ``grid``, pooled (:class:`~hetconv_edu.site.pack.Pool`).

    Returns ``{"m", "n", "explorer": {"K,P,n": view}, "lab": {"K,P": view}, "pool": [...]}``.
    ``step`` is called after each layer setting (K, P).
    """
    pool = Pool()
    explorer: dict[str, Any] = {}
    lab: dict[str, Any] = {}
    for k, p in grid.settings(m, n):
        for f in grid.filter_choices(p):
            state = explorer_state(m, n, k, p, f, grid.out_size)
            explorer[explorer_key(k, p, f)] = pool.intern(explorer_view(state, pool.constant))
        lab[lab_key(k, p)] = pool.intern(lab_view(m, n, k, p, grid.out_size, pool.constant))
        if step is not None:
            step()
    return {"m": m, "n": n, "explorer": explorer, "lab": lab, "pool": pool.entries}
