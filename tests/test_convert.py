"""Converting any network to HetConv (hetconv_edu.convert): torchvision's resnet18, vgg11 and
mobilenet_v2 (built without weights), the package's models and a module with odd channel
counts compute, after conversion, exactly their masked dense reference (float64); parameter
counts follow the paper's formula; every ineligible layer is kept untouched, with its reason."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.utils.parametrizations
import torch.nn.utils.prune
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from hetconv_edu.convert import convert, plan_conversion
from hetconv_edu.layers import HetConv2d, hetconv_mask
from hetconv_edu.networks import build_network

pytestmark = pytest.mark.filterwarnings("ignore:torchvision .* compiled operators:UserWarning")


class OddChannels(nn.Module):
    """Channel counts P = 2 or 3 divide only in places, and every kind of ineligible layer."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 6, 3, padding=1)  # P=3 divides 3 and 6, P=2 does not
        self.body = nn.Sequential(
            nn.Conv2d(6, 10, 5, stride=2, padding=2, bias=False),  # P=2 only
            nn.ReLU(),
            nn.Conv2d(10, 15, 3, padding=2, dilation=2),  # P=5 only
            nn.Conv2d(15, 15, 3, padding=1, groups=5),  # grouped
            nn.Conv2d(15, 9, (1, 3), padding=(0, 1)),  # not square
            nn.Conv2d(9, 9, 1),  # pointwise
            nn.Conv2d(9, 9, 3, padding=1, padding_mode="reflect"),  # other padding
            nn.Conv2d(9, 9, 3, padding=0),  # valid padding, shrinks the map
        )
        self.head = nn.Linear(9, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.stem(x)).mean((2, 3)))


def small_torchvision(name: str) -> nn.Module:
    model = build_network(name)
    if name == "vgg11":  # 120M classifier weights of 7×7×512 features: not what is tested here
        model.classifier = nn.Linear(512 * 7 * 7, 10)
    return model


NETWORKS = {
    "resnet18": (lambda: small_torchvision("resnet18"), (2, 3, 32, 32)),
    "vgg11": (lambda: small_torchvision("vgg11"), (1, 3, 32, 32)),
    "mobilenet_v2": (lambda: small_torchvision("mobilenet_v2"), (2, 3, 32, 32)),
    "small_vgg": (lambda: build_network("small_vgg"), (2, 3, 32, 32)),
    "small_resnet": (lambda: build_network("small_resnet"), (2, 3, 32, 32)),
    "odd_channels": (OddChannels, (2, 3, 13, 11)),
}


def masked_reference(model: nn.Module, plan, arrangement: str) -> nn.Module:
    """The original network with each converted convolution's weight times the HetConv mask:
    the paper's operation by definition (kept K×K kernels and centre taps, zeros elsewhere)."""
    reference = copy.deepcopy(model)
    with torch.no_grad():
        for d in plan.converted:
            conv = reference.get_submodule(d.name)
            k = d.kernel_size[0]
            mask = hetconv_mask(d.in_channels, d.out_channels, k, d.p, arrangement)
            conv.weight.mul_(torch.from_numpy(mask).to(conv.weight))
    return reference


@pytest.mark.parametrize("arrangement", ["shifted", "grouped"])
@pytest.mark.parametrize("name", list(NETWORKS))
def test_converted_network_equals_its_masked_dense_reference(name, arrangement):
    build, shape = NETWORKS[name]
    torch.manual_seed(0)
    model = build().double().eval()
    p = {"odd_channels": 3}.get(name, 4)
    plan = plan_conversion(model, p, arrangement=arrangement)
    converted = convert(model, p, arrangement=arrangement)
    x = torch.randn(*shape, dtype=torch.float64)
    expected = masked_reference(model, plan, arrangement)(x)
    torch.testing.assert_close(converted(x), expected, rtol=1e-10, atol=1e-10)
    if plan.converted:  # the conversion did change the function: the mask removed weights
        assert not torch.allclose(model(x), expected)
    for d in plan.converted:
        layer = converted.get_submodule(d.name)
        assert isinstance(layer, HetConv2d) and layer.p == d.p
        assert layer.arrangement == arrangement


