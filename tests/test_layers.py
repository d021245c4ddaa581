"""Layers (hetconv_edu.layers): the fast HetConv2d against references (its own, the masked dense
layer, and a brute-force per-(filter, channel) loop written here), gradients, memory formats,
compilation, serialization, argument checking, and the baseline families."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from hetconv_edu.layers import (
    ARRANGEMENTS,
    ConvSpec,
    DepthwiseSeparableConv2d,
    GroupwiseConv2d,
    GroupwisePointwiseConv2d,
    HetConv2d,
    MaskedHetConv2d,
    NaiveHetConv2d,
    StandardConv2d,
    make_conv,
    parse_conv_spec,
)
from hetconv_edu.pattern import Kernel, shifted_to_grouped_permutation

F64 = torch.float64


# ---------------------------------------------------------------- an independent reference


def kxk_channels(m: int, n: int, p: int, arrangement: str, f: int) -> list[int]:
    """Input channels at which filter f holds a K×K kernel, straight from the definitions."""
    if arrangement == "shifted":
        return [c for c in range(m) if (c - f) % p == 0]
    return [c for c in range(m) if c // (m // p) == f // (n // p)]


def brute_force(layer: HetConv2d, x: torch.Tensor) -> torch.Tensor:
    """Per-(filter, channel) loop: a single-channel F.conv2d for every K×K kernel, a centre-tap
    sample of the zero-padded input for every 1×1 kernel, then the bias."""
    kxk, one = brute_force_parts(layer, x)
    return kxk + one


def brute_force_parts(layer: HetConv2d, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`brute_force`'s two sums apart: (the K×K kernels', the 1×1 kernels' + the bias)."""
    m, n, p, k = layer.in_channels, layer.out_channels, layer.p, layer.kernel_size
    (sh, sw), (ph, pw), (dh, dw) = layer.stride, layer.padding, layer.dilation
    xp = F.pad(x, (pw, pw, ph, ph))
    hp, wp = xp.shape[-2:]
    ho = (hp - dh * (k - 1) - 1) // sh + 1
    wo = (wp - dw * (k - 1) - 1) // sw + 1
    ch, cw = dh * (k - 1) // 2, dw * (k - 1) // 2  # offset of the centre tap in the window
    kxk = x.new_zeros(x.shape[0], n, ho, wo)
    one = x.new_zeros(x.shape[0], n, ho, wo)
    for f in range(n):
        full = kxk_channels(m, n, p, layer.arrangement, f)
        ones = [c for c in range(m) if c not in full]
        for j, c in enumerate(full):
            w = layer.weight_kxk[f, j].reshape(1, 1, k, k)
            kxk[:, f] += F.conv2d(
                xp[:, c : c + 1], w, stride=layer.stride, dilation=layer.dilation
            )[:, 0]
        for j, c in enumerate(ones):
            sample = xp[:, c, ch : ch + sh * (ho - 1) + 1 : sh, cw : cw + sw * (wo - 1) + 1 : sw]
            one[:, f] += layer.weight_1x1[f, j] * sample
        if layer.bias is not None:
            one[:, f] += layer.bias[f]
    return kxk, one


@st.composite
def het_configs(draw, max_mult: int = 3):
    p = draw(st.sampled_from([1, 2, 3, 4]))
    m = p * draw(st.integers(1, max_mult))
    n = p * draw(st.integers(1, max_mult))
    k = draw(st.sampled_from([1, 3, 5]))
    stride = draw(st.sampled_from([1, 2, (1, 2)]))
    dilation = draw(st.sampled_from([1, 2]))
    padding = draw(st.sampled_from([None, 0, 1, 2, 3, (0, 2), "same", "valid"]))
    arrangement = draw(st.sampled_from(ARRANGEMENTS))
    bias = draw(st.booleans())
    reach = dilation * (k - 1)  # input size needed for one output at zero padding
    h = reach + draw(st.integers(1, 4))
    w = reach + draw(st.integers(1, 4))
    kwargs = {
        "p": p,
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "bias": bias,
        "arrangement": arrangement,
    }
    return (m, n, k, kwargs), (draw(st.integers(1, 2)), m, h, w)


def masked_like(layer: HetConv2d) -> MaskedHetConv2d:
    """A MaskedHetConv2d with the same settings, loaded with ``layer.dense_weight()``."""
    masked = MaskedHetConv2d(
        layer.in_channels,
        layer.out_channels,
        layer.kernel_size,
        p=layer.p,
        stride=layer.stride,
        padding=layer.padding,
        dilation=layer.dilation,
        bias=layer.bias is not None,
        dtype=layer.weight_kxk.dtype,
    )
    with torch.no_grad():
        masked.weight.copy_(layer.dense_weight())
        if layer.bias is not None:
            masked.bias.copy_(layer.bias)
    return masked


# ---------------------------------------------------------------- forward correctness


