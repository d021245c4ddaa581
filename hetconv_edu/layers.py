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
"""

from __future__ import annotations

import json
import math
import warnings
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hetconv_edu.checks import check_bool, check_choice, check_int, check_positive_int
from hetconv_edu.pattern import (
    CONV_FAMILIES,
    ConvSpec,
    Kernel,
    arrangements_coincide,
    check_part,
    grouped_hetconv_pattern,
    hetconv_pattern,
    parse_conv_spec,
    shifted_to_grouped_permutation,
)

__all__ = [
    "ARRANGEMENTS",
    "CONV_FAMILIES",
    "ConvSpec",
    "DepthwiseSeparableConv2d",
    "GroupwiseConv2d",
    "GroupwisePointwiseConv2d",
    "HetConv2d",
    "MaskedHetConv2d",
    "NaiveHetConv2d",
    "StandardConv2d",
    "hetconv_mask",
    "make_conv",
    "parse_conv_spec",
]

Arrangement = Literal["shifted", "grouped"]
ARRANGEMENTS: tuple[str, ...] = ("shifted", "grouped")
"""HetConv channel arrangements: the paper's ``shifted`` one and its relabelling ``grouped``."""

Padding = int | tuple[int, int] | Literal["same", "valid"] | None


def _pair(name: str, value: object, minimum: int) -> tuple[int, int]:
    items = value if isinstance(value, tuple | list) else (value, value)
    if len(items) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    first, second = (check_int(name, v, minimum) for v in items)
    return first, second


def _check_kernel_size(kernel_size: object) -> int:
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


def _check_padding(padding: Padding, kernel_size: int, dilation: tuple[int, int]):
    same = tuple(d * (kernel_size - 1) // 2 for d in dilation)
    if padding is None or padding == "same":
        return same
    if padding == "valid":
        return (0, 0)
    return _pair("padding", padding, 0)


class _ConvSettings(nn.Module):
    """Argument checking and ``extra_repr`` shared by every layer of this module."""

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
        self.kernel_size = _check_kernel_size(kernel_size)
        self.stride = _pair("stride", stride, 1)
        self.dilation = _pair("dilation", dilation, 1)
        self.padding = _check_padding(padding, self.kernel_size, self.dilation)
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


def _channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
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


def _describe(settings: dict) -> str:
    rest = ", ".join(f"{k}={v!r}" for k, v in sorted(settings.items()) if k != "layer")
    return f"{settings.get('layer', 'layer')}({rest})"


class _RecordsSettings:
    """Mixin for layers with settings that change what the weights compute without changing
    their shapes (HetConv's arrangement, the masked layer's P): the state dict records them
    under ``_extra_state`` (the bytes of a JSON object, a uint8 tensor, so every tool that
    handles state dicts of tensors keeps working), and loading a state dict recorded with
    other settings is refused, naming both, before any weight is copied. A state dict saved
    before the record existed loads as before; when its shapes cannot tell the settings apart,
    with a warning."""

    def function_settings(self) -> dict[str, str | int]:
        """The settings, beyond the parameter shapes, that decide the layer's function."""
        raise NotImplementedError

    def _same_function(self, saved: dict) -> bool:
        return saved == self.function_settings()

    def _unrecorded_is_ambiguous(self) -> bool:
        return True

    def get_extra_state(self) -> torch.Tensor:
        text = json.dumps(self.function_settings(), sort_keys=True)
        return torch.tensor(list(text.encode()), dtype=torch.uint8)

    def set_extra_state(self, state: object) -> None:
        """Nothing to set: :meth:`_load_from_state_dict` checked the record already."""

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ) -> None:
        key = prefix + "_extra_state"
        where = f"layer {prefix[:-1]!r}" if prefix else "this layer"
        mine = self.function_settings()
        if key in state_dict:
            saved = _decode_settings(state_dict[key])
            if saved is None:
                error_msgs.append(
                    f"{where}: the state dict's settings record {key!r} is damaged (expected "
                    f"the UTF-8 bytes of a JSON object as a uint8 tensor); save the layer again"
                )
                return
            if not self._same_function(saved):
                error_msgs.append(
                    f"{where}: the state dict was saved by {_describe(saved)}, this layer is "
                    f"{_describe(mine)}. These settings change what the weights compute without "
                    f"changing their shapes, so the loaded layer would compute a different "
                    f"function{_HINTS.get(_differing(saved, mine), '')}. Build the layer as "
                    f"{_describe(saved)} to load this state dict."
                )
                return
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )
        if key not in state_dict:
            if key in missing_keys:
                missing_keys.remove(key)
            loaded = any(prefix + name in state_dict for name, _ in self.named_parameters())
            if loaded and self._unrecorded_is_ambiguous():
                names = ", ".join(sorted(k for k in mine if k != "layer"))
                warnings.warn(
                    f"a state dict saved before hetconv_edu recorded {names} "
                    f"was loaded into {_describe(mine)}; it is taken to come from a layer with "
                    f"these settings. If it came from another (e.g. another arrangement), the "
                    f"outputs are wrong: load it into a layer built like the saved one.",
                    stacklevel=2,
                )


