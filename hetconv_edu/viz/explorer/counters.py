"""The explorer's third view: the numbers of one setting (:func:`family_numbers`) as HTML,
the few a class reads beside the map (:func:`key_numbers_html`) and every count with its
formula (:func:`counters_html`): kernels and weights per filter, weights and MACs per layer,
the cost ratio with the numbers substituted."""

from __future__ import annotations

import html
from dataclasses import dataclass

from hetconv_edu.flops import (
    depthwise_pointwise_ratio,
    groupwise_pointwise_ratio,
    hetconv_ratio,
    layer_cost,
    naive_hetconv_ratio,
    standard_macs,
)
from hetconv_edu.pattern import Kernel, kernels_per_channel, kernels_per_filter, stage_weights
from hetconv_edu.viz.explorer.state import (
    ExplorerState,
    conv_spec,
    explorer_stages,
    family_title,
)


@dataclass(frozen=True)
class StageCount:
    """Counts of one stage for the selected filter (None where the stage has no such filter)."""

    name: str
    filters: int
    full_in_filter: int | None
    one_in_filter: int | None
    weights_in_filter: int | None
    full_per_channel: tuple[int, int]
    """Fewest and most filters giving one input channel a K×K kernel."""
    weights: int


@dataclass(frozen=True)
class FamilyNumbers:
    """What the counters show for one family: per-filter counts, layer weights and MACs.

    ``weights`` and ``macs`` come from :func:`hetconv_edu.flops.layer_cost` (no bias),
    ``standard`` from :func:`hetconv_edu.flops.standard_macs`; ``formula_value`` is the
    family's ratio function of :mod:`hetconv_edu.flops` (equal to ``ratio`` where it holds).
    """

    family: str
    title: str
    spec: str
    stages: tuple[StageCount, ...]
    weights: int
    weights_formula: str
    macs: int
    standard: int
    formula: str
    formula_numbers: str
    formula_value: float
    formula_note: str = ""

    @property
    def ratio(self) -> float:
        """MACs ÷ standard-convolution MACs."""
        return self.macs / self.standard

    @property
    def flops(self) -> int:
        """PyTorch's FLOPs (2 × MACs)."""
        return 2 * self.macs


def _ratio_formula(family: str, state: ExplorerState) -> tuple[str, str, float, str]:
    m, n, k, p = state.in_channels, state.out_channels, state.kernel_size, state.p
    k2 = f"{k}²"
    if family == "standard":
        return "1", "1", 1.0, ""
    if family == "hetconv":
        value = hetconv_ratio(k, p)
        numbers = f"1/{p} + (1 − 1/{p})/{k2} = {1 / p:.4f} + {(1 - 1 / p) / k**2:.4f}"
        return "1/P + (1 − 1/P)/K²", numbers, value, ""
    if family == "naive_hetconv":
        value = naive_hetconv_ratio(k, p)
        numbers = f"1/{p} + 1/{k2} = {1 / p:.4f} + {1 / k**2:.4f}"
        return "1/P + 1/K²", numbers, value, "the extra 1/P · 1/K² is the overlap (K×K + 1×1)"
    if family == "depthwise_pointwise":
        value = depthwise_pointwise_ratio(n, k)
        numbers = f"1/{n} + 1/{k2} = {1 / n:.4f} + {1 / k**2:.4f}"
        return "1/N + 1/K²", numbers, value, ""
    if family == "groupwise_pointwise":
        if m == n:
            value = groupwise_pointwise_ratio(p, k)
            numbers = f"1/{p} + 1/{k2} = {1 / p:.4f} + {1 / k**2:.4f}"
            return "1/G + 1/K²", numbers, value, ""
        value = m / (n * p) + 1 / k**2
        numbers = f"{m}/({n}·{p}) + 1/{k2} = {m / (n * p):.4f} + {1 / k**2:.4f}"
        note = "1/G + 1/K² holds for M = N; the groupwise stage is M→M, so here M/(N·G) + 1/K²"
        return "M/(N·G) + 1/K²", numbers, value, note
    raise ValueError(f"unknown family {family!r}")


def _weights_formula(family: str, state: ExplorerState) -> str:
    m, n, k, p = state.in_channels, state.out_channels, state.kernel_size, state.p
    if family == "standard":
        return f"N·M·K² = {n}·{m}·{k * k}"
    if family == "hetconv":
        return f"N·(M·K²/P + M − M/P) = {n}·({m * k * k // p} + {m - m // p})"
    if family == "naive_hetconv":
        return f"N·(M·K²/P + M) = {n}·({m * k * k // p} + {m})"
    if family == "depthwise_pointwise":
        return f"M·K² + N·M = {m * k * k} + {n * m}"
    if family == "groupwise_pointwise":
        return f"M·M·K²/G + N·M = {m * m * k * k // p} + {n * m}"
    raise ValueError(f"unknown family {family!r}")


