"""The FLOP counters papers use — thop, ptflops, fvcore — made to count the package's layers.

Out of the box they get HetConv wrong. thop and ptflops's default ("pytorch") backend attach a
counting rule to a module only when its type is *exactly* one they know (``nn.Conv2d``,
``nn.Linear``, ...): the package's ``nn.Conv2d`` subclasses and ``HetConv2d`` count as
nothing (on ``small_vgg`` with HetConv P = 4, 39.5M MACs by the paper's count, thop reports
0.66M and ptflops 0.90M: batch norm, pooling and the classifier only). fvcore and ptflops's
"aten" backend count the operators that run, so they see ``HetConv2d``'s dense 1×1
convolution, zeros included: the *executed* count
(:func:`hetconv_edu.flops.layer_cost` with ``executed=True``), not the paper's.

One helper per tool, each through the hook the tool offers for custom modules or operators:

* :func:`thop_custom_ops` — ``thop.profile(model, (x,), custom_ops=thop_custom_ops(model))``;
* :func:`ptflops_custom_hooks` — ``ptflops.get_model_complexity_info(model, (3, 32, 32),
  custom_modules_hooks=ptflops_custom_hooks(model))`` (pytorch backend);
* :func:`fvcore_flop_count` — an ``fvcore.nn.FlopCountAnalysis`` with the package's
  convolution handle set (``.total()``, ``.by_module()`` as usual).

Each counts the paper's MACs by default and the executed count with ``executed=True``.
Conventions stay each tool's own, so a package layer counts as the equivalent torch layer
would: thop and fvcore report MACs under the name "flops" (bias additions not counted);
ptflops reports MACs plus bias additions, per image (it divides by the batch). Batch norm,
activations and pooling are counted or not as each tool does by itself (the paper counts none
of them): compare layer by layer, or leave those out, to find the paper's totals.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from hetconv_edu.checks import check_bool
from hetconv_edu.flops import module_cost
from hetconv_edu.layers import HetConv2d, MaskedHetConv2d

__all__ = ["counted_types", "fvcore_flop_count", "ptflops_custom_hooks", "thop_custom_ops"]

_LEAF_LAYERS = (HetConv2d, MaskedHetConv2d)


def counted_types(model: nn.Module) -> tuple[type[nn.Module], ...]:
    """The module types of ``model`` that need a counting rule in a tool matching types
    exactly: ``HetConv2d`` and the masked reference (subclasses included, e.g. the best-P
    study's nested layer) and every ``nn.Conv2d`` subclass (the package's standard and
    groupwise layers). ``nn.Conv2d`` itself is left to the tool's own rule, which counts it
    right; the layers made of inner convolutions (``NaiveHetConv2d``, depthwise/groupwise +
    pointwise) need no rule: the tools add up their inner convolutions.

    Raises:
        ValueError: ``model`` is not a module.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module (a layer or a network), got {model!r}")
    found: dict[type[nn.Module], None] = {}
    for module in model.modules():
        kind = type(module)
        subclass = isinstance(module, nn.Conv2d) and kind is not nn.Conv2d
        if isinstance(module, _LEAF_LAYERS) or subclass:
            found[kind] = None
    return tuple(found)


def _positions(output: torch.Tensor) -> int:
    """Output positions, batch included: B·H_o·W_o (H_o·W_o for one unbatched image)."""
    return output.numel() // output.shape[-3]


def _per_position(module: nn.Module, executed: bool) -> tuple[int, int]:
    cost = module_cost(module, 1, executed=executed)
    return cost.macs, cost.bias_adds


