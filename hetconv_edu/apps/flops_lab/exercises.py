"""The exercises of notebook 02, their answers computed by the package."""

from __future__ import annotations

from hetconv_edu.apps.controls import AnswerChecker, Exercise, pick_exercise
from hetconv_edu.apps.flops_lab.networks import cached_network_cost
from hetconv_edu.flops import hetconv_ratio, layer_cost
from hetconv_edu.paper import true_macs

EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        "A HetConv layer with D_o = 32, M = N = 64, K = 3, P = 4: how many MACs (paper's count)?",
        lambda: layer_cost("hetconv:4", 64, 64, 3, 32).macs,
        unit="MACs",
        hint="D_o²·M·N·K²/P + (M − M/P)·D_o²·N",
    ),
    Exercise(
        "With K = 5, what fraction of a standard convolution's MACs does HetConv with P = 8 "
        "cost? (3 decimals)",
        lambda: hetconv_ratio(5, 8),
        tolerance=0.001,
        hint="1/P + (1 − 1/P)/K²",
    ),
    Exercise(
        "The paper prints 71.35M for VGG-16 P8. What is the true work (FL_H plus unscaled bias "
        "additions), in millions of MACs, to two decimals?",
        lambda: round(true_macs(cached_network_cost("vgg16", "hetconv:8")) / 1e6, 2),
        tolerance=0.005,
        unit="M MACs",
        hint="the paper's ratio also shrank the bias additions; they are D_o²·N per layer",
    ),
)
"""The exercises of notebook 02; answers computed by the package (never shown in a cell)."""


def exercise(number: int) -> AnswerChecker:
    """The checker of exercise ``number`` (1-based) of :data:`EXERCISES`, ready to display."""
    return pick_exercise(EXERCISES, number).checker()
