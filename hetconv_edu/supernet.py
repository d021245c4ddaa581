"""The weight-sharing network of the best-P study: moved to :mod:`hetconv_edu.study.supernet`.

This module only re-exports the names it used to define, so that code written for
``hetconv_edu.supernet`` keeps working; new code imports from the study package.
"""

from hetconv_edu.study.supernet import (
    NestedHetConv2d,
    SuperNet,
    SuperNetTrainer,
    power_of_two_choices,
    recalibrate_batchnorm,
)

__all__ = [
    "NestedHetConv2d",
    "SuperNet",
    "SuperNetTrainer",
    "power_of_two_choices",
    "recalibrate_batchnorm",
]
