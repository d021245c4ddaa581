"""Cost accounting: analytic multiply-accumulates and parameters for every filter family, and
measured counts of real modules with ``torch.utils.flop_counter``.

The analytic half (the formulas, :func:`layer_cost`) needs no torch, so figures can import this
module without it (:mod:`hetconv_edu.viz` never imports torch); the measured half
(:func:`measure_macs`, :func:`module_cost`, :func:`network_cost`) imports torch and the layers
on its first call.

Conventions, stated once for the whole package:

* **MACs** — multiply-accumulates, one per weight per output position. The paper calls these
  "FLOPs" (its Eq. 1–4 and the VGG-16 table, paper Table 1, count MACs).
* **FLOPs = 2 × MACs** — one multiply plus one add, what ``torch.utils.flop_counter`` reports
  (it ignores bias). fvcore and thop report MACs under the name "flops"; ptflops reports MACs
  plus bias additions.
* **bias additions** — D_o²·N per layer with bias, listed separately (``Cost.bias_adds``) and
  never mixed into MACs.

Formulas (paper notation: output map D_o×D_o, M input channels, N filters, kernel K, part P,
groups G):

* standard:          FL_S = D_o²·M·N·K²
* HetConv:           FL_H = D_o²·M·N·K²/P + (M − M/P)·D_o²·N   → ratio 1/P + (1 − 1/P)/K²
* depthwise+point:   D_o²·M·K² + M·N·D_o²                      → ratio 1/N + 1/K²
* groupwise+point:   D_o²·M·M·K²/G + M·N·D_o²                   → ratio 1/G + 1/K² (M = N)
* naive public HetConv: D_o²·M·N·K²/P + M·N·D_o²                → ratio 1/P + 1/K²

Sources are cited one way in the whole package: "paper Eq. N" (Singh et al., CVPR 2019, arXiv
1903.04120). FL_S is paper Eq. 1; FL_H is paper Eq. 4, the sum of its K×K part FL_K =
D_o²·M·N·K²/P (paper Eq. 2) and its 1×1 part FL_1 = (M − M/P)·D_o²·N (paper Eq. 3); the ratio
FL_H / FL_S is paper Eq. 5.

Units: every count is per forward pass of one image (a ``network_cost`` row is per batch of
its input shape); parameters are weights plus bias.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hetconv_edu.checks import check_bool, check_positive_int, input_refused
from hetconv_edu.pattern import ConvSpec, divisors, family_stages, parse_conv_spec, stage_weights

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "Cost",
    "LayerRow",
    "NetworkCost",
    "depthwise_pointwise_ratio",
    "groupwise_pointwise_ratio",
    "hetconv_macs",
    "hetconv_ratio",
    "layer_cost",
    "measure_macs",
    "module_cost",
    "naive_hetconv_ratio",
    "network_cost",
    "standard_macs",
]


@dataclass(frozen=True)
class Cost:
    """The cost of a layer or network per image: MACs, parameters (weights + bias) and bias
    additions (D_o²·N per layer with bias, never part of MACs)."""

    macs: int
    params: int
    bias_adds: int = 0

    @property
    def flops(self) -> int:
        """FLOPs as PyTorch counts them: 2 × MACs, bias ignored (the paper's "FLOPs" are MACs)."""
        return 2 * self.macs

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.macs + other.macs, self.params + other.params, self.bias_adds + other.bias_adds
        )


def standard_macs(out_size: int, in_channels: int, out_channels: int, kernel_size: int) -> int:
    """FL_S = D_o·D_o·M·N·K·K MACs per image (paper Eq. 1), for a D_o×D_o output map.

    Raises:
        ValueError: an argument that is not a positive integer (named, with the value).
    """
    d, m, n, k = _ints(out_size, in_channels, out_channels, kernel_size)
    return d * d * m * n * k * k


def hetconv_macs(
    out_size: int, in_channels: int, out_channels: int, kernel_size: int, p: int
) -> int:
    """FL_H = D_o·D_o·M·N·K·K/P + (M − M/P)·D_o·D_o·N MACs per image (paper Eq. 4), for a
    D_o×D_o output map: the K×K part (paper Eq. 2) plus the 1×1 part (paper Eq. 3). N need not
    be a multiple of P (the count is per filter).

    Raises:
        ValueError: an argument that is not a positive integer, or a ``p`` that does not divide
            ``in_channels`` (the message lists the divisors).
    """
    d, m, n, k = _ints(out_size, in_channels, out_channels, kernel_size)
    p = check_positive_int("p", p)
    if m % p:  # N need not be a multiple of P: the count is per filter
        raise ValueError(f"p={p} must divide in_channels={m}; allowed values: {divisors(m)}")
    return d * d * m * n * k * k // p + (m - m // p) * d * d * n


