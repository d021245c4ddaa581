"""Sections 4 and 5: a whole network per layer, analytic against measured, the paper's VGG-16
table next to ours, and where the MACs go layer by layer (the two sections share controls)."""

from __future__ import annotations

import functools

import ipywidgets as W

from hetconv_edu.apps.controls import columns, disclosure, heading
from hetconv_edu.apps.flops_lab.networks import (
    NETWORK_FAMILIES,
    NETWORKS,
    cached_network_cost,
    network_parts,
)
from hetconv_edu.apps.flops_lab.widgets import flow, html, note, reselect
from hetconv_edu.apps.live_figure import LiveFigure
from hetconv_edu.flops import NetworkCost
from hetconv_edu.paper import (
    PAPER_PARTS,
    paper_convention_macs,
    paper_row,
    reproduce_vgg16_table,
    true_macs,
    truncate_millions,
)
from hetconv_edu.viz.flops_lab import (
    layer_table_figure,
    macs_by_layer_figure,
    network_totals_html,
    paper_table_figure,
)
from hetconv_edu.viz.style import css_width

SHARED_NETWORK_NOTE = (
    "These are section 4's controls: moving them here moves them there too. Every other "
    "section has its own controls."
)


class NetworkSection:
    """Section 4 (a whole network, the paper's table) and section 5 (where the MACs go): one
    network, family and P, chosen in either section."""

    def _make_network(self, network: str, net_p: int) -> None:
        style = {"description_width": "initial"}
        self._net_busy = False
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
        self.net_totals = html()
        self.net_table = LiveFigure()
        self.paper_table = LiveFigure()
        self.breakdown_fig = LiveFigure()
        for w in (self.net_family, self.net_p, self.unit):
            w.observe(self._on_network, "value")
        self.network.observe(self._on_network_choice, "value")

    def _build_network(self, reset: W.Button) -> None:
        self.network_section = W.VBox(
            [
                heading("A whole network"),
                flow(self.network, self.net_family, self.net_p, self.unit, reset),
                self.net_totals,
                disclosure("Per-layer table", self.net_table.widget),
                disclosure("The paper's VGG-16 table, reproduced", self.paper_table.widget),
            ]
        )

    def _build_breakdown(self, reset: W.Button) -> None:
        self.breakdown_section = W.VBox(
            [
                heading("Where the MACs go"),
                columns(
                    W.VBox([self.network, self.net_family, self.net_p, reset]),
                    self.breakdown_fig.widget,
                    left_width=css_width(385),
                ),
                note(SHARED_NETWORK_NOTE),
            ]
        )

    def _reset_network(self, d: dict) -> None:
        self.network.value = d["network"]
        self.net_family.value = "HetConv"
        self.net_p.value = d["net_p"]

    def network_conv(self) -> str:
        """The ``conv`` text of the network section, e.g. ``"hetconv:4"``."""
        return f"{NETWORK_FAMILIES[self.net_family.value]}:{self.net_p.value}"

    def network_costs(self) -> tuple[NetworkCost, NetworkCost]:
        """(this network, the same network all standard), both cached."""
        net = self.network.value
        return cached_network_cost(net, self.network_conv()), cached_network_cost(net, "standard")

    def _show_paper_table(self) -> None:
        vgg16_cost = functools.partial(cached_network_cost, "vgg16")
        rows = reproduce_vgg16_table(lambda p: vgg16_cost(f"hetconv:{p}"))
        self.paper_table.show(paper_table_figure(rows))

    def _on_network_choice(self, _change: object = None) -> None:
        self._net_busy = True
        try:
            reselect(self.net_p, network_parts(self.network.value))
        finally:
            self._net_busy = False
        self._on_network()

    def _paper_numbers(self, cost: NetworkCost) -> tuple | None:
        """(paper-convention MACs, true MACs, the paper's printed figure or None) when the
        section shows the paper's setting (VGG-16 with HetConv), else None."""
        if not (self.network.value == "vgg16" and self.net_family.value == "HetConv"):
            return None
        printed = paper_row(self.net_p.value).flops_m if self.net_p.value in PAPER_PARTS else None
        return (
            truncate_millions(paper_convention_macs(cost)),
            round(true_macs(cost) / 1e6, 2),
            printed,
        )

    def _on_network(self, _change: object = None) -> None:
        if self._net_busy:
            return
        cost, standard = self.network_costs()
        unit = self.unit.value
        paper = self._paper_numbers(cost)
        self.net_totals.value = network_totals_html(cost, standard, unit, paper)
        title = f"{self.network.value}, {self.network_conv()}: per-layer {unit} per image"
        self.net_table.show(layer_table_figure(cost, unit, title))
        labels = ("standard", f"{self.net_family.value} {self.net_p.value}")
        self.breakdown_fig.show(macs_by_layer_figure(standard, cost, unit, labels))
