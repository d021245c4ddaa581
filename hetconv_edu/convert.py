"""Turn any network's convolutions into HetConv: :func:`convert` and :func:`plan_conversion`.

``convert(model, p=4)`` returns a copy of ``model`` in which every eligible ``nn.Conv2d`` is a
:class:`~hetconv_edu.layers.HetConv2d` with the same M, N, K, stride, padding, dilation and
bias; ``convert(model, plan={"layer1.0.conv1": 4, ...})`` converts the named layers only, each
with its own P. The original model is never changed.

**Eligible** is an ``nn.Conv2d`` (or a subclass that keeps its forward), initialized (not a
lazy one before its first forward), whose weight is neither parametrized (``weight_norm``,
``spectral_norm``) nor rewritten by forward pre-hooks (pruning), with groups = 1, a square odd
K×K kernel with K > 1, zero padding, and a P > 1 that divides both M and N
(:func:`~hetconv_edu.pattern.valid_parts`). With ``p`` every other convolution is kept as it
is and listed with the reason (:attr:`ConversionPlan.skipped`); a ``plan`` that names one with
a P > 1 is refused (``ValueError`` naming the layer and the reason).

**Weights carry over exactly where HetConv keeps them** (paper Fig. 4): at a K×K position
(filter n, channel m) the whole K×K kernel, at a 1×1 position the kernel's centre tap, which is
the tap a 1×1 kernel multiplies (:meth:`~hetconv_edu.layers.HetConv2d.load_dense_weight_`). A
converted pretrained network therefore starts from its own weights: it computes exactly its
original convolutions with every 1×1 position's off-centre taps set to zero, the masked dense
reference (:func:`~hetconv_edu.layers.hetconv_mask`).

**Arrangement.** The default ``"shifted"`` is the paper's layer written in the network's own
channel numbering: kernel (n, m) is K×K iff (m − n) mod P == 0, for the channels as the
network numbers them. A converted network keeps its channel order: the batch norms, residual
additions and next layers read channel m where they always did, and the layer is literally
the paper's. ``"grouped"`` (K×K on P contiguous diagonal blocks) is the paper's layer only
after renumbering the input and output channels
(:func:`~hetconv_edu.pattern.shifted_to_grouped_permutation`); a converted network cannot
renumber a layer's channels without renumbering its neighbours, so with ``"grouped"`` it gets
a different choice of which kernels stay K×K (contiguous blocks instead of every P-th channel),
costs the same and runs faster (no channel shuffles). It is offered for speed, not as the
default.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin
from torch.nn.utils import parametrize

from hetconv_edu.checks import check_choice, check_positive_int
from hetconv_edu.layers import ARRANGEMENTS, Arrangement, HetConv2d
from hetconv_edu.pattern import valid_parts

__all__ = ["ConversionPlan", "LayerDecision", "convert", "copy_network", "plan_conversion"]


@dataclass(frozen=True)
class LayerDecision:
    """What :func:`convert` does with one convolution of a network.

    ``p`` is the part P it becomes HetConv with, or ``None`` when it is kept; ``reason`` says
    why it is kept (empty when converted).
    """

    name: str
    """Qualified module name (``model.get_submodule(name)``)."""
    layer: str
    """The module's class name, e.g. ``"Conv2d"``."""
    in_channels: int
    out_channels: int
    kernel_size: tuple[int, ...]
    p: int | None
    reason: str = ""

    @property
    def converted(self) -> bool:
        """True when the layer becomes a HetConv2d."""
        return self.p is not None


@dataclass(frozen=True)
class ConversionPlan:
    """Every convolution of a network and what :func:`convert` does with it, in module order."""

    decisions: tuple[LayerDecision, ...]
    arrangement: str

    @property
    def converted(self) -> tuple[LayerDecision, ...]:
        """The layers that become HetConv2d."""
        return tuple(d for d in self.decisions if d.converted)

    @property
    def skipped(self) -> tuple[LayerDecision, ...]:
        """The convolutions kept as they are, each with its reason."""
        return tuple(d for d in self.decisions if not d.converted)

    def text(self) -> str:
        """A plain-text list: one line per convolution, converted with P or kept with why."""
        lines = [
            f"{len(self.converted)} of {len(self.decisions)} convolutions become HetConv "
            f"({self.arrangement} arrangement)"
        ]
        for d in self.decisions:
            size = "×".join(str(k) for k in d.kernel_size)
            what = f"HetConv P={d.p}" if d.converted else f"kept: {d.reason}"
            lines.append(f"  {d.name} ({d.layer} {d.in_channels}→{d.out_channels}, {size}): {what}")
        return "\n".join(lines)


def _keeps_forward(module: nn.Conv2d) -> bool:
    cls = type(module)
    return cls.forward is nn.Conv2d.forward and cls._conv_forward is nn.Conv2d._conv_forward