def thop_custom_ops(
    model: nn.Module, *, executed: bool = False
) -> dict[type[nn.Module], Callable[[nn.Module, Any, torch.Tensor], None]]:
    """``custom_ops`` for ``thop.profile`` that count every package layer of ``model``.

    Each rule adds the layer's MACs (:func:`hetconv_edu.flops.module_cost` per output
    position, times the positions of the output it sees; bias not counted, as thop counts
    ``nn.Conv2d``) to the ``total_ops`` thop keeps (:func:`counted_types` lists the types).

    Args:
        model: the network to profile (its module types are looked up: thop matches exact types).
        executed: count what the layers multiply instead of the paper's MACs.

    Raises:
        ValueError: ``model`` is not a module, or ``executed`` not a bool.
    """
    executed = check_bool("executed", executed)

    def count(module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        macs, _ = _per_position(module, executed)
        module.total_ops += torch.tensor([float(macs * _positions(output))], dtype=torch.float64)

    return dict.fromkeys(counted_types(model), count)


def ptflops_custom_hooks(
    model: nn.Module, *, executed: bool = False
) -> dict[type[nn.Module], Callable[[nn.Module, Any, torch.Tensor], None]]:
    """``custom_modules_hooks`` for ``ptflops.get_model_complexity_info`` (pytorch backend)
    that count every package layer of ``model``.

    Each hook adds the layer's MACs plus its bias additions (ptflops's convention for
    ``nn.Conv2d``) over the output it sees to the ``__flops__`` ptflops keeps; ptflops reports
    per image (:func:`counted_types` lists the types).

    ptflops's "aten" backend counts the operators that run and needs no hook: it reports the
    executed MACs plus bias additions of every layer already.

    Args:
        model: the network to measure (ptflops matches exact types).
        executed: count what the layers multiply instead of the paper's MACs.

    Raises:
        ValueError: ``model`` is not a module, or ``executed`` not a bool.
    """
    executed = check_bool("executed", executed)

    def count(module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        macs, bias = _per_position(module, executed)
        module.__flops__ += int((macs + bias) * _positions(output))

    return dict.fromkeys(counted_types(model), count)


_WEIGHT_PATH = ("aten::view", "aten::reshape", "aten::index_select", "aten::contiguous")


def _structural_weights(weight: Any) -> int | None:
    """The weights of a traced convolution weight that are not structurally zero, or None to
    count them all: a weight scattered into zeros (``index_copy``, HetConv2d's 1×1) has as
    many as it scattered; a weight multiplied by a constant mask (the masked reference) as many
    as the mask's nonzeros."""
    node = weight.node()
    while node.kind() in _WEIGHT_PATH:
        node = next(iter(node.inputs())).node()
    inputs = list(node.inputs())
    if node.kind() == "aten::index_copy" and inputs[0].node().kind() == "aten::new_zeros":
        return math.prod(inputs[3].type().sizes())
    if node.kind() == "aten::mul":
        for value in inputs:
            if value.node().kind() == "prim::Constant" and value.type().kind() == "TensorType":
                return int(torch.count_nonzero(value.toIValue()))
    return None


def _paper_conv_handle(inputs: list[Any], outputs: list[Any]) -> Counter[str]:
    """fvcore handle for ``aten::_convolution``: one MAC per output position per weight that
    is not structurally zero (fvcore's own rule, kept for transposed convolutions, counts every
    weight)."""
    from fvcore.nn.jit_handles import conv_flop_jit

    weights = _structural_weights(inputs[1])
    if weights is None or inputs[6].toIValue():
        return conv_flop_jit(inputs, outputs)
    out_shape = outputs[0].type().sizes()
    return Counter({"conv": out_shape[0] * math.prod(out_shape[2:]) * weights})


_DATA_MOVEMENT = ("aten::index_copy", "aten::index_select", "aten::new_zeros")
"""Operators HetConv2d uses to arrange weights: no arithmetic, nothing to count."""


def fvcore_flop_count(
    model: nn.Module, inputs: Sequence[torch.Tensor], *, executed: bool = False
) -> Any:
    """An ``fvcore.nn.FlopCountAnalysis`` of ``model`` on ``inputs`` that counts the paper's
    MACs of every package layer (``.total()``, ``.by_module()``, ...; MACs, no bias).

    fvcore counts operators, not modules, and its convolution rule counts every weight of
    the weight tensor. The handle set here for ``aten::_convolution`` counts the weights that
    are not structurally zero: HetConv2d's 1×1 weight is scattered into a dense zero tensor,
    and the masked reference multiplies its weight by a constant 0/1 mask, so both count FL_H.
    With ``executed=True`` fvcore's own rule stays: what runs, zeros included. Either way the
    operators HetConv2d uses to arrange weights (``index_copy``, ``index_select``) are marked
    as costing nothing, so they are not reported as unsupported.

    Args:
        model: the network.
        inputs: the tuple of inputs of one forward call: ``(x,)``, not ``x`` (a tensor would
            be split along its batch dimension into several arguments).
        executed: count what runs instead of the paper's MACs.

    Raises:
        ValueError: ``model`` is not a module, ``inputs`` not a tuple or list of tensors, or
            ``executed`` not a bool.
        ImportError: fvcore is not installed.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module (a layer or a network), got {model!r}")
    executed = check_bool("executed", executed)
    if not isinstance(inputs, tuple | list) or not all(isinstance(x, torch.Tensor) for x in inputs):
        what = (
            f"a tensor of shape {tuple(inputs.shape)}" if torch.is_tensor(inputs) else repr(inputs)
        )
        raise ValueError(
            f"inputs must be a tuple of the tensors one forward call takes, e.g. (x,), got {what}"
        )
    from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(model, tuple(inputs))
    analysis.set_op_handle(**dict.fromkeys(_DATA_MOVEMENT))
    if not executed:
        analysis.set_op_handle("aten::_convolution", _paper_conv_handle)
    return analysis
