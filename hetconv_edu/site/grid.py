"""The settings a static page offers: which M, N, K, P and filters its data covers.

A page written by ``python -m hetconv_edu export-site`` holds no arithmetic of its own: every
kernel map, filter drawing, counter and cost on it was computed by the package for each
setting of a :class:`SiteGrid` and stored as data. The grid is therefore what the page can
show, and its size is what the page weighs.

:data:`DEFAULT_GRID` (what ``export-site`` writes unless told otherwise):

* M input channels and N filters, each one of 4, 8, 12, 16, 24, 32, 64 (every pair, so
  M ≠ N too: 49 layers);
* K = 1, 3, 5 or 7;
* every part P that divides both M and N (:func:`hetconv_edu.pattern.valid_parts`): the page
  offers only those;
* the selected filter n = 0 … min(P, 4) − 1: filter n + P repeats filter n's pattern, so
  these show every pattern up to P = 4 and, beyond, the shift of the K×K kernels by one
  channel from one filter to the next;
* the output map D_o × D_o = 32 × 32 (CIFAR-10's first layers) for every MAC count.

That is 796 layer settings (M, N, K, P) and 2,188 explorer views (with the filter). The data
files total about 2 MB (gzip-compressed; 2.05 MB when last measured, the largest layer 0.08 MB),
beside plotly.js (4.82 MB); the export takes about 20 s of one CPU core. The command prints
the sizes it wrote.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from hetconv_edu.checks import check_int, check_positive_int
from hetconv_edu.pattern import valid_parts

__all__ = ["DEFAULT_GRID", "MAX_CHANNELS", "MAX_KERNEL_SIZE", "MAX_SETTINGS", "SiteGrid"]

MAX_CHANNELS = 128
"""Largest M or N a page may offer: a 128×128 map is 16,384 cells per view."""

MAX_KERNEL_SIZE = 15
"""Largest K a page may offer."""

MAX_SETTINGS = 5000
"""Most layer settings (M, N, K, P) one page may hold: the export's time and the data's size
grow with it (the default grid has 796)."""


def _sorted_values(name: str, values: object, maximum: int) -> tuple[int, ...]:
    """``values`` as a sorted tuple of distinct positive integers ``<= maximum``."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
        raise ValueError(f"{name} must be a non-empty list of positive integers, got {values!r}")
    checked = [check_positive_int(name, v) for v in values]
    too_big = [v for v in checked if v > maximum]
    if too_big:
        raise ValueError(f"{name} must be at most {maximum}, got {too_big[0]}")
    if len(set(checked)) != len(checked):
        raise ValueError(f"{name} lists a value twice: {list(values)!r}")
    return tuple(sorted(checked))


@dataclass(frozen=True)
class SiteGrid:
    """The settings a page offers: M and N from ``channels``, K from ``kernel_sizes``, every P
    dividing both M and N, the filters ``0 … min(P, filters) − 1``, one output size D_o.

    Args:
        channels: the values offered for both M (input channels) and N (filters), each
            1 … :data:`MAX_CHANNELS`; stored sorted.
        kernel_sizes: the values of K, each 1 … :data:`MAX_KERNEL_SIZE`; stored sorted.
        filters: how many filters (from filter 0) the page lets a student select, at most P
            (filter n + P repeats filter n's pattern).
        out_size: D_o, the output map's height and width for every MAC count.

    Raises:
        ValueError: a value is not a positive integer, too large or listed twice, or the grid
            holds more than :data:`MAX_SETTINGS` layer settings.
    """

    channels: tuple[int, ...] = (4, 8, 12, 16, 24, 32, 64)
    kernel_sizes: tuple[int, ...] = (1, 3, 5, 7)
    filters: int = 4
    out_size: int = 32

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "channels", _sorted_values("channels", self.channels, MAX_CHANNELS)
        )
        object.__setattr__(
            self,
            "kernel_sizes",
            _sorted_values("kernel_sizes", self.kernel_sizes, MAX_KERNEL_SIZE),
        )
        object.__setattr__(self, "filters", check_positive_int("filters", self.filters))
        object.__setattr__(self, "out_size", check_positive_int("out_size", self.out_size))
        count = self.setting_count
        if count > MAX_SETTINGS:
            raise ValueError(
                f"the grid holds {count:,} layer settings (M, N, K, P); at most "
                f"{MAX_SETTINGS:,} are allowed: offer fewer channels or kernel sizes"
            )

    # ------------------------------------------------------------------------- what it holds

    def layers(self) -> Iterator[tuple[int, int]]:
        """Every (M, N) pair, M first."""
        for m in self.channels:
            for n in self.channels:
                yield m, n

    def parts(self, in_channels: int, out_channels: int) -> list[int]:
        """The parts P offered for a layer: those dividing both M and N."""
        return valid_parts(in_channels, out_channels)

    def filter_choices(self, p: int) -> list[int]:
        """The filters a student may select at part P: 0 … min(P, filters) − 1 (P divides N,
        so these exist)."""
        return list(range(min(check_positive_int("p", p), self.filters)))

    def settings(self, in_channels: int, out_channels: int) -> Iterator[tuple[int, int]]:
        """Every (K, P) of one layer (M, N)."""
        for k in self.kernel_sizes:
            for p in self.parts(in_channels, out_channels):
                yield k, p

    @property
    def setting_count(self) -> int:
        """Layer settings (M, N, K, P) in the grid."""
        return sum(len(self.parts(m, n)) for m, n in self.layers()) * len(self.kernel_sizes)

    @property
    def view_count(self) -> int:
        """Explorer views (M, N, K, P, filter n) in the grid."""
        return sum(
            len(self.filter_choices(p)) for m, n in self.layers() for p in self.parts(m, n)
        ) * len(self.kernel_sizes)

    def contains(self, m: int, n: int, k: int, p: int, filter_index: int = 0) -> bool:
        """Whether the page holds this setting (M, N, K, P, filter n)."""
        m, n, k, p = (check_int(name, v) for name, v in zip("MNKP", (m, n, k, p), strict=True))
        return (
            m in self.channels
            and n in self.channels
            and k in self.kernel_sizes
            and p in self.parts(m, n)
            and check_int("filter_index", filter_index) in self.filter_choices(p)
        )

    def describe(self) -> str:
        """The grid in one sentence, for the page and the command's output."""

        def values(v: tuple[int, ...]) -> str:
            return ", ".join(map(str, v))

        filters = "filter 0" if self.filters == 1 else f"filters 0 … min(P, {self.filters}) − 1"
        return (
            f"M and N ∈ {{{values(self.channels)}}}, K ∈ {{{values(self.kernel_sizes)}}}, "
            f"every P dividing both M and N, {filters}, output D_o × D_o = "
            f"{self.out_size} × {self.out_size}: {self.setting_count:,} layer settings, "
            f"{self.view_count:,} explorer views"
        )

    def to_dict(self) -> dict[str, Any]:
        """The grid as JSON-ready values (what the page's data records)."""
        return {
            "channels": list(self.channels),
            "kernel_sizes": list(self.kernel_sizes),
            "filters": self.filters,
            "out_size": self.out_size,
        }


DEFAULT_GRID = SiteGrid()
"""The grid ``export-site`` writes by default (see the module's text)."""