def _why_not(conv: nn.Module, p: int) -> str:
    """The reason ``conv`` cannot become HetConv with part ``p``, or ``""`` when it can."""
    if isinstance(conv, HetConv2d):
        return f"already a HetConv2d (P={conv.p})"
    if not isinstance(conv, nn.Conv2d):
        return f"a {type(conv).__name__}: HetConv replaces nn.Conv2d only"
    if isinstance(conv, LazyModuleMixin) and conv.has_uninitialized_params():
        return (
            f"an uninitialized {type(conv).__name__}: run one forward pass first, so its "
            "in_channels M are known"
        )
    if parametrize.is_parametrized(conv):
        names = ", ".join(conv.parametrizations)
        return (
            f"its {names} is parametrized (torch.nn.utils.parametrize, e.g. weight_norm): "
            "HetConv2d would drop the parametrization"
        )
    if conv._forward_pre_hooks:
        hooks = ", ".join(
            getattr(h, "__name__", type(h).__name__) for h in conv._forward_pre_hooks.values()
        )
        return (
            f"it has forward pre-hooks ({hooks}; e.g. pruning, the old weight_norm) that change "
            "its weights or input: HetConv2d would drop them"
        )
    if not _keeps_forward(conv):
        return (
            f"a subclass of nn.Conv2d with its own forward ({type(conv).__name__}): replacing "
            "it would drop what that forward does"
        )
    m, n, g = conv.in_channels, conv.out_channels, conv.groups
    if g > 1:
        kind = "depthwise" if g == m else "grouped"
        return f"groups={g} ({kind}): HetConv replaces convolutions with groups=1"
    kh, kw = conv.kernel_size
    if kh != kw:
        return f"kernel {kh}×{kw} is not square: HetConv2d needs a K×K kernel"
    if kh == 1:
        return "1×1 kernel: already pointwise, HetConv would change nothing"
    if kh % 2 == 0:
        return f"kernel {kh}×{kh} has no centre tap for the 1×1 kernels (K must be odd)"
    if conv.padding_mode != "zeros":
        return f"padding_mode={conv.padding_mode!r}: HetConv2d pads with zeros only"
    if p == 1:
        return "P=1 is a standard convolution: left as it is"
    if m % p or n % p:
        which = " and ".join(f"{s}={v}" for s, v in (("M", m), ("N", n)) if v % p)
        return f"P={p} does not divide {which}; P allowed here: {valid_parts(m, n)}"
    return ""


def _candidates(model: nn.Module) -> dict[str, nn.Module]:
    """Every convolution-like module of ``model`` by name, shared modules once."""
    kinds = (nn.modules.conv._ConvNd, HetConv2d)
    return {name: m for name, m in model.named_modules() if isinstance(m, kinds)}


def _check_request(
    model: object, p: object, plan: object, arrangement: object
) -> tuple[nn.Module, int | None, dict[str, int] | None]:
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module (a network), got {model!r}")
    check_choice("arrangement", arrangement, ARRANGEMENTS)
    if (p is None) == (plan is None):
        raise ValueError(
            "give either p (one part P for every convolution, e.g. p=4) or plan (a part per "
            "layer name, e.g. plan={'layer1.0.conv1': 4}), "
            + ("not both" if p is not None else "got neither")
        )
    if p is not None:
        return model, check_positive_int("p", p), None
    if not isinstance(plan, Mapping) or not plan:
        raise ValueError(
            f"plan must be a non-empty mapping of layer names to parts P, got {plan!r}"
        )
    convs = _candidates(model)
    modules = dict(model.named_modules())
    parts = {}
    for name, value in plan.items():
        if name not in convs:
            what = (
                f"a {type(modules[name]).__name__}, not a convolution"
                if name in modules
                else "not a module of this network"
            )
            listed = ", ".join(list(convs)[:8]) + (", ..." if len(convs) > 8 else "")
            raise ValueError(
                f"plan names {name!r}: {what}; the convolutions of {type(model).__name__} are: "
                f"{listed or 'none'}"
            )
        parts[name] = check_positive_int(f"plan[{name!r}]", value)
    return model, None, parts


def _plan(
    model: nn.Module, p: int | None, parts: dict[str, int] | None, arrangement: str
) -> ConversionPlan:
    decisions = []
    for name, module in _candidates(model).items():
        part = p if parts is None else parts.get(name)
        reason = "not in the plan" if part is None else _why_not(module, part)
        decisions.append(
            LayerDecision(
                name=name,
                layer=type(module).__name__,
                in_channels=module.in_channels,
                out_channels=module.out_channels,
                kernel_size=_kernel(module),
                p=None if reason else part,
                reason=reason,
            )
        )
    return ConversionPlan(tuple(decisions), arrangement)


def _kernel(module: nn.Module) -> tuple[int, ...]:
    k = module.kernel_size
    return (k, k) if isinstance(k, int) else tuple(k)


