"""The lab's HTML panels (pure): a layer's exact numbers and formula, how tools report one layer,
a network's totals, and the paper's meaning of latency."""

from __future__ import annotations

from collections.abc import Sequence

from hetconv_edu.flops import Cost, NetworkCost
from hetconv_edu.viz.flops_lab.common import fmt_count, unit_factor
from hetconv_edu.viz.flops_lab.layer import FamilyCost


def _cell(value: object, key: str | None = None) -> str:
    attr = f' data-key="{key}"' if key else ""
    return f'<td class="num"{attr}>{value}</td>'


def layer_numbers_html(
    rows: Sequence[FamilyCost],
    out_size: int,
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    p: int,
    unit: str = "MACs",
    measured: dict[str, int] | None = None,
) -> str:
    """The exact numbers of :func:`family_costs` as an HTML table (in ``unit``: the analytic
    count, the measured one, parameters, × standard), plus the HetConv formula with this
    layer's values substituted. (The families' sequential stages: :func:`paper_latency_html`
    and the bars' hover.)

    ``measured`` maps a family key to the MACs ``torch.utils.flop_counter`` measured for the
    real module (the fast HetConv layer's count is its *executed* one, see :func:`layer_cost`).
    Every number cell carries ``data-key="<family>-<column>"`` for tests.
    """
    f = unit_factor(unit)
    measured = measured or {}
    body = []
    for r in rows:
        m = measured.get(r.key)
        body.append(
            f"<tr><td>{r.label}</td>"
            + _cell(fmt_count(r.cost.macs * f), f"{r.key}-work")
            + _cell(fmt_count(m * f) if m is not None else "–", f"{r.key}-measured")
            + _cell(fmt_count(r.cost.params), f"{r.key}-params")
            + _cell(f"{r.ratio:.4f}", f"{r.key}-ratio")
            + "</tr>"
        )
    d, m_, n, k = out_size, in_channels, out_channels, kernel_size
    het = next(r for r in rows if r.key == "hetconv")
    kxk_part = d * d * m_ * n * k * k // p
    one_part = (m_ - m_ // p) * d * d * n
    formula = (
        f"FL_H = D_o·D_o·M·N·K·K/P + (M − M/P)·D_o·D_o·N\n"
        f"     = {d}·{d}·{m_}·{n}·{k}·{k}/{p} + ({m_} − {m_}/{p})·{d}·{d}·{n}\n"
        f"     = {fmt_count(kxk_part)} + {fmt_count(one_part)} = "
        f"<b>{fmt_count(het.cost.macs)}</b> MACs"
        + (f" = <b>{fmt_count(het.cost.flops)}</b> FLOPs" if unit == "FLOPs" else "")
        + f"\nratio = 1/P + (1 − 1/P)/K² = 1/{p} + (1 − 1/{p})/{k * k} = "
        f"<b>{het.formula_ratio:.4f}</b>"
    )
    header = (
        # "measured" under the unit's column header: a header no wider than its numbers,
        # so a family's name has the room (two lines at most in the projector style)
        f"<tr><th>family</th><th>{unit}</th><th>measured<br>(torch)</th>"
        "<th>parameters</th><th>× standard</th></tr>"
    )
    return (
        f'<table class="hetconv-table">{header}{"".join(body)}</table>'
        + f'<div class="hetconv-formula" data-key="formula">{formula}</div>'
    )


def tool_conventions_html(paper: Cost, executed_macs: int, label: str) -> str:
    """How popular tools would report one layer (``paper`` = its analytic cost, ``executed_macs``
    = what the implementation multiplies): the same work under five names."""
    rows = [
        ("the paper (Eq. 4), fvcore, thop", "MACs", paper.macs, "one per multiply-accumulate"),
        (
            "ptflops",
            "MACs + bias adds",
            paper.macs + paper.bias_adds,
            "also counts the D_o²·N bias additions",
        ),
        (
            "torch.utils.flop_counter",
            "FLOPs = 2 × executed MACs",
            2 * executed_macs,
            "multiply and add counted separately, no bias; counts what actually runs",
        ),
        ("“FLOPs” in many papers", "2 × MACs", paper.flops, "2 × the analytic MACs"),
    ]
    body = "".join(
        f"<tr><td>{tool}</td><td>{unit}</td>"
        + _cell(fmt_count(v), f"tool-{i}")
        + f"<td>{note}</td></tr>"
        for i, (tool, unit, v, note) in enumerate(rows)
    )
    return (
        f"<b>{label}: one layer, four reported numbers</b>"
        + '<table class="hetconv-table"><tr><th>tool</th><th>counts</th><th>number</th>'
        + f"<th>why</th></tr>{body}</table>"
    )


def network_totals_html(
    cost: NetworkCost, standard: NetworkCost, unit: str = "MACs", paper: tuple | None = None
) -> str:
    """Totals of a network next to the same network with standard convolutions: analytic,
    executed and measured work, parameters; ``paper`` = (paper-convention MACs, true MACs,
    paper's printed figure or None) adds the VGG-16 comparison rows."""
    f = unit_factor(unit)
    rows = [
        ("analytic (paper's formulas)", cost.macs * f, standard.macs * f, "analytic"),
        ("executed by our layers", cost.macs_executed * f, standard.macs_executed * f, "executed"),
        ("measured (torch flop counter)", cost.macs_measured * f, standard.macs_measured * f,
         "measured"),
        ("parameters (conv + linear, incl. bias)", cost.params, standard.params, "params"),
    ]  # fmt: skip
    body = "".join(
        f"<tr><td>{name}</td>"
        + _cell(fmt_count(v), f"net-{key}")
        + _cell(fmt_count(s), f"std-{key}")
        + _cell(f"{v / s:.4f}" if s else "–", f"ratio-{key}")
        + "</tr>"
        for name, v, s, key in rows
    )
    extra = ""
    if paper is not None:
        conv, true, printed = paper
        extra = (
            "<tr><td>paper's convention (M MACs, truncated)</td>"
            + _cell(f"{conv:.2f}", "paper-convention")
            + _cell(f"{printed:.2f}" if printed is not None else "not in the paper", "paper")
            + "<td>← printed in the paper</td></tr>"
            + "<tr><td>true work: FL_H + unscaled bias adds (M MACs)</td>"
            + _cell(f"{true:.2f}", "true-work")
            + "<td></td><td></td></tr>"
        )
    return (
        f'<table class="hetconv-table"><tr><th>{unit} per image</th><th>this network</th>'
        + f"<th>all standard</th><th>ratio</th></tr>{body}{extra}</table>"
    )


PAPER_LATENCY_ROWS: tuple[tuple[str, int, int, str], ...] = (
    ("standard K×K", 1, 0, "one layer"),
    ("depthwise → pointwise (MobileNet)", 2, 1, "the 1×1 must wait for the depthwise output"),
    ("groupwise → pointwise", 2, 1, "the 1×1 must wait for the groupwise output"),
    ("HetConv", 1, 0, "K×K and 1×1 kernels sit in the same filters: one layer"),
    ("naive public HetConv", 1, 0, "two branches summed, they can run side by side"),
)
"""(design, sequential stages, extra latency in the paper's sense, why)."""


def paper_latency_html() -> str:
    """The paper's meaning of latency (sequential stages added), as a small table."""
    body = "".join(
        f"<tr><td>{name}</td>" + _cell(stages) + _cell(extra) + f"<td>{why}</td></tr>"
        for name, stages, extra, why in PAPER_LATENCY_ROWS
    )
    return (
        '<table class="hetconv-table"><tr><th>design</th><th>sequential layers</th>'
        + "<th>latency (paper)</th><th>why</th></tr>"
        + body
        + "</table>"
    )
