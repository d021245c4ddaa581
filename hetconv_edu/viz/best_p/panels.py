"""The best-P notebook's HTML panels: a configuration's numbers (:func:`plan_html`), where
the results come from (:func:`provenance_html`), and what they mean (:data:`MEANING_HTML`)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from hetconv_edu.study.results import OptimalPResults
from hetconv_edu.viz.best_p.common import config_text, cost_text, pct


def plan_html(results: OptimalPResults, config: Sequence[int], *, heading: str) -> str:
    """A configuration's numbers: its P per layer, predicted accuracy, MACs and measured times
    (additive, and as a share of the standard network). Each number has a ``data-key``."""
    config = results.check_config(config)
    rows = [
        ("config", "P per layer", config_text(config)),
        ("predicted", "predicted accuracy", pct(results.predicted_acc(config))),
        ("macs", "MACs", cost_text(results, results.cost(config, "macs"), "macs")),
        (
            "infer_ms",
            "inference",
            cost_text(results, results.cost(config, "infer_ms"), "infer_ms"),
        ),
        (
            "train_ms",
            "training step",
            cost_text(results, results.cost(config, "train_ms"), "train_ms"),
        ),
    ]
    body = "".join(
        f"<tr><th>{what}</th><td class='num' data-key='{key}'>{html.escape(value)}</td></tr>"
        for key, what, value in rows
    )
    return (
        f"<div><b>{html.escape(heading)}</b><table class='hetconv-table'>{body}</table>"
        "<span class='hetconv-note'>Per image. Accuracy: the weight-sharing network's "
        f"prediction. {_time_model_text(results)}</span></div>"
    )


def _time_model_text(results: OptimalPResults) -> str:
    """How the results model a configuration's time, in one sentence."""
    if "infer_ms" in results.time_model:
        intercept, slope = results.time_model["infer_ms"]
        return (
            f"Time ≈ {intercept:.3f} ms + {slope:.2f} × the layers' measured sum (calibrated on "
            "whole networks)."
        )
    return "Time: the layers' measured sum plus the rest of the network (approximate)."


def _value_html(value: Any) -> str:
    if isinstance(value, Mapping):
        return "; ".join(f"{html.escape(str(k))}: {_value_html(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_value_html(v) for v in value)
    return html.escape(str(value))


def provenance_html(results: OptimalPResults, *, source: str = "") -> str:
    """Where the results come from: command, date, package version, machine, data and training
    budget (every provenance entry; of the reference computation its commit, date, command and
    note, not its recorded numbers), and the file or run they were read from."""
    prov = results.provenance
    first = ("command", "date", "package_version", "machine", "data", "training_budget")
    keys = [k for k in first if k in prov] + [k for k in prov if k not in first]
    shown = dict(prov)
    if isinstance(shown.get("reference"), dict):  # its recorded numbers are for the tests
        shown["reference"] = {k: v for k, v in shown["reference"].items() if k != "values"}
    rows = "".join(
        f"<tr><th>{html.escape(k.replace('_', ' '))}</th><td>{_value_html(shown[k])}</td></tr>"
        for k in keys
    )
    if source:
        rows = f"<tr><th>source</th><td>{html.escape(source)}</td></tr>" + rows
    return f"<table class='hetconv-table hetconv-provenance'>{rows}</table>"


MEANING_HTML = (
    "<div class='hetconv-prose'><b>What these results mean, and what they do not</b><ul>"
    "<li><b>One data set:</b> CIFAR-10, at the training budget in the provenance table. "
    "Another data set can rank the configurations differently.</li>"
    "<li><b>One machine:</b> the measured times are those of the machine in the provenance "
    "table, its CPU, threads and PyTorch version. On a GPU, or another CPU, grouped "
    "convolutions speed up differently, so the P that is fastest can change. MACs do not "
    "change.</li>"
    "<li><b>Small networks:</b> a small VGG with a few switchable layers, not the paper's "
    "VGG-16.</li>"
    "<li><b>Short training:</b> a few epochs, not the paper's schedule. Differences smaller "
    "than the spread of the seeds are noise: the answer counts a plan as better only beyond "
    "it.</li>"
    "<li><b>Predictions are a model:</b> the weight-sharing network's accuracy minus the sum "
    "of per-layer sensitivities. The honesty check shows how well it ranks networks "
    "trained from scratch.</li></ul>"
    "What they do show: how to decide on P for <i>your</i> network, budget and machine, by "
    "measuring instead of assuming.</div>"
)
"""The "what this does and does not mean" note of the notebook's last section."""
