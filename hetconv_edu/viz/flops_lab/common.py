"""What every figure of the FLOPs lab shares: the two units, how counts are written, a
family's colour and the shared layout."""

from __future__ import annotations

import plotly.graph_objects as go

from hetconv_edu.viz import style

LEGEND_BG = "rgba(255,255,255,0.85)"
"""Behind a legend drawn inside a plot: what lies under it stays faintly visible."""

UNITS = ("MACs", "FLOPs")
"""The two units the lab switches between: MACs, or FLOPs = 2 × MACs."""


def family_color(key: str) -> str:
    """The shared colour of a filter family (:mod:`hetconv_edu.viz.style`)."""
    return style.family_color(key)


def layout(fig: go.Figure, title: str, **kw: object) -> go.Figure:
    """Apply the shared layout defaults, then this figure's title and settings."""
    style.apply_layout(fig)
    fig.update_layout(title={"text": title}, **kw)
    return style.themed(fig)


def unit_factor(unit: str) -> int:
    """1 for ``"MACs"``, 2 for ``"FLOPs"`` (one multiply + one add per MAC)."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, got {unit!r}")
    return 1 if unit == "MACs" else 2


def fmt_count(x: float) -> str:
    """A count with thousands separators (exact integers stay exact)."""
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.2f}"


def short_count(x: float) -> str:
    """``x`` in three significant digits with a K, M or G suffix (a legend's total)."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"