def hetconv_ratio(kernel_size: int, p: int | float) -> float:
    """FL_H / FL_S = 1/P + (1 − 1/P)/K² (paper Eq. 5), a fraction of a standard layer's MACs;
    ``p=math.inf`` gives its limit 1/K².

    Raises:
        ValueError: K not a positive integer, or P neither a positive integer nor ``math.inf``.
    """
    k = check_positive_int("kernel_size", kernel_size)
    if p != math.inf:
        try:
            p = check_positive_int("p", p)
        except ValueError:
            raise ValueError(f"p must be a positive integer (or math.inf), got {p!r}") from None
    return 1 / p + (1 - 1 / p) / k**2


def naive_hetconv_ratio(kernel_size: int, p: int) -> float:
    """The popular public HetConv (groupwise P + full 1×1): 1/P + 1/K² of a standard layer's
    MACs (not the paper's layer; compare paper Eq. 5).

    Raises:
        ValueError: K or P not a positive integer.
    """
    k, p = check_positive_int("kernel_size", kernel_size), check_positive_int("p", p)
    return 1 / p + 1 / k**2


def depthwise_pointwise_ratio(out_channels: int, kernel_size: int) -> float:
    """Depthwise + pointwise (MobileNet): 1/N + 1/K² of a standard layer's MACs.

    Raises:
        ValueError: N or K not a positive integer.
    """
    n = check_positive_int("out_channels", out_channels)
    k = check_positive_int("kernel_size", kernel_size)
    return 1 / n + 1 / k**2


def groupwise_pointwise_ratio(groups: int, kernel_size: int) -> float:
    """Groupwise (G) + pointwise, M = N: 1/G + 1/K² of a standard layer's MACs.

    Raises:
        ValueError: G or K not a positive integer.
    """
    g = check_positive_int("groups", groups)
    k = check_positive_int("kernel_size", kernel_size)
    return 1 / g + 1 / k**2


def _ints(*values: int) -> tuple[int, ...]:
    names = ("out_size", "in_channels", "out_channels", "kernel_size")
    return tuple(check_positive_int(n, v) for n, v in zip(names, values, strict=True))


def layer_cost(
    spec: str | ConvSpec,
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    out_size: int,
    *,
    bias: bool = True,
    executed: bool = False,
) -> Cost:
    """Analytic cost per image of one layer of family ``spec`` (e.g. ``"hetconv:4"``) with M
    input channels, N filters, a K×K kernel and a D_o×D_o output (``out_size`` = D_o).

    Counted on the kernel maps of :mod:`hetconv_edu.pattern`: every weight does one MAC per
    output position, so MACs = weights · D_o² summed over the family's stages (two for the
    separable families). Bias, when present, sits on the last stage: N parameters and D_o²·N
    additions.

    ``executed=False`` gives the paper's count (FL_H for HetConv, paper Eq. 4; FL_S for a
    standard layer, paper Eq. 1). ``executed=True`` gives what
    :class:`~hetconv_edu.layers.HetConv2d` actually multiplies: its 1×1 convolution is dense
    with the own-group weights held at zero, D_o²·N·M/P more MACs (1/P of the 1×1 work),
    because one dense 1×1 runs faster than P block-sparse ones. That is also what
    ``torch.utils.flop_counter`` measures. Parameters are the same either way.

    Raises:
        ValueError: an unknown family or malformed ``spec``, a count that is not a positive
            integer, a P or G that does not fit the channels, or a non-boolean ``bias`` or
            ``executed``.
    """
    spec = parse_conv_spec(spec)
    d = check_positive_int("out_size", out_size)
    bias = check_bool("bias", bias)
    executed = check_bool("executed", executed)
    stages = family_stages(spec.family, in_channels, out_channels, p=spec.value, groups=spec.value)
    weights = sum(stage_weights(s.pattern, kernel_size) for s in stages)
    macs = weights * d * d
    if executed and spec.family == "hetconv" and spec.value > 1:
        macs += d * d * out_channels * in_channels // spec.value
    n_bias = out_channels if bias else 0
    return Cost(macs=macs, params=weights + n_bias, bias_adds=n_bias * d * d)


def measure_macs(module: nn.Module, input_shape: Sequence[int]) -> int:
    """MACs of one forward pass on a zero input of ``input_shape`` (B, C, H, W) — for the whole
    batch — measured by ``torch.utils.flop_counter.FlopCounterMode`` (which reports 2 × MACs
    and ignores bias), in eval mode.

    Raises:
        ValueError: ``module`` is not a module, ``input_shape`` not positive integers, or
            ``module`` cannot run on that input.
    """
    module = _check_module("module", module)
    shape = _check_input_shape(input_shape)
    return _count_flops(module, shape)[type(module).__name__] // 2


