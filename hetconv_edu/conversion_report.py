"""What converting a network to HetConv changes: per-layer cost before and after, and the
measured time of the whole network on this machine (:func:`conversion_report`).

The costs are :func:`hetconv_edu.flops.network_cost` of the network before and after
:func:`hetconv_edu.convert.convert`, per image: MACs (multiply-accumulates, the paper's
"FLOPs"; bias additions not counted) and parameters of every convolution and linear layer. The
times are the whole network's forward pass and forward + backward pass, before and after,
timed interleaved in one run by the package's one timer (:mod:`hetconv_edu.timing`): so a
reader sees where the savings are and whether they show up in wall-clock time here.
:meth:`ConversionReport.text` is the table the command line prints
(``python -m hetconv_edu convert-report resnet18 --p 4``);
:func:`hetconv_edu.viz.convert.conversion_figure` draws it.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from hetconv_edu.checks import check_bool, check_positive_int
from hetconv_edu.convert import ConversionPlan, convert, copy_network, plan_conversion
from hetconv_edu.flops import NetworkCost, network_cost
from hetconv_edu.layers import Arrangement
from hetconv_edu.timing import layer_step, time_candidates

__all__ = ["ConversionReport", "LayerChange", "SpeedChange", "conversion_report"]


@dataclass(frozen=True)
class LayerChange:
    """One convolution or linear layer before and after conversion (per image)."""

    name: str
    family_before: str
    family_after: str
    in_channels: int
    out_channels: int
    kernel_size: int
    p: int | None
    """The part P it was converted with; None when kept."""
    out_size: int
    """D_o: the output map is D_o×D_o (1 for a linear layer)."""
    macs_before: int
    macs_after: int
    """The paper's count (FL_H for a converted layer)."""
    macs_after_executed: int
    """What the layer multiplies after conversion (HetConv2d's dense 1×1 also multiplies
    D_o²·N·M/P weights held at zero, :func:`hetconv_edu.flops.layer_cost`)."""
    params_before: int
    params_after: int
    note: str
    """``"HetConv P=4"``, or why the layer was kept."""


@dataclass(frozen=True)
class SpeedChange:
    """Measured seconds per call of the whole network before and after, one pass kind."""

    kind: str
    """``"forward"`` or ``"forward+backward"``."""
    before_s: float
    after_s: float
    spread: float
    """The larger of the two timings' (max − min) / median over rounds: a noise gauge."""

    @property
    def speedup(self) -> float:
        """before / after: above 1 the converted network is faster."""
        return self.before_s / self.after_s


