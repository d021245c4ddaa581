"""The paper's VGG-16/CIFAR-10 results and the counting convention that reproduces them.

Source: P. Singh, V. K. Verma, P. Rai, V. P. Namboodiri, "HetConv: Heterogeneous Kernel-Based
Convolutions for Deep CNNs", CVPR 2019 (arXiv 1903.04120), Table 1 ("VGG-16 on CIFAR-10"):
FLOPs (the paper counts multiply-accumulates) and top-1 accuracy for P = 1, 2, 4, …, 64. The
first convolution stays standard; every other 3×3 convolution becomes HetConv with part P.

Two ways to count the same network are provided:

* :func:`paper_convention_macs` — the paper's way, reproducing its printed figures digit for
  digit: the first conv's MACs plus its bias additions, the two linear layers' MACs (no linear
  bias, no batch norm), and for every HetConv layer its *standard* count (MACs + bias additions)
  multiplied by the ratio 1/P + (1 − 1/P)/K², the total then **truncated** to two decimals in
  millions (:func:`truncate_millions`).
* :func:`true_macs` — the work the HetConv layers really do: FL_H plus their bias additions,
  *unscaled* (a HetConv layer still adds one bias per output value: D_o²·N additions whatever P).

They differ by 0.1–0.2M for P ≥ 2 because the paper's ratio scales the bias additions too: a
layer's D_o²·N bias additions are counted as D_o²·N·(1/P + (1 − 1/P)/K²). Summed over VGG-16's
twelve HetConv layers (D_o²·N = 65,536 / 32,768 / 16,384 / 8,192 / 2,048 per layer at
32/16/8/4/2 pixels) that removes 94K (P = 2) to 185K (P = 64) additions — exactly the gap.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from hetconv_edu.checks import check_int, check_number, check_positive_int
from hetconv_edu.flops import NetworkCost, hetconv_ratio, layer_cost

__all__ = [
    "PAPER_CITATION",
    "PAPER_PARTS",
    "PAPER_VGG16_CIFAR10",
    "PaperRow",
    "ReproducedRow",
    "convention_gap_macs",
    "paper_convention_macs",
    "paper_row",
    "reproduce_row",
    "reproduce_vgg16_table",
    "true_macs",
    "truncate_millions",
]

PAPER_CITATION = (
    "Singh, Verma, Rai, Namboodiri, “HetConv: Heterogeneous Kernel-Based Convolutions for Deep "
    "CNNs”, CVPR 2019 (arXiv 1903.04120), Table 1: VGG-16 on CIFAR-10."
)


@dataclass(frozen=True)
class PaperRow:
    """One row of the paper's VGG-16/CIFAR-10 table, as printed."""

    p: int
    """The part P (1 = the standard VGG-16)."""
    flops_m: float
    """The paper's "FLOPs" in millions; these are multiply-accumulates (MACs)."""
    accuracy: float
    """Top-1 test accuracy in percent."""

    @property
    def model(self) -> str:
        return "VGG-16 (standard)" if self.p == 1 else f"VGG-16 P{self.p}"


PAPER_VGG16_CIFAR10: tuple[PaperRow, ...] = (
    PaperRow(1, 313.74, 94.06),
    PaperRow(2, 175.23, 93.89),
    PaperRow(4, 105.98, 93.93),
    PaperRow(8, 71.35, 93.92),
    PaperRow(16, 54.04, 93.96),
    PaperRow(32, 45.38, 93.73),
    PaperRow(64, 41.05, 93.42),
)
"""The paper's Table 1 (VGG-16 on CIFAR-10), FLOPs in millions of MACs, as printed."""

PAPER_PARTS: tuple[int, ...] = tuple(r.p for r in PAPER_VGG16_CIFAR10)
"""The parts P the paper reports for VGG-16: 1, 2, 4, …, 64."""


def paper_row(p: int) -> PaperRow:
    """The paper's row for part ``p``; ``ValueError`` if the paper did not report it."""
    p = check_positive_int("p", p)
    for row in PAPER_VGG16_CIFAR10:
        if row.p == p:
            return row
    raise ValueError(f"the paper reports VGG-16 only for P in {list(PAPER_PARTS)}, got {p!r}")


def truncate_millions(x: float, decimals: int = 2) -> float:
    """``x`` in millions, **truncated** (not rounded) to ``decimals`` places, as the paper prints.

    >>> truncate_millions(71_355_164.4)
    71.35
    >>> truncate_millions(45_385_329.8)
    45.38

    (Rounding would give 71.36 and 45.39, which the paper does not print.) A tiny tolerance
    absorbs binary floating-point error so that e.g. 71,350,000 stays 71.35. ``ValueError``
    unless ``x`` is a finite number >= 0 and ``decimals`` an integer >= 0.
    """
    x = check_number("x", x, minimum=0)
    scale = 10 ** check_int("decimals", decimals, minimum=0)
    return math.floor(x / 1e6 * scale + 1e-9) / scale


def _part_of(row) -> int:
    """The part P of a conv row for the paper's ratio: P for HetConv, 1 for a standard conv."""
    family = row.family
    if family == "standard" or family.startswith("HetConv P="):
        return row.p or 1
    raise ValueError(
        f"the paper's convention is defined for standard and HetConv layers only; layer "
        f"{row.name!r} is {family!r}"
    )


