"""Section 3: the cost ratio against P and its 1/K² floor, with its own K and P."""

from __future__ import annotations

import ipywidgets as W

from hetconv_edu.apps.controls import KERNEL_SIZES, columns, heading, inline_toggles
from hetconv_edu.apps.live_figure import LiveFigure
from hetconv_edu.viz.flops_lab import ratio_curve_figure
from hetconv_edu.viz.style import css_width

RATIO_PARTS: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
"""The P values of the ratio section's slider (the curve is drawn up to P = 64)."""


def closest_part(p: int) -> int:
    """The slider's P closest to ``p`` (the smaller one on a tie)."""
    return min(RATIO_PARTS, key=lambda q: (abs(q - p), q))


class RatioSection:
    """Section 3: the ratio curve depends on K and P only, so it has its own two controls."""

    def _make_ratio(self, k: int, p: int) -> None:
        self.ratio_k = W.ToggleButtons(
            options=[(f"{s}×{s}", s) for s in KERNEL_SIZES], value=k, description="K kernel",
            style={"description_width": "initial", "button_width": css_width(52)},
            layout=inline_toggles(),
        )  # fmt: skip
        """Section 3's own K (the ratio curve depends on K and P only)."""
        self.ratio_p = W.SelectionSlider(
            options=RATIO_PARTS, value=closest_part(p),
            description="P part", continuous_update=False,
            style={"description_width": "initial"}, layout=W.Layout(width=css_width(330)),
        )  # fmt: skip
        """Section 3's own P."""
        self.ratio_fig = LiveFigure()
        for w in (self.ratio_k, self.ratio_p):
            w.observe(self._on_ratio, "value")

    def _build_ratio(self, reset: W.Button) -> None:
        self.ratio_section = W.VBox(
            [
                heading("The cost ratio and its floor"),
                columns(
                    W.VBox([self.ratio_k, self.ratio_p, reset]),
                    self.ratio_fig.widget,
                    left_width=css_width(385),
                ),
            ]
        )

    def _reset_ratio(self, d: dict) -> None:
        self.ratio_k.value = d["k"]
        self.ratio_p.value = closest_part(d["p"])

    def _on_ratio(self, _change: object = None) -> None:
        self.ratio_fig.show(ratio_curve_figure(self.ratio_k.value, self.ratio_p.value))
