"""One constructor for every family: :func:`make_conv` builds a layer from its text form
(``"hetconv:4"``, :func:`~hetconv_edu.pattern.parse_conv_spec`), so a model can swap families."""

from __future__ import annotations

from torch import nn

from hetconv_edu.layers.baselines import (
    DepthwiseSeparableConv2d,
    GroupwiseConv2d,
    GroupwisePointwiseConv2d,
    NaiveHetConv2d,
    StandardConv2d,
)
from hetconv_edu.layers.hetconv import Arrangement, HetConv2d
from hetconv_edu.pattern import ConvSpec, parse_conv_spec

__all__ = ["make_conv"]


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