def _check_cost(cost: object) -> NetworkCost:
    if not isinstance(cost, NetworkCost):
        raise ValueError(
            f"cost must be a NetworkCost (hetconv_edu.flops.network_cost(model, input_shape)), "
            f"got {cost!r}"
        )
    return cost


def paper_convention_macs(cost: NetworkCost) -> float:
    """Total MACs of ``cost`` counted the paper's way (not yet truncated; see the module text).

    * a standard conv (the first one): its MACs + its bias additions;
    * a HetConv layer: its *standard* count (D_o²·M·N·K² + bias additions) × (1/P + (1−1/P)/K²);
    * a linear layer: its MACs only (no bias).

    ``truncate_millions(paper_convention_macs(network_cost(vgg16("hetconv:P"), (1, 3, 32, 32))))``
    equals the paper's printed figure for all seven P. The result is a float because the ratio
    scales the bias additions by a fraction; :func:`true_macs` gives the integer work instead.
    Counted per image (the input's batch size divides the rows' batch-scaled counts).
    """
    cost = _check_cost(cost)
    batch = cost.input_shape[0] if cost.input_shape else 1
    total = 0.0
    for row in cost.rows:
        if row.family == "linear":
            total += row.macs / batch
            continue
        p = _part_of(row)
        standard = layer_cost(
            "standard", row.in_channels, row.out_channels, row.kernel_size, row.out_size
        ).macs
        total += (standard + row.bias_adds / batch) * hetconv_ratio(row.kernel_size, p)
    return total


def true_macs(cost: NetworkCost) -> int:
    """The work the network really does, per image: every conv's analytic MACs (FL_H for
    HetConv) plus its bias additions *unscaled*, plus the linear layers' MACs (no linear bias,
    as in the paper's convention, so the two counts differ only in the bias scaling).

    For the paper's VGG-16 this gives 313.74 / 175.33 / 106.12 / 71.52 / 54.22 / 45.57 /
    41.24M for P = 1 … 64 (rounded to two decimals). It exceeds
    :func:`paper_convention_macs` by :func:`convention_gap_macs`: the paper's ratio also
    scaled the bias additions, which a HetConv layer does not do.
    """
    cost = _check_cost(cost)
    batch = cost.input_shape[0] if cost.input_shape else 1
    total = 0
    for row in cost.rows:
        total += row.macs if row.family == "linear" else row.macs + row.bias_adds
    return total // batch


def convention_gap_macs(cost: NetworkCost) -> float:
    """``true_macs − paper_convention_macs``: the bias additions the paper's ratio scaled away,
    Σ over HetConv layers of D_o²·N·(1 − 1/P)(1 − 1/K²)."""
    return true_macs(cost) - paper_convention_macs(cost)


@dataclass(frozen=True)
class ReproducedRow:
    """The paper's VGG-16 row for one P next to our counts of the same network."""

    p: int
    paper_m: float
    """The paper's printed FLOPs (M MACs)."""
    ours_paper_convention_m: float
    """:func:`paper_convention_macs`, truncated to two decimals in millions."""
    ours_true_m: float
    """:func:`true_macs` in millions, rounded to two decimals."""
    gap_macs: float
    """:func:`convention_gap_macs`: bias additions the paper's ratio scaled away."""
    accuracy: float
    """The paper's accuracy (%); we report it, we do not recompute it here."""

    @property
    def matches(self) -> bool:
        return self.ours_paper_convention_m == self.paper_m


def reproduce_row(p: int, cost: NetworkCost) -> ReproducedRow:
    """The paper's row for ``p`` next to our counts of ``cost`` (the VGG-16 with HetConv P)."""
    printed = paper_row(p)
    cost = _check_cost(cost)
    return ReproducedRow(
        p=p,
        paper_m=printed.flops_m,
        ours_paper_convention_m=truncate_millions(paper_convention_macs(cost)),
        ours_true_m=round(true_macs(cost) / 1e6, 2),
        gap_macs=convention_gap_macs(cost),
        accuracy=printed.accuracy,
    )


def reproduce_vgg16_table(
    cost_of: Callable[[int], NetworkCost] | None = None,
) -> tuple[ReproducedRow, ...]:
    """Count our :func:`~hetconv_edu.models.vgg16` with HetConv P for every P of the paper's
    table. ``cost_of(p)`` supplies the network cost (e.g. a cached one); by default each is
    counted afresh with :func:`~hetconv_edu.flops.network_cost` (one forward pass under the flop
    counter per P, a few seconds in all)."""
    if cost_of is not None and not callable(cost_of):
        raise ValueError(f"cost_of must be None or a function p → NetworkCost, got {cost_of!r}")
    if cost_of is None:
        from hetconv_edu.flops import network_cost
        from hetconv_edu.models import build_model

        def cost_of(p: int) -> NetworkCost:
            return network_cost(build_model("vgg16", f"hetconv:{p}", seed=None), (1, 3, 32, 32))

    return tuple(reproduce_row(p, cost_of(p)) for p in PAPER_PARTS)
