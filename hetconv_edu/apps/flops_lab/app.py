""":class:`FlopsLabApp`: the lab's sections put together, the lesson's starting values and the
"lesson defaults" buttons that restore them."""

from __future__ import annotations

import ipywidgets as W

from hetconv_edu.apps.flops_lab.latency import LatencySection
from hetconv_edu.apps.flops_lab.layer import LayerSection
from hetconv_edu.apps.flops_lab.network import NetworkSection
from hetconv_edu.apps.flops_lab.ratio import RatioSection
from hetconv_edu.checks import check_number
from hetconv_edu.viz import style as viz_style
from hetconv_edu.viz.flops_lab import speedup_figure
from hetconv_edu.viz.style import css_width

SECTIONS = ("layer", "units", "ratio", "network", "breakdown", "paper_latency", "latency")
"""The sections in the notebook's order (``<name>_section`` attributes)."""


class FlopsLabApp(LayerSection, RatioSection, NetworkSection, LatencySection):
    """The FLOPs and latency lab. ``.widget`` holds every section; see the package docstring.

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
        self._measure_flop_counter = measure_flop_counter
        self._make_layer(d_o, m, n, k, p, g)
        self._make_ratio(k, p)
        self._make_network(network, net_p)
        self._make_latency(d_o, m, n, k, p, batch, rounds, warmup)
        self.reset_buttons = [self._reset_button() for _ in range(5)]
        """One "lesson defaults" button per section with controls (all call :meth:`reset`)."""
        self._build_sections()
        self._on_layer()
        self._on_ratio()
        self._on_network()
        self._show_paper_table()
        self.speedup_fig.show(speedup_figure(self.measurements))

    def _build_sections(self) -> None:
        reset = iter(self.reset_buttons)
        self._build_layer(next(reset))
        self._build_ratio(next(reset))
        self._build_network(next(reset))
        self._build_breakdown(next(reset))
        self._build_latency(next(reset))
        for name in SECTIONS:
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
        self.widget = W.VBox([getattr(self, f"{name}_section") for name in SECTIONS])

    def reset(self) -> None:
        """Put every control of every section back to the lesson's starting values
        (:attr:`defaults`); the measured points stay."""
        self._reset_layer(self.defaults)
        self._reset_ratio(self.defaults)
        self._reset_network(self.defaults)
        self._reset_latency(self.defaults)

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