@dataclass(frozen=True)
class ConversionReport:
    """The conversion of one network: plan, per-layer costs, totals and measured speed."""

    network: str
    plan: ConversionPlan
    layers: tuple[LayerChange, ...]
    before: NetworkCost
    after: NetworkCost
    input_shape: tuple[int, ...]
    """The timed input (B, C, H, W); costs are per image (batch 1)."""
    speed: tuple[SpeedChange, ...]
    """Empty when the report was made without timing."""
    machine: str
    """Where the times were measured: torch version, threads, processor, memory format."""
    rounds: int

    @property
    def macs_ratio(self) -> float:
        """MACs after / before (the paper's counts)."""
        return self.after.macs / self.before.macs

    @property
    def params_ratio(self) -> float:
        """Parameters of the whole network after / before (batch norm and the rest included)."""
        return self.after.total_params / self.before.total_params

    def text(self) -> str:
        """The report as a plain-text table with totals, units stated."""
        shape = "×".join(str(s) for s in self.input_shape[1:])
        lines = [
            f"{self.network} → HetConv ({self.plan.arrangement} arrangement): "
            f"{len(self.plan.converted)} of {len(self.plan.decisions)} convolutions converted; "
            f"input {shape}, counts per image",
            'MACs = multiply-accumulates (the paper\'s "FLOPs"; FLOPs = 2 × MACs); bias '
            "additions not counted; params = weights + bias",
            "",
        ]
        width = max(24, *(len(r.name) for r in self.layers))
        header = (
            f"{'layer':<{width}} {'M':>5} {'N':>5} {'K':>2} {'P':>3} {'D_o':>4} "
            f"{'MACs before':>14} {'MACs after':>14} {'params before':>13} {'params after':>13}"
            "  note"
        )
        lines += [header, "-" * len(header)]
        for r in self.layers:
            lines.append(
                f"{r.name:<{width}} {r.in_channels:>5} {r.out_channels:>5} {r.kernel_size:>2} "
                f"{r.p if r.p else '–':>3} {r.out_size:>4} {r.macs_before:>14,} "
                f"{r.macs_after:>14,} {r.params_before:>13,} {r.params_after:>13,}  {r.note}"
            )
        lines.append("-" * len(header))
        lines.append(
            f"{'total (conv + linear)':<{width + 24}} {self.before.macs:>14,} "
            f"{self.after.macs:>14,} {self.before.params:>13,} {self.after.params:>13,}"
        )
        lines += [
            "",
            f"MACs per image: {_short(self.before.macs)} → {_short(self.after.macs)} "
            f"(× {self.macs_ratio:.3f}); HetConv2d executes {_short(self.after.macs_executed)} "
            "(its dense 1×1 also multiplies the weights held at zero)",
            f"parameters (whole network): {self.before.total_params:,} → "
            f"{self.after.total_params:,} (× {self.params_ratio:.3f})",
        ]
        if self.speed:
            lines.append(
                f"measured time of the whole network, batch {self.input_shape[0]}, median of "
                f"{self.rounds} interleaved rounds ({self.machine}):"
            )
            for s in self.speed:
                faster = "faster" if s.speedup >= 1 else "slower"
                factor = s.speedup if s.speedup >= 1 else 1 / s.speedup
                lines.append(
                    f"  {s.kind:<17} {s.before_s * 1e3:9.1f} ms → {s.after_s * 1e3:9.1f} ms "
                    f"({factor:.2f}× {faster}; spread {s.spread:.0%})"
                )
        else:
            lines.append("measured time: not measured (timing off)")
        skipped = self.plan.skipped
        if skipped:
            lines += ["", f"kept as they are ({len(skipped)}):"]
            lines += [f"  {d.name}: {d.reason}" for d in skipped]
        return "\n".join(lines)


def _short(x: float) -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= scale:
            return f"{x / scale:.3f}{suffix}"
    return f"{x:.0f}"


def _layer_changes(
    before: NetworkCost, after: NetworkCost, plan: ConversionPlan
) -> tuple[LayerChange, ...]:
    decisions = {d.name: d for d in plan.decisions}
    rows = []
    for a, b in zip(before.rows, after.rows, strict=True):
        decision = decisions.get(a.name)
        if decision is None:
            note = "linear layer" if a.family == "linear" else f"{a.family}: not a convolution"
        else:
            note = f"HetConv P={decision.p}" if decision.converted else decision.reason
        rows.append(
            LayerChange(
                name=a.name,
                family_before=a.family,
                family_after=b.family,
                in_channels=a.in_channels,
                out_channels=a.out_channels,
                kernel_size=a.kernel_size,
                p=decision.p if decision is not None else None,
                out_size=a.out_size,
                macs_before=a.macs,
                macs_after=b.macs,
                macs_after_executed=b.macs_executed,
                params_before=a.params,
                params_after=b.params,
                note=note,
            )
        )
    return tuple(rows)


def _machine(channels_last: bool) -> str:
    fmt = "channels_last" if channels_last else "NCHW"
    cpu = platform.processor() or platform.machine()
    return f"torch {torch.__version__}, {torch.get_num_threads()} threads, {cpu}, {fmt}"


