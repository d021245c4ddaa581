"""Measuring on this machine, no widgets: each family's MACs with the flop counter, and the
timed speedups of HetConv over the standard convolution, with an estimate of how long the
timing takes before it starts (:func:`estimate_measure_seconds`)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from hetconv_edu.flops import layer_cost, measure_macs
from hetconv_edu.layers import make_conv
from hetconv_edu.timing import layer_step, time_candidates, time_layers
from hetconv_edu.train import physical_cores
from hetconv_edu.viz.flops_lab import SpeedupPoint


def input_shape(cost_batch: int, channels: int, size: int) -> tuple[int, int, int, int]:
    """The (batch, channels, size, size) input a layer is counted or timed on."""
    return (cost_batch, channels, size, size)


def measure_layer_families(
    out_size: int, in_channels: int, out_channels: int, kernel_size: int, p: int, groups: int
) -> dict[str, int]:
    """MACs of the real modules of each calculator family, measured with
    ``torch.utils.flop_counter`` on one input (keys as :class:`FamilyCost.key`), on the
    ``meta`` device (same operations and shapes, no arithmetic)."""
    specs = {
        "standard": "standard",
        "depthwise_pointwise": "depthwise_pointwise",
        "groupwise_pointwise": f"groupwise_pointwise:{groups}",
        "naive_hetconv": f"naive_hetconv:{p}",
        "hetconv": f"hetconv:{p}",
    }
    shape = input_shape(1, in_channels, out_size)
    return {
        key: measure_macs(make_conv(spec, in_channels, out_channels, kernel_size).to("meta"), shape)
        for key, spec in specs.items()
    }


def _speedup_modules(m: int, n: int, k: int, p: int) -> dict[str, nn.Module]:
    """The layers :func:`measure_speedups` times."""
    return {
        "standard": nn.Conv2d(m, n, k, padding=k // 2),
        "HetConv (grouped)": make_conv(f"hetconv:{p}", m, n, k, arrangement="grouped"),
        "HetConv (shifted)": make_conv(f"hetconv:{p}", m, n, k, arrangement="shifted"),
        "naive HetConv": make_conv(f"naive_hetconv:{p}", m, n, k),
    }


def estimate_measure_seconds(
    out_size: int,
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    p: int,
    *,
    batch: int = 8,
    rounds: int = 5,
    warmup: int = 2,
) -> float:
    """Seconds that :func:`measure_speedups` with these settings would take on this machine,
    estimated from a short measurement: each layer's forward pass is timed on one image (the
    faster of two calls) and scaled by the batch and the number of calls (``warmup + rounds``
    per layer). Costs about ``2 / (batch · (warmup + rounds))`` of the measurement itself."""
    modules = _speedup_modules(in_channels, out_channels, kernel_size, p)
    shape = input_shape(1, in_channels, out_size)
    steps = {name: layer_step(module, shape) for name, module in modules.items()}
    timings = time_candidates(steps, rounds=2, warmup=0)
    per_image = sum(min(t.times_s) for t in timings.values())
    return per_image * batch * (warmup + rounds)


def duration(seconds: float) -> str:
    """``seconds`` as a person reads it: seconds, minutes or hours."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def threads_warning() -> str | None:
    """A warning when torch uses more threads than this machine has physical cores."""
    threads, cores = torch.get_num_threads(), physical_cores()
    if threads <= cores:
        return None
    return (
        f"torch uses {threads} threads on {cores} physical CPU cores: the threads wait for "
        f"each other, so these times are slower than they need be (torch.set_num_threads"
        f"({cores}) fixes it)."
    )


def measure_speedups(
    out_size: int,
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    p: int,
    *,
    batch: int = 8,
    rounds: int = 5,
    warmup: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> list[SpeedupPoint]:
    """Time a standard ``nn.Conv2d``, the fast HetConv (grouped and shifted arrangements) and the
    naive public HetConv on a (batch, M, D_o, D_o) input with :func:`time_layers` (forward
    pass, interleaved rounds, medians), and return each HetConv's measured speedup over the
    standard conv next to its ideal (analytic MAC-ratio) speedup."""
    m, n, k, d = in_channels, out_channels, kernel_size, out_size
    modules = _speedup_modules(m, n, k, p)
    specs = {
        "HetConv (grouped)": f"hetconv:{p}",
        "HetConv (shifted)": f"hetconv:{p}",
        "naive HetConv": f"naive_hetconv:{p}",
    }
    timings = time_layers(
        modules, input_shape(batch, m, d), rounds=rounds, warmup=warmup, progress=progress
    )
    standard_macs = layer_cost("standard", m, n, k, d).macs
    base = timings["standard"].median_s
    settings = f"D_o={d} M={m} N={n} K={k} P={p} batch={batch}"
    return [
        SpeedupPoint(
            candidate=name,
            settings=settings,
            ideal=standard_macs / layer_cost(spec, m, n, k, d).macs,
            measured=base / timings[name].median_s,
            time_s=timings[name].median_s,
            standard_time_s=base,
        )
        for name, spec in specs.items()
    ]