def test_mobilenet_v2_has_nothing_to_convert_and_says_why():
    """MobileNetV2's 3×3 convolutions are depthwise already; its 3-channel stem admits no P."""
    model = small_torchvision("mobilenet_v2")
    plan = plan_conversion(model, 4)
    assert plan.converted == ()
    reasons = {d.reason.split(":")[0] for d in plan.skipped}
    assert any(r.startswith("groups=") and "(depthwise)" in r for r in reasons)
    assert any("1×1 kernel" in r for r in reasons)
    assert any(d.reason.startswith("P=4 does not divide M=3") for d in plan.skipped)


@pytest.mark.parametrize("name", ["resnet18", "small_vgg", "odd_channels"])
def test_parameter_counts_follow_the_papers_formula(name):
    model = NETWORKS[name][0]()
    p = 3 if name == "odd_channels" else 4
    plan = plan_conversion(model, p)
    converted = convert(model, p)
    saved = 0
    for d in plan.converted:
        m, n, k, bias = d.in_channels, d.out_channels, d.kernel_size[0], 0
        layer = converted.get_submodule(d.name)
        bias = n if layer.bias is not None else 0
        formula = n * (m * k * k // p + m - m // p)
        assert sum(t.numel() for t in layer.parameters()) == formula + bias
        saved += n * m * k * k - formula
    total = sum(t.numel() for t in model.parameters())
    assert sum(t.numel() for t in converted.parameters()) == total - saved
    assert saved > 0


def test_weights_carry_over_where_hetconv_keeps_them():
    torch.manual_seed(1)
    model = OddChannels()
    converted = convert(model, plan={"stem": 3, "body.0": 2})
    for name, p in (("stem", 3), ("body.0", 2)):
        conv, layer = model.get_submodule(name), converted.get_submodule(name)
        m, n, k = conv.in_channels, conv.out_channels, conv.kernel_size[0]
        mask = torch.from_numpy(hetconv_mask(m, n, k, p))
        assert torch.equal(layer.dense_weight(), conv.weight * mask)
        # the K×K kernels whole, the 1×1 kernels are exactly the centre taps
        centre = conv.weight[:, :, k // 2, k // 2]
        ones = torch.from_numpy(hetconv_mask(m, n, 1, p))[:, :, 0, 0].bool()
        kxk = mask.sum((2, 3)) > 1
        assert torch.equal(layer.weight_1x1.flatten(), centre[~kxk & ones])
        assert (conv.bias is None) == (layer.bias is None)
        if conv.bias is not None:
            assert torch.equal(layer.bias, conv.bias)


def test_ineligible_layers_are_kept_untouched_with_their_reasons():
    model = OddChannels()
    before = copy.deepcopy(model.state_dict())
    plan = plan_conversion(model, 2)
    converted = convert(model, 2)
    reasons = {d.name: d.reason for d in plan.skipped}
    assert [d.name for d in plan.converted] == ["body.0"]
    assert reasons["stem"].startswith("P=2 does not divide M=3")
    assert reasons["body.2"].startswith("P=2 does not divide N=15")
    assert reasons["body.3"].startswith("groups=5 (grouped)")
    assert reasons["body.4"].startswith("kernel 1×3 is not square")
    assert reasons["body.5"].startswith("1×1 kernel")
    assert reasons["body.6"].startswith("padding_mode='reflect'")
    assert set(reasons) == {"stem", "body.2", "body.3", "body.4", "body.5", "body.6", "body.7"}
    for name in reasons:
        kept, original = converted.get_submodule(name), model.get_submodule(name)
        assert type(kept) is nn.Conv2d and kept is not original
        for key, value in original.state_dict().items():
            assert torch.equal(kept.state_dict()[key], value)
    # the original network is not modified
    assert all(type(model.get_submodule(d.name)) is nn.Conv2d for d in plan.decisions)
    for key, value in model.state_dict().items():
        assert torch.equal(before[key], value)


def test_other_reasons_a_convolution_is_kept():
    class Scaled(nn.Conv2d):
        def forward(self, x):
            return 2 * super().forward(x)

    model = nn.Sequential(
        Scaled(4, 4, 3, padding=1),
        nn.Conv2d(4, 4, 2),
        nn.ConvTranspose2d(4, 4, 3),
        nn.Conv2d(4, 4, 3, padding=1),
        HetConv2d(4, 4, 3, p=2),
    )
    plan = plan_conversion(model, plan={"0": 2, "1": 2, "2": 2, "3": 1})
    reasons = [d.reason for d in plan.decisions]
    assert reasons[0].startswith("a subclass of nn.Conv2d with its own forward (Scaled)")
    assert reasons[1].startswith("kernel 2×2 has no centre tap")
    assert reasons[2].startswith("a ConvTranspose2d: HetConv replaces nn.Conv2d only")
    assert reasons[3].startswith("P=1 is a standard convolution")
    assert reasons[4] == "not in the plan"
    assert plan_conversion(model, 2).decisions[4].reason == "already a HetConv2d (P=2)"
    text = plan.text()
    assert text.splitlines()[0] == "0 of 5 convolutions become HetConv (shifted arrangement)"
    assert "  3 (Conv2d 4→4, 3×3): kept: P=1 is a standard convolution" in text


def test_a_plan_gives_each_named_layer_its_own_p():
    model = build_network("small_vgg")
    plan = {"features.4": 2, "features.11": 8}
    converted = convert(model, plan=plan)
    for name, module in converted.named_modules():
        if name in plan:
            assert isinstance(module, HetConv2d) and module.p == plan[name]
        else:
            assert not isinstance(module, HetConv2d)
    listed = plan_conversion(model, plan=plan)
    assert [d.name for d in listed.converted] == ["features.4", "features.11"]
    assert {d.reason for d in listed.skipped} == {"not in the plan"}


def test_a_shared_convolution_is_replaced_everywhere_by_one_layer():
    conv = nn.Conv2d(4, 4, 3, padding=1)
    model = nn.Sequential(conv, nn.ReLU(), conv)
    converted = convert(model, 2)
    assert isinstance(converted[0], HetConv2d) and converted[0] is converted[2]


def test_settings_dtype_mode_and_frozen_weights_carry_over():
    conv = nn.Conv2d(8, 16, 3, stride=2, padding=2, dilation=2, bias=False, dtype=torch.float64)
    conv.weight.requires_grad_(False)
    model = nn.Sequential(conv).eval()
    layer = convert(model, 4)[0]
    assert (layer.stride, layer.padding, layer.dilation) == ((2, 2), (2, 2), (2, 2))
    assert layer.bias is None and layer.weight_kxk.dtype == torch.float64
    assert not layer.training
    assert not any(t.requires_grad for t in layer.parameters())
    x = torch.randn(1, 8, 9, 9, dtype=torch.float64)
    assert layer(x).shape == conv(x).shape


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give either p .* got neither"),
        ({"p": 4, "plan": {"features.4": 2}}, "not both"),
        ({"p": 0}, "p must be a positive integer, got 0"),
        ({"p": 2.0}, "p must be a positive integer, got 2.0"),
        ({"plan": {}}, "plan must be a non-empty mapping"),
        ({"plan": {"features": 2}}, "plan names 'features': a Sequential, not a convolution"),
        ({"plan": {"nope": 2}}, "'nope': not a module of this network; the convolutions of VGG"),
        ({"plan": {"features.4": -1}}, r"plan\['features.4'\] must be a positive integer"),
        ({"p": 4, "arrangement": "block"}, "arrangement must be one of"),
    ],
)
def test_bad_requests_are_refused_in_one_clear_line(kwargs, message):
    model = build_network("small_vgg")
    for call in (convert, plan_conversion):
        with pytest.raises(ValueError, match=message):
            call(model, **kwargs)


