"""The reference HetConv: a dense K×K weight times the kernel-pattern mask
(:class:`MaskedHetConv2d`, :func:`hetconv_mask`), the paper's operation by definition, for tests
and as the "obvious" way in benchmarks.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hetconv_edu.checks import check_choice
from hetconv_edu.layers.hetconv import ARRANGEMENTS, Arrangement
from hetconv_edu.layers.records import RecordsSettings
from hetconv_edu.layers.settings import (
    ConvSettings,
    Padding,
    check_kernel_size,
    hetconv_fan_in,
    init_uniform,
)
from hetconv_edu.pattern import Kernel, check_part, grouped_hetconv_pattern, hetconv_pattern

__all__ = ["MaskedHetConv2d", "hetconv_mask"]


def hetconv_mask(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    p: int,
    arrangement: Arrangement = "shifted",
) -> np.ndarray:
    """The (N, M, K, K) float32 mask of a HetConv layer's dense weight: 1 over the whole K×K
    kernel at K×K positions and at the centre tap of 1×1 positions, 0 elsewhere. A dense
    convolution with ``weight * mask`` is the paper's operation (paper Fig. 4).

    Raises:
        ValueError: an even or non-positive ``kernel_size``, a ``p`` that does not divide M and
            N, or an unknown ``arrangement``.
    """
    k = check_kernel_size(kernel_size)
    p = check_part(in_channels, out_channels, p)
    check_choice("arrangement", arrangement, ARRANGEMENTS)
    pattern = (hetconv_pattern if arrangement == "shifted" else grouped_hetconv_pattern)(
        in_channels, out_channels, p
    )
    mask = np.zeros((out_channels, in_channels, k, k), dtype=np.float32)
    mask[pattern == Kernel.FULL] = 1.0
    mask[pattern == Kernel.ONE, k // 2, k // 2] = 1.0
    return mask


class MaskedHetConv2d(RecordsSettings, ConvSettings):
    """Reference HetConv: a dense K×K weight multiplied by the kernel-pattern mask.

    Computes the paper's operation by definition (the masked dense convolution) and does the
    full standard-convolution work (FL_S = D_o²·M·N·K² MACs, paper Eq. 1, of which FL_H, paper
    Eq. 4, count); for tests and for benchmarks as the "obvious" way. ``weight`` is
    (N, M, K, K); only the positions the mask keeps matter. Shapes as :class:`HetConv2d`.

    Raises:
        ValueError: as :class:`HetConv2d` (counts, ``kernel_size``, ``p``, the input).
    """

    family = "hetconv"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        p: int,
        stride: int | tuple[int, int] = 1,
        padding: Padding = None,
        dilation: int | tuple[int, int] = 1,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, bias)
        self.p = check_part(self.in_channels, self.out_channels, p)
        m, n, k = self.in_channels, self.out_channels, self.kernel_size
        factory = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(n, m, k, k, **factory))
        self.bias = nn.Parameter(torch.empty(n, **factory)) if bias else None
        mask = torch.from_numpy(hetconv_mask(m, n, k, self.p))
        self.register_buffer("mask", mask.to(**factory), persistent=False)
        init_uniform(hetconv_fan_in(m, k, self.p), self.weight, self.bias)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(
            x, self.weight * self.mask, self.bias, self.stride, self.padding, self.dilation
        )

    def function_settings(self) -> dict[str, str | int]:
        """``{"layer": "MaskedHetConv2d", "p": ...}``, recorded in the state dict: the weight
        is (N, M, K, K) whatever P, only the mask differs."""
        return {"layer": "MaskedHetConv2d", "p": self.p}

    def extra_repr(self) -> str:
        return f"{self._settings_repr()}, p={self.p}, reference=masked dense"
