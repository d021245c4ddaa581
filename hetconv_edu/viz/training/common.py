"""What every training figure shares: one colour per run, smoothing, and how counts are
written."""

from __future__ import annotations

import math
from collections.abc import Sequence

from hetconv_edu.viz.style import PALETTE


def run_color(index: int) -> str:
    """The colour of the ``index``-th run (the same run keeps its colour in every figure)."""
    return PALETTE[index % len(PALETTE)]


def smooth(values: Sequence[float], weight: float = 0.9) -> list[float]:
    """Exponential moving average with bias correction (TensorBoard's smoothing): the first
    points are not dragged towards zero. ``weight`` 0 returns the values unchanged."""
    if not 0 <= weight < 1:
        raise ValueError(f"weight must be in [0, 1), got {weight!r}")
    out, avg = [], 0.0
    for i, v in enumerate(values, 1):
        avg = weight * avg + (1 - weight) * float(v)
        out.append(avg / (1 - weight**i))
    return out


def format_count(n: float | None) -> str:
    """12_345_678 → '12.3M', 4_200 → '4.2k'; None or NaN → '–'."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "–"
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return (
                f"{n / scale:.3g}{suffix}" if abs(n) / scale < 100 else f"{n / scale:.0f}{suffix}"
            )
    return f"{n:.0f}" if float(n).is_integer() else f"{n:.3g}"