def test_a_non_module_is_refused():
    with pytest.raises(ValueError, match=r"model must be a torch\.nn\.Module"):
        convert("resnet18", 4)


def test_convolutions_whose_weight_is_computed_or_unknown_are_kept_with_their_reasons():
    pruned = nn.Conv2d(4, 4, 3, padding=1)
    torch.nn.utils.prune.l1_unstructured(pruned, "weight", amount=0.5)
    model = nn.Sequential(
        torch.nn.utils.parametrizations.weight_norm(nn.Conv2d(4, 4, 3, padding=1)),
        pruned,
        nn.LazyConv2d(4, 3, padding=1),
        nn.Conv2d(4, 4, 3, padding=1),
    )
    plan = plan_conversion(model, 2)
    reasons = [d.reason for d in plan.decisions]
    assert reasons[0].startswith("its weight is parametrized (torch.nn.utils.parametrize")
    assert reasons[1].startswith("it has forward pre-hooks (L1Unstructured;")
    assert reasons[2].startswith("an uninitialized LazyConv2d: run one forward pass first")
    assert [d.name for d in plan.converted] == ["3"]
    converted = convert(model, 2)
    x = torch.randn(1, 4, 6, 6)
    # the kept layers still compute what they did: their parametrization and pruning live on
    for i in (0, 1):
        assert torch.equal(converted[i](x), model[i](x))
        assert type(converted[i]) is type(model[i])
    assert isinstance(converted[3], HetConv2d)
    with torch.no_grad():  # the copy's pruning recomputes its weight from its own tensors
        converted[1].weight_orig.add_(1.0)
    converted[1](x)
    assert torch.equal(converted[1].weight, (model[1].weight_orig + 1) * model[1].weight_mask)
    assert torch.equal(model[1].weight, model[1].weight_orig * model[1].weight_mask)


