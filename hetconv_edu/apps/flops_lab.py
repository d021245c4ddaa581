"""The FLOPs and latency lab (notebook 02): widgets wired to the cost model, the timer and the
figures of :mod:`hetconv_edu.viz.flops_lab`.

``FlopsLabApp().widget`` shows everything; the notebook displays one section per cell:

* :attr:`FlopsLabApp.layer_section` — one layer (D_o, M, N, K, P, G): exact numbers of five
  filter families, the HetConv formula with the values substituted, a bar chart;
* :attr:`FlopsLabApp.units_section` — MACs vs FLOPs, and why tools disagree;
* :attr:`FlopsLabApp.ratio_section` — the cost ratio against P and its 1/K² floor;
* :attr:`FlopsLabApp.network_section` — a whole network per layer, analytic vs measured, and
  the paper's VGG-16 table next to ours;
* :attr:`FlopsLabApp.breakdown_section` — where the MACs go, layer by layer;
* :attr:`FlopsLabApp.latency_section` — the paper's latency (sequential stages) and measured
  wall-clock time on this machine with :func:`hetconv_edu.timing.time_layers`. Before measuring,
  the time the measurement would take is estimated from one batch-1 pass of each layer
  (:func:`estimate_measure_seconds`); settings that would take longer than the app's
  ``time_limit_s`` are refused with the estimate, so the kernel is never blocked for long.

Callbacks only read widgets, call package functions and put the results on screen.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import ipywidgets as W
import torch
from torch import nn

from hetconv_edu.apps.controls import (
    KERNEL_SIZES,
    AnswerChecker,
    ChannelControls,
    Exercise,
    columns,
    disclosure,
    heading,
    inline_toggles,
    pick_exercise,
)
from hetconv_edu.apps.jobs import message_html
from hetconv_edu.apps.live_figure import LiveFigure
from hetconv_edu.checks import check_number
from hetconv_edu.flops import NetworkCost, hetconv_ratio, layer_cost, measure_macs, network_cost
from hetconv_edu.layers import make_conv
from hetconv_edu.models import build_model, conv_slots
from hetconv_edu.paper import (
    PAPER_PARTS,
    paper_convention_macs,
    paper_row,
    reproduce_vgg16_table,
    true_macs,
    truncate_millions,
)
from hetconv_edu.pattern import divisors
from hetconv_edu.timing import layer_step, time_candidates, time_layers
from hetconv_edu.train import physical_cores
from hetconv_edu.viz import style as viz_style
from hetconv_edu.viz.flops_lab import (
    LAYER_FIGURE_WIDTH,
    FamilyCost,
    SpeedupPoint,
    family_costs,
    layer_costs_figure,
    layer_numbers_html,
    layer_table_figure,
    macs_by_layer_figure,
    network_totals_html,
    paper_latency_html,
    paper_table_figure,
    ratio_curve_figure,
    speedup_figure,
    tool_conventions_html,
)
from hetconv_edu.viz.style import css_width

__all__ = [
    "EXERCISES",
    "NETWORKS",
    "NETWORK_FAMILIES",
    "WHY_TOOLS_DISAGREE",
    "FlopsLabApp",
    "cached_network_cost",
    "estimate_measure_seconds",
    "exercise",
    "measure_layer_families",
    "measure_speedups",
    "network_parts",
]

NETWORKS: tuple[str, ...] = ("vgg16", "small_vgg", "small_resnet")
NETWORK_FAMILIES: dict[str, str] = {
    "HetConv": "hetconv",
    "naive HetConv": "naive_hetconv",
    "groupwise": "groupwise",
}
"""Families the network section offers for every configurable conv, with the P/G value."""


WHY_TOOLS_DISAGREE = (
    "<p class='hetconv-prose'><b>Why do tools disagree?</b> They count different things. "
    "A convolution does one <i>multiply-accumulate</i> (MAC) per weight per output position; "
    "the paper, fvcore and thop count those MACs (thop and fvcore even call them “flops”). "
    "PyTorch's <code>torch.utils.flop_counter</code> counts the multiply and the add "
    "separately, so it reports <b>FLOPs = 2 × MACs</b>, ignores the bias, and counts what the "
    "code actually executes (our fast HetConv's dense 1×1 also multiplies its held-at-zero "
    "weights). ptflops reports MACs <i>plus</i> the bias additions. Same layer, four numbers: "
    "always say which one you quote.</p>"
)


SHARED_NETWORK_NOTE = (
    "These are section 4's controls: moving them here moves them there too. Every other "
    "section has its own controls."
)
RATIO_PARTS: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
"""The P values of the ratio section's slider (the curve is drawn up to P = 64)."""