def family_numbers(state: ExplorerState, family: str | None = None) -> FamilyNumbers:
    """The counters of ``family`` (default ``state.family``) at ``state``'s setting."""
    family = state.family if family is None else family
    m, n, k, d = state.in_channels, state.out_channels, state.kernel_size, state.out_size
    stages = explorer_stages(family, m, n, state.p)
    counts = []
    for stage in stages:
        full_f = kernels_per_filter(stage.pattern, Kernel.FULL)
        one_f = kernels_per_filter(stage.pattern, Kernel.ONE)
        full_c = kernels_per_channel(stage.pattern, Kernel.FULL)
        i = state.filter_index
        has = i < stage.out_channels
        full_i = int(full_f[i]) if has else None
        one_i = int(one_f[i]) if has else None
        weights_i = int(stage_weights(stage.pattern[i : i + 1], k)) if has else None
        counts.append(
            StageCount(
                name=stage.name,
                filters=stage.out_channels,
                full_in_filter=full_i,
                one_in_filter=one_i,
                weights_in_filter=weights_i,
                full_per_channel=(int(full_c.min()), int(full_c.max())),
                weights=stage_weights(stage.pattern, k),
            )
        )
    spec = conv_spec(family, state.p)
    cost = layer_cost(spec, m, n, k, d, bias=False)
    formula, numbers, value, note = _ratio_formula(family, state)
    return FamilyNumbers(
        family=family,
        title=family_title(family, state.p),
        spec=spec,
        stages=tuple(counts),
        weights=cost.params,
        weights_formula=_weights_formula(family, state),
        macs=cost.macs,
        standard=standard_macs(d, m, n, k),
        formula=formula,
        formula_numbers=numbers,
        formula_value=value,
        formula_note=note,
    )


def _per_stage(numbers: FamilyNumbers, attr: str) -> str:
    values = [getattr(s, attr) for s in numbers.stages]
    if len(values) == 1:
        return "—" if values[0] is None else f"{values[0]:,}"
    parts = []
    for i, v in enumerate(values):
        parts.append(f"stage {i + 1}: {'—' if v is None else f'{v:,}'}")
    return "<br>".join(parts)


def _channel_cover(numbers: FamilyNumbers) -> str:
    parts = []
    for i, s in enumerate(numbers.stages):
        lo, hi = s.full_per_channel
        value = f"{lo}" if lo == hi else f"{lo}–{hi}"
        prefix = f"stage {i + 1}: " if len(numbers.stages) > 1 else ""
        parts.append(prefix + value)
    return "<br>".join(parts)


def _compact_per_stage(numbers: FamilyNumbers, attr: str) -> str:
    """One line per family: ``"4"``, or ``"1 + 16"`` (stage 1 + stage 2)."""
    values = [getattr(s, attr) for s in numbers.stages]
    return " + ".join("—" if v is None else f"{v:,}" for v in values)


def _layer_line(state: ExplorerState) -> str:
    return (
        f"Layer: M = {state.in_channels} input channels, N = {state.out_channels} filters, "
        f"K = {state.kernel_size}, P = {state.p}."
    )


def key_numbers_html(state: ExplorerState) -> str:
    """The numbers a class reads beside the map (HTML, class ``hetconv-counters``): for each
    family the K×K and 1×1 kernels of the selected filter, the layer's weights and MACs and
    **MACs ÷ standard**, then the layer's M, N, K, P. Two-stage families show
    ``stage 1 + stage 2``. :func:`counters_html` has every count with its formula.

    Values carry ``data-counter``/``data-family`` attributes so tests can read them.
    """
    fams = [family_numbers(state, f) for f in state.families]
    n, d = state.filter_index, state.out_size

    def cell(key: str, fam: FamilyNumbers, value: str) -> str:
        return f"<td class='num' data-counter='{key}' data-family='{fam.family}'>{value}</td>"

    rows = [
        ("", f"K×K in filter {n}",
         [cell("full_in_filter", f, _compact_per_stage(f, "full_in_filter")) for f in fams]),
        ("", f"1×1 in filter {n}",
         [cell("one_in_filter", f, _compact_per_stage(f, "one_in_filter")) for f in fams]),
        ("", "weights (layer)", [cell("weights", f, f"{f.weights:,}") for f in fams]),
        ("", f"MACs, D<sub>o</sub> = {d}", [cell("macs", f, f"{f.macs:,}") for f in fams]),
        (" class='total'", "MACs ÷ standard", [cell("ratio", f, f"{f.ratio:.4f}") for f in fams]),
    ]  # fmt: skip
    head = "".join(f"<th data-family='{f.family}'>{html.escape(f.title)}</th>" for f in fams)
    body = "".join(
        f"<tr{cls}><td class='label'>{label}</td>{''.join(cells)}</tr>"
        for cls, label, cells in rows
    )
    stages = any(len(f.stages) > 1 for f in fams)
    note = _layer_line(state) + (" Two stages: stage 1 + stage 2." if stages else "")
    return (
        f"<div class='hetconv-counters'><table class='hetconv-table'><tr><th></th>{head}</tr>"
        f"{body}</table><div class='hetconv-note'>{note}</div></div>"
    )


