"""Every public function of the bottom layers (pattern, flops, paper) refuses nonsense arguments
with a ValueError naming the argument: one table, one row per argument, every kind of bad value
(issue 13.4: ``hetconv_ratio(3, -4)`` returned −0.11, ``layer_cost(..., bias="no")`` counted the
bias)."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from torch import nn

from hetconv_edu import flops, paper, pattern
from hetconv_edu.flops import layer_cost, network_cost
from hetconv_edu.layers import StandardConv2d

NEGATIVE, ZERO, FRACTION, BOOL, NAN, TEXT = -4, 0, 0.5, True, math.nan, "seven"
BAD = (NEGATIVE, ZERO, FRACTION, BOOL, NAN, TEXT)
NOT_ZERO = (NEGATIVE, FRACTION, BOOL, NAN, TEXT)  # for arguments where 0 is allowed
NOT_ZERO_NOR_FRACTION = (NEGATIVE, BOOL, NAN, TEXT)

_COST = network_cost(nn.Sequential(StandardConv2d(3, 4, 3)), (1, 3, 4, 4))
_PATTERN = pattern.hetconv_pattern(4, 4, 2)

# function → (valid keyword arguments, {argument: bad values})
TABLE = {
    pattern.divisors: ({"n": 12}, {"n": BAD}),
    pattern.parse_conv_spec: (
        {"spec": "hetconv:4"},
        {"spec": (4, None, "conv", "hetconv:0", "hetconv:-2", "hetconv:x", "standard:3")},
    ),
    pattern.valid_parts: (
        {"in_channels": 8, "out_channels": 4},
        {"in_channels": BAD, "out_channels": BAD},
    ),
    pattern.check_part: (
        {"in_channels": 8, "out_channels": 4, "p": 2},
        {"in_channels": BAD, "out_channels": BAD, "p": BAD},
    ),
    pattern.arrangements_coincide: (
        {"in_channels": 8, "out_channels": 4, "p": 2},
        {"in_channels": BAD, "out_channels": BAD, "p": BAD},
    ),
    pattern.standard_pattern: (
        {"in_channels": 8, "out_channels": 4},
        {"in_channels": BAD, "out_channels": BAD},
    ),
    pattern.hetconv_pattern: (
        {"in_channels": 8, "out_channels": 4, "p": 2},
        {"in_channels": BAD, "out_channels": BAD, "p": BAD},
    ),
    pattern.grouped_hetconv_pattern: (
        {"in_channels": 8, "out_channels": 4, "p": 2},
        {"in_channels": BAD, "out_channels": BAD, "p": BAD},
    ),
    pattern.naive_hetconv_pattern: (
        {"in_channels": 8, "out_channels": 4, "p": 2},
        {"in_channels": BAD, "out_channels": BAD, "p": BAD},
    ),
    pattern.groupwise_pattern: (
        {"in_channels": 8, "out_channels": 4, "groups": 2},
        {"in_channels": BAD, "out_channels": BAD, "groups": BAD},
    ),
    pattern.shifted_to_grouped_permutation: (
        {"channels": 8, "p": 2},
        {"channels": BAD, "p": BAD},
    ),
    pattern.family_stages: (
        {"family": "standard", "in_channels": 8, "out_channels": 4, "p": 1, "groups": 1},
        {
            "family": BAD,
            "in_channels": BAD,
            "out_channels": BAD,
            "p": BAD,
            "groups": BAD,
        },
    ),
    pattern.kernels_per_filter: (
        {"pattern": _PATTERN, "kind": pattern.Kernel.FULL},
        {"pattern": BAD, "kind": NOT_ZERO},  # kind 0 is Kernel.NONE
    ),
    pattern.kernels_per_channel: (
        {"pattern": _PATTERN, "kind": pattern.Kernel.FULL},
        {"pattern": BAD, "kind": NOT_ZERO},
    ),
    pattern.stage_weights: (
        {"pattern": _PATTERN, "kernel_size": 3},
        {"pattern": BAD, "kernel_size": BAD},
    ),
    flops.standard_macs: (
        {"out_size": 8, "in_channels": 4, "out_channels": 4, "kernel_size": 3},
        {"out_size": BAD, "in_channels": BAD, "out_channels": BAD, "kernel_size": BAD},
    ),
    flops.hetconv_macs: (
        {"out_size": 8, "in_channels": 4, "out_channels": 4, "kernel_size": 3, "p": 2},
        {
            "out_size": BAD,
            "in_channels": BAD,
            "out_channels": BAD,
            "kernel_size": BAD,
            "p": BAD,
        },
    ),
    flops.hetconv_ratio: ({"kernel_size": 3, "p": 4}, {"kernel_size": BAD, "p": BAD}),
    flops.naive_hetconv_ratio: ({"kernel_size": 3, "p": 4}, {"kernel_size": BAD, "p": BAD}),
    flops.depthwise_pointwise_ratio: (
        {"out_channels": 8, "kernel_size": 3},
        {"out_channels": BAD, "kernel_size": BAD},
    ),
    flops.groupwise_pointwise_ratio: (
        {"groups": 2, "kernel_size": 3},
        {"groups": BAD, "kernel_size": BAD},
    ),
    flops.layer_cost: (
        {
            "spec": "hetconv:2",
            "in_channels": 4,
            "out_channels": 4,
            "kernel_size": 3,
            "out_size": 8,
            "bias": True,
            "executed": False,
        },
        {
            "spec": BAD,
            "in_channels": BAD,
            "out_channels": BAD,
            "kernel_size": BAD,
            "out_size": BAD,
            "bias": (NEGATIVE, ZERO, FRACTION, NAN, TEXT, "no", 1),
            "executed": (NEGATIVE, ZERO, FRACTION, NAN, TEXT, "no", 1),
        },
    ),
    flops.measure_macs: (
        {"module": StandardConv2d(3, 4, 3), "input_shape": (1, 3, 4, 4)},
        {"module": BAD, "input_shape": (*BAD, (1, 3, -4, 4), (1, 3, 4.0, 4), (True, 3, 4, 4))},
    ),
    flops.module_cost: (
        {"module": StandardConv2d(3, 4, 3), "out_size": 4, "executed": False},
        {
            "module": (*BAD, nn.ReLU()),
            "out_size": BAD,
            "executed": (NEGATIVE, ZERO, FRACTION, NAN, TEXT, "no", 1),
        },
    ),
    flops.network_cost: (
        {"model": nn.Sequential(StandardConv2d(3, 4, 3)), "input_shape": (1, 3, 4, 4)},
        {"model": BAD, "input_shape": (*BAD, (1, 0, 4, 4), (1, 3, math.nan, 4))},
    ),
    paper.paper_row: ({"p": 4}, {"p": BAD}),
    paper.truncate_millions: (
        {"x": 71_355_164.4, "decimals": 2},
        {"x": (*NOT_ZERO_NOR_FRACTION, math.inf), "decimals": NOT_ZERO},
    ),
    paper.paper_convention_macs: ({"cost": _COST}, {"cost": BAD}),
    paper.true_macs: ({"cost": _COST}, {"cost": BAD}),
    paper.convention_gap_macs: ({"cost": _COST}, {"cost": BAD}),
    paper.reproduce_row: ({"p": 1, "cost": _COST}, {"p": BAD, "cost": BAD}),
    paper.reproduce_vgg16_table: ({"cost_of": lambda p: _COST}, {"cost_of": BAD}),
}

# arguments that are the calling code's wording, not a value from a user
WORDING = {pattern.check_part: {"name"}}

CASES = [
    pytest.param(func, arg, bad, id=f"{func.__name__}-{arg}-{bad!r}")
    for func, (_, bad_values) in TABLE.items()
    for arg, values in bad_values.items()
    for bad in values
]


def test_the_table_covers_every_public_function_and_argument():
    for module in (pattern, flops, paper):
        for name in module.__all__:
            func = getattr(module, name)
            if inspect.isfunction(func) and func.__module__ == module.__name__:
                assert func in TABLE, f"{module.__name__}.{name} has no row"
                valid, bad = TABLE[func]
                params = set(inspect.signature(func).parameters) - WORDING.get(func, set())
                assert set(valid) == params and set(bad) == params, name


@pytest.mark.parametrize("func", list(TABLE), ids=lambda f: f.__name__)
def test_valid_arguments_are_accepted(func):
    valid, _ = TABLE[func]
    func(**valid)


@pytest.mark.parametrize(("func", "arg", "bad"), CASES)
def test_bad_argument_raises_value_error_naming_it(func, arg, bad):
    valid, _ = TABLE[func]
    with pytest.raises(ValueError, match=rf"(^|\W){arg}(\W|$)"):
        func(**{**valid, arg: bad})


def test_the_issue_cases():
    for p in (-4, 0.5, 0):
        with pytest.raises(ValueError, match=rf"p must be a positive integer.*, got {p}"):
            flops.hetconv_ratio(3, p)
    with pytest.raises(ValueError, match="bias must be True or False, got 'no'"):
        layer_cost("hetconv:4", 8, 8, 3, 4, bias="no")
    assert flops.hetconv_ratio(3, math.inf) == 1 / 9  # the limit of many parts, 1/K²
    # what they are for positive integers, from the paper's formula
    assert flops.hetconv_ratio(3, 4) == pytest.approx(1 / 4 + (3 / 4) / 9)
    assert flops.hetconv_ratio(np.int64(3), np.int64(4)) == flops.hetconv_ratio(3, 4)