def _check_module(name: str, module: object) -> nn.Module:
    from torch import nn

    if not isinstance(module, nn.Module):
        raise ValueError(f"{name} must be a torch.nn.Module (a layer or a model), got {module!r}")
    return module


def _check_input_shape(input_shape: object) -> tuple[int, ...]:
    if isinstance(input_shape, str | bytes) or not isinstance(input_shape, Iterable):
        raise ValueError(
            f"input_shape must be a sequence of positive integers such as (1, 3, 32, 32), "
            f"got {input_shape!r}"
        )
    return tuple(check_positive_int(f"input_shape[{i}]", s) for i, s in enumerate(input_shape))


def _count_flops(module: nn.Module, input_shape: Sequence[int]) -> dict[str, int]:
    """FLOPs per module name of one eval-mode forward pass on a zero input.

    Raises:
        ValueError: ``module`` cannot run on that input (:func:`~hetconv_edu.checks.input_refused`).
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    param = next(module.parameters(), None)
    floating = param is not None and param.is_floating_point()
    was_training = module.training
    module.eval()
    try:
        x = torch.zeros(
            *input_shape,
            device=param.device if param is not None else "cpu",
            dtype=param.dtype if floating else None,
        )
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module(x)
    except RuntimeError as error:
        raise input_refused(type(module).__name__, input_shape, error) from None
    finally:
        module.train(was_training)
    counts = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    counts.setdefault(type(module).__name__, 0)
    return counts


@dataclass(frozen=True)
class LayerRow:
    """One convolution or linear layer of a network, with its analytic and measured cost for
    the batch of the table's input shape.

    ``macs`` is the paper's count (FL_H, paper Eq. 4, for HetConv), ``macs_executed`` what the
    implementation multiplies (they differ only for HetConv with P > 1), ``macs_measured``
    what the flop counter saw. ``params`` counts weights and bias; ``out_size`` is D_o.
    """

    name: str
    family: str
    in_channels: int
    out_channels: int
    kernel_size: int
    p: int | None
    out_size: int
    params: int
    macs: int
    macs_executed: int
    macs_measured: int
    bias_adds: int


@dataclass(frozen=True)
class NetworkCost:
    """The per-layer table of a network and its totals (:func:`network_cost`): MACs and bias
    additions for the batch of ``input_shape``, parameters of the conv and linear layers
    (``total_params``: every parameter)."""

    rows: tuple[LayerRow, ...]
    input_shape: tuple[int, ...]
    total_params: int = field(default=0)
    """Every parameter of the network, batch-norm included (the rows count conv/linear only)."""

    @property
    def macs(self) -> int:
        """The paper's MACs of every row together."""
        return sum(r.macs for r in self.rows)

    @property
    def macs_executed(self) -> int:
        """The MACs the implementation multiplies, every row together."""
        return sum(r.macs_executed for r in self.rows)

    @property
    def macs_measured(self) -> int:
        """The MACs the flop counter measured, every row together."""
        return sum(r.macs_measured for r in self.rows)

    @property
    def params(self) -> int:
        """Weights and biases of the conv and linear layers."""
        return sum(r.params for r in self.rows)

    @property
    def bias_adds(self) -> int:
        """Bias additions of every row together (never part of MACs)."""
        return sum(r.bias_adds for r in self.rows)


def _layer_types() -> tuple[type, ...]:
    """The module types that make a row of a cost table (the layers' families, then torch's)."""
    from torch import nn

    from hetconv_edu.layers import HetConv2d, MaskedHetConv2d, NaiveHetConv2d
    from hetconv_edu.layers.baselines import TwoStage

    return (HetConv2d, MaskedHetConv2d, NaiveHetConv2d, TwoStage, nn.Conv2d, nn.Linear)


def _spec_of(module: nn.Module) -> ConvSpec:
    from torch import nn

    from hetconv_edu.layers import HetConv2d, MaskedHetConv2d, NaiveHetConv2d
    from hetconv_edu.layers.baselines import TwoStage

    if isinstance(module, HetConv2d | MaskedHetConv2d):
        return ConvSpec("hetconv", module.p)
    if isinstance(module, NaiveHetConv2d):
        return ConvSpec("naive_hetconv", module.p)
    if isinstance(module, TwoStage):
        groups = module.spatial.groups
        if groups == module.in_channels:
            return ConvSpec("depthwise_pointwise")
        return ConvSpec("groupwise_pointwise", groups)
    if isinstance(module, nn.Conv2d):
        if module.groups == 1:
            return ConvSpec("standard")
        return ConvSpec("groupwise", module.groups)
    raise TypeError(f"no filter family for {type(module).__name__}")


