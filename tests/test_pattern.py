"""Kernel-arrangement maps (hetconv_edu.pattern): the paper's shifted rule and its consequences,
the grouped relabelling, the baseline families and the counting helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hetconv_edu.pattern import (
    FAMILIES,
    Kernel,
    Stage,
    check_positive_int,
    divisors,
    family_stages,
    grouped_hetconv_pattern,
    groupwise_pattern,
    hetconv_pattern,
    kernels_per_channel,
    kernels_per_filter,
    naive_hetconv_pattern,
    shifted_to_grouped_permutation,
    stage_weights,
    standard_pattern,
    valid_parts,
)

SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def layer_shapes(draw, max_p: int = 8, max_mult: int = 6):
    """(M, N, P) with P dividing both M and N."""
    p = draw(st.integers(1, max_p))
    m = p * draw(st.integers(1, max_mult))
    n = p * draw(st.integers(1, max_mult))
    return m, n, p


# ---------------------------------------------------------------- the shifted HetConv map


@SETTINGS
@given(layer_shapes())
def test_shifted_rule_entry_by_entry(shape):
    m, n, p = shape
    pat = hetconv_pattern(m, n, p)
    assert pat.shape == (n, m)
    for f in range(n):
        for c in range(m):
            expected = Kernel.FULL if (c - f) % p == 0 else Kernel.ONE
            assert pat[f, c] == expected, (f, c)


@SETTINGS
@given(layer_shapes())
def test_shifted_counts_per_filter_and_channel(shape):
    m, n, p = shape
    pat = hetconv_pattern(m, n, p)
    # counted directly on the map ...
    assert np.all((pat == Kernel.FULL).sum(axis=1) == m // p)
    assert np.all((pat == Kernel.ONE).sum(axis=1) == m - m // p)
    assert np.all((pat == Kernel.FULL).sum(axis=0) == n // p)
    assert set(np.unique(pat)) <= {Kernel.FULL, Kernel.ONE}
    # ... and through the helpers
    assert np.array_equal(kernels_per_filter(pat, Kernel.FULL), np.full(n, m // p))
    assert np.array_equal(kernels_per_filter(pat, Kernel.ONE), np.full(n, m - m // p))
    assert np.array_equal(kernels_per_channel(pat, Kernel.FULL), np.full(m, n // p))
    assert np.array_equal(kernels_per_channel(pat, Kernel.ONE), np.full(m, n - n // p))


@SETTINGS
@given(layer_shapes())
def test_shifted_has_p_distinct_filters_each_repeated(shape):
    m, n, p = shape
    pat = hetconv_pattern(m, n, p)
    rows, counts = np.unique(pat, axis=0, return_counts=True)
    assert len(rows) == p
    assert np.all(counts == n // p)
    # filter f and filter f + P are identical; consecutive filters are shifted by one channel
    for f in range(n - p):
        assert np.array_equal(pat[f], pat[f + p])
    for f in range(n - 1):
        assert np.array_equal(np.roll(pat[f], 1), pat[f + 1])


@pytest.mark.parametrize(("m", "n"), [(1, 1), (3, 5), (8, 4)])
def test_p1_is_standard(m, n):
    pat = hetconv_pattern(m, n, 1)
    assert np.all(pat == Kernel.FULL)
    assert np.array_equal(pat, standard_pattern(m, n))


def test_p_equal_m_one_kxk_per_filter():
    pat = hetconv_pattern(6, 12, 6)
    assert np.all((pat == Kernel.FULL).sum(axis=1) == 1)
    # the first filter has its K×K kernel at channel 0, the second at channel 1, ...
    assert [int(np.flatnonzero(row == Kernel.FULL)[0]) for row in pat] == [f % 6 for f in range(12)]


# ---------------------------------------------------------------- grouped relabelling


@SETTINGS
@given(st.integers(1, 8), st.integers(1, 8))
def test_permutation_lists_channels_group_by_group(p, mult):
    c = p * mult
    perm = shifted_to_grouped_permutation(c, p)
    assert sorted(perm.tolist()) == list(range(c))
    block = c // p
    for j in range(c):
        r, i = divmod(j, block)  # group r, i-th channel of that group
        assert perm[j] % p == r
        assert perm[j] == i * p + r


@SETTINGS
@given(layer_shapes())
def test_grouped_is_shifted_relabelled(shape):
    m, n, p = shape
    shifted = hetconv_pattern(m, n, p)
    grouped = grouped_hetconv_pattern(m, n, p)
    perm_n = shifted_to_grouped_permutation(n, p)
    perm_m = shifted_to_grouped_permutation(m, p)
    assert np.array_equal(shifted[perm_n][:, perm_m], grouped)
    # grouped = P contiguous diagonal blocks of K×K kernels
    for f in range(n):
        for c in range(m):
            in_block = c // (m // p) == f // (n // p)
            assert grouped[f, c] == (Kernel.FULL if in_block else Kernel.ONE)


# ---------------------------------------------------------------- other families


@SETTINGS
@given(layer_shapes())
def test_naive_is_groupwise_blocks_plus_full_pointwise(shape):
    m, n, p = shape
    naive = naive_hetconv_pattern(m, n, p)
    gw = groupwise_pattern(m, n, p)
    assert np.array_equal(naive == Kernel.BOTH, gw == Kernel.FULL)
    assert np.array_equal(naive == Kernel.ONE, gw == Kernel.NONE)
    # every (filter, channel) pair carries a 1×1 kernel; M/P of them per filter also a K×K
    assert np.all(kernels_per_filter(naive, Kernel.ONE) == m)
    assert np.all(kernels_per_filter(naive, Kernel.FULL) == m // p)


@SETTINGS
@given(layer_shapes())
def test_groupwise_blocks(shape):
    m, n, g = shape
    gw = groupwise_pattern(m, n, g)
    for f in range(n):
        for c in range(m):
            same_group = c // (m // g) == f // (n // g)
            assert gw[f, c] == (Kernel.FULL if same_group else Kernel.NONE)
    assert np.all(kernels_per_filter(gw, Kernel.FULL) == m // g)
    assert np.all(kernels_per_filter(gw, Kernel.NONE) == m - m // g)


def test_family_stages_every_family():
    m, n, v = 8, 12, 4
    expected_stage_shapes = {
        "standard": [(n, m)],
        "hetconv": [(n, m)],
        "naive_hetconv": [(n, m)],
        "groupwise": [(n, m)],
        "pointwise": [(n, m)],
        "depthwise_pointwise": [(m, m), (n, m)],
        "groupwise_pointwise": [(m, m), (n, m)],
    }
    for family in FAMILIES:
        if family == "depthwise":
            stages = family_stages(family, m, m)
            assert [s.pattern.shape for s in stages] == [(m, m)]
            continue
        stages = family_stages(family, m, n, p=v, groups=v)
        assert all(isinstance(s, Stage) for s in stages)
        assert [s.pattern.shape for s in stages] == expected_stage_shapes[family]
        assert [(s.out_channels, s.in_channels) for s in stages] == expected_stage_shapes[family]
        assert all(s.name for s in stages)

    assert np.all(family_stages("standard", m, n)[0].pattern == Kernel.FULL)
    assert np.all(family_stages("pointwise", m, n)[0].pattern == Kernel.ONE)
    assert np.array_equal(family_stages("hetconv", m, n, p=v)[0].pattern, hetconv_pattern(m, n, v))
    assert np.array_equal(
        family_stages("naive_hetconv", m, n, p=v)[0].pattern, naive_hetconv_pattern(m, n, v)
    )
    assert np.array_equal(
        family_stages("groupwise", m, n, groups=v)[0].pattern, groupwise_pattern(m, n, v)
    )
    dw = family_stages("depthwise", m, m)[0].pattern
    expected_dw = np.where(np.eye(m, dtype=bool), Kernel.FULL, Kernel.NONE)
    assert np.array_equal(dw, expected_dw)
    first, second = family_stages("depthwise_pointwise", m, n)
    assert np.array_equal(first.pattern, expected_dw)
    assert np.all(second.pattern == Kernel.ONE)
    first, second = family_stages("groupwise_pointwise", m, n, groups=v)
    assert np.array_equal(first.pattern, groupwise_pattern(m, m, v))
    assert np.all(second.pattern == Kernel.ONE)


def test_family_stages_errors():
    with pytest.raises(ValueError, match=r"in_channels=4, out_channels=8"):
        family_stages("depthwise", 4, 8)
    with pytest.raises(ValueError, match=r"family must be one of .*got 'conv3x3'"):
        family_stages("conv3x3", 4, 4)
    # groupwise + pointwise: G only has to divide M (the first stage is M→M)
    assert len(family_stages("groupwise_pointwise", 4, 6, groups=4)) == 2
    with pytest.raises(ValueError, match=r"groups=3.*allowed values: \[1, 2, 4\]"):
        family_stages("groupwise_pointwise", 4, 6, groups=3)


# ---------------------------------------------------------------- counting helpers


def test_counting_helpers_on_a_hand_made_map():
    pat = np.array(
        [
            [Kernel.FULL, Kernel.ONE, Kernel.NONE],
            [Kernel.BOTH, Kernel.NONE, Kernel.NONE],
        ],
        dtype=np.int8,
    )
    # BOTH counts as a K×K kernel and as a 1×1 kernel
    assert kernels_per_filter(pat, Kernel.FULL).tolist() == [1, 1]
    assert kernels_per_filter(pat, Kernel.ONE).tolist() == [1, 1]
    assert kernels_per_filter(pat, Kernel.NONE).tolist() == [1, 2]
    assert kernels_per_filter(pat, Kernel.BOTH).tolist() == [0, 1]
    assert kernels_per_channel(pat, Kernel.FULL).tolist() == [2, 0, 0]
    assert kernels_per_channel(pat, Kernel.ONE).tolist() == [1, 1, 0]
    assert kernels_per_channel(pat, Kernel.NONE).tolist() == [0, 1, 2]
    # weights: FULL 9 + ONE 1 + BOTH (9 + 1) = 20 for K = 3
    assert stage_weights(pat, 3) == 20
    assert stage_weights(pat, 1) == 4


@SETTINGS
@given(layer_shapes(), st.sampled_from([1, 3, 5, 7]))
def test_stage_weights_closed_forms(shape, k):
    m, n, p = shape
    assert stage_weights(standard_pattern(m, n), k) == n * m * k * k
    assert stage_weights(hetconv_pattern(m, n, p), k) == n * (m * k * k // p + m - m // p)
    assert stage_weights(grouped_hetconv_pattern(m, n, p), k) == n * (m * k * k // p + m - m // p)
    assert stage_weights(naive_hetconv_pattern(m, n, p), k) == n * m * k * k // p + n * m
    assert stage_weights(groupwise_pattern(m, n, p), k) == n * m * k * k // p
    assert stage_weights(family_stages("pointwise", m, n)[0].pattern, k) == n * m
    assert stage_weights(family_stages("depthwise", m, m)[0].pattern, k) == m * k * k


# ---------------------------------------------------------------- valid parts, divisors


@SETTINGS
@given(st.integers(1, 96), st.integers(1, 96))
def test_valid_parts_are_the_common_divisors(m, n):
    parts = valid_parts(m, n)
    g = math.gcd(m, n)
    assert parts == [d for d in range(1, g + 1) if g % d == 0]
    assert parts[0] == 1 and parts[-1] == g
    for p in parts:
        hetconv_pattern(m, n, p)  # every listed P is accepted


@SETTINGS
@given(st.integers(1, 200))
def test_divisors(n):
    ds = divisors(n)
    assert ds == sorted(set(ds))
    assert all(n % d == 0 for d in ds)
    assert len(ds) == sum(1 for d in range(1, n + 1) if n % d == 0)


# ---------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    ("func", "args", "pattern"),
    [
        (hetconv_pattern, (8, 8, 3), r"p=3.*allowed values: \[1, 2, 4, 8\]"),
        (hetconv_pattern, (8, 12, 8), r"p=8.*allowed values: \[1, 2, 4\]"),
        (hetconv_pattern, (8, 8, 16), r"p=16.*allowed values: \[1, 2, 4, 8\]"),
        (hetconv_pattern, (8, 8, 0), r"p must be a positive integer dividing .*, got 0"),
        (hetconv_pattern, (8, 8, -2), r"p must be a positive integer dividing .*, got -2"),
        (hetconv_pattern, (8, 8, 2.0), r"p must be a positive integer dividing .*, got 2\.0"),
        (hetconv_pattern, (8, 8, "4"), r"p must be a positive integer dividing .*, got '4'"),
        (hetconv_pattern, (8, 8, True), r"p must be a positive integer dividing .*, got True"),
        (hetconv_pattern, (0, 8, 1), r"in_channels must be a positive integer, got 0"),
        (hetconv_pattern, (8, -1, 1), r"out_channels must be a positive integer, got -1"),
        (grouped_hetconv_pattern, (6, 6, 4), r"p=4.*allowed values: \[1, 2, 3, 6\]"),
        (naive_hetconv_pattern, (6, 9, 2), r"p=2.*allowed values: \[1, 3\]"),
        (groupwise_pattern, (6, 6, 5), r"groups=5.*allowed values: \[1, 2, 3, 6\]"),
        (shifted_to_grouped_permutation, (6, 4), r"p=4.*allowed values: \[1, 2, 3, 6\]"),
        (shifted_to_grouped_permutation, (6, 0), r"p must be a positive integer"),
        (valid_parts, (4.0, 4), r"in_channels must be a positive integer, got 4\.0"),
        (divisors, (0,), r"n must be a positive integer, got 0"),
        (stage_weights, (np.ones((2, 2), dtype=np.int8), 0), r"kernel_size.*got 0"),
    ],
)
def test_bad_inputs_raise_value_error_naming_the_value(func, args, pattern):
    with pytest.raises(ValueError, match=pattern):
        func(*args)


def test_check_positive_int():
    assert check_positive_int("x", np.int64(5)) == 5
    assert type(check_positive_int("x", np.int64(5))) is int
    for bad in (0, -1, 1.5, 2.0, "3", None, False, True):
        with pytest.raises(ValueError, match="x must be a positive integer"):
            check_positive_int("x", bad)