def _input_shape(cost_batch: int, channels: int, size: int) -> tuple[int, int, int, int]:
    return (cost_batch, channels, size, size)


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
    shape = _input_shape(1, in_channels, out_size)
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
    shape = _input_shape(1, in_channels, out_size)
    steps = {name: layer_step(module, shape) for name, module in modules.items()}
    timings = time_candidates(steps, rounds=2, warmup=0)
    per_image = sum(min(t.times_s) for t in timings.values())
    return per_image * batch * (warmup + rounds)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _threads_warning() -> str | None:
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
        modules, _input_shape(batch, m, d), rounds=rounds, warmup=warmup, progress=progress
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


_GAP_PX = 16
"""Between the families' table and their chart (px)."""
_MARGINS_PX = 8
"""The margins of the table's and the chart's widgets together (ipywidgets: 2 px a side)."""


def _html(value: str = "") -> W.HTML:
    return W.HTML(value=value)


def _note(text: str) -> W.HTML:
    return W.HTML(viz_style.note_html(text))


def _flow(*children: W.Widget) -> W.HBox:
    """Controls in a row that wraps onto the next line when the projector style widens them."""
    return W.HBox(list(children), layout=W.Layout(flex_flow="row wrap", align_items="center"))


def _reselect(slider: W.SelectionSlider, options: Sequence[int]) -> None:
    """Give ``slider`` new options, keeping the closest valid value (never an invalid one)."""
    options = list(options)
    if list(slider.options) == options:
        return
    old = slider.value
    best = min(options, key=lambda v: (abs(math.log2(v) - math.log2(old)), v))
    slider.options = options  # resets the value to options[0] …
    slider.value = best  # … so choose the closest one again


