"""Which kernel each (filter, input channel) pair holds: the kernel-arrangement model.

Pure numpy, no torch. Everything the figures draw and every analytic cost in
:mod:`hetconv_edu.flops` is counted on these maps.

A layer with M input channels and N filters is described by an N×M integer map whose entry
``[n, m]`` says which kernel filter ``n`` applies to input channel ``m`` (:class:`Kernel`).

HetConv (Singh et al., CVPR 2019; paper Sec. 3, sources cited as in :mod:`hetconv_edu.flops`)
with part P puts a K×K kernel at every P-th input
channel of each filter and shifts that arrangement by one channel from filter to filter::

    kernel (n, m) is K×K  iff  (m − n) mod P == 0,  else 1×1

so each filter holds M/P kernels of size K×K and M − M/P kernels of size 1×1.

Shapes: a kernel map is an (N, M) ``int8`` array (rows are filters, columns input channels).
Every public function checks its arguments and raises ``ValueError`` naming the argument, the
value and what is allowed.

The families' names and their text form (``"hetconv:4"``: :class:`ConvSpec`,
:func:`parse_conv_spec`) live here too, so that analytic costs and figures need no torch;
:mod:`hetconv_edu.layers` re-exports them beside the layers they build.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from hetconv_edu.checks import check_choice, check_positive_int

__all__ = [
    "CONV_FAMILIES",
    "FAMILIES",
    "ConvSpec",
    "Kernel",
    "Stage",
    "arrangements_coincide",
    "check_part",
    "check_positive_int",
    "divisors",
    "family_stages",
    "grouped_hetconv_pattern",
    "groupwise_pattern",
    "hetconv_pattern",
    "kernels_per_channel",
    "kernels_per_filter",
    "naive_hetconv_pattern",
    "parse_conv_spec",
    "shifted_to_grouped_permutation",
    "stage_weights",
    "standard_pattern",
    "valid_parts",
]


class Kernel(IntEnum):
    """What filter n holds for input channel m: the values of a kernel map."""

    NONE = 0
    """No connection (channel outside the filter's group)."""
    ONE = 1
    """A 1×1 kernel: one weight."""
    FULL = 2
    """A full K×K kernel: K² weights."""
    BOTH = 3
    """A K×K kernel and a 1×1 kernel on the same channel (the naive public HetConv)."""


KERNEL_LABELS = {
    Kernel.NONE: "no kernel",
    Kernel.ONE: "1×1 kernel",
    Kernel.FULL: "K×K kernel",
    Kernel.BOTH: "K×K + 1×1 (overlap)",
}

FAMILIES: dict[str, str] = {
    "standard": "standard convolution (every kernel K×K)",
    "hetconv": "HetConv, part P (paper: shifted K×K every P channels, 1×1 elsewhere)",
    "naive_hetconv": "popular public HetConv: groupwise K×K (G=P) + a full 1×1 (not the paper's)",
    "groupwise": "groupwise convolution, G groups",
    "depthwise": "depthwise convolution (one K×K kernel per channel)",
    "pointwise": "pointwise convolution (every kernel 1×1)",
    "depthwise_pointwise": "depthwise + pointwise (MobileNet), two stages",
    "groupwise_pointwise": "groupwise (G) + pointwise, two stages",
}
"""The filter families, keyed by the names the whole package uses."""

CONV_FAMILIES = (
    "standard, hetconv:P, naive_hetconv:P, groupwise:G, depthwise_pointwise, groupwise_pointwise:G"
)
"""The conv families :func:`parse_conv_spec` reads, as text for help and error messages."""


@dataclass(frozen=True)
class ConvSpec:
    """A filter family and its setting, e.g. ``ConvSpec("hetconv", 4)`` for HetConv P = 4.

    ``value`` is P for ``hetconv``/``naive_hetconv``, G for ``groupwise``/``groupwise_pointwise``
    and ignored (1) otherwise. ``str(spec)`` gives the text form ``"hetconv:4"``.

    Raises:
        ValueError: an unknown ``family`` or a ``value`` that is not a positive integer.
    """

    family: str
    value: int = 1

    def __post_init__(self) -> None:
        check_choice("family", self.family, (*_NO_VALUE, *_WITH_VALUE))
        object.__setattr__(self, "value", check_positive_int("value", self.value))

    def __str__(self) -> str:
        return self.family if self.family in _NO_VALUE else f"{self.family}:{self.value}"

    @property
    def label(self) -> str:
        """Readable name for tables and legends."""
        names = {
            "standard": "standard",
            "hetconv": f"HetConv P={self.value}",
            "naive_hetconv": f"naive HetConv P={self.value}",
            "groupwise": f"groupwise G={self.value}",
            "depthwise_pointwise": "depthwise+pointwise",
            "groupwise_pointwise": f"groupwise G={self.value}+pointwise",
        }
        return names[self.family]


_NO_VALUE = ("standard", "depthwise_pointwise")
_WITH_VALUE = ("hetconv", "naive_hetconv", "groupwise", "groupwise_pointwise")
_ALIASES = {"dwsep": "depthwise_pointwise", "naive": "naive_hetconv", "gwpw": "groupwise_pointwise"}


def parse_conv_spec(spec: str | ConvSpec) -> ConvSpec:
    """Read a family from text: ``standard``, ``hetconv:P``, ``naive_hetconv:P``,
    ``groupwise:G``, ``depthwise_pointwise`` (alias ``dwsep``), ``groupwise_pointwise:G``; a
    :class:`ConvSpec` is returned as it is.

    Raises:
        ValueError: not text, an unknown family, a value where none is taken, or a missing or
            non-positive value (the message lists the families, :data:`CONV_FAMILIES`).
    """
    if isinstance(spec, ConvSpec):
        return spec
    if not isinstance(spec, str):
        raise ValueError(f"spec must be a conv family as text like 'hetconv:4', got {spec!r}")
    name, colon, value = spec.strip().partition(":")
    family = _ALIASES.get(name, name)
    usage = CONV_FAMILIES
    if family in _NO_VALUE:
        if colon:
            raise ValueError(f"{family!r} takes no value, got spec={spec!r}; use one of: {usage}")
        return ConvSpec(family)
    if family in _WITH_VALUE:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(
                f"spec={spec!r} needs a positive integer after ':'; use one of: {usage}"
            )
        return ConvSpec(family, int(value))
    raise ValueError(f"unknown conv family in spec={spec!r}; use one of: {usage}")


def divisors(n: int) -> list[int]:
    """All positive divisors of ``n`` in increasing order.

    Raises:
        ValueError: ``n`` is not a positive integer.
    """
    n = check_positive_int("n", n)
    return [d for d in range(1, n + 1) if n % d == 0]


def valid_parts(in_channels: int, out_channels: int) -> list[int]:
    """The parts P allowed for a layer of M input and N output channels: the common divisors.

    P must divide M (each filter holds M/P K×K kernels) and N (the P filter patterns each
    repeat N/P times; paper Sec. 3).

    Raises:
        ValueError: M or N is not a positive integer.
    """
    m = check_positive_int("in_channels", in_channels)
    n = check_positive_int("out_channels", out_channels)
    return [d for d in divisors(m) if n % d == 0]


def check_part(in_channels: int, out_channels: int, p: object, name: str = "p") -> int:
    """``p`` as an ``int`` if it is a part P (or a group count G) allowed for a layer of
    ``in_channels`` M and ``out_channels`` N: a common divisor.

    Raises:
        ValueError: ``p`` is not a positive integer dividing M and N (naming ``name``, the value
            given and the allowed values, :func:`valid_parts`), or M or N is not a positive
            integer.
    """
    allowed = valid_parts(in_channels, out_channels)
    try:
        value = check_positive_int(name, p)
    except ValueError:
        raise ValueError(
            f"{name} must be a positive integer dividing in_channels={in_channels} and "
            f"out_channels={out_channels}, got {p!r}; allowed values: {allowed}"
        ) from None
    if value not in allowed:
        raise ValueError(
            f"{name}={value} is not allowed for in_channels={in_channels}, "
            f"out_channels={out_channels}: it must divide both; allowed values: {allowed}"
        )
    return value


def _grid(in_channels: int, out_channels: int) -> tuple[np.ndarray, np.ndarray]:
    m = check_positive_int("in_channels", in_channels)
    n = check_positive_int("out_channels", out_channels)
    return np.arange(n)[:, None], np.arange(m)[None, :]


def standard_pattern(in_channels: int, out_channels: int) -> np.ndarray:
    """Standard convolution: every filter holds a K×K kernel for every channel; (N, M) int8.

    Raises:
        ValueError: M or N is not a positive integer.
    """
    n, m = _grid(in_channels, out_channels)
    return np.full((n.shape[0], m.shape[1]), Kernel.FULL, dtype=np.int8)


def hetconv_pattern(in_channels: int, out_channels: int, p: int) -> np.ndarray:
    """The paper's shifted HetConv arrangement (paper Sec. 3, Fig. 4), an (N, M) int8 map:
    ``[n, m]`` is K×K iff (m − n) mod P == 0, else 1×1.

    P = 1 gives a standard convolution; P = M leaves one K×K kernel per filter.

    Raises:
        ValueError: M or N is not a positive integer, or P does not divide both.
    """
    p = check_part(in_channels, out_channels, p)
    n, m = _grid(in_channels, out_channels)
    return np.where((m - n) % p == 0, Kernel.FULL, Kernel.ONE).astype(np.int8)


def _block_mask(in_channels: int, out_channels: int, groups: int) -> np.ndarray:
    n, m = _grid(in_channels, out_channels)
    return (m // (in_channels // groups)) == (n // (out_channels // groups))


def grouped_hetconv_pattern(in_channels: int, out_channels: int, p: int) -> np.ndarray:
    """HetConv with the channels relabelled so the K×K kernels form P contiguous diagonal blocks.

    Filter n and channel m of this layout are filter ``n' = (n mod N/P)·P + n div (N/P)`` and
    channel ``m'`` likewise of the shifted layout (:func:`shifted_to_grouped_permutation`):
    the same layer, channels listed group by group. This is the layout a grouped convolution
    computes, which is why the fast layer uses it. An (N, M) int8 map.

    Raises:
        ValueError: M or N is not a positive integer, or P does not divide both.
    """
    p = check_part(in_channels, out_channels, p)
    return np.where(_block_mask(in_channels, out_channels, p), Kernel.FULL, Kernel.ONE).astype(
        np.int8
    )


def arrangements_coincide(in_channels: int, out_channels: int, p: int) -> bool:
    """Whether the shifted and the grouped arrangement put the K×K kernels at the same
    (filter, channel) pairs: P = 1, or one K×K kernel per filter on the diagonal (M = N = P).
    Only then do the same weights compute the same function in either arrangement.

    Raises:
        ValueError: M or N is not a positive integer, or P does not divide both.
    """
    return bool(
        np.array_equal(
            hetconv_pattern(in_channels, out_channels, p),
            grouped_hetconv_pattern(in_channels, out_channels, p),
        )
    )


def shifted_to_grouped_permutation(channels: int, p: int) -> np.ndarray:
    """Order of shifted-layout channels that lists them group by group.

    ``perm[j]`` is the shifted-layout index of the channel at position j of the grouped layout:
    group r holds the channels ≡ r (mod P), i.e. ``perm = [0, P, 2P, …, 1, P+1, …]``. Applying
    it to both the filters and the input channels of :func:`hetconv_pattern` gives
    :func:`grouped_hetconv_pattern`. Shape (channels,), integers.

    Raises:
        ValueError: ``channels`` or ``p`` is not a positive integer, or P does not divide
            ``channels``.
    """
    c = check_positive_int("channels", channels)
    p = check_positive_int("p", p)
    if c % p:
        raise ValueError(f"p={p} must divide channels={c}; allowed values: {divisors(c)}")
    return np.arange(c).reshape(c // p, p).T.reshape(-1)


def groupwise_pattern(in_channels: int, out_channels: int, groups: int) -> np.ndarray:
    """Groupwise convolution with G groups: K×K inside the group, no connection outside; an
    (N, M) int8 map.

    Raises:
        ValueError: M or N is not a positive integer, or G does not divide both.
    """
    g = check_part(in_channels, out_channels, groups, name="groups")
    return np.where(_block_mask(in_channels, out_channels, g), Kernel.FULL, Kernel.NONE).astype(
        np.int8
    )


def naive_hetconv_pattern(in_channels: int, out_channels: int, p: int) -> np.ndarray:
    """The popular public "HetConv": a groupwise K×K conv (G = P) summed with a full 1×1 conv.

    Its K×K kernels sit in contiguous blocks (not shifted) and every block position also
    carries a 1×1 kernel (:attr:`Kernel.BOTH`): that overlap is the extra cost. An (N, M)
    int8 map.

    Raises:
        ValueError: M or N is not a positive integer, or P does not divide both.
    """
    p = check_part(in_channels, out_channels, p)
    return np.where(_block_mask(in_channels, out_channels, p), Kernel.BOTH, Kernel.ONE).astype(
        np.int8
    )


@dataclass(frozen=True)
class Stage:
    """One convolution stage of a filter family: its name and its (N, M) int8 kernel map."""

    name: str
    pattern: np.ndarray

    @property
    def in_channels(self) -> int:
        """M, the columns of the map."""
        return int(self.pattern.shape[1])

    @property
    def out_channels(self) -> int:
        """N, the rows of the map."""
        return int(self.pattern.shape[0])


def family_stages(
    family: str, in_channels: int, out_channels: int, p: int = 1, groups: int = 1
) -> list[Stage]:
    """The kernel maps of a filter family, one :class:`Stage` per sequential convolution.

    ``p`` is used by ``hetconv`` and ``naive_hetconv``, ``groups`` by ``groupwise`` and
    ``groupwise_pointwise``. ``depthwise`` needs ``out_channels == in_channels``; the
    two-stage families run a depthwise (or groupwise) M→M stage, then a pointwise M→N stage.

    Raises:
        ValueError: an unknown family, a count that is not a positive integer, a P or G that
            does not divide the channels, or ``depthwise`` with N ≠ M.
    """
    family = check_choice("family", family, FAMILIES)
    m = check_positive_int("in_channels", in_channels)
    n = check_positive_int("out_channels", out_channels)
    p = check_positive_int("p", p)
    groups = check_positive_int("groups", groups)
    if family == "standard":
        return [Stage("standard K×K", standard_pattern(m, n))]
    if family == "hetconv":
        return [Stage(f"HetConv P={p}", hetconv_pattern(m, n, p))]
    if family == "naive_hetconv":
        return [Stage(f"naive HetConv P={p}", naive_hetconv_pattern(m, n, p))]
    if family == "groupwise":
        return [Stage(f"groupwise G={groups}", groupwise_pattern(m, n, groups))]
    if family == "pointwise":
        return [Stage("pointwise 1×1", np.full((n, m), Kernel.ONE, dtype=np.int8))]
    if family == "depthwise":
        if n != m:
            raise ValueError(
                f"depthwise convolution needs out_channels == in_channels, got "
                f"in_channels={m}, out_channels={n}"
            )
        return [Stage("depthwise K×K", groupwise_pattern(m, m, m))]
    if family == "depthwise_pointwise":
        return [
            Stage("depthwise K×K", groupwise_pattern(m, m, m)),
            Stage("pointwise 1×1", np.full((n, m), Kernel.ONE, dtype=np.int8)),
        ]
    if family == "groupwise_pointwise":
        return [
            Stage(f"groupwise K×K, G={groups}", groupwise_pattern(m, m, groups)),
            Stage("pointwise 1×1", np.full((n, m), Kernel.ONE, dtype=np.int8)),
        ]
    raise AssertionError(f"family {family!r} of FAMILIES has no stages")


def kernels_per_filter(pattern: np.ndarray, kind: Kernel) -> np.ndarray:
    """How many kernels of ``kind`` each filter (row) holds, shape (N,); BOTH counts as K×K and
    as 1×1.

    Raises:
        ValueError: ``pattern`` is not an N×M kernel map or ``kind`` not a :class:`Kernel`.
    """
    return _count(pattern, kind, axis=1)


def kernels_per_channel(pattern: np.ndarray, kind: Kernel) -> np.ndarray:
    """How many filters hold a kernel of ``kind`` for each input channel (column), shape (M,).

    Raises:
        ValueError: ``pattern`` is not an N×M kernel map or ``kind`` not a :class:`Kernel`.
    """
    return _count(pattern, kind, axis=0)


def _check_pattern(pattern: object) -> np.ndarray:
    """``pattern`` if it is an N×M integer kernel map (values of :class:`Kernel`)."""
    values = [int(k) for k in Kernel]
    if (
        not isinstance(pattern, np.ndarray)
        or pattern.ndim != 2
        or pattern.dtype.kind not in "iu"
        or (pattern.size and (pattern.min() < min(values) or pattern.max() > max(values)))
    ):
        got = (
            f"an array of shape {pattern.shape} and dtype {pattern.dtype}"
            if isinstance(pattern, np.ndarray)
            else repr(pattern)
        )
        raise ValueError(
            f"pattern must be an N×M integer array of kernel kinds {values} (as "
            f"hetconv_pattern(...) returns), got {got}"
        )
    return pattern


def _count(pattern: np.ndarray, kind: Kernel, axis: int) -> np.ndarray:
    pattern = _check_pattern(pattern)
    kind = Kernel(check_choice("kind", kind, list(Kernel)))
    if kind in (Kernel.FULL, Kernel.ONE):
        hit = (pattern == kind) | (pattern == Kernel.BOTH)
    else:
        hit = pattern == kind
    return hit.sum(axis=axis)


def stage_weights(pattern: np.ndarray, kernel_size: int) -> int:
    """Weights (without bias) in a kernel map: K² per K×K kernel, 1 per 1×1 kernel.

    Every weight performs one multiply-accumulate per output position, so a stage costs
    ``stage_weights · D_o²`` MACs per image (:mod:`hetconv_edu.flops`; for HetConv that is
    FL_H, paper Eq. 4).

    Raises:
        ValueError: ``pattern`` is not an (N, M) kernel map, or ``kernel_size`` not a positive
            integer.
    """
    pattern = _check_pattern(pattern)
    k = check_positive_int("kernel_size", kernel_size)
    full = int(kernels_per_filter(pattern, Kernel.FULL).sum())
    one = int(kernels_per_filter(pattern, Kernel.ONE).sum())
    return full * k * k + one
