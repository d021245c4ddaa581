"""The paper's baseline filter families, in the constructor style of :class:`HetConv2d
<hetconv_edu.layers.hetconv.HetConv2d>`: standard, groupwise, depthwise + pointwise, groupwise +
pointwise, and — for comparison only — the popular "naive HetConv" that is not the paper's layer.
"""

from __future__ import annotations

import torch
from torch import nn

from hetconv_edu.checks import check_positive_int
from hetconv_edu.layers.settings import ConvSettings, Padding
from hetconv_edu.pattern import check_part

__all__ = [
    "DepthwiseSeparableConv2d",
    "GroupwiseConv2d",
    "GroupwisePointwiseConv2d",
    "NaiveHetConv2d",
    "StandardConv2d",
    "TwoStage",
]


class StandardConv2d(nn.Conv2d):
    """Standard (homogeneous) convolution: ``nn.Conv2d`` with this module's argument style
    (``padding=None`` keeps the size). Cost FL_S = D_o²·M·N·K² MACs per image (paper Eq. 1).
    Shapes as ``nn.Conv2d``.

    Raises:
        ValueError: a count that is not a positive integer, or an even ``kernel_size``.
    """

    family = "standard"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        stride: int | tuple[int, int] = 1,
        padding: Padding = None,
        dilation: int | tuple[int, int] = 1,
        bias: bool = True,
        groups: int = 1,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        settings = ConvSettings(
            in_channels, out_channels, kernel_size, stride, padding, dilation, bias
        )
        super().__init__(
            settings.in_channels,
            settings.out_channels,
            settings.kernel_size,
            settings.stride,
            settings.padding,
            settings.dilation,
            groups,
            bias,
            device=device,
            dtype=dtype,
        )


class GroupwiseConv2d(StandardConv2d):
    """Groupwise convolution (GWC): G groups, each filter sees M/G channels with K×K kernels.
    Cost D_o²·M·N·K²/G MACs per image. Shapes as ``nn.Conv2d`` (weight (N, M/G, K, K)).

    Raises:
        ValueError: as :class:`StandardConv2d`, or a ``groups`` that does not divide M and N.
    """

    family = "groupwise"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        groups: int,
        stride: int | tuple[int, int] = 1,
        padding: Padding = None,
        dilation: int | tuple[int, int] = 1,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        groups = check_part(in_channels, out_channels, groups, name="groups")
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            bias=bias,
            groups=groups,
            device=device,
            dtype=dtype,
        )


class TwoStage(nn.Module):
    """A K×K stage (depthwise or groupwise, M→M, no bias) then a pointwise 1×1 stage (M→N)."""

    family = ""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        groups: int,
        stride: int | tuple[int, int],
        padding: Padding,
        dilation: int | tuple[int, int],
        bias: bool,
        device: torch.device | str | None,
        dtype: torch.dtype | None,
    ) -> None:
        super().__init__()
        self.spatial = StandardConv2d(
            in_channels,
            in_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            bias=False,
            groups=groups,
            device=device,
            dtype=dtype,
        )
        self.pointwise = StandardConv2d(
            in_channels, out_channels, 1, bias=bias, device=device, dtype=dtype
        )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = self.spatial.kernel_size[0]
        self.stride, self.padding = self.spatial.stride, self.spatial.padding
        self.dilation = self.spatial.dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.spatial(x))


class DepthwiseSeparableConv2d(TwoStage):
    """Depthwise K×K (one kernel per channel) followed by pointwise 1×1 (MobileNet).
    Cost D_o²·M·K² + M·N·D_o² MACs per image, two sequential stages (1/N + 1/K² of
    standard). (B, M, H, W) → (B, N, H_o, W_o).

    Raises:
        ValueError: as :class:`StandardConv2d`.
    """

    family = "depthwise_pointwise"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        stride: int | tuple[int, int] = 1,
        padding: Padding = None,
        dilation: int | tuple[int, int] = 1,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        m = check_positive_int("in_channels", in_channels)
        super().__init__(
            m, out_channels, kernel_size, m, stride, padding, dilation, bias, device, dtype
        )


class GroupwisePointwiseConv2d(TwoStage):
    """Groupwise K×K with G groups (M→M) followed by pointwise 1×1 (M→N).
    Cost D_o²·M·M·K²/G + M·N·D_o² MACs per image, two sequential stages (1/G + 1/K² of
    standard for M = N). (B, M, H, W) → (B, N, H_o, W_o).

    Raises:
        ValueError: as :class:`StandardConv2d`, or a ``groups`` that does not divide M.
    """

    family = "groupwise_pointwise"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        groups: int,
        stride: int | tuple[int, int] = 1,
        padding: Padding = None,
        dilation: int | tuple[int, int] = 1,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        m = check_positive_int("in_channels", in_channels)
        groups = check_part(m, m, groups, name="groups")
        self.groups = groups
        super().__init__(
            m, out_channels, kernel_size, groups, stride, padding, dilation, bias, device, dtype
        )


class NaiveHetConv2d(ConvSettings):
    """FOR COMPARISON ONLY: the popular public "HetConv", not the paper's layer.

    Sums a groupwise K×K convolution (groups = P, contiguous blocks) and a *full* 1×1
    convolution. Every block position then holds both a K×K and a 1×1 kernel: it can represent
    the same functions (the extra 1×1 adds to the centre tap) but costs 1/P + 1/K² of a
    standard convolution instead of 1/P + (1 − 1/P)/K² (paper Eq. 5), and carries N·M/P
    redundant weights. Shapes as :class:`HetConv2d`.

    Raises:
        ValueError: as :class:`HetConv2d` (counts, ``kernel_size``, ``p``, the input).
    """

    family = "naive_hetconv"

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
        self.groupwise = nn.Conv2d(
            m, n, k, self.stride, self.padding, self.dilation, self.p, bias=False, **factory
        )
        self.pointwise = nn.Conv2d(m, n, 1, self.stride, bias=bias, **factory)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.groupwise(x) + self.pointwise(self._centre_input(x))

    def extra_repr(self) -> str:
        return f"{self._settings_repr()}, p={self.p}, NOT the paper's layer"
