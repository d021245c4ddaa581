"""The lab's networks: which networks and families the network section offers, their costs
(cached, counted on the ``meta`` device) and the P values valid for every layer."""

from __future__ import annotations

import functools
import math

from hetconv_edu.flops import NetworkCost, network_cost
from hetconv_edu.models import build_model, conv_slots
from hetconv_edu.pattern import divisors

NETWORKS: tuple[str, ...] = ("vgg16", "small_vgg", "small_resnet")
NETWORK_FAMILIES: dict[str, str] = {
    "HetConv": "hetconv",
    "naive HetConv": "naive_hetconv",
    "groupwise": "groupwise",
}
"""Families the network section offers for every configurable conv, with the P/G value."""


@functools.lru_cache(maxsize=64)
def cached_network_cost(network: str, conv: str) -> NetworkCost:
    """:func:`network_cost` of ``build_model(network, conv)`` on one 32×32 CIFAR image, cached.

    The model sits on PyTorch's ``meta`` device: the forward pass dispatches exactly the same
    operations with the same shapes, so the flop counter sees the same counts, but no
    arithmetic is done (milliseconds instead of seconds on a busy classroom laptop)."""
    model = build_model(network, conv, seed=None).to("meta")
    return network_cost(model, (1, 3, 32, 32))


@functools.lru_cache(maxsize=8)
def network_parts(network: str) -> tuple[int, ...]:
    """The P (or G) values valid for every configurable conv of ``network``: the common
    divisors of all their input and output channels."""
    slots = conv_slots(build_model(network, "standard", seed=None))
    common = 0
    for s in slots:
        common = math.gcd(common, s.in_channels, s.out_channels)
    return tuple(divisors(common))
