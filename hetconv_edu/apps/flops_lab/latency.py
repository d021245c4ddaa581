"""Sections 6 and 7: latency in the paper's sense (sequential stages), and wall-clock time on
this machine, measured with :func:`~hetconv_edu.apps.flops_lab.measure.measure_speedups` after
an estimate of how long that takes; settings that would take longer than the app's
``time_limit_s`` are refused with the estimate."""

from __future__ import annotations

import ipywidgets as W

from hetconv_edu.apps.controls import ChannelControls, columns, heading
from hetconv_edu.apps.flops_lab import measure as measuring
from hetconv_edu.apps.flops_lab.widgets import html
from hetconv_edu.apps.jobs import message_html
from hetconv_edu.apps.live_figure import LiveFigure
from hetconv_edu.viz import style as viz_style
from hetconv_edu.viz.flops_lab import SpeedupPoint, paper_latency_html, speedup_figure
from hetconv_edu.viz.style import css_width


class LatencySection:
    """The paper's latency table, and section 6's own layer, timer settings, measure and clear
    buttons and the speedup chart (every point measured so far)."""

    def _make_latency(self, d_o: int, m: int, n: int, k: int, p: int, batch: int,
                      rounds: int, warmup: int) -> None:  # fmt: skip
        style = {"description_width": "initial"}
        self.measurements: list[SpeedupPoint] = []
        """Every speedup measured so far (the chart accumulates them)."""
        self.latency_channels = ChannelControls(m, n, k, p, continuous_update=False)
        """Section 6's own M/N/K/P: what is timed never depends on another section."""
        self.latency_d_o = W.IntSlider(
            value=d_o, min=1, max=64, description="D_o output size", style=style,
            continuous_update=False, layout=W.Layout(width=css_width(330)),
        )  # fmt: skip
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
        self.measure_status = html()
        self.clear_button = W.Button(description="clear points", icon="trash")
        self.paper_latency = W.HTML(paper_latency_html())
        self.speedup_fig = LiveFigure(action=True)  # changes when "measure" is pressed
        self.measure_button.on_click(self._on_measure)
        self.clear_button.on_click(self._on_clear)

    def _build_latency(self, reset: W.Button) -> None:
        self.paper_latency_section = W.VBox(
            [heading("Latency, meaning 1: sequential stages (the paper)"), self.paper_latency]
        )
        controls = W.VBox(
            [
                self.latency_channels.widget,
                self.latency_d_o,
                W.HBox([self.batch, reset]),
                self.rounds,
                W.HBox([self.measure_button, self.clear_button]),
                self.progress,
                self.measure_status,
            ]
        )
        self.latency_section = W.VBox(
            [
                heading("Latency, meaning 2: wall-clock time on this machine"),
                columns(controls, self.speedup_fig.widget, left_width=css_width(400)),
            ]
        )

    def _reset_latency(self, d: dict) -> None:
        self.latency_channels.set(
            in_channels=d["m"], out_channels=d["n"], kernel_size=d["k"], p=d["p"]
        )
        self.latency_d_o.value = d["d_o"]
        self.batch.value = d["batch"]
        self.rounds.value = d["rounds"]

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

    def _estimate(self, settings: tuple, timer: dict) -> float:
        """Seconds the measurement would take, the button disabled while estimating."""
        self.measure_button.disabled = True
        self.progress.value = 0
        self.measure_status.value = "<i>estimating how long the measurement takes…</i>"
        try:
            return measuring.estimate_measure_seconds(*settings, **timer)
        finally:
            self.measure_button.disabled = False

    def _refuse(self, estimate: float) -> None:
        self.measure_status.value = message_html(
            "warn",
            f"Not measured: at these settings the measurement would take about "
            f"{measuring.duration(estimate)} on this machine (estimated from one pass of each "
            f"layer on one image), and the notebook would be frozen meanwhile; the limit is "
            f"{measuring.duration(self.time_limit_s)}. Lower the batch, the rounds, D_o or the "
            "channels, then press measure again.",
        )

    def _on_measure(self, _button: object = None) -> list[SpeedupPoint]:
        s = self.latency_settings()
        settings = (s["out_size"], s["in_channels"], s["out_channels"], s["kernel_size"], s["p"])
        timer = {"batch": self.batch.value, "rounds": self.rounds.value, "warmup": self.warmup}
        estimate = self._estimate(settings, timer)
        if estimate > self.time_limit_s:
            self._refuse(estimate)
            return []
        warning = measuring.threads_warning()
        self.measure_button.disabled = True
        self.measure_status.value = (
            f"<i>timing… about {measuring.duration(estimate)} (forward passes, interleaved "
            "rounds)</i>"
        )

        def progress(done: int, total: int) -> None:
            self.progress.max = total
            self.progress.value = done

        try:
            points = measuring.measure_speedups(*settings, **timer, progress=progress)
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