def _module_cost(module: nn.Module, out_size: int, executed: bool) -> tuple[ConvSpec | None, Cost]:
    from torch import nn

    from hetconv_edu.layers import MaskedHetConv2d, NaiveHetConv2d
    from hetconv_edu.layers.baselines import TwoStage

    if isinstance(module, nn.Linear):
        n_bias = module.out_features if module.bias is not None else 0
        weights = module.in_features * module.out_features
        return None, Cost(macs=weights, params=weights + n_bias, bias_adds=n_bias)
    spec = _spec_of(module)
    has_bias = (
        module.pointwise.bias if isinstance(module, TwoStage | NaiveHetConv2d) else module.bias
    ) is not None
    args = (module.in_channels, module.out_channels, _kernel_of(module), out_size)
    cost = layer_cost(spec, *args, bias=has_bias, executed=executed)
    if executed and isinstance(module, MaskedHetConv2d):
        # The masked reference multiplies its whole dense K×K weight: standard-convolution work.
        cost = Cost(layer_cost("standard", *args).macs, cost.params, cost.bias_adds)
    return spec, cost


def module_cost(module: nn.Module, out_size: int = 1, *, executed: bool = False) -> Cost:
    """Analytic cost of one layer module per image on a D_o×D_o output: any family of
    :mod:`hetconv_edu.layers` (the masked reference and its subclasses included),
    ``nn.Conv2d`` or ``nn.Linear`` (``out_size`` ignored: one position). ``out_size=1`` gives
    the cost per output position, which the FLOP-counter hooks of :mod:`hetconv_edu.counters`
    multiply by the positions they see. ``executed`` as :func:`layer_cost` (the masked
    reference executes the standard work).

    Raises:
        ValueError: ``module`` is none of those layers, or ``out_size`` not a positive integer.
    """
    d = check_positive_int("out_size", out_size)
    executed = check_bool("executed", executed)
    layer_types = _layer_types()
    if not isinstance(module, layer_types):
        names = ", ".join(t.__name__ for t in layer_types)
        raise ValueError(f"module must be one of {names} (or a subclass), got {module!r}")
    return _module_cost(module, d, executed)[1]


def network_cost(model: nn.Module, input_shape: Iterable[int]) -> NetworkCost:
    """The per-layer cost table of ``model`` on one input of ``input_shape`` (batch 1 advised).

    Every convolution family of :mod:`hetconv_edu.layers`, ``nn.Conv2d`` and ``nn.Linear``
    becomes a row (layers inside those are not listed again), with its analytic cost counted
    from the output size a forward pass produced, and its measured MACs from
    ``torch.utils.flop_counter`` in the same pass. Batch norm, activations and pooling are not
    counted, as in the paper. Output maps must be square (D_o×D_o).

    Raises:
        ValueError: ``model`` is not a module, ``input_shape`` not positive integers, ``model``
            cannot run on that input (too small, wrong channels, too large for the memory),
            or an output map is not square.
    """
    model = _check_module("model", model)
    shape = _check_input_shape(input_shape)
    layers: dict[str, nn.Module] = {}
    layer_types = _layer_types()
    for name, module in model.named_modules():
        if isinstance(module, layer_types) and not any(
            outer == "" or name.startswith(outer + ".") for outer in layers
        ):
            layers[name] = module
    out_sizes: dict[str, int] = {}

    def record(name: str):
        def hook(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
            if output.dim() == 4 and output.shape[-1] != output.shape[-2]:
                raise ValueError(f"layer {name} has a non-square output {tuple(output.shape)}")
            out_sizes[name] = int(output.shape[-1]) if output.dim() == 4 else 1

        return hook

    handles = [m.register_forward_hook(record(n)) for n, m in layers.items()]
    try:
        measured = _count_flops(model, shape)
    finally:
        for h in handles:
            h.remove()
    root = type(model).__name__
    batch = shape[0]
    rows = []
    for name, module in layers.items():
        spec, cost = _module_cost(module, out_sizes[name], executed=False)
        executed = _module_cost(module, out_sizes[name], executed=True)[1]
        is_linear = spec is None
        rows.append(
            LayerRow(
                name=name,
                family="linear" if is_linear else spec.label,
                in_channels=module.in_features if is_linear else module.in_channels,
                out_channels=module.out_features if is_linear else module.out_channels,
                kernel_size=1 if is_linear else _kernel_of(module),
                p=spec.value if spec and spec.family in ("hetconv", "naive_hetconv") else None,
                out_size=out_sizes[name],
                params=cost.params,
                macs=cost.macs * batch,
                macs_executed=executed.macs * batch,
                macs_measured=measured.get(f"{root}.{name}" if name else root, 0) // 2,
                bias_adds=cost.bias_adds * batch,
            )
        )
    total = sum(p.numel() for p in model.parameters())
    return NetworkCost(rows=tuple(rows), input_shape=shape, total_params=total)


def _kernel_of(module: nn.Module) -> int:
    k = module.kernel_size
    return k if isinstance(k, int) else k[0]