def _measure(
    before: nn.Module,
    after: nn.Module,
    input_shape: tuple[int, ...],
    rounds: int,
    warmup: int,
    channels_last: bool,
    progress: Callable[[int, int], None] | None,
) -> tuple[SpeedChange, ...]:
    speed = []
    for kind, backward in (("forward", False), ("forward+backward", True)):
        # copies: layer_step sets the mode and memory format of what it times
        try:
            steps = {
                name: layer_step(
                    copy_network(net), input_shape, backward=backward, channels_last=channels_last
                )
                for name, net in (("before", before), ("after", after))
            }
        except ValueError as error:
            if "more than 1 value per channel" not in str(error):
                raise
            raise ValueError(
                f"the forward+backward pass is timed in train mode, where batch norm needs more "
                f"than one value per channel, and input {input_shape} leaves one ({error}): "
                "time a batch of 2 or more (--batch 2), or a larger input"
            ) from None
        t = time_candidates(steps, rounds=rounds, warmup=warmup, progress=progress)
        speed.append(
            SpeedChange(
                kind,
                t["before"].median_s,
                t["after"].median_s,
                max(t["before"].spread, t["after"].spread),
            )
        )
    return tuple(speed)


def conversion_report(
    model: nn.Module,
    p: int | None = None,
    *,
    plan: Mapping[str, int] | None = None,
    input_shape: Iterable[int],
    arrangement: Arrangement = "shifted",
    name: str | None = None,
    timing: bool = True,
    rounds: int = 5,
    warmup: int = 1,
    channels_last: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> ConversionReport:
    """Convert ``model`` (:func:`hetconv_edu.convert.convert`) and report what changed.

    Args:
        model: any network (not modified).
        p, plan, arrangement: as :func:`~hetconv_edu.convert.convert`.
        input_shape: the input (B, C, H, W) to time; costs are counted per image (B = 1).
            Output maps must be square (:func:`~hetconv_edu.flops.network_cost`). Batch norm
            in train mode needs B ≥ 2 where a map shrinks to 1×1.
        name: the network's name in the report (default its class name).
        timing: measure forward and forward + backward time before and after (the networks
            are timed as copies, in train mode for the backward pass).
        rounds, warmup: of :func:`hetconv_edu.timing.time_candidates`.
        channels_last: time in NHWC memory format (usually the faster one on CPU).
        progress: ``progress(done, total)`` after every timed call, per pass kind.

    Raises:
        ValueError: as :func:`~hetconv_edu.convert.convert` and
            :func:`~hetconv_edu.flops.network_cost`; ``input_shape`` not four positive
            integers; ``rounds`` or ``warmup`` out of range.
    """
    shape = _check_shape(input_shape)
    timing = check_bool("timing", timing)
    channels_last = check_bool("channels_last", channels_last)
    rounds = check_positive_int("rounds", rounds)
    plan_ = plan_conversion(model, p, plan=plan, arrangement=arrangement)
    converted = convert(model, p, plan=plan, arrangement=arrangement)
    one = (1, *shape[1:])
    before, after = network_cost(model, one), network_cost(converted, one)
    speed = (
        _measure(model, converted, shape, rounds, warmup, channels_last, progress) if timing else ()
    )
    return ConversionReport(
        network=name or type(model).__name__,
        plan=plan_,
        layers=_layer_changes(before, after, plan_),
        before=before,
        after=after,
        input_shape=shape,
        speed=speed,
        machine=_machine(channels_last),
        rounds=rounds,
    )


def _check_shape(input_shape: object) -> tuple[int, ...]:
    if isinstance(input_shape, str | bytes) or not isinstance(input_shape, Sequence | Iterable):
        raise ValueError(
            f"input_shape must be four positive integers (B, C, H, W), got {input_shape!r}"
        )
    values = tuple(input_shape)
    if len(values) != 4:
        raise ValueError(
            f"input_shape must be four positive integers (B, C, H, W), got {input_shape!r}"
        )
    return tuple(check_positive_int(f"input_shape[{i}]", v) for i, v in enumerate(values))
