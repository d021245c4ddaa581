"""What every layer of :mod:`hetconv_edu.layers` shares: its argument checks (counts, an odd
kernel size, stride, padding, dilation), one image or a batch, and its settings' text form.

:class:`ConvSettings` is the base of the layers that compute in ``_forward`` on a 4-D batch;
``forward`` takes ``(B, M, H, W)`` or one image ``(M, H, W)`` as ``nn.Conv2d`` does. Checks raise
``ValueError`` naming the argument, the value and what is allowed.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from hetconv_edu.checks import check_bool, check_int, check_positive_int

__all__ = [
    "ConvSettings",
    "Padding",
    "check_kernel_size",
    "check_padding",
    "hetconv_fan_in",
    "init_uniform",
    "pair",
]

Padding = int | tuple[int, int] | Literal["same", "valid"] | None


def pair(name: str, value: object, minimum: int) -> tuple[int, int]:
    """``value`` (an int or a pair of ints, each at least ``minimum``) as a pair."""
    items = value if isinstance(value, tuple | list) else (value, value)
    if len(items) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    first, second = (check_int(name, v, minimum) for v in items)
    return first, second


def check_kernel_size(kernel_size: object) -> int:
    """``kernel_size`` as a positive odd int (a K×K kernel needs a centre tap)."""
    try:
        kernel_size = check_positive_int("kernel_size", kernel_size)
    except ValueError:
        raise ValueError(
            f"kernel_size must be a positive odd integer, got {kernel_size!r}"
        ) from None
    if kernel_size % 2 == 0:
        raise ValueError(
            f"kernel_size must be a positive odd integer (a K×K kernel needs a centre tap for "
            f"the 1×1 kernels to align with), got {kernel_size}"
        )
    return int(kernel_size)


def check_padding(padding: Padding, kernel_size: int, dilation: tuple[int, int]) -> tuple[int, int]:
    """``padding`` as a pair; None or ``"same"`` keeps the size for an odd K."""
    same = tuple(d * (kernel_size - 1) // 2 for d in dilation)
    if padding is None or padding == "same":
        return same
    if padding == "valid":
        return (0, 0)
    return pair("padding", padding, 0)


def hetconv_fan_in(in_channels: int, kernel_size: int, p: int) -> int:
    """Weights per HetConv filter: M·K²/P + M − M/P (the paper's parameter count divided by N)."""
    m, k = in_channels, kernel_size
    return m // p * k * k + m - m // p


@torch.no_grad()
def init_uniform(fan_in: int, *tensors: torch.Tensor | None) -> None:
    """Fill ``tensors`` (None skipped), in order, uniformly in ±1/sqrt(``fan_in``), as
    ``nn.Conv2d`` does with its own (dense) fan-in."""
    bound = 1.0 / math.sqrt(fan_in)
    for t in tensors:
        if t is not None:
            nn.init.uniform_(t, -bound, bound)


class ConvSettings(nn.Module):
    """Argument checking and ``extra_repr`` shared by every layer of :mod:`hetconv_edu.layers`."""

    family: str = ""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int | tuple[int, int],
        padding: Padding,
        dilation: int | tuple[int, int],
        bias: bool,
    ) -> None:
        super().__init__()
        self.in_channels = check_positive_int("in_channels", in_channels)
        self.out_channels = check_positive_int("out_channels", out_channels)
        self.kernel_size = check_kernel_size(kernel_size)
        self.stride = pair("stride", stride, 1)
        self.dilation = pair("dilation", dilation, 1)
        self.padding = check_padding(padding, self.kernel_size, self.dilation)
        check_bool("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (B, M, H, W) → (B, N, H_o, W_o), or unbatched (M, H, W) → (N, H_o, W_o) as
        ``nn.Conv2d`` accepts: the unbatched input runs as a batch of one, so both give the same
        numbers. Every layer of this module computes in :meth:`_forward`, on 4-D input only.

        Raises:
            ValueError: ``x`` is not 3-D or 4-D, or has not ``in_channels`` channels.
        """
        batch, unbatched = self._as_batch(x)
        y = self._forward(batch)
        return y.squeeze(0) if unbatched else y

    def _as_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, bool]:
        """``x`` as a 4-D batch, and whether it was one unbatched image (see :meth:`forward`)."""
        if x.dim() == 4 and x.shape[1] == self.in_channels:
            return x, False
        if x.dim() == 3 and x.shape[0] == self.in_channels:
            return x.unsqueeze(0), True
        layer = f"{type(self).__name__}({self.in_channels}, {self.out_channels}, ...)"
        if x.dim() not in (3, 4):
            raise ValueError(
                f"{layer} takes a (batch, channels, height, width) tensor or one image "
                f"(channels, height, width), got a {x.dim()}-D tensor of shape {tuple(x.shape)}"
            )
        raise ValueError(
            f"{layer} needs {self.in_channels} input channels, got shape {tuple(x.shape)} "
            f"with {x.shape[-3]} channels (dimension {x.dim() - 3}); check the previous "
            f"layer's out_channels"
        )

    def _settings_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        if self.stride != (1, 1):
            s += f", stride={self.stride}"
        s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        return s

    def _centre_input(self, x: torch.Tensor) -> torch.Tensor:
        """The input as a 1×1 kernel at the K×K kernel's centre tap sees it (zero offset for the
        default 'same' padding): padded or cropped so a stride-only 1×1 conv lines up."""
        offsets = [
            p - d * (self.kernel_size - 1) // 2
            for p, d in zip(self.padding, self.dilation, strict=True)
        ]
        if offsets == [0, 0]:
            return x
        oh, ow = offsets
        if oh > 0 or ow > 0:
            x = F.pad(x, (max(ow, 0), max(ow, 0), max(oh, 0), max(oh, 0)))
        h, w = x.shape[-2:]
        return x[..., max(-oh, 0) : h - max(-oh, 0), max(-ow, 0) : w - max(-ow, 0)]
