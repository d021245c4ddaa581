"""The paper's layer, exact and fast: :class:`HetConv2d` and its two channel arrangements.

Each of the N filters holds M/P kernels of size K×K and M − M/P kernels of size 1×1
(:func:`hetconv_edu.pattern.hetconv_pattern`); the forward pass is a grouped K×K convolution
plus a 1×1 convolution, never the dense K×K work. Cost: FL_H = D_o²·M·N·K²/P + (M − M/P)·D_o²·N
MACs (paper Eq. 4).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hetconv_edu.checks import check_choice
from hetconv_edu.layers.records import RecordsSettings
from hetconv_edu.layers.settings import ConvSettings, Padding, hetconv_fan_in, init_uniform
from hetconv_edu.pattern import (
    Kernel,
    arrangements_coincide,
    check_part,
    grouped_hetconv_pattern,
    hetconv_pattern,
    shifted_to_grouped_permutation,
)

__all__ = ["ARRANGEMENTS", "Arrangement", "HetConv2d", "channel_shuffle"]

Arrangement = Literal["shifted", "grouped"]
ARRANGEMENTS: tuple[str, ...] = ("shifted", "grouped")
"""HetConv channel arrangements: the paper's ``shifted`` one and its relabelling ``grouped``."""


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """``F.channel_shuffle(x, groups)`` of a 4-D (B, C, H, W) tensor: channel
    g·(C/groups) + i moves to i·groups + g, in the memory format of ``x``.

    Eager, compiled and ``torch.export`` code runs the native kernel (the fastest). Under
    ``torch.jit.trace``, which the TorchScript-based ONNX exporter (``dynamo=False``) and fvcore
    use and which has no ONNX form of ``channel_shuffle``, the same permutation is written with
    reshape and permute; an NHWC (channels_last) input is shuffled along its innermost
    dimension and stays NHWC.
    """
    if not torch.jit.is_tracing():
        return F.channel_shuffle(x, groups)
    b, c, h, w = x.shape
    if x.is_contiguous() or not x.is_contiguous(memory_format=torch.channels_last):
        return x.reshape(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)
    nhwc = x.permute(0, 2, 3, 1).reshape(b, h, w, groups, c // groups)
    return nhwc.transpose(3, 4).reshape(b, h, w, c).permute(0, 3, 1, 2)


class HetConv2d(RecordsSettings, ConvSettings):
    """Heterogeneous-kernel convolution (Singh et al., CVPR 2019), exact and fast.

    Each of the ``out_channels`` (N) filters holds ``in_channels / p`` kernels of size
    ``kernel_size``² (K×K) and ``in_channels − in_channels / p`` kernels of size 1×1. Cost per
    image for an output map of D_o×D_o: FL_H = D_o²·M·N·K²/P + (M − M/P)·D_o²·N MACs (paper
    Eq. 4).

    Parameters are exactly the paper's, N·(M·K²/P + M − M/P) weights (+ N bias):

    * ``weight_kxk`` (N, M/P, K, K): filter n's K×K kernels, for its K×K channels in order;
    * ``weight_1x1`` (N, M − M/P): filter n's 1×1 kernels, for its other channels in order.

    ``arrangement`` says which channels those are:

    * ``"shifted"`` (default, paper Fig. 4): K×K at channel m of filter n iff
      (m − n) mod P == 0. Drop-in for ``nn.Conv2d``.
    * ``"grouped"``: K×K iff m div (M/P) == n div (N/P), i.e. P contiguous diagonal blocks.
      This *is* the shifted layer with its input and output channels relabelled
      (:func:`~hetconv_edu.pattern.shifted_to_grouped_permutation`), so a network built from
      grouped layers is a network of the paper's layers whose channels are listed group by
      group. Consecutive layers need not permute anything between them, which makes it the
      fastest choice; the models use it.

    The forward pass never does the dense K×K work: a grouped K×K convolution (groups = P)
    plus a 1×1 convolution whose own-group weights are held at zero, added. That 1×1 conv
    multiplies those zeros too: it executes D_o²·N·M/P more MACs than FL_H (1/P of the 1×1
    work) because one dense 1×1 runs faster on CPU than P block-sparse pieces;
    :func:`hetconv_edu.flops.layer_cost` reports both counts. The shifted arrangement also
    gathers the input channels into group order and scatters the result back.

    Args:
        in_channels: M, input channels.
        out_channels: N, filters.
        kernel_size: K, odd.
        p: the part P; must divide M and N. P = 1 is a standard convolution, P = M leaves one
            K×K kernel per filter.
        stride, padding, dilation: as ``nn.Conv2d``; ``padding=None`` keeps the size ('same').
        bias: add a learnable bias per filter.
        arrangement: ``"shifted"`` (paper) or ``"grouped"`` (relabelled, fastest).
        device, dtype: of the parameters, as ``nn.Conv2d``.

    Shape:
        - Input: (B, M, H_in, W_in) or (M, H_in, W_in).
        - Output: (B, N, H_out, W_out) or (N, H_out, W_out), where, as for ``nn.Conv2d``,
          H_out = ⌊(H_in + 2·padding[0] − dilation[0]·(K − 1) − 1) / stride[0]⌋ + 1 (W_out
          likewise); the default padding (``"same"``) gives H_out = ⌈H_in / stride[0]⌉.
        - ``weight_kxk``: (N, M/P, K, K); ``weight_1x1``: (N, M − M/P); ``bias``: (N,).

    Raises:
        ValueError: a count that is not a positive integer, an even ``kernel_size``, a ``p``
            that does not divide both M and N (the message lists the allowed values), an
            unknown ``arrangement``; in :meth:`forward`, an input that is not 3-D or 4-D or
            has not M channels.

    Example::

        >>> import torch
        >>> from hetconv_edu.layers import HetConv2d
        >>> m = HetConv2d(16, 32, 3, p=4)               # like nn.Conv2d(16, 32, 3, padding=1)
        >>> x = torch.randn(20, 16, 50, 100)
        >>> m(x).shape
        torch.Size([20, 32, 50, 100])
        >>> m = HetConv2d(16, 32, 3, p=4, stride=2, arrangement="grouped")
        >>> m(x).shape
        torch.Size([20, 32, 25, 50])
        >>> m.weight_kxk.shape, m.weight_1x1.shape      # 16/4 K×K and 16 − 16/4 1×1 kernels
        (torch.Size([32, 4, 3, 3]), torch.Size([32, 12]))
        >>> HetConv2d(16, 32, 3, p=3)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: p=3 is not allowed for ... allowed values: [1, 2, 4, 8, 16]
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
        arrangement: Arrangement = "shifted",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, bias)
        self.p = check_part(self.in_channels, self.out_channels, p)
        check_choice("arrangement", arrangement, ARRANGEMENTS)
        self.arrangement = arrangement
        m, n, k = self.in_channels, self.out_channels, self.kernel_size
        factory = {"device": device, "dtype": dtype}
        self.weight_kxk = nn.Parameter(torch.empty(n, m // self.p, k, k, **factory))
        self.weight_1x1 = nn.Parameter(torch.empty(n, m - m // self.p, **factory))
        self.bias = nn.Parameter(torch.empty(n, **factory)) if bias else None

        pattern = self.pattern()
        for kind, name in ((Kernel.FULL, "_index_kxk"), (Kernel.ONE, "_index_1x1")):
            index = torch.from_numpy(np.flatnonzero(pattern == kind)).to(device)
            self.register_buffer(name, index, persistent=False)
        self._shifted = arrangement == "shifted"
        if self._shifted:
            order = shifted_to_grouped_permutation(n, self.p)
            self.register_buffer("_kxk_order", torch.from_numpy(order).to(device), persistent=False)
        self.reset_parameters()

    def pattern(self) -> np.ndarray:
        """The layer's (N, M) int8 kernel map (:class:`~hetconv_edu.pattern.Kernel` values), in
        its own arrangement."""
        if self.arrangement == "shifted":
            return hetconv_pattern(self.in_channels, self.out_channels, self.p)
        return grouped_hetconv_pattern(self.in_channels, self.out_channels, self.p)

    def function_settings(self) -> dict[str, str | int]:
        """``{"layer": "HetConv2d", "arrangement": ..., "p": ...}``, recorded in the state dict.
        A state dict of the other arrangement is refused (unless both put the K×K kernels at the
        same channels, P = 1 or M = N = P)."""
        return {"layer": "HetConv2d", "arrangement": self.arrangement, "p": self.p}

    def _same_function(self, saved: dict) -> bool:
        mine = self.function_settings()
        if self._unrecorded_is_ambiguous():
            return saved == mine
        return {**saved, "arrangement": self.arrangement} == mine

    def _unrecorded_is_ambiguous(self) -> bool:
        return not arrangements_coincide(self.in_channels, self.out_channels, self.p)

    @property
    def fan_in(self) -> int:
        """Weights per filter: M·K²/P + M − M/P (the paper's parameter count divided by N)."""
        return hetconv_fan_in(self.in_channels, self.kernel_size, self.p)

    def reset_parameters(self) -> None:
        """Uniform in ±1/sqrt(fan_in), as ``nn.Conv2d`` does with its own (dense) fan-in."""
        init_uniform(self.fan_in, self.weight_kxk, self.weight_1x1, self.bias)

    def weight_1x1_dense(self) -> torch.Tensor:
        """The (N, M, 1, 1) weight of the 1×1 part in the layer's arrangement, zero where a
        filter has its K×K kernels (what the fast path multiplies)."""
        n, m = self.out_channels, self.in_channels
        flat = self.weight_1x1.new_zeros(n * m)
        flat = flat.index_copy(0, self._index_1x1, self.weight_1x1.reshape(-1))
        return flat.view(n, m, 1, 1)

    def dense_weight(self) -> torch.Tensor:
        """The equivalent dense K×K weight (N, M, K, K): the full K×K kernel at K×K positions, the
        1×1 weight at the centre tap of 1×1 positions, zero elsewhere. A plain convolution with
        this weight computes exactly what the layer computes (:meth:`forward_reference`)."""
        n, m, k = self.out_channels, self.in_channels, self.kernel_size
        dense = self.weight_kxk.new_zeros(n * m, k * k)
        dense = dense.index_put((self._index_kxk,), self.weight_kxk.reshape(-1, k * k))
        centre = torch.full_like(self._index_1x1, k // 2 * k + k // 2)
        dense = dense.index_put((self._index_1x1, centre), self.weight_1x1.reshape(-1))
        return dense.view(n, m, k, k)

    @torch.no_grad()
    def load_dense_weight_(self, weight: torch.Tensor) -> HetConv2d:
        """Set the parameters from a dense (N, M, K, K) weight, the inverse of
        :meth:`dense_weight`: the K×K kernels at K×K positions and the centre taps at 1×1
        positions are copied, the rest of ``weight`` is ignored. Returns the layer.

        Raises:
            ValueError: ``weight`` is not (N, M, K, K).
        """
        n, m, k = self.out_channels, self.in_channels, self.kernel_size
        if tuple(weight.shape) != (n, m, k, k):
            raise ValueError(
                f"a dense weight for this layer is ({n}, {m}, {k}, {k}), got {tuple(weight.shape)}"
            )
        flat = weight.detach().reshape(n * m, k * k).to(self.weight_kxk)
        self.weight_kxk.copy_(flat.index_select(0, self._index_kxk).view_as(self.weight_kxk))
        centre = flat[:, k // 2 * k + k // 2]
        self.weight_1x1.copy_(centre.index_select(0, self._index_1x1).view_as(self.weight_1x1))
        return self

    def forward_reference(self, x: torch.Tensor) -> torch.Tensor:
        """The textbook definition: one dense K×K convolution with :meth:`dense_weight`, (B, M,
        H, W) → (B, N, H_o, W_o). Exact but does the full standard-convolution work (FL_S, paper
        Eq. 1); for tests and figures.

        Raises:
            RuntimeError: from ``F.conv2d``, for an input it cannot take.
        """
        return F.conv2d(x, self.dense_weight(), self.bias, self.stride, self.padding, self.dilation)

    def forward_parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The layer's two paths on ``x``, computed by the code :meth:`forward` runs:
        ``(kxk, one)``, each shaped like ``forward(x)`` ((B, N, H_o, W_o) or (N, H_o, W_o)).

        * ``kxk``: what the M/P K×K kernels of every filter give (the grouped K×K convolution);
        * ``one``: what its M − M/P 1×1 kernels give (the 1×1 convolution), plus the bias.

        ``one + kxk`` is exactly ``forward(x)``, bit for bit: :meth:`forward` adds these two
        tensors. For P = 1 there are no 1×1 kernels: ``kxk`` is the whole convolution with the
        bias, ``one`` zero. FL_H's two terms, D_o²·M·N·K²/P (paper Eq. 2) and (M − M/P)·D_o²·N
        (paper Eq. 3) MACs, are the work of ``kxk`` and ``one``.

        Raises:
            ValueError: as :meth:`forward`, for a wrong rank or channel count.
        """
        batch, unbatched = self._as_batch(x)
        kxk, one = self._parts(batch)
        if one is None:
            one = torch.zeros_like(kxk)
        return (kxk.squeeze(0), one.squeeze(0)) if unbatched else (kxk, one)

    def _parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(K×K part, 1×1 part + bias)`` of a 4-D batch; the 1×1 part is None for P = 1."""
        if self.p == 1:
            y = F.conv2d(x, self.weight_kxk, self.bias, self.stride, self.padding, self.dilation)
            return y, None
        p = self.p
        one = F.conv2d(self._centre_input(x), self.weight_1x1_dense(), self.bias, self.stride)
        if not self._shifted:
            kxk = F.conv2d(x, self.weight_kxk, None, self.stride, self.padding, self.dilation, p)
            return kxk, one
        # Shifted layout: channel i·P + r belongs to group r. A channel shuffle lists the input
        # channels group by group, the grouped K×K conv (filters listed the same way) runs, and
        # the inverse shuffle puts each group's outputs back at their shifted positions.
        m = self.in_channels
        w_kxk = self.weight_kxk.index_select(0, self._kxk_order)
        kxk = F.conv2d(
            channel_shuffle(x, m // p), w_kxk, None, self.stride, self.padding, self.dilation, p
        )
        return channel_shuffle(kxk, p), one

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        kxk, one = self._parts(x)
        return kxk if one is None else one.add_(kxk)

    def extra_repr(self) -> str:
        s = f"{self._settings_repr()}, p={self.p}, arrangement={self.arrangement!r}"
        return s + ("" if self.bias is not None else ", bias=False")
