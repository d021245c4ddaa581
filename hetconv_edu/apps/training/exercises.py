"""The exercises of notebook 03, their answers computed by the package."""

from __future__ import annotations

from hetconv_edu.apps.controls import AnswerChecker, Exercise, pick_exercise
from hetconv_edu.flops import hetconv_ratio, network_cost
from hetconv_edu.models import build_model


def small_vgg_macs_ratio(conv: str) -> float:
    """MACs of ``small_vgg`` with 3×3 convolutions ``conv`` over those of the standard one, on
    one 32×32 CIFAR-10 image."""
    shape = (1, 3, 32, 32)
    standard = network_cost(build_model("small_vgg", "standard"), shape).macs
    return network_cost(build_model("small_vgg", conv), shape).macs / standard


EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        "1. One 3×3 layer: what fraction of a standard convolution's MACs does HetConv with "
        "P = 4 need? (a number between 0 and 1, two decimals)",
        lambda: hetconv_ratio(3, 4),
        tolerance=0.005,
        hint="1/P of the kernels are 3×3, the rest are 1×1: 1/P + (1 − 1/P)/K².",
    ),
    Exercise(
        "2. The whole small_vgg: what fraction of the standard network's MACs does HetConv "
        "P = 4 need? Why is it more than your answer to 1? (two decimals)",
        lambda: small_vgg_macs_ratio("hetconv:4"),
        tolerance=0.005,
        hint="The first convolution (3 input channels) and the classifier stay standard.",
    ),
)
"""The exercises of notebook 03; answers computed by the package (never shown in a cell)."""


def exercise(number: int) -> AnswerChecker:
    """The checker of exercise ``number`` (1-based) of :data:`EXERCISES`, ready to display."""
    return pick_exercise(EXERCISES, number).checker()
