"""The study's answer: every network trained from scratch against MACs and measured time
(:func:`answer_figure`), the answer in one sentence with each budget's verdict
(:func:`answer_html`, computed by :mod:`hetconv_edu.study.answer`), and what the uniform-P
networks show (:func:`findings_sentence`)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from hetconv_edu.study.answer import SeedSummary, answer_sentence, budget_verdicts, seed_summaries
from hetconv_edu.study.results import OptimalPResults
from hetconv_edu.viz import style
from hetconv_edu.viz.best_p.common import (
    COLORS,
    config_text,
    cost_scale,
    cost_text,
    figure_layout,
    pct,
)

_ANSWER_AXES = (("macs", "MACs"), ("infer_ms", "measured inference time (whole network)"))

_ANSWER_SERIES = (
    (True, "circle", COLORS["uniform"], "uniform P (retrained)"),
    (False, "diamond", COLORS["searched"], "searched plan (retrained)"),
)
"""(uniform?, marker symbol, colour, name) of the answer figure's two series."""


def _answer_trace(
    results: OptimalPResults,
    chosen: Sequence[SeedSummary],
    metric: str,
    series: tuple[bool, str, str, str],
    legend: bool,
) -> go.Scatter:
    """The ``chosen`` networks' mean accuracy ± spread against ``metric``; uniform P joined in
    order of P and labelled with it, the plans as bare markers."""
    uniform, symbol, color, name = series
    scale, _ = cost_scale(metric)
    return go.Scatter(
        x=[s.cost(metric) / scale for s in chosen],
        y=[100 * s.mean for s in chosen],
        mode="lines+markers+text" if uniform else "markers",
        line={"color": color, "width": 1.5, "dash": "dot"},
        marker={
            "size": 12,
            "symbol": symbol,
            "color": color,
            "line": {"width": 1, "color": style.OUTLINE},
        },
        error_y={
            "type": "data",
            "array": [100 * (s.spread or 0.0) for s in chosen],
            "color": color,
            "thickness": 1.5,
            "width": 6,
        },
        text=[f"P={s.config[0]}" for s in chosen] if uniform else None,
        textposition="bottom right",
        name=name,
        legendgroup=name,
        showlegend=legend,
        hovertext=[
            f"<b>{s.label}</b> retrained: {s.text()}<br>"
            f"{cost_text(results, s.cost(metric), metric)}"
            for s in chosen
        ],
        hoverinfo="text",
    )


def answer_figure(
    results: OptimalPResults, height: int = 460, width: int = style.SIDE_FIGURE_WIDTH
) -> go.Figure:
    """What the answer rests on: every network trained from scratch, its test accuracy as the
    mean over its seeds with ± the spread (sample standard deviation) as an error bar, against
    MACs (left) and the whole network's measured inference time (right); uniform P as circles
    joined in order of P, the search's plans as diamonds (:mod:`hetconv_edu.study.answer`)."""
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        horizontal_spacing=0.06,
        subplot_titles=[f"against {what}" for _, what in _ANSWER_AXES],
    )
    summaries = sorted(seed_summaries(results).values(), key=lambda s: (not s.uniform, s.config))
    for col, (metric, _) in enumerate(_ANSWER_AXES, start=1):
        for series in _ANSWER_SERIES:
            chosen = [s for s in summaries if s.uniform == series[0]]
            if chosen:
                trace = _answer_trace(results, chosen, metric, series, legend=col == 1)
                fig.add_trace(trace, row=1, col=col)
        fig.update_xaxes(title_text=cost_scale(metric)[1], row=1, col=col)
        fig.update_yaxes(title_text="retrained test accuracy (%)", row=1, col=col)
    return figure_layout(
        fig,
        "Retrained from scratch: mean ± spread",
        height=height,
        width=width,
        hovermode="closest",
        legend={"orientation": "h", "x": 0.0, "y": -0.2, "yanchor": "top"},
        margin={"l": 64, "r": 16, "t": 72, "b": 110},
    )


def answer_html(results: OptimalPResults) -> str:
    """The study's answer in one sentence (computed by :func:`~hetconv_edu.study.answer.
    answer_sentence`), then each budget's plan: predicted accuracy (weight-sharing network)
    apart from the retrained one (mean ± spread, test set), the most accurate uniform P of equal
    or lower cost, and the verdict."""
    sentence = (
        f"<p class='hetconv-bestp-answer-sentence hetconv-prose'>"
        f"<b>The answer:</b> {html.escape(answer_sentence(results))}</p>"
    )
    verdicts = budget_verdicts(results)
    if not verdicts:
        return sentence
    rows = "".join(
        f"<tr><td>{html.escape(v.budget_text)}</td><td>{config_text(v.config)}</td>"
        f"<td class='num'>{pct(results.predicted_acc(v.config))}</td>"
        f"<td class='num'>{'–' if v.plan is None else html.escape(v.plan.text())}</td>"
        f"<td class='num'>"
        f"{'–' if v.rival is None else html.escape(f'{v.rival.label}: {v.rival.text()}')}</td>"
        f"<td>{html.escape(v.outcome)}</td></tr>"
        for v in verdicts
    )
    return (
        f"{sentence}<table class='hetconv-table hetconv-answer-table'><tr><th>budget</th>"
        "<th>plan</th><th>predicted (weight-sharing)</th><th>retrained (test set)</th>"
        "<th>best uniform P of equal or lower cost</th><th>verdict</th></tr>"
        f"{rows}</table><span class='hetconv-note'>± is the sample standard deviation over the "
        "seeds. A plan counts as better only when its mean beats the uniform P's by more than "
        "the larger spread.</span>"
    )


def findings_sentence(results: OptimalPResults) -> str:
    """One plain sentence of what ``results`` show, computed from its uniform-P networks trained
    from scratch (each P's accuracy is the mean over its seeds): the range of accuracies, the
    most accurate P, the cheapest P's MACs against P = 1 and the fastest P per image on the
    study's machine. Without trained networks it says that only predictions are shown."""
    by_p: dict[int, list[Any]] = {}
    for run in results.runs:
        if run.kind == "uniform":
            by_p.setdefault(run.config[0], []).append(run)
    if not by_p:
        return (
            "These results hold no network trained from scratch: every accuracy shown is a "
            "prediction of the weight-sharing network."
        )
    acc = {p: 100 * sum(r.test_acc for r in runs) / len(runs) for p, runs in by_p.items()}
    costs = {p: runs[0].costs for p, runs in by_p.items()}
    ps = sorted(by_p)
    base, top = ps[0], max(ps)
    best = max(ps, key=lambda p: (acc[p], -p))
    fastest = min(ps, key=lambda p: (costs[p].infer_ms, p))
    return (
        f"Trained from scratch, uniform P = {base} … {top} reached "
        f"{min(acc.values()):.1f}–{max(acc.values()):.1f} % test accuracy; the most accurate "
        f"was P = {best} ({acc[best]:.1f} %), P = {top} needed "
        f"{costs[top].macs / costs[base].macs:.2f}× the MACs of P = {base} for {acc[top]:.1f} %, "
        f"and the fastest per image on the study's machine was P = {fastest} "
        f"({costs[fastest].infer_ms:.2f} ms against {costs[base].infer_ms:.2f} ms at P = {base})."
    )
