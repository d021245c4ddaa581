"""Sections 1 and 2: one layer (D_o, M, N, K, P, G) as five filter families — exact numbers,
the HetConv formula with the values substituted, a bar chart — and MACs against FLOPs, with
how popular tools report the same layer."""

from __future__ import annotations

import ipywidgets as W

from hetconv_edu.apps.controls import ChannelControls, columns, heading, inline_toggles
from hetconv_edu.apps.flops_lab.measure import measure_layer_families
from hetconv_edu.apps.flops_lab.widgets import GAP_PX, MARGINS_PX, flow, html, reselect
from hetconv_edu.apps.live_figure import LiveFigure
from hetconv_edu.flops import layer_cost
from hetconv_edu.pattern import divisors
from hetconv_edu.viz.flops_lab import (
    LAYER_FIGURE_WIDTH,
    FamilyCost,
    family_costs,
    layer_costs_figure,
    layer_numbers_html,
    tool_conventions_html,
)
from hetconv_edu.viz.style import css_width

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


class LayerSection:
    """Section 1 (one layer, five families) and section 2 (MACs vs FLOPs, the tools' numbers):
    both show the same layer, and the unit toggle counts for every section."""

    def _make_layer(self, d_o: int, m: int, n: int, k: int, p: int, g: int) -> None:
        style = {"description_width": "initial"}
        self.channels = ChannelControls(m, n, k, p, continuous_update=False)
        """Section 1's M/N/K/P controls (P always divides M and N)."""
        self.d_o = W.IntSlider(
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
        self.numbers = html()
        self.layer_fig = LiveFigure()
        self.tools = html()
        self.channels.on_change(self._on_channels)
        for w in (self.d_o, self.g, self.unit):
            w.observe(self._on_layer, "value")

    def _build_layer(self, reset: W.Button) -> None:
        c = self.channels
        self.layer_section = W.VBox(
            [
                heading("One layer: five filter families"),
                flow(
                    c.in_channels,
                    c.out_channels,
                    c.kernel_size,
                    c.p,
                    self.d_o,
                    self.g,
                    self.unit,
                    reset,
                ),
                c.note,
                # the table has what the row leaves beside the chart (in both styles: the
                # chart keeps its width), so a family's name takes two lines at most
                columns(
                    self.numbers,
                    self.layer_fig.widget,
                    left_width=f"calc(100% - {LAYER_FIGURE_WIDTH + GAP_PX + MARGINS_PX}px)",
                    gap=f"{GAP_PX}px",
                ),
            ]
        )
        self.units_section = W.VBox(
            [heading("MACs vs FLOPs"), self.unit, W.HTML(WHY_TOOLS_DISAGREE), self.tools]
        )

    def _reset_layer(self, d: dict) -> None:
        self.unit.value = "MACs"
        self.channels.set(in_channels=d["m"], out_channels=d["n"], kernel_size=d["k"], p=d["p"])
        self.d_o.value = d["d_o"]
        self.g.value = d["g"]

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

    def layer_rows(self) -> list[FamilyCost]:
        """The calculator's numbers (:func:`family_costs` of the current settings)."""
        return family_costs(**self.layer_settings())

    def _on_channels(self, values: object) -> None:
        self._g_busy = True
        try:
            reselect(self.g, divisors(self.channels.values.in_channels))
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