def plan_conversion(
    model: nn.Module,
    p: int | None = None,
    *,
    plan: Mapping[str, int] | None = None,
    arrangement: Arrangement = "shifted",
) -> ConversionPlan:
    """What :func:`convert` would do with every convolution of ``model``, without doing it.

    Args:
        model: any network.
        p: one part P for every convolution; or
        plan: a part P per layer name (``model.named_modules()`` names); layers not named are
            kept ("not in the plan").
        arrangement: ``"shifted"`` (the paper's, default) or ``"grouped"`` (see the module
            docstring).

    Raises:
        ValueError: ``model`` is not a module; both or neither of ``p`` and ``plan``; a P that is
            not a positive integer; a plan naming something that is not a convolution of
            ``model`` (the message lists the convolutions); an unknown arrangement.
    """
    model, p, parts = _check_request(model, p, plan, arrangement)
    return _plan(model, p, parts, arrangement)


def _hetconv_like(conv: nn.Conv2d, p: int, arrangement: str) -> HetConv2d:
    """A HetConv2d with ``conv``'s settings and its weights where HetConv keeps them."""
    weight = conv.weight
    layer = HetConv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size[0],
        p=p,
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        bias=conv.bias is not None,
        arrangement=arrangement,
        device=weight.device,
        dtype=weight.dtype,
    )
    layer.load_dense_weight_(weight)
    layer.weight_kxk.requires_grad_(weight.requires_grad)
    layer.weight_1x1.requires_grad_(weight.requires_grad)
    if conv.bias is not None:
        with torch.no_grad():
            layer.bias.copy_(conv.bias)
        layer.bias.requires_grad_(conv.bias.requires_grad)
    return layer.train(conv.training)


def copy_network(model: nn.Module) -> nn.Module:
    """A deep copy of ``model``, also when forward pre-hooks keep a computed weight on it.

    Pruning (``torch.nn.utils.prune``) and the old ``torch.nn.utils.weight_norm`` store the
    weight they compute from other tensors as a plain attribute, a tensor ``copy.deepcopy``
    refuses (it copies only tensors made by the user). The copy gets that attribute detached;
    its hook computes it again, from the copied tensors, before each forward.
    """
    computed = {
        id(value): value.detach().clone()
        for module in model.modules()
        for value in vars(module).values()
        if isinstance(value, torch.Tensor) and not value.is_leaf
    }
    return copy.deepcopy(model, computed)


def _check_plan_applies(decisions: ConversionPlan, parts: dict[str, int]) -> None:
    """Refuse a plan naming a layer with a P > 1 that the layer cannot take (P = 1 means
    "keep it"), listing every such layer with its reason."""
    refused = [
        f"{d.name!r} with P={parts[d.name]} ({d.reason})"
        for d in decisions.skipped
        if d.name in parts and parts[d.name] != 1
    ]
    if refused:
        raise ValueError(
            f"plan asks for layers that cannot become HetConv: {'; '.join(refused)}; "
            "plan_conversion(model, plan=...) lists every layer and why"
        )


def convert(
    model: nn.Module,
    p: int | None = None,
    *,
    plan: Mapping[str, int] | None = None,
    arrangement: Arrangement = "shifted",
) -> nn.Module:
    """A copy of ``model`` with its eligible convolutions replaced by HetConv2d.

    Each converted layer keeps M, N, K, stride, padding, dilation, bias, device, dtype,
    training mode and ``requires_grad``; its weights are the original K×K kernels at K×K
    positions and their centre taps at 1×1 positions (module docstring). Its parameters are
    N·(M·K²/P + M − M/P) weights (+ N bias) instead of N·M·K². A module used at several places
    of the network is replaced at all of them by one HetConv2d. Everything else, including the
    convolutions :func:`plan_conversion` lists as skipped, is an unchanged copy; ``model``
    itself is not modified. Forward hooks registered on a converted convolution are not
    carried over.

    Args: as :func:`plan_conversion`.

    Raises:
        ValueError: as :func:`plan_conversion`; and a ``plan`` naming a layer with a P > 1
            that it cannot take (P not dividing M and N, a 1×1 or grouped convolution, ...:
            the message names each with its reason). With ``p`` such layers are kept and
            listed (:attr:`ConversionPlan.skipped`); a plan asks for its layers by name.

    Example::

        net = convert(torchvision.models.resnet18(), p=4)
        plan_conversion(torchvision.models.resnet18(), p=4).skipped   # conv1 (M=3), 1×1s
    """
    model, p, parts = _check_request(model, p, plan, arrangement)
    decisions = _plan(model, p, parts, arrangement)
    if parts is not None:
        _check_plan_applies(decisions, parts)
    result = copy_network(model)
    replacements = {}
    for d in decisions.converted:
        conv = result.get_submodule(d.name)
        replacements[id(conv)] = _hetconv_like(conv, d.p, arrangement)
    for parent in list(result.modules()):
        # _modules, not named_children(): that lists a module used twice in a parent once
        for child_name, child in list(parent._modules.items()):
            if id(child) in replacements:
                setattr(parent, child_name, replacements[id(child)])
    return result