def test_a_frozen_bias_stays_frozen_and_a_trainable_weight_trainable():
    conv = nn.Conv2d(4, 4, 3, padding=1)
    conv.bias.requires_grad_(False)
    layer = convert(nn.Sequential(conv), 2)[0]
    assert layer.weight_kxk.requires_grad and layer.weight_1x1.requires_grad
    assert not layer.bias.requires_grad


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 12), n=st.integers(1, 12), p=st.integers(1, 12))
def test_a_plan_is_applied_exactly_or_refused_naming_the_layer_and_the_allowed_parts(m, n, p):
    model = nn.Sequential(nn.Conv2d(m, n, 3, padding=1))
    if p == 1 or (m % p == 0 and n % p == 0):
        layer = convert(model, plan={"0": p})[0]
        assert isinstance(layer, HetConv2d) == (p > 1)
        if p > 1:
            assert layer.p == p
        return
    with pytest.raises(ValueError) as refused:
        convert(model, plan={"0": p})
    message = str(refused.value)
    assert f"'0' with P={p} (P={p} does not divide" in message and "\n" not in message
    assert f"P allowed here: {[d for d in range(1, min(m, n) + 1) if m % d == n % d == 0]}" in (
        message
    )
    # the dry run lists it instead of refusing
    assert plan_conversion(model, plan={"0": p}).skipped[0].name == "0"


def test_a_plan_naming_several_layers_it_cannot_convert_lists_each():
    converted_once = convert(nn.Sequential(nn.Conv2d(4, 4, 3), nn.Conv2d(4, 4, 1)), 2)
    with pytest.raises(ValueError) as refused:
        convert(converted_once, plan={"0": 4, "1": 2})
    message = str(refused.value)
    assert "'0' with P=4 (already a HetConv2d (P=2))" in message
    assert "'1' with P=2 (1×1 kernel: already pointwise" in message
    # P=1 asks to keep a layer: never refused
    assert convert(converted_once, plan={"0": 1, "1": 1})[0].p == 2
