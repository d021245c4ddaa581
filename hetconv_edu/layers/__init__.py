"""Convolution layers: the exact and fast :class:`HetConv2d`, its masked dense reference, and the
baseline filter families of the paper, all built with one constructor style so a model can swap
them (:func:`make_conv`).

HetConv (Singh et al., CVPR 2019): each of the N filters holds M/P kernels of size K×K and
M − M/P kernels of size 1×1, the K×K ones at input channels m with (m − n) mod P == 0
(:func:`hetconv_edu.pattern.hetconv_pattern`). Cost: FL_H = D_o²·M·N·K²/P + (M − M/P)·D_o²·N
multiply-accumulates (paper Eq. 4), i.e. 1/P + (1 − 1/P)/K² of a standard convolution (paper
Eq. 5). Sources are cited as in :mod:`hetconv_edu.flops`.

Every layer takes ``(B, M, H, W)`` or one image ``(M, H, W)`` and returns ``(B, N, H_o, W_o)``
or ``(N, H_o, W_o)``, with ``nn.Conv2d``'s output size; ``padding=None`` (the default) is
``"same"``: H_o = ⌈H / stride⌉ for an odd K. Constructors raise ``ValueError`` naming the
argument, the value and what is allowed.

The package, one idea a module: the shared argument checks and batch handling
(:mod:`~hetconv_edu.layers.settings`), the state dict's record of settings
(:mod:`~hetconv_edu.layers.records`), the paper's layer (:mod:`~hetconv_edu.layers.hetconv`),
its masked dense reference (:mod:`~hetconv_edu.layers.masked`), the baseline families
(:mod:`~hetconv_edu.layers.baselines`) and :func:`make_conv` (:mod:`~hetconv_edu.layers.factory`);
every public name is importable from ``hetconv_edu.layers``.
"""

from hetconv_edu.layers.baselines import (
    DepthwiseSeparableConv2d,
    GroupwiseConv2d,
    GroupwisePointwiseConv2d,
    NaiveHetConv2d,
    StandardConv2d,
)
from hetconv_edu.layers.factory import make_conv
from hetconv_edu.layers.hetconv import ARRANGEMENTS, Arrangement, HetConv2d
from hetconv_edu.layers.masked import MaskedHetConv2d, hetconv_mask
from hetconv_edu.layers.settings import Padding
from hetconv_edu.pattern import CONV_FAMILIES, ConvSpec, parse_conv_spec

__all__ = [
    "ARRANGEMENTS",
    "CONV_FAMILIES",
    "Arrangement",
    "ConvSpec",
    "DepthwiseSeparableConv2d",
    "GroupwiseConv2d",
    "GroupwisePointwiseConv2d",
    "HetConv2d",
    "MaskedHetConv2d",
    "NaiveHetConv2d",
    "Padding",
    "StandardConv2d",
    "hetconv_mask",
    "make_conv",
    "parse_conv_spec",
]