@settings(max_examples=100, deadline=None)
@given(het_configs(), st.integers(0, 2**31 - 1))
def test_fast_equals_references_and_brute_force(config, seed):
    (m, n, k, kwargs), shape = config
    torch.manual_seed(seed)
    layer = HetConv2d(m, n, k, dtype=F64, **kwargs)
    x = torch.randn(shape, dtype=F64)
    with torch.no_grad():
        y = layer(x)
        expected = brute_force(layer, x)
        assert y.shape == expected.shape
        torch.testing.assert_close(y, expected, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(layer.forward_reference(x), expected, rtol=1e-10, atol=1e-10)
        if layer.arrangement == "shifted":
            torch.testing.assert_close(masked_like(layer)(x), expected, rtol=1e-10, atol=1e-10)


@settings(max_examples=60, deadline=None)
@given(het_configs(), st.integers(0, 2**31 - 1), st.booleans())
def test_forward_parts_add_to_forward_exactly_and_are_each_path(config, seed, unbatched):
    (m, n, k, kwargs), shape = config
    torch.manual_seed(seed)
    layer = HetConv2d(m, n, k, dtype=F64, **kwargs)
    x = torch.randn(shape, dtype=F64)
    if unbatched:
        x = x[0]
    with torch.no_grad():
        kxk, one = layer.forward_parts(x)
        y = layer(x)
        assert kxk.shape == one.shape == y.shape
        assert torch.equal(one + kxk, y)  # the sum forward computes, bit for bit
        want_kxk, want_one = brute_force_parts(layer, x if not unbatched else x[None])
        if unbatched:
            want_kxk, want_one = want_kxk[0], want_one[0]
        if layer.p == 1:  # no 1×1 kernels: the bias travels with the K×K part
            want_kxk, want_one = want_kxk + want_one, torch.zeros_like(want_one)
        torch.testing.assert_close(kxk, want_kxk, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(one, want_one, rtol=1e-10, atol=1e-10)


def test_forward_parts_refuse_a_wrong_input_like_forward():
    layer = HetConv2d(4, 4, 3, p=2)
    for bad in (torch.zeros(2, 3, 5, 5), torch.zeros(4, 5)):
        with pytest.raises(ValueError) as parts_error:
            layer.forward_parts(bad)
        with pytest.raises(ValueError) as forward_error:
            layer(bad)
        assert str(parts_error.value) == str(forward_error.value)


@settings(max_examples=25, deadline=None)
@given(het_configs(max_mult=2), st.integers(0, 2**31 - 1))
def test_masked_layer_ignores_weights_off_the_pattern(config, seed):
    """MaskedHetConv2d with an arbitrary dense weight computes the HetConv whose K×K kernels are
    the dense kernels at K×K positions and whose 1×1 kernels are the centre taps elsewhere."""
    (m, n, k, kwargs), shape = config
    kwargs = {**kwargs, "arrangement": "shifted"}
    torch.manual_seed(seed)
    het = HetConv2d(m, n, k, dtype=F64, **kwargs)
    kwargs.pop("arrangement")
    masked = MaskedHetConv2d(m, n, k, dtype=F64, **kwargs)
    with torch.no_grad():
        masked.weight.normal_()
        c = k // 2
        for f in range(n):
            full = kxk_channels(m, n, het.p, "shifted", f)
            ones = [ch for ch in range(m) if ch not in full]
            het.weight_kxk[f] = masked.weight[f, full]
            het.weight_1x1[f] = masked.weight[f, ones, c, c]
        if masked.bias is not None:
            het.bias.copy_(masked.bias)
        x = torch.randn(shape, dtype=F64)
        torch.testing.assert_close(masked(x), brute_force(het, x), rtol=1e-10, atol=1e-10)


@settings(max_examples=50, deadline=None)
@given(het_configs(), st.integers(0, 2**31 - 1))
def test_grouped_equals_shifted_with_channels_relabelled(config, seed):
    (m, n, k, kwargs), shape = config
    torch.manual_seed(seed)
    shifted = HetConv2d(m, n, k, dtype=F64, **{**kwargs, "arrangement": "shifted"})
    grouped = HetConv2d(m, n, k, dtype=F64, **{**kwargs, "arrangement": "grouped"})
    p = kwargs["p"]
    perm_m = torch.from_numpy(shifted_to_grouped_permutation(m, p))
    perm_n = torch.from_numpy(shifted_to_grouped_permutation(n, p))
    dense = shifted.dense_weight().detach()[perm_n][:, perm_m]
    pattern = torch.from_numpy(grouped.pattern())
    with torch.no_grad():
        grouped.weight_kxk.copy_(dense[pattern == Kernel.FULL].reshape(n, m // p, k, k))
        grouped.weight_1x1.copy_(dense[pattern == Kernel.ONE][:, k // 2, k // 2].reshape(n, -1))
        if shifted.bias is not None:
            grouped.bias.copy_(shifted.bias[perm_n])
        torch.testing.assert_close(grouped.dense_weight(), dense, rtol=0, atol=0)
        x = torch.randn(shape, dtype=F64)
        torch.testing.assert_close(
            grouped(x[:, perm_m]), shifted(x)[:, perm_n], rtol=1e-10, atol=1e-10
        )


@pytest.mark.parametrize("arrangement", ARRANGEMENTS)
@pytest.mark.parametrize(("m", "n", "p", "k"), [(6, 4, 2, 3), (4, 8, 4, 5), (6, 6, 3, 1)])
def test_dense_weight_zero_exactly_off_pattern(arrangement, m, n, p, k):
    layer = HetConv2d(m, n, k, p=p, arrangement=arrangement)
    with torch.no_grad():  # all weights non-zero and distinct
        layer.weight_kxk.copy_(
            torch.arange(1, layer.weight_kxk.numel() + 1).view_as(layer.weight_kxk)
        )
        layer.weight_1x1.copy_(-torch.arange(1, layer.weight_1x1.numel() + 1).view(n, -1))
    dense = layer.dense_weight().detach()
    assert dense.shape == (n, m, k, k)
    c = k // 2
    for f in range(n):
        full = kxk_channels(m, n, p, arrangement, f)
        ones = [ch for ch in range(m) if ch not in full]
        assert torch.equal(dense[f, full], layer.weight_kxk[f].detach())
        assert torch.equal(dense[f, ones, c, c], layer.weight_1x1[f].detach())
        off_centre = dense[f, ones].clone()
        off_centre[:, c, c] = 0
        assert torch.count_nonzero(off_centre) == 0
    assert torch.count_nonzero(dense) == layer.weight_kxk.numel() + layer.weight_1x1.numel()


@pytest.mark.parametrize("arrangement", ARRANGEMENTS)
def test_weight_1x1_dense_zero_at_kxk_positions(arrangement):
    m, n, p = 6, 9, 3
    layer = HetConv2d(m, n, 3, p=p, arrangement=arrangement)
    w = layer.weight_1x1_dense().detach()[..., 0, 0]
    for f in range(n):
        full = kxk_channels(m, n, p, arrangement, f)
        ones = [ch for ch in range(m) if ch not in full]
        assert torch.count_nonzero(w[f, full]) == 0
        assert torch.equal(w[f, ones], layer.weight_1x1[f].detach())


@pytest.mark.parametrize("arrangement", ARRANGEMENTS)
def test_p1_is_a_standard_convolution_and_p_m_has_one_kxk(arrangement):
    torch.manual_seed(0)
    layer = HetConv2d(4, 6, 3, p=1, arrangement=arrangement, dtype=F64)
    assert layer.weight_1x1.numel() == 0
    x = torch.randn(2, 4, 5, 5, dtype=F64)
    expected = F.conv2d(x, layer.weight_kxk, layer.bias, padding=1)
    torch.testing.assert_close(layer(x), expected, rtol=1e-12, atol=1e-12)
    layer = HetConv2d(4, 8, 3, p=4, arrangement=arrangement)
    assert layer.weight_kxk.shape == (8, 1, 3, 3)
    assert layer.weight_1x1.shape == (8, 3)


def test_pattern_method_matches_arrangement():
    for arrangement in ARRANGEMENTS:
        layer = HetConv2d(6, 4, 3, p=2, arrangement=arrangement)
        pat = layer.pattern()
        for f in range(4):
            full = kxk_channels(6, 4, 2, arrangement, f)
            assert np.flatnonzero(pat[f] == Kernel.FULL).tolist() == full


# ---------------------------------------------------------------- gradients


@settings(max_examples=40, deadline=None)
@given(het_configs(max_mult=2), st.integers(0, 2**31 - 1))
def test_gradients_fast_equal_reference_and_masked(config, seed):
    (m, n, k, kwargs), shape = config
    torch.manual_seed(seed)
    layer = HetConv2d(m, n, k, dtype=F64, **kwargs)
    x = torch.randn(shape, dtype=F64, requires_grad=True)
    params = [t for t in (layer.weight_kxk, layer.weight_1x1, layer.bias) if t is not None]

    y = layer(x)
    g = torch.randn_like(y)
    grads_fast = torch.autograd.grad((y * g).sum(), [x, *params], materialize_grads=True)
    y_ref = layer.forward_reference(x)
    grads_ref = torch.autograd.grad((y_ref * g).sum(), [x, *params], materialize_grads=True)
    for a, b in zip(grads_fast, grads_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)

    if layer.arrangement == "shifted":
        masked = masked_like(layer)
        (masked(x) * g).sum().backward()
        dw = masked.weight.grad
        c = k // 2
        for f in range(n):
            full = kxk_channels(m, n, layer.p, "shifted", f)
            ones = [ch for ch in range(m) if ch not in full]
            torch.testing.assert_close(dw[f, full], grads_fast[1][f], rtol=1e-10, atol=1e-10)
            torch.testing.assert_close(dw[f, ones, c, c], grads_fast[2][f], rtol=1e-10, atol=1e-10)
            off = dw[f, ones].clone()
            off[:, c, c] = 0
            assert torch.count_nonzero(off) == 0
        if layer.bias is not None:
            torch.testing.assert_close(masked.bias.grad, grads_fast[3], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("arrangement", ARRANGEMENTS)
@pytest.mark.parametrize(
    ("m", "n", "p", "k", "stride", "padding"), [(4, 4, 2, 3, 1, None), (6, 3, 3, 3, 2, 0)]
)
def test_gradcheck(arrangement, m, n, p, k, stride, padding):
    torch.manual_seed(1)
    layer = HetConv2d(
        m, n, k, p=p, stride=stride, padding=padding, arrangement=arrangement, dtype=F64
    )
    x = torch.randn(1, m, 5, 5, dtype=F64, requires_grad=True)
    params = {name: t.detach().clone().requires_grad_(True) for name, t in layer.named_parameters()}
    names = list(params)

    def fn(x, *tensors):
        return torch.func.functional_call(layer, dict(zip(names, tensors, strict=True)), (x,))

    assert torch.autograd.gradcheck(fn, (x, *params.values()))


# ---------------------------------------------------------------- parameters, formats, compile


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([1, 2, 4, 8]),
    st.integers(1, 4),
    st.integers(1, 4),
    st.sampled_from([1, 3, 5, 7]),
    st.sampled_from(ARRANGEMENTS),
    st.booleans(),
)
def test_parameter_count(p, a, b, k, arrangement, bias):
    m, n = p * a, p * b
    layer = HetConv2d(m, n, k, p=p, arrangement=arrangement, bias=bias)
    count = sum(t.numel() for t in layer.parameters())
    assert count == n * (m * k * k // p + m - m // p) + (n if bias else 0)
    assert layer.fan_in == m * k * k // p + m - m // p
    bound = 1 / layer.fan_in**0.5
    assert all(t.abs().max() <= bound for t in layer.parameters() if t.numel())


@pytest.mark.parametrize("arrangement", ARRANGEMENTS)
def test_channels_last(arrangement):
    torch.manual_seed(2)
    layer = HetConv2d(8, 12, 3, p=4, stride=2, arrangement=arrangement)
    x = torch.randn(2, 8, 9, 9)
    expected = layer(x)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(layer(x_cl), expected, rtol=1e-5, atol=1e-6)
    layer = layer.to(memory_format=torch.channels_last)
    assert layer.weight_kxk.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(layer(x_cl), expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(layer.forward_reference(x_cl), expected, rtol=1e-5, atol=1e-6)


def test_torch_compile_inductor_and_aot_eager():
    torch.manual_seed(3)
    x = torch.randn(2, 4, 6, 6)
    shifted = HetConv2d(4, 4, 3, p=2, arrangement="shifted")
    compiled = torch.compile(shifted)  # default backend: inductor (needs a C compiler)
    torch.testing.assert_close(compiled(x), shifted(x), rtol=1e-5, atol=1e-6)
    grouped = HetConv2d(4, 6, 3, p=2, stride=2, arrangement="grouped")
    compiled = torch.compile(grouped, backend="aot_eager")
    xg = x.clone().requires_grad_(True)
    y = compiled(xg)
    torch.testing.assert_close(y, grouped(x), rtol=1e-5, atol=1e-6)
    y.sum().backward()
    assert xg.grad is not None and grouped.weight_kxk.grad is not None


@pytest.mark.parametrize("arrangement", ARRANGEMENTS)
def test_state_dict_round_trip(tmp_path, arrangement):
    torch.manual_seed(4)
    layer = HetConv2d(6, 6, 3, p=3, arrangement=arrangement)
    assert set(layer.state_dict()) == {"weight_kxk", "weight_1x1", "bias", "_extra_state"}
    path = tmp_path / "het.pt"
    torch.save(layer.state_dict(), path)
    torch.manual_seed(5)
    other = HetConv2d(6, 6, 3, p=3, arrangement=arrangement)
    x = torch.randn(1, 6, 5, 5)
    assert not torch.allclose(other(x), layer(x))
    other.load_state_dict(torch.load(path, weights_only=True))
    torch.testing.assert_close(other(x), layer(x), rtol=0, atol=0)
    # a layer with a different P has different parameter shapes: loading must fail
    with pytest.raises(RuntimeError):
        HetConv2d(6, 6, 3, p=2).load_state_dict(torch.load(path, weights_only=True))


@pytest.mark.parametrize("arrangement", ARRANGEMENTS)
def test_to_float64(arrangement):
    torch.manual_seed(6)
    layer = HetConv2d(4, 4, 3, p=2, arrangement=arrangement).to(F64)
    assert all(t.dtype == F64 for t in layer.parameters())
    assert all(b.dtype == torch.int64 for b in layer.buffers())  # channel indices stay ints
    x = torch.randn(1, 4, 5, 5, dtype=F64)
    y = layer(x)
    assert y.dtype == F64
    torch.testing.assert_close(y, brute_force(layer, x), rtol=1e-12, atol=1e-12)
    masked = MaskedHetConv2d(4, 4, 3, p=2).to(F64)
    assert masked.mask.dtype == F64 and masked(x).dtype == F64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("arrangement", ARRANGEMENTS)
def test_cuda_matches_cpu(arrangement):
    torch.manual_seed(7)
    layer = HetConv2d(8, 8, 3, p=4, arrangement=arrangement, dtype=F64)
    x = torch.randn(2, 8, 7, 7, dtype=F64)
    expected = layer(x)
    layer_gpu = HetConv2d(8, 8, 3, p=4, arrangement=arrangement, dtype=F64, device="cuda")
    layer_gpu.load_state_dict(layer.state_dict())
    assert all(b.device.type == "cuda" for b in layer_gpu.buffers())
    torch.testing.assert_close(layer_gpu(x.cuda()).cpu(), expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(layer.cuda()(x.cuda()).cpu(), expected, rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------- argument checking


@pytest.mark.parametrize(
    ("args", "kwargs", "pattern"),
    [
        ((8, 8, 3), {"p": 3}, r"p=3 .*allowed values: \[1, 2, 4, 8\]"),
        ((8, 6, 3), {"p": 4}, r"p=4 .*in_channels=8, out_channels=6.*allowed values: \[1, 2\]"),
        ((8, 8, 3), {"p": 16}, r"p=16 .*allowed values: \[1, 2, 4, 8\]"),
        ((8, 8, 3), {"p": 0}, r"got 0; allowed values: \[1, 2, 4, 8\]"),
        ((8, 8, 3), {"p": -2}, r"got -2; allowed values"),
        ((8, 8, 3), {"p": 2.0}, r"got 2\.0; allowed values"),
        ((8, 8, 3), {"p": "4"}, r"got '4'; allowed values"),
        ((8, 8, 3), {"p": True}, r"got True; allowed values"),
        ((8, 8, 4), {"p": 2}, r"kernel_size must be a positive odd integer.*got 4"),
        ((8, 8, 0), {"p": 2}, r"kernel_size must be a positive odd integer.*got 0"),
        ((8, 8, 3.0), {"p": 2}, r"kernel_size must be a positive odd integer, got 3\.0"),
        ((8, 8, True), {"p": 2}, r"kernel_size must be a positive odd integer, got True"),
        ((8, 8, 3), {"p": 2, "arrangement": "block"}, r"\['shifted', 'grouped'\], got 'block'"),
        ((8, 8, 3), {"p": 2, "stride": 0}, r"stride must be an integer >= 1"),
        ((8, 8, 3), {"p": 2, "stride": (1, 2, 3)}, r"stride must be an int or a pair"),
        ((8, 8, 3), {"p": 2, "dilation": 0}, r"dilation must be an integer >= 1"),
        ((8, 8, 3), {"p": 2, "padding": -1}, r"padding must be an integer >= 0"),
        ((8, 8, 3), {"p": 2, "padding": "full"}, r"padding must be an integer"),
        ((8, 8, 3), {"p": 2, "bias": 1}, r"bias must be True or False, got 1"),
        ((0, 8, 3), {"p": 1}, r"in_channels must be a positive integer, got 0"),
        ((8, "8", 3), {"p": 1}, r"out_channels must be a positive integer, got '8'"),
    ],
)
def test_hetconv_bad_arguments(args, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        HetConv2d(*args, **kwargs)


@pytest.mark.parametrize(
    ("build", "pattern"),
    [
        (lambda: MaskedHetConv2d(8, 8, 3, p=3), r"p=3 .*allowed values: \[1, 2, 4, 8\]"),
        (lambda: NaiveHetConv2d(6, 4, 3, p=3), r"p=3 .*allowed values: \[1, 2\]"),
        (lambda: GroupwiseConv2d(6, 9, 3, groups=2), r"groups=2 .*allowed values: \[1, 3\]"),
        (lambda: GroupwiseConv2d(6, 6, 3, groups=0), r"groups must be a positive integer"),
        (lambda: GroupwisePointwiseConv2d(6, 5, 3, groups=4), r"groups=4 .*\[1, 2, 3, 6\]"),
        (lambda: StandardConv2d(4, 4, 2), r"kernel_size must be a positive odd integer"),
        (lambda: DepthwiseSeparableConv2d(0, 4), r"in_channels must be a positive integer"),
    ],
)
def test_baseline_bad_arguments(build, pattern):
    with pytest.raises(ValueError, match=pattern):
        build()


def test_numpy_integers_accepted():
    layer = HetConv2d(np.int64(4), np.int64(8), np.int64(3), p=np.int64(2), stride=np.int32(2))
    assert (layer.p, layer.kernel_size, layer.stride) == (2, 3, (2, 2))
    assert type(layer.p) is int


def test_padding_forms():
    layer = HetConv2d(2, 2, 5, p=2, dilation=2)
    assert layer.padding == (4, 4)  # None keeps the size: d·(K − 1)/2
    assert HetConv2d(2, 2, 5, p=2, padding="same").padding == (2, 2)
    assert HetConv2d(2, 2, 5, p=2, padding="valid").padding == (0, 0)
    assert HetConv2d(2, 2, 5, p=2, padding=(1, 3)).padding == (1, 3)
    assert layer(torch.randn(1, 2, 11, 10)).shape == (1, 2, 11, 10)


# ---------------------------------------------------------------- baselines


@pytest.mark.parametrize(("stride", "padding"), [(1, None), (2, None), (1, 0), (2, 3)])
def test_naive_hetconv_is_groupwise_plus_pointwise(stride, padding):
    torch.manual_seed(8)
    m, n, p, k = 6, 9, 3, 3
    layer = NaiveHetConv2d(m, n, k, p=p, stride=stride, padding=padding, dtype=F64)
    x = torch.randn(2, m, 8, 8, dtype=F64)
    wg, wp, b = layer.groupwise.weight, layer.pointwise.weight, layer.pointwise.bias
    assert wg.shape == (n, m // p, k, k) and wp.shape == (n, m, 1, 1)
    pad = 1 if padding is None else padding
    # as a dense K×K weight: the groupwise kernels in their blocks, the 1×1 added at the centre
    dense = torch.zeros(n, m, k, k, dtype=F64)
    for f in range(n):
        g = f // (n // p)
        dense[f, g * (m // p) : (g + 1) * (m // p)] = wg[f].detach()
    dense[:, :, k // 2, k // 2] += wp[:, :, 0, 0].detach()
    expected = F.conv2d(x, dense, b, stride=stride, padding=pad)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), expected, rtol=1e-10, atol=1e-10)
        if pad == 1:
            explicit = F.conv2d(x, wg, None, stride, pad, groups=p) + F.conv2d(x, wp, b, stride)
            torch.testing.assert_close(layer(x), explicit, rtol=1e-10, atol=1e-10)
    count = sum(t.numel() for t in layer.parameters())
    assert count == n * m * k * k // p + n * m + n


def test_depthwise_separable():
    torch.manual_seed(9)
    m, n, k = 4, 6, 5
    layer = DepthwiseSeparableConv2d(m, n, k, stride=2, dtype=F64)
    assert layer.family == "depthwise_pointwise"
    assert layer.spatial.groups == m
    assert layer.spatial.weight.shape == (m, 1, k, k) and layer.spatial.bias is None
    assert layer.pointwise.weight.shape == (n, m, 1, 1) and layer.pointwise.bias.shape == (n,)
    assert sum(t.numel() for t in layer.parameters()) == m * k * k + m * n + n
    assert (layer.in_channels, layer.out_channels, layer.kernel_size) == (m, n, k)
    x = torch.randn(2, m, 9, 9, dtype=F64)
    y = layer(x)
    assert y.shape == (2, n, 5, 5)
    mid = F.conv2d(x, layer.spatial.weight, None, 2, 2, groups=m)
    expected = F.conv2d(mid, layer.pointwise.weight, layer.pointwise.bias)
    torch.testing.assert_close(y, expected, rtol=1e-12, atol=1e-12)


def test_groupwise_and_groupwise_pointwise():
    m, n, g, k = 8, 4, 4, 3
    gw = GroupwiseConv2d(m, n, k, groups=g)
    assert isinstance(gw, nn.Conv2d) and gw.groups == g and gw.family == "groupwise"
    assert sum(t.numel() for t in gw.parameters()) == n * m * k * k // g + n
    gp = GroupwisePointwiseConv2d(m, n, k, groups=g, bias=False)
    assert gp.groups == g and gp.spatial.groups == g
    assert sum(t.numel() for t in gp.parameters()) == m * m * k * k // g + m * n
    x = torch.randn(1, m, 6, 6)
    assert gw(x).shape == (1, n, 6, 6) and gp(x).shape == (1, n, 6, 6)
    std = StandardConv2d(m, n, k, stride=2)
    assert std.padding == (1, 1) and std(x).shape == (1, n, 3, 3)


ALL_SPECS = [
    ("standard", StandardConv2d, "standard"),
    ("hetconv:4", HetConv2d, "hetconv"),
    ("naive_hetconv:2", NaiveHetConv2d, "naive_hetconv"),
    ("naive:2", NaiveHetConv2d, "naive_hetconv"),
    ("groupwise:4", GroupwiseConv2d, "groupwise"),
    ("depthwise_pointwise", DepthwiseSeparableConv2d, "depthwise_pointwise"),
    ("dwsep", DepthwiseSeparableConv2d, "depthwise_pointwise"),
    ("groupwise_pointwise:2", GroupwisePointwiseConv2d, "groupwise_pointwise"),
    ("gwpw:2", GroupwisePointwiseConv2d, "groupwise_pointwise"),
]


@pytest.mark.parametrize(("text", "cls", "family"), ALL_SPECS)
def test_make_conv_every_family(text, cls, family):
    spec = parse_conv_spec(text)
    assert spec.family == family
    assert parse_conv_spec(str(spec)) == spec
    assert parse_conv_spec(spec) is spec
    assert spec.label
    layer = make_conv(text, 8, 12, 3, stride=2, bias=False)
    assert type(layer) is cls and layer.family == family
    assert (layer.in_channels, layer.out_channels) == (8, 12)
    assert layer(torch.randn(2, 8, 7, 7)).shape == (2, 12, 4, 4)
    assert all("bias" not in name or t is None for name, t in layer.named_parameters())


def test_parse_conv_spec_values():
    assert parse_conv_spec("hetconv:4") == ConvSpec("hetconv", 4)
    assert parse_conv_spec("  hetconv:16 ") == ConvSpec("hetconv", 16)
    assert parse_conv_spec("groupwise:8").value == 8
    assert parse_conv_spec("standard") == ConvSpec("standard", 1)
    assert str(ConvSpec("hetconv", 4)) == "hetconv:4"
    assert str(ConvSpec("depthwise_pointwise")) == "depthwise_pointwise"
    assert "P=4" in ConvSpec("hetconv", 4).label
    assert "G=2" in ConvSpec("groupwise_pointwise", 2).label


@pytest.mark.parametrize(
    "bad",
    ["", "hetconv", "hetconv:", "hetconv:0", "hetconv:-1", "hetconv:x", "hetconv:2.5",
     "standard:3", "dwsep:2", "conv", "HetConv:4", 4, None],
)  # fmt: skip
def test_parse_conv_spec_rejects(bad):
    with pytest.raises(ValueError, match="hetconv"):
        parse_conv_spec(bad)


def test_make_conv_arrangement_and_bad_values():
    layer = make_conv("hetconv:2", 4, 4, arrangement="grouped")
    assert layer.arrangement == "grouped"
    with pytest.raises(ValueError, match=r"allowed values: \[1, 2, 4\]"):
        make_conv("hetconv:3", 4, 8)
    with pytest.raises(ValueError, match=r"allowed values"):
        make_conv("groupwise:3", 4, 8)
    with pytest.raises(ValueError, match="unknown conv family"):
        make_conv("depthwise", 4, 4)


def test_extra_repr():
    text = repr(HetConv2d(8, 4, 3, p=4, stride=2, arrangement="grouped", bias=False))
    assert "p=4" in text and "arrangement='grouped'" in text
    assert "stride=(2, 2)" in text and "bias=False" in text
    assert "arrangement='shifted'" in repr(HetConv2d(8, 4, 3, p=2))
    assert "bias=False" not in repr(HetConv2d(8, 4, 3, p=2))
    assert "p=2" in repr(MaskedHetConv2d(8, 4, 3, p=2))
    assert "NOT the paper" in repr(NaiveHetConv2d(8, 4, 3, p=2))


# ---------------------------------------------------------------- unbatched input (issue 13.1)

LAYER_KINDS = (
    "standard",
    "hetconv-shifted",
    "hetconv-grouped",
    "naive_hetconv",
    "groupwise",
    "depthwise_pointwise",
    "groupwise_pointwise",
    "masked",
    "nested-shifted",
    "nested-grouped",
)
# (rtol, atol) against a float64 reference computed from the same (rounded) weights and input
TOLERANCE = {F64: (1e-10, 1e-10), torch.float32: (1e-4, 1e-4), torch.bfloat16: (3e-2, 3e-2)}


def build_kind(kind: str, m: int, n: int, v: int, k: int, stride: int) -> nn.Module:
    """A layer of every family the package builds: make_conv's families (both arrangements),
    the masked reference and the best-P study's weight-sharing layer (at its largest P)."""
    from hetconv_edu.study.supernet import NestedHetConv2d

    family, _, arrangement = kind.partition("-")
    if family == "masked":
        return MaskedHetConv2d(m, n, k, p=v, stride=stride)
    if family == "nested":
        chain = tuple(d for d in (1, 2, 4) if d <= v and v % d == 0)
        layer = NestedHetConv2d(m, n, k, choices=chain, stride=stride, arrangement=arrangement)
        layer.set_p(v)
        return layer
    spec = family if family in ("standard", "depthwise_pointwise") else f"{family}:{v}"
    return make_conv(spec, m, n, k, stride=stride, arrangement=arrangement or "shifted")


def float64_reference(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The batched result in float64 on a contiguous batch of one; for HetConv2d its masked
    dense definition (no channel shuffles), for the others the layer itself in float64."""
    import copy

    ref = copy.deepcopy(layer).to(F64)
    xb = x.to(F64).contiguous()[None]
    out = ref.forward_reference(xb) if isinstance(ref, HetConv2d) else ref(xb)
    return out[0]


def in_layout(x: torch.Tensor, layout: str) -> torch.Tensor:
    """The same (C, H, W) values with another memory layout."""
    if layout == "non_contiguous":  # every other channel and column of a larger tensor
        c, h, w = x.shape
        larger = torch.zeros(2 * c, h, 2 * w, dtype=x.dtype)
        larger[::2, :, ::2] = x
        return larger[::2, :, ::2]
    if layout == "channels_last":  # channels innermost in memory: (H, W, C) storage
        return x.permute(1, 2, 0).contiguous().permute(2, 0, 1)
    return x


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(LAYER_KINDS),
    v=st.sampled_from([1, 2, 4]),
    mult=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    k=st.sampled_from([1, 3]),
    stride=st.sampled_from([1, 2]),
    size=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    dtype=st.sampled_from([torch.float32, F64, torch.bfloat16]),
    layout=st.sampled_from(["contiguous", "non_contiguous", "channels_last"]),
    seed=st.integers(0, 2**16),
)
def test_unbatched_input_equals_batched_for_every_family(
    kind, v, mult, k, stride, size, dtype, layout, seed
):
    torch.manual_seed(seed)
    m, n = v * mult[0], v * mult[1]
    layer = build_kind(kind, m, n, v, k, stride).to(dtype)
    x = in_layout(torch.randn(m, *size).to(dtype), layout)
    with torch.no_grad():
        y = layer(x)
        batched = layer(x.unsqueeze(0))
        batch_cl = layer(x.unsqueeze(0).contiguous(memory_format=torch.channels_last))
    assert y.dim() == 3 and y.shape == batched.shape[1:] and y.dtype == dtype
    assert torch.equal(y, batched[0])  # the same computation, the same numbers
    rtol, atol = TOLERANCE[dtype]
    expected = float64_reference(layer, x)
    torch.testing.assert_close(y.to(F64), expected, rtol=rtol, atol=atol)
    torch.testing.assert_close(batch_cl[0].to(F64), expected, rtol=rtol, atol=atol)


def test_unbatched_shifted_hetconv_issue_case():
    torch.manual_seed(0)
    layer = HetConv2d(16, 16, 3, p=4)
    x = torch.randn(16, 8, 8)
    torch.testing.assert_close(layer(x), layer(x[None])[0], rtol=0, atol=0)
    torch.testing.assert_close(layer(x), brute_force(layer, x[None])[0])


@pytest.mark.parametrize(
    "kind",
    [k for k in LAYER_KINDS if k.split("-")[0] in ("hetconv", "naive_hetconv", "masked", "nested")],
)
def test_wrong_input_rank_or_channels_refused_clearly(kind):
    layer = build_kind(kind, 4, 4, 2, 3, 1)
    name = type(layer).__name__
    with pytest.raises(ValueError, match=rf"{name}\(4, 4, \.\.\.\) takes a \(batch, .*2-D"):
        layer(torch.randn(4, 5))
    with pytest.raises(ValueError, match=r"5-D tensor of shape \(1, 1, 4, 5, 5\)"):
        layer(torch.randn(1, 1, 4, 5, 5))
    with pytest.raises(ValueError, match=r"needs 4 input channels, got shape \(2, 3, 5, 5\)"):
        layer(torch.randn(2, 3, 5, 5))
    with pytest.raises(ValueError, match=r"needs 4 input channels, got shape \(3, 5, 5\)"):
        layer(torch.randn(3, 5, 5))


# ---------------------------------------------------------------- state dicts (issue 13.2)


def _other(arrangement: str) -> str:
    return "shifted" if arrangement == "grouped" else "grouped"


def _outputs_unchanged(layer: nn.Module, x: torch.Tensor, load) -> None:
    """``load()`` raises a RuntimeError naming the problem and leaves ``layer`` as it was."""
    before = layer(x)
    load()
    torch.testing.assert_close(layer(x), before, rtol=0, atol=0)


@pytest.mark.parametrize("saved", ARRANGEMENTS)
def test_state_dict_of_the_other_arrangement_is_refused_naming_both(saved):
    torch.manual_seed(10)
    source = HetConv2d(16, 16, 3, p=4, arrangement=saved)
    target = HetConv2d(16, 16, 3, p=4, arrangement=_other(saved))
    x = torch.randn(2, 16, 8, 8)
    # the issue: the same weights compute another function in the other arrangement
    with torch.no_grad():
        target.weight_kxk.copy_(source.weight_kxk)
        target.weight_1x1.copy_(source.weight_1x1)
        target.bias.copy_(source.bias)
    assert (target(x) - source(x)).abs().max() > 0.1
    torch.manual_seed(11)
    target.reset_parameters()

    def load():
        with pytest.raises(RuntimeError) as err:
            target.load_state_dict(source.state_dict())
        message = str(err.value)
        assert f"HetConv2d(arrangement='{saved}', p=4)" in message
        assert f"HetConv2d(arrangement='{_other(saved)}', p=4)" in message
        assert "different function" in message and "relabelled" in message

    _outputs_unchanged(target, x, load)
    # non-strict loading refuses too: it is not a key problem
    with pytest.raises(RuntimeError, match="different function"):
        target.load_state_dict(source.state_dict(), strict=False)


@pytest.mark.parametrize(("m", "n", "p"), [(6, 4, 1), (4, 4, 4), (3, 3, 3)])
def test_arrangements_that_coincide_load_across_exactly(m, n, p):
    torch.manual_seed(12)
    x = torch.randn(2, m, 6, 6)
    for saved in ARRANGEMENTS:
        source = HetConv2d(m, n, 3, p=p, arrangement=saved)
        target = HetConv2d(m, n, 3, p=p, arrangement=_other(saved))
        target.load_state_dict(source.state_dict())
        torch.testing.assert_close(target(x), source(x), rtol=0, atol=0)
        torch.testing.assert_close(target(x), brute_force(target, x), rtol=1e-5, atol=1e-5)


def test_masked_layer_records_p():
    torch.manual_seed(13)
    source, target = MaskedHetConv2d(8, 8, 3, p=2), MaskedHetConv2d(8, 8, 3, p=4)
    x = torch.randn(1, 8, 5, 5)

    def load():
        with pytest.raises(RuntimeError, match=r"MaskedHetConv2d\(p=2\).*MaskedHetConv2d\(p=4\)"):
            target.load_state_dict(source.state_dict())

    _outputs_unchanged(target, x, load)
    same = MaskedHetConv2d(8, 8, 3, p=2)
    same.load_state_dict(source.state_dict())
    torch.testing.assert_close(same(x), source(x), rtol=0, atol=0)
    # a standard convolution has the same weight shape: its state dict has no record
    with pytest.raises(RuntimeError, match=r"Unexpected key.*_extra_state"):
        StandardConv2d(8, 8, 3).load_state_dict(source.state_dict())


@pytest.mark.parametrize("arrangement", ARRANGEMENTS)
def test_state_dict_saved_before_the_record_still_loads(arrangement, recwarn):
    torch.manual_seed(14)
    source = HetConv2d(8, 8, 3, p=2, arrangement=arrangement)
    old = {k: v for k, v in source.state_dict().items() if k != "_extra_state"}
    target = HetConv2d(8, 8, 3, p=2, arrangement=arrangement)
    with pytest.warns(UserWarning, match=r"saved before hetconv_edu recorded arrangement, p"):
        result = target.load_state_dict(old)
    assert not result.missing_keys and not result.unexpected_keys
    x = torch.randn(1, 8, 5, 5)
    torch.testing.assert_close(target(x), source(x), rtol=0, atol=0)
    # unambiguous (P = 1: both arrangements are a standard convolution): no warning
    p1 = HetConv2d(8, 8, 3, p=1, arrangement=arrangement)
    p1.load_state_dict({k: v for k, v in p1.state_dict().items() if k != "_extra_state"})
    assert not [w for w in recwarn if "recorded" in str(w.message)]


def test_damaged_settings_record_refused():
    layer = HetConv2d(4, 4, 3, p=2)
    for bad in (
        torch.tensor([255, 0], dtype=torch.uint8),
        torch.zeros(3),
        torch.tensor(list(b"[1]"), dtype=torch.uint8),
    ):
        state = {**layer.state_dict(), "_extra_state": bad}
        with pytest.raises(RuntimeError, match="settings record '_extra_state' is damaged"):
            layer.load_state_dict(state)


@pytest.mark.parametrize("model", ["small_vgg", "small_resnet"])
def test_model_saved_in_one_arrangement_refused_in_the_other(model, tmp_path):
    from hetconv_edu.models import build_model

    widths = (8, 16, 32)
    grouped = build_model(model, "hetconv:4", seed=0, widths=widths, arrangement="grouped")
    path = tmp_path / "model.pt"
    torch.save(grouped.state_dict(), path)
    state = torch.load(path, weights_only=True)
    shifted = build_model(model, "hetconv:4", seed=1, widths=widths, arrangement="shifted")
    x = torch.randn(2, 3, 16, 16)
    grouped.eval(), shifted.eval()

    het_layers = {n: m for n, m in shifted.named_modules() if isinstance(m, HetConv2d)}
    before = {n: m.dense_weight().detach().clone() for n, m in het_layers.items()}
    with pytest.raises(RuntimeError) as err:
        shifted.load_state_dict(state)
    message = str(err.value)
    assert het_layers and all(f"layer {n!r}" in message for n in het_layers)
    assert "arrangement='grouped'" in message and "arrangement='shifted'" in message
    # as with a shape mismatch, torch copies what fits elsewhere; the refused layers keep theirs
    for name, layer in het_layers.items():
        assert torch.equal(layer.dense_weight(), before[name]), name
    with torch.no_grad():
        same = build_model(model, "hetconv:4", seed=1, widths=widths, arrangement="grouped").eval()
        same.load_state_dict(state)
        torch.testing.assert_close(same(x), grouped(x), rtol=0, atol=0)


def test_no_state_dict_loads_silently_into_a_layer_computing_something_else():
    """Every pair of layers the package builds (all families, both arrangements, P or G of 1, 2
    and 4, the masked and the weight-sharing layers): loading one's state dict into the other
    either raises, warns, or gives exactly the same outputs."""
    import warnings

    torch.manual_seed(15)
    x = torch.randn(2, 4, 5, 5)
    layers = {
        f"{kind}/{v}": build_kind(kind, 4, 4, v, 3, 1) for kind in LAYER_KINDS for v in (1, 2, 4)
    }
    silent = 0
    for source_name, source in layers.items():
        for target_name, target in layers.items():
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    target.load_state_dict(source.state_dict())
                except RuntimeError:
                    continue
            if hasattr(target, "set_p") and hasattr(source, "set_p"):
                if source.p not in target.choices:
                    continue  # the active P is a mode of the layer, not a saved setting
                target.set_p(source.p)
            if caught:
                continue
            silent += 1
            with torch.no_grad():
                torch.testing.assert_close(
                    target(x), source(x), rtol=1e-6, atol=1e-6, msg=f"{source_name} → {target_name}"
                )
    assert silent >= len(layers)  # at least every layer into itself


def test_hetconv2d_docstring_example_runs():
    # the nn.Conv2d-like example in HetConv2d's docstring: shapes, weights and the error
    import doctest
    import io

    tests = doctest.DocTestFinder(recurse=False).find(HetConv2d, "HetConv2d", globs={})
    runner = doctest.DocTestRunner()
    report = io.StringIO()
    for test in tests:
        runner.run(test, out=report.write)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 8, "HetConv2d's docstring lost its example"
    assert result.failed == 0, report.getvalue()