class FlopsLabApp:
    """The FLOPs and latency lab. ``.widget`` holds every section; see the module docstring.

    Args:
        d_o, m, n, k, p, g: initial layer settings (a VGG-16 layer at 16×16 by default).
        network, net_p: initial network and its P.
        batch: batch size of the latency measurement (small so one run takes a few seconds).
        rounds, warmup: timer settings (medians over ``rounds`` interleaved rounds).
        measure_flop_counter: also measure every calculator family with the flop counter.
        time_limit_s: the longest measurement the button starts (estimated first with
            :func:`estimate_measure_seconds`); longer ones are refused with the estimate.
    """

    def __init__(
        self,
        *,
        d_o: int = 16,
        m: int = 128,
        n: int = 128,
        k: int = 3,
        p: int = 4,
        g: int = 4,
        network: str = "vgg16",
        net_p: int = 4,
        batch: int = 8,
        rounds: int = 5,
        warmup: int = 2,
        measure_flop_counter: bool = True,
        time_limit_s: float = 60.0,
    ) -> None:
        self.time_limit_s = check_number("time_limit_s", time_limit_s, minimum=0,
                                         exclusive_minimum=True)  # fmt: skip
        self.defaults = {
            "d_o": d_o, "m": m, "n": n, "k": k, "p": p, "g": g, "network": network,
            "net_p": net_p, "batch": batch, "rounds": rounds,
        }  # fmt: skip
        """The lesson's starting values, restored by :meth:`reset` (the "lesson defaults"
        buttons)."""
        self.measurements: list[SpeedupPoint] = []
        """Every speedup measured so far (the chart accumulates them)."""
        self._measure_flop_counter = measure_flop_counter
        self._net_busy = False
        self.channels = ChannelControls(m, n, k, p, continuous_update=False)
        """Section 1's M/N/K/P controls (P always divides M and N)."""
        self.ratio_k = W.ToggleButtons(
            options=[(f"{s}×{s}", s) for s in KERNEL_SIZES], value=k, description="K kernel",
            style={"description_width": "initial", "button_width": css_width(52)},
            layout=inline_toggles(),
        )  # fmt: skip
        """Section 3's own K (the ratio curve depends on K and P only)."""
        self.ratio_p = W.SelectionSlider(
            options=RATIO_PARTS, value=min(RATIO_PARTS, key=lambda q: (abs(q - p), q)),
            description="P part", continuous_update=False,
            style={"description_width": "initial"}, layout=W.Layout(width=css_width(330)),
        )  # fmt: skip
        """Section 3's own P."""
        self.latency_channels = ChannelControls(m, n, k, p, continuous_update=False)
        """Section 6's own M/N/K/P: what is timed never depends on another section."""
        style = {"description_width": "initial"}
        self.d_o = W.IntSlider(
            value=d_o, min=1, max=64, description="D_o output size", style=style,
            continuous_update=False, layout=W.Layout(width=css_width(330)),
        )  # fmt: skip
        self.latency_d_o = W.IntSlider(
            value=d_o, min=1, max=64, description="D_o output size", style=style,
            continuous_update=False, layout=W.Layout(width=css_width(330)),
        )  # fmt: skip
        self.g = W.SelectionSlider(
            options=divisors(m), value=g, description="G groups", style=style,
            continuous_update=False, layout=W.Layout(width=css_width(330)),
        )  # fmt: skip
        self._g_busy = False
        self.unit = W.ToggleButtons(
            options=["MACs", "FLOPs"], value="MACs", description="count (all sections)",
            style={"description_width": "initial", "button_width": css_width(70)}, tooltips=[
                "multiply-accumulates (the paper's 'FLOPs')", "FLOPs = 2 × MACs (PyTorch)"
            ], layout=inline_toggles(),
        )  # fmt: skip
        self.numbers = _html()
        self.layer_fig = LiveFigure()
        self.tools = _html()
        self.ratio_fig = LiveFigure()

        self.network = W.Dropdown(
            options=NETWORKS, value=network, description="network", style=style,
            layout=W.Layout(width=css_width(230)),
        )  # fmt: skip
        self.net_family = W.Dropdown(
            options=list(NETWORK_FAMILIES), value="HetConv", description="family", style=style,
            layout=W.Layout(width=css_width(230)),
        )  # fmt: skip
        self.net_p = W.SelectionSlider(
            options=network_parts(network), value=net_p, description="P (or G)", style=style,
            layout=W.Layout(width=css_width(300)),
        )  # fmt: skip
        self.net_totals = _html()
        self.net_table = LiveFigure()
        self.paper_table = LiveFigure()
        self.breakdown_fig = LiveFigure()

        self.batch = W.Dropdown(
            options=(1, 2, 4, 8, 16, 32, 64), value=batch, description="batch", style=style,
            layout=W.Layout(width=css_width(150)),
        )  # fmt: skip
        self.rounds = W.IntSlider(
            value=rounds, min=1, max=21, description="rounds", style=style,
            layout=W.Layout(width=css_width(330)),
        )  # fmt: skip
        self.warmup = warmup
        self.measure_button = W.Button(
            description="measure on this machine", button_style="primary", icon="stopwatch",
            layout=W.Layout(width=css_width(260)),
        )  # fmt: skip
        self.progress = W.IntProgress(
            value=0, min=0, max=1, description="timing", style=style,
            layout=W.Layout(width=css_width(300)),
        )  # fmt: skip
        self.measure_status = _html()
        self.clear_button = W.Button(description="clear points", icon="trash")
        self.reset_buttons = [self._reset_button() for _ in range(5)]
        self.paper_latency = W.HTML(paper_latency_html())
        """One "lesson defaults" button per section with controls (all call :meth:`reset`)."""
        self.speedup_fig = LiveFigure(action=True)  # changes when "measure" is pressed

        self.channels.on_change(self._on_channels)
        for w in (self.d_o, self.g, self.unit):
            w.observe(self._on_layer, "value")
        for w in (self.ratio_k, self.ratio_p):
            w.observe(self._on_ratio, "value")
        for w in (self.net_family, self.net_p, self.unit):
            w.observe(self._on_network, "value")
        self.network.observe(self._on_network_choice, "value")
        self.measure_button.on_click(self._on_measure)
        self.clear_button.on_click(self._on_clear)

        self._build_sections()
        self._on_layer()
        self._on_ratio()
        self._on_network()
        vgg16_cost = functools.partial(cached_network_cost, "vgg16")
        rows = reproduce_vgg16_table(lambda p: vgg16_cost(f"hetconv:{p}"))
        self.paper_table.show(paper_table_figure(rows))
        self.speedup_fig.show(speedup_figure(self.measurements))

    # ------------------------------------------------------------------ layout

    def _build_sections(self) -> None:
        c = self.channels
        reset = iter(self.reset_buttons)
        wide = css_width(385)
        self.layer_section = W.VBox(
            [
                heading("One layer: five filter families"),
                _flow(
                    c.in_channels,
                    c.out_channels,
                    c.kernel_size,
                    c.p,
                    self.d_o,
                    self.g,
                    self.unit,
                    next(reset),
                ),
                c.note,
                # the table has what the row leaves beside the chart (in both styles: the
                # chart keeps its width), so a family's name takes two lines at most
                columns(
                    self.numbers,
                    self.layer_fig.widget,
                    left_width=f"calc(100% - {LAYER_FIGURE_WIDTH + _GAP_PX + _MARGINS_PX}px)",
                    gap=f"{_GAP_PX}px",
                ),
            ]
        )
        self.units_section = W.VBox(
            [heading("MACs vs FLOPs"), self.unit, W.HTML(WHY_TOOLS_DISAGREE), self.tools]
        )
        self.ratio_section = W.VBox(
            [
                heading("The cost ratio and its floor"),
                columns(
                    W.VBox([self.ratio_k, self.ratio_p, next(reset)]),
                    self.ratio_fig.widget,
                    left_width=wide,
                ),
            ]
        )
        self.network_section = W.VBox(
            [
                heading("A whole network"),
                _flow(self.network, self.net_family, self.net_p, self.unit, next(reset)),
                self.net_totals,
                disclosure("Per-layer table", self.net_table.widget),
                disclosure("The paper's VGG-16 table, reproduced", self.paper_table.widget),
            ]
        )
        self.breakdown_section = W.VBox(
            [
                heading("Where the MACs go"),
                columns(
                    W.VBox([self.network, self.net_family, self.net_p, next(reset)]),
                    self.breakdown_fig.widget,
                    left_width=wide,
                ),
                _note(SHARED_NETWORK_NOTE),
            ]
        )
        self.paper_latency_section = W.VBox(
            [heading("Latency, meaning 1: sequential stages (the paper)"), self.paper_latency]
        )
        lat = self.latency_channels
        self.latency_section = W.VBox(
            [
                heading("Latency, meaning 2: wall-clock time on this machine"),
                columns(
                    W.VBox(
                        [
                            lat.widget,
                            self.latency_d_o,
                            W.HBox([self.batch, next(reset)]),
                            self.rounds,
                            W.HBox([self.measure_button, self.clear_button]),
                            self.progress,
                            self.measure_status,
                        ]
                    ),
                    self.speedup_fig.widget,
                    left_width=css_width(400),
                ),
            ]
        )
        names = ("layer", "units", "ratio", "network", "breakdown", "paper_latency", "latency")
        for name in names:
            section = getattr(self, f"{name}_section")
            section.add_class(f"hetconv-flops-{name.replace('_', '-')}")
            viz_style.track_widget(section)  # the notebook shows the sections one by one
        self.numbers.add_class("hetconv-flops-numbers")
        self.tools.add_class("hetconv-flops-tools")
        self.net_totals.add_class("hetconv-flops-totals")
        self.measure_status.add_class("hetconv-flops-status")
        self.measure_button.add_class("hetconv-measure")
        self.layer_fig.add_class("hetconv-flops-layer-fig")
        self.ratio_fig.add_class("hetconv-flops-ratio-fig")
        self.speedup_fig.add_class("hetconv-flops-speedup-fig")
        self.widget = W.VBox(
            [
                self.layer_section,
                self.units_section,
                self.ratio_section,
                self.network_section,
                self.breakdown_section,
                self.paper_latency_section,
                self.latency_section,
            ]
        )

    # ------------------------------------------------------------------ state readers

    def layer_settings(self) -> dict[str, int]:
        """The calculator's current D_o, M, N, K, P, G."""
        v = self.channels.values
        return {
            "out_size": int(self.d_o.value),
            "in_channels": v.in_channels,
            "out_channels": v.out_channels,
            "kernel_size": v.kernel_size,
            "p": v.p,
            "groups": int(self.g.value),
        }

    def latency_settings(self) -> dict[str, int]:
        """Section 6's D_o, M, N, K, P: the layer that **measure on this machine** times."""
        v = self.latency_channels.values
        return {
            "out_size": int(self.latency_d_o.value),
            "in_channels": v.in_channels,
            "out_channels": v.out_channels,
            "kernel_size": v.kernel_size,
            "p": v.p,
        }

    def reset(self) -> None:
        """Put every control of every section back to the lesson's starting values
        (:attr:`defaults`); the measured points stay."""
        d = self.defaults
        self.unit.value = "MACs"
        self.channels.set(in_channels=d["m"], out_channels=d["n"], kernel_size=d["k"], p=d["p"])
        self.d_o.value = d["d_o"]
        self.g.value = d["g"]
        self.ratio_k.value = d["k"]
        self.ratio_p.value = min(RATIO_PARTS, key=lambda q: (abs(q - d["p"]), q))
        self.network.value = d["network"]
        self.net_family.value = "HetConv"
        self.net_p.value = d["net_p"]
        self.latency_channels.set(
            in_channels=d["m"], out_channels=d["n"], kernel_size=d["k"], p=d["p"]
        )
        self.latency_d_o.value = d["d_o"]
        self.batch.value = d["batch"]
        self.rounds.value = d["rounds"]

    def _reset_button(self) -> W.Button:
        button = W.Button(
            description="lesson defaults",
            icon="undo",
            tooltip="Put every control of this notebook back to the values the lesson starts from",
            layout=W.Layout(width=css_width(170)),
        )
        button.add_class("hetconv-reset")
        button.on_click(lambda _b: self.reset())
        return button

    def layer_rows(self) -> list[FamilyCost]:
        """The calculator's numbers (:func:`family_costs` of the current settings)."""
        return family_costs(**self.layer_settings())

    def network_conv(self) -> str:
        """The ``conv`` text of the network section, e.g. ``"hetconv:4"``."""
        return f"{NETWORK_FAMILIES[self.net_family.value]}:{self.net_p.value}"

    def network_costs(self) -> tuple[NetworkCost, NetworkCost]:
        """(this network, the same network all standard), both cached."""
        net = self.network.value
        return cached_network_cost(net, self.network_conv()), cached_network_cost(net, "standard")

    # ------------------------------------------------------------------ callbacks

    def _on_channels(self, values: object) -> None:
        self._g_busy = True
        try:
            _reselect(self.g, divisors(self.channels.values.in_channels))
        finally:
            self._g_busy = False
        self._on_layer()

    def _on_layer(self, _change: object = None) -> None:
        if self._g_busy:
            return
        s = self.layer_settings()
        rows = self.layer_rows()
        unit = self.unit.value
        measured = measure_layer_families(**s) if self._measure_flop_counter else None
        self.numbers.value = layer_numbers_html(
            rows, s["out_size"], s["in_channels"], s["out_channels"], s["kernel_size"], s["p"],
            unit, measured,
        )  # fmt: skip
        self.layer_fig.show(layer_costs_figure(rows, unit))
        het = next(r for r in rows if r.key == "hetconv")
        executed = layer_cost(
            f"hetconv:{s['p']}", s["in_channels"], s["out_channels"], s["kernel_size"],
            s["out_size"], executed=True,
        ).macs  # fmt: skip
        self.tools.value = tool_conventions_html(het.cost, executed, het.label)

    def _on_ratio(self, _change: object = None) -> None:
        self.ratio_fig.show(ratio_curve_figure(self.ratio_k.value, self.ratio_p.value))

    def _on_network_choice(self, _change: object = None) -> None:
        self._net_busy = True
        try:
            _reselect(self.net_p, network_parts(self.network.value))
        finally:
            self._net_busy = False
        self._on_network()

    def _on_network(self, _change: object = None) -> None:
        if self._net_busy:
            return
        cost, standard = self.network_costs()
        unit = self.unit.value
        paper = None
        is_paper_setting = self.network.value == "vgg16" and self.net_family.value == "HetConv"
        if is_paper_setting:
            printed = (
                paper_row(self.net_p.value).flops_m if self.net_p.value in PAPER_PARTS else None
            )
            paper = (
                truncate_millions(paper_convention_macs(cost)),
                round(true_macs(cost) / 1e6, 2),
                printed,
            )
        self.net_totals.value = network_totals_html(cost, standard, unit, paper)
        title = f"{self.network.value}, {self.network_conv()}: per-layer {unit} per image"
        self.net_table.show(layer_table_figure(cost, unit, title))
        labels = ("standard", f"{self.net_family.value} {self.net_p.value}")
        self.breakdown_fig.show(macs_by_layer_figure(standard, cost, unit, labels))

    def _on_measure(self, _button: object = None) -> list[SpeedupPoint]:
        s = self.latency_settings()
        settings = (s["out_size"], s["in_channels"], s["out_channels"], s["kernel_size"], s["p"])
        timer = {"batch": self.batch.value, "rounds": self.rounds.value, "warmup": self.warmup}
        self.measure_button.disabled = True
        self.progress.value = 0
        self.measure_status.value = "<i>estimating how long the measurement takes…</i>"
        try:
            estimate = estimate_measure_seconds(*settings, **timer)
        finally:
            self.measure_button.disabled = False
        if estimate > self.time_limit_s:
            self.measure_status.value = message_html(
                "warn",
                f"Not measured: at these settings the measurement would take about "
                f"{_duration(estimate)} on this machine (estimated from one pass of each layer "
                f"on one image), and the notebook would be frozen meanwhile; the limit is "
                f"{_duration(self.time_limit_s)}. Lower the batch, the rounds, D_o or the "
                "channels, then press measure again.",
            )
            return []
        warning = _threads_warning()
        self.measure_button.disabled = True
        self.measure_status.value = (
            f"<i>timing… about {_duration(estimate)} (forward passes, interleaved rounds)</i>"
        )

        def progress(done: int, total: int) -> None:
            self.progress.max = total
            self.progress.value = done

        try:
            points = measure_speedups(*settings, **timer, progress=progress)
        finally:
            self.measure_button.disabled = False
        self.measurements.extend(points)
        self.measure_status.value = (
            "<br>".join(
                f"<b>{p.candidate}</b>: {p.time_s * 1e3:.2f} ms vs standard "
                f"{p.standard_time_s * 1e3:.2f} ms → measured ×{p.measured:.2f}, "
                f"ideal ×{p.ideal:.2f}"
                for p in points
            )
            + viz_style.note_html(f"({points[0].settings})" if points else "")
            + ("" if warning is None else message_html("warn", warning))
        )
        self.speedup_fig.show(speedup_figure(self.measurements))
        return points

    def _on_clear(self, _button: object = None) -> None:
        self.measurements.clear()
        self.measure_status.value = ""
        self.speedup_fig.show(speedup_figure(self.measurements))

    def measure(self) -> list[SpeedupPoint]:
        """Press the measure button (for scripts and tests); returns the new points."""
        return self._on_measure()


EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        "A HetConv layer with D_o = 32, M = N = 64, K = 3, P = 4: how many MACs (paper's count)?",
        lambda: layer_cost("hetconv:4", 64, 64, 3, 32).macs,
        unit="MACs",
        hint="D_o²·M·N·K²/P + (M − M/P)·D_o²·N",
    ),
    Exercise(
        "With K = 5, what fraction of a standard convolution's MACs does HetConv with P = 8 "
        "cost? (3 decimals)",
        lambda: hetconv_ratio(5, 8),
        tolerance=0.001,
        hint="1/P + (1 − 1/P)/K²",
    ),
    Exercise(
        "The paper prints 71.35M for VGG-16 P8. What is the true work (FL_H plus unscaled bias "
        "additions), in millions of MACs, to two decimals?",
        lambda: round(true_macs(cached_network_cost("vgg16", "hetconv:8")) / 1e6, 2),
        tolerance=0.005,
        unit="M MACs",
        hint="the paper's ratio also shrank the bias additions; they are D_o²·N per layer",
    ),
)
"""The exercises of notebook 02; answers computed by the package (never shown in a cell)."""


def exercise(number: int) -> AnswerChecker:
    """The checker of exercise ``number`` (1-based) of :data:`EXERCISES`, ready to display."""
    return pick_exercise(EXERCISES, number).checker()