def counters_html(state: ExplorerState) -> str:
    """Every count as an HTML table: one value column per family, formulas with numbers,
    and what MACs and FLOPs mean (the explorer's "All counts, with formulas").

    Values carry ``data-counter``/``data-family`` attributes so tests can read them.
    """
    fams = [family_numbers(state, f) for f in state.families]
    rows = _filter_count_rows(state, fams) + _layer_count_rows(state, fams)
    head = "".join(f"<th data-family='{f.family}'>{html.escape(f.title)}</th>" for f in fams)
    body = "".join(f"<tr><td>{label}</td>{''.join(cells)}</tr>" for label, cells in rows)
    d = state.out_size
    notes = (
        f"<p class='hetconv-note hetconv-prose'>{_layer_line(state)} MACs are "
        f"multiply–accumulates, one per weight per output position (MACs = weights × "
        f"D<sub>o</sub>², here D<sub>o</sub> = {d}); the paper calls them FLOPs. Bias is not "
        "counted.</p>"
    )
    return (
        f"<div class='hetconv-counts'><table class='hetconv-table'><tr><th></th>{head}</tr>"
        f"{body}</table>{notes}</div>"
    )


def _count_cell(key: str, fam: FamilyNumbers, value: str, formula: str = "") -> str:
    """One value of :func:`counters_html`'s table, its formula (if any) below it."""
    extra = f"<br><span class='hetconv-note'>{formula}</span>" if formula else ""
    return f"<td class='num' data-counter='{key}' data-family='{fam.family}'>{value}{extra}</td>"


def _filter_count_rows(
    state: ExplorerState, fams: list[FamilyNumbers]
) -> list[tuple[str, list[str]]]:
    """The rows of the selected filter's counts: its kernels and weights, and how many
    filters give one input channel a K×K kernel."""
    n, k, cell = state.filter_index, state.kernel_size, _count_cell
    return [
        (
            f"{k}×{k} (K×K) kernels in filter {n}",
            [cell("full_in_filter", f, _per_stage(f, "full_in_filter")) for f in fams],
        ),
        (
            f"1×1 kernels in filter {n}",
            [cell("one_in_filter", f, _per_stage(f, "one_in_filter")) for f in fams],
        ),
        (
            f"weights in filter {n}",
            [cell("weights_in_filter", f, _per_stage(f, "weights_in_filter")) for f in fams],
        ),
        (
            "filters giving one input channel a K×K kernel",
            [cell("full_per_channel", f, _channel_cover(f)) for f in fams],
        ),
    ]


def _ratio_cell(fam: FamilyNumbers) -> str:
    """The cost ratio with its formula, the numbers substituted, and the formula's note."""
    note = f"<br>({html.escape(fam.formula_note)})" if fam.formula_note else ""
    formula = f"{fam.formula} = {fam.formula_numbers}" + note
    return _count_cell("ratio", fam, f"{fam.ratio:.4f}", formula)


def _layer_count_rows(
    state: ExplorerState, fams: list[FamilyNumbers]
) -> list[tuple[str, list[str]]]:
    """The rows of the layer's counts: weights, MACs, the standard convolution's MACs, the
    ratio with its formula, and FLOPs as PyTorch counts them."""
    d, cell = state.out_size, _count_cell
    return [
        (
            "weights in the layer (no bias)",
            [cell("weights", f, f"{f.weights:,}", f.weights_formula) for f in fams],
        ),
        (
            f"MACs, output {d}×{d} (D<sub>o</sub> = {d})",
            [cell("macs", f, f"{f.macs:,}") for f in fams],
        ),
        (
            "standard convolution MACs",
            [cell("standard", f, f"{f.standard:,}", "D<sub>o</sub>²·M·N·K²") for f in fams],
        ),
        ("MACs ÷ standard", [_ratio_cell(f) for f in fams]),
        (
            "FLOPs as PyTorch counts them (2 × MACs)",
            [cell("flops", f, f"{f.flops:,}") for f in fams],
        ),
    ]