_HINTS = {
    ("arrangement",): (
        " (the grouped layer is the shifted one with its input and output channels relabelled; "
        "a single layer cannot undo the relabelling of its neighbours)"
    ),
}


def _differing(saved: dict, mine: dict) -> tuple[str, ...]:
    return tuple(sorted(k for k in saved.keys() | mine.keys() if saved.get(k) != mine.get(k)))


def _decode_settings(value: object) -> dict | None:
    if not isinstance(value, torch.Tensor) or value.dtype != torch.uint8 or value.dim() != 1:
        return None
    try:
        settings = json.loads(bytes(value.tolist()).decode())
    except (UnicodeDecodeError, ValueError):
        return None
    return settings if isinstance(settings, dict) else None


class HetConv2d(_RecordsSettings, _ConvSettings):
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
        m, k = self.in_channels, self.kernel_size
        return m // self.p * k * k + m - m // self.p

    def reset_parameters(self) -> None:
        """Uniform in ±1/sqrt(fan_in), as ``nn.Conv2d`` does with its own (dense) fan-in."""
        bound = 1.0 / math.sqrt(self.fan_in)
        for t in (self.weight_kxk, self.weight_1x1, self.bias):
            if t is not None:
                nn.init.uniform_(t, -bound, bound)

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
            _channel_shuffle(x, m // p), w_kxk, None, self.stride, self.padding, self.dilation, p
        )
        return _channel_shuffle(kxk, p), one

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        kxk, one = self._parts(x)
        return kxk if one is None else one.add_(kxk)

    def extra_repr(self) -> str:
        s = f"{self._settings_repr()}, p={self.p}, arrangement={self.arrangement!r}"
        return s + ("" if self.bias is not None else ", bias=False")


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
    k = _check_kernel_size(kernel_size)
    p = check_part(in_channels, out_channels, p)
    check_choice("arrangement", arrangement, ARRANGEMENTS)
    pattern = (hetconv_pattern if arrangement == "shifted" else grouped_hetconv_pattern)(
        in_channels, out_channels, p
    )
    mask = np.zeros((out_channels, in_channels, k, k), dtype=np.float32)
    mask[pattern == Kernel.FULL] = 1.0
    mask[pattern == Kernel.ONE, k // 2, k // 2] = 1.0
    return mask


class MaskedHetConv2d(_RecordsSettings, _ConvSettings):
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
        fan_in = m // self.p * k * k + m - m // self.p
        bound = 1.0 / math.sqrt(fan_in)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

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
        settings = _ConvSettings(
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


class _TwoStage(nn.Module):
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


class DepthwiseSeparableConv2d(_TwoStage):
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


class GroupwisePointwiseConv2d(_TwoStage):
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


class NaiveHetConv2d(_ConvSettings):
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


def make_conv(
    spec: str | ConvSpec,
    in_channels: int,
    out_channels: int,
    kernel_size: int = 3,
    *,
    stride: int = 1,
    bias: bool = True,
    arrangement: Arrangement = "shifted",
) -> nn.Module:
    """Build a layer of the family ``spec`` (text such as ``"hetconv:4"``, see
    :func:`~hetconv_edu.pattern.parse_conv_spec`) with the shared constructor style (same
    padding): (B, M, H, W) → (B, N, H_o, W_o), H_o = ⌈H / stride⌉.

    ``arrangement`` applies to ``hetconv`` only.

    Raises:
        ValueError: an unknown family or malformed ``spec``, a P or G that does not fit the
            channels (the message lists the allowed values), or a bad count or kernel size.
    """
    spec = parse_conv_spec(spec)
    kw = {"stride": stride, "bias": bias}
    if spec.family == "standard":
        return StandardConv2d(in_channels, out_channels, kernel_size, **kw)
    if spec.family == "hetconv":
        return HetConv2d(
            in_channels, out_channels, kernel_size, p=spec.value, arrangement=arrangement, **kw
        )
    if spec.family == "naive_hetconv":
        return NaiveHetConv2d(in_channels, out_channels, kernel_size, p=spec.value, **kw)
    if spec.family == "groupwise":
        return GroupwiseConv2d(in_channels, out_channels, kernel_size, groups=spec.value, **kw)
    if spec.family == "depthwise_pointwise":
        return DepthwiseSeparableConv2d(in_channels, out_channels, kernel_size, **kw)
    # groupwise_pointwise, the last family a ConvSpec admits
    return GroupwisePointwiseConv2d(in_channels, out_channels, kernel_size, groups=spec.value, **kw)
