"""The linked explorer's formula panel: FL_H = D_o²·M·N·K²/P + (M − M/P)·D_o²·N (paper Eq. 4)
with the setting's numbers, the two terms' shares as a bar, the ratio to a standard layer, the
weights, filter n's kernels and a compared family's ratio, as HTML.

Each term is wrapped in a ``hetconv-term-<link>`` span carrying ``data-link``, so hovering it
highlights its parts in the figure (:mod:`hetconv_edu.viz.linked.linking`).
"""

from __future__ import annotations

import functools
import html
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from hetconv_edu.flops import hetconv_macs, standard_macs
from hetconv_edu.pattern import Kernel
from hetconv_edu.viz.explorer import ExplorerState, FamilyNumbers, explorer_stages, family_numbers
from hetconv_edu.viz.style import KIND_COLORS, css_px

__all__ = ["formula_html"]

_SQ = "²"


@dataclass(frozen=True)
class _Cost:
    """The numbers the panel writes, in MACs per image (weights: a count)."""

    kxk: int
    one: int
    total: int
    weights: int
    standard: int

    @classmethod
    def of(cls, state: ExplorerState) -> _Cost:
        m, n, k, p, d = _setting(state)
        return cls(
            kxk=d * d * m * n * k * k // p,
            one=(m - m // p) * d * d * n,
            total=hetconv_macs(d, m, n, k, p),  # the paper's FL_H = kxk + one
            weights=n * (m * k * k // p + m - m // p),  # = layer_cost(...).params, tested
            standard=standard_macs(d, m, n, k),
        )


def _setting(state: ExplorerState) -> tuple[int, int, int, int, int]:
    return state.in_channels, state.out_channels, state.kernel_size, state.p, state.out_size


def _n(value: int) -> str:
    return f"{value:,}"


def _value(key: str, text: str) -> str:
    """A number tests read by its ``data-value`` key."""
    return f"<b data-value='{key}'>{text}</b>"


def _term(link: str, content: str) -> str:
    return f"<span class='hetconv-term hetconv-term-{link}' data-link='{link}'>{content}</span>"


def _line(content: str) -> str:
    return f"<div class='hetconv-f-line'>{content}</div>"


def _terms(kxk: str, one: str) -> str:
    return _term("kxk", kxk) + " + " + _term("1x1", one)


def _channels(values: Sequence[int], limit: int = 6) -> str:
    shown = ", ".join(map(str, values[:limit]))
    return shown + (", …" if len(values) > limit else "")


def _fl_h_lines(state: ExplorerState, cost: _Cost) -> list[str]:
    """FL_H in symbols, with the numbers, and evaluated."""
    m, n, k, p, d = _setting(state)
    return [
        "<div class='hetconv-f-title'>Cost in MACs, output "
        f"D<sub>o</sub>×D<sub>o</sub> = {d}×{d}</div>",
        _line(
            "FL<sub>H</sub> = "
            + _terms(f"D<sub>o</sub>{_SQ}·M·N·K{_SQ}/P", f"(M − M/P)·D<sub>o</sub>{_SQ}·N")
        ),
        _line("= " + _terms(f"{d}{_SQ}·{m}·{n}·{k}{_SQ}/{p}", f"({m} − {m // p})·{d}{_SQ}·{n}")),
        _line(
            "= "
            + _terms(_value("kxk", _n(cost.kxk)), _value("one", _n(cost.one)))
            + " = "
            + _value("total", _n(cost.total))
        ),
    ]


def _share_bar(share: float) -> str:
    """The K×K term's share of FL_H and the 1×1 term's, as one bar."""
    segments = "".join(
        f"<span class='hetconv-term hetconv-term-{link} hetconv-bar-{link}' data-link='{link}' "
        f"style='width:{100 * part:.1f}%'>{label} {100 * part:.0f} %</span>"
        for link, label, part in (("kxk", "K×K", share), ("1x1", "1×1", 1 - share))
    )
    return f"<div class='hetconv-f-bar' title='shares of FL_H'>{segments}</div>"


def _standard_lines(state: ExplorerState, cost: _Cost) -> list[str]:
    """The ratio to a standard layer and the weights."""
    m, n, k = state.in_channels, state.out_channels, state.kernel_size
    return [
        _line(
            f"÷ standard D<sub>o</sub>²·M·N·K² = {_n(cost.standard)}: "
            + _value("ratio", f"{cost.total / cost.standard:.4f}")
            + " = 1/P + (1 − 1/P)/K²"
        ),
        _line(
            "weights N·(M·K²/P + M − M/P) = "
            + _value("weights", _n(cost.weights))
            + f" (standard {_n(n * m * k * k)})"
        ),
    ]


def _filter_line(state: ExplorerState) -> str:
    """Filter n's K×K kernels (at which channels) and its number of 1×1 kernels."""
    m, n, p = state.in_channels, state.out_channels, state.p
    row = explorer_stages("hetconv", m, n, p)[0].pattern[state.filter_index]
    full = [int(c) for c in np.flatnonzero(row == Kernel.FULL)]
    return _line(
        f"filter {state.filter_index}: "
        + _terms(f"{len(full)} K×K at m = {_channels(full)}", f"{m - len(full)} × 1×1")
    )


def _compare_line(state: ExplorerState, total: int, family: str) -> str:
    other = _compared(replace(state, filter_index=0), family)
    change = 100 * (total / other.macs - 1)
    return _line(
        f"vs {html.escape(other.title)}: {other.formula} = "
        f"{other.ratio:.4f}; HetConv: {abs(change):.1f} % "
        f"{'fewer' if change < 0 else 'more'} MACs"
    )


def formula_html(state: ExplorerState) -> str:
    """The formula panel: FL_H with its terms written out with the setting's numbers (each term
    a :func:`~hetconv_edu.viz.linked.linking.link_css` target), the terms' shares as a bar, the
    ratio to a standard layer, the weights, filter n's kernels and the compared family's ratio.

    Values carry ``data-value`` attributes (``kxk``, ``one``, ``total``, ``ratio``,
    ``weights``) so tests can read them. FL_H is :func:`hetconv_edu.flops.hetconv_macs`, the
    compared family's numbers :func:`hetconv_edu.viz.explorer.family_numbers`.
    """
    cost = _Cost.of(state)
    lines = [
        *_fl_h_lines(state, cost),
        _share_bar(cost.kxk / cost.total),
        *_standard_lines(state, cost),
        _filter_line(state),
    ]
    if state.compare is not None and state.compare != "hetconv":
        lines.append(_compare_line(state, cost.total, state.compare))
    return f"{_FORMULA_CSS}<div class='hetconv-cost-panel'>{''.join(lines)}</div>"


@functools.lru_cache(maxsize=32)
def _compared(state: ExplorerState, family: str) -> FamilyNumbers:
    """The compared family's numbers (kept: at M = N = 512 they take 10 ms)."""
    return family_numbers(state, family)


_FORMULA_CSS = (
    "<style>"
    f".hetconv-cost-panel{{font-size:{css_px(14)};line-height:1.45;color:#222}}"
    f".hetconv-cost-panel .hetconv-f-title{{font-weight:bold;font-size:{css_px(15)};"
    "margin-bottom:4px}"
    ".hetconv-cost-panel .hetconv-f-line{margin:2px 0}"
    ".hetconv-cost-panel .hetconv-term{border-radius:3px;padding:0 2px;cursor:default}"
    f".hetconv-cost-panel .hetconv-term-kxk{{box-shadow:inset 0 -3px {KIND_COLORS[Kernel.FULL]}}}"
    f".hetconv-cost-panel .hetconv-term-1x1{{box-shadow:inset 0 -3px {KIND_COLORS[Kernel.ONE]}}}"
    ".hetconv-cost-panel .hetconv-f-bar{display:flex;margin:6px 0;height:1.6em;"
    "border:1px solid #888;white-space:nowrap;overflow:hidden}"
    ".hetconv-cost-panel .hetconv-f-bar .hetconv-term{display:inline-block;border-radius:0;"
    f"padding:0 4px;box-sizing:border-box;font-size:{css_px(13)}}}"
    f".hetconv-cost-panel .hetconv-bar-kxk{{background:{KIND_COLORS[Kernel.FULL]};color:#FFF}}"
    f".hetconv-cost-panel .hetconv-bar-1x1{{background:{KIND_COLORS[Kernel.ONE]};color:#000}}"
    "</style>"
)
