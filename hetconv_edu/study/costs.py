"""The analytic costs of a study's network: the standard network's MACs and parameters and
those of every switchable layer at each of its choices of P (no timing, no training).

These are the counts a results file stores and
:meth:`~hetconv_edu.study.results.OptimalPResults.from_dict` checks; they build the network
(torch) to read its layers' output sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hetconv_edu.flops import layer_cost, network_cost
from hetconv_edu.models import build_model, conv_slots, slot_module_names
from hetconv_edu.study.search import check_divisor_chain
from hetconv_edu.study.supernet import SuperNet, power_of_two_choices

__all__ = ["analytic_layers", "model_costs"]


def model_costs(
    model: str,
    model_kwargs: dict[str, Any],
    input_shape: Sequence[int],
    choices: Sequence[Sequence[int]] | None = None,
) -> tuple[int, int, list[dict[str, Any]]]:
    """The analytic costs of network ``model`` (built with ``model_kwargs``): the standard network's
    MACs and parameters (:func:`hetconv_edu.flops.network_cost`) and every switchable layer
    with the :class:`~hetconv_edu.study.results.LayerCosts` fields ``name``, ``in_channels``,
    ``out_channels``, ``out_size``, ``stride``, ``choices`` and, at each choice of P, ``macs``
    and ``params`` (:func:`hetconv_edu.flops.layer_cost`, with the layer's bias). ``choices``:
    per layer (default: the powers of two that divide both channel counts, as a
    :class:`~hetconv_edu.study.supernet.SuperNet`). ``input_shape`` is one image's (C, H, W).

    Raises:
        ValueError: unknown model, bad keyword arguments, or choices that are not an increasing
            divisor chain of a layer's channels.
    """
    shape = tuple(input_shape)
    net = build_model(model, "standard", seed=None, **{"in_channels": shape[0], **model_kwargs})
    cost = network_cost(net.eval(), (1, *shape))
    rows = {row.name: row for row in cost.rows}
    slots, names = conv_slots(net), slot_module_names(net)
    if choices is None:
        choices = [power_of_two_choices(s.in_channels, s.out_channels) for s in slots]
    if len(choices) != len(slots):
        raise ValueError(f"{model} has {len(slots)} switchable layers, got {len(choices)}")
    layers = []
    for slot, name, layer_choices in zip(slots, names, choices, strict=True):
        m, n, out_size = slot.in_channels, slot.out_channels, rows[name].out_size
        chain = check_divisor_chain(m, n, layer_choices, name=f"layer {slot.index + 1} of {model}")
        bias = net.get_submodule(name).bias is not None
        costs = [layer_cost(f"hetconv:{p}", m, n, 3, out_size, bias=bias) for p in chain]
        layers.append(
            {
                "name": f"layer {slot.index + 1} ({m}→{n}, {out_size}×{out_size})",
                "in_channels": m,
                "out_channels": n,
                "out_size": out_size,
                "stride": slot.stride,
                "choices": tuple(chain),
                "macs": tuple(c.macs for c in costs),
                "params": tuple(c.params for c in costs),
            }
        )
    return cost.macs, cost.params, layers


def analytic_layers(
    net: SuperNet, input_shape: Sequence[int] = (3, 32, 32)
) -> list[dict[str, Any]]:
    """Every switchable layer of ``net`` with its analytic costs at each of its choices of P
    (:func:`model_costs` of the network it was built from)."""
    kwargs = {k: v for k, v in net.build_kwargs.items() if k != "in_channels"}
    return model_costs(net.name, kwargs, input_shape, net.choices)[2]
