"""thop, ptflops and fvcore count the package's layers right through the helpers of
hetconv_edu.counters: the paper's MACs (and the executed count on request) for every layer
family, checked against hetconv_edu.flops.network_cost, in each tool's own conventions."""

from __future__ import annotations

import contextlib
import io

import pytest
import torch
from torch import nn

from hetconv_edu.counters import (
    counted_types,
    fvcore_flop_count,
    ptflops_custom_hooks,
    thop_custom_ops,
)
from hetconv_edu.flops import network_cost
from hetconv_edu.layers import MaskedHetConv2d, make_conv
from hetconv_edu.models import build_model
from hetconv_edu.networks import import_torchvision
from hetconv_edu.study.supernet import NestedHetConv2d

pytestmark = pytest.mark.filterwarnings("ignore:torchvision .* compiled operators:UserWarning")

SPECS = [
    "standard",
    "hetconv:4",
    "hetconv:1",
    "naive_hetconv:4",
    "groupwise:4",
    "depthwise_pointwise",
    "groupwise_pointwise:2",
]


def layers():
    """Every family, the masked reference and the best-P study's nested layer."""
    found = {spec: make_conv(spec, 8, 12, 3, stride=2) for spec in SPECS}
    found["hetconv:4 grouped"] = make_conv("hetconv:4", 8, 12, 3, arrangement="grouped")
    found["masked P=2"] = MaskedHetConv2d(8, 12, 3, p=2, bias=False)
    found["nested P=4"] = NestedHetConv2d(8, 12, 3, choices=(1, 2, 4))
    found["nested P=4"].set_p(4)
    return found


SHAPE = (2, 8, 11, 11)


@pytest.fixture
def ptflops():
    """ptflops, imported after torchvision (ptflops imports torchvision.ops, which fails for a
    torchvision built for another torch unless hetconv_edu.networks has imported it), with the
    tensor operators it wraps and does not unwrap (torch.mul, torch.add) restored afterwards."""
    import_torchvision()
    import ptflops

    saved = {
        (owner, name): getattr(owner, name)
        for owner in (torch, torch.Tensor)
        for name in ("mul", "add")
    }
    yield ptflops
    for (owner, name), value in saved.items():
        setattr(owner, name, value)


def thop_profile(model: nn.Module, x: torch.Tensor, custom_ops) -> tuple[float, dict]:
    import thop

    with contextlib.redirect_stdout(io.StringIO()):
        total, _, tree = thop.profile(
            model, (x,), custom_ops=custom_ops, verbose=False, ret_layer_info=True
        )
    return total, tree


def thop_layer(tree: dict, name: str) -> float:
    node = (0, 0, tree)
    for part in name.split("."):
        node = node[2][part]
    return node[0]


@pytest.mark.parametrize("executed", [False, True])
@pytest.mark.parametrize("name", list(layers()))
def test_thop_counts_every_family(name, executed):
    layer = layers()[name].eval()
    cost = network_cost(layer, SHAPE)
    total, _ = thop_profile(layer, torch.randn(*SHAPE), thop_custom_ops(layer, executed=executed))
    assert total == (cost.macs_executed if executed else cost.macs)


@pytest.mark.parametrize("executed", [False, True])
@pytest.mark.parametrize("name", list(layers()))
def test_ptflops_counts_every_family(name, executed, ptflops):
    layer = layers()[name].eval()
    cost = network_cost(layer, (1, *SHAPE[1:]))
    macs, _ = ptflops.get_model_complexity_info(
        layer,
        SHAPE[1:],
        as_strings=False,
        print_per_layer_stat=False,
        custom_modules_hooks=ptflops_custom_hooks(layer, executed=executed),
    )
    # ptflops: MACs plus bias additions, per image
    assert macs == (cost.macs_executed if executed else cost.macs) + cost.bias_adds


@pytest.mark.parametrize("name", list(layers()))
def test_ptflops_aten_backend_counts_what_runs(name, ptflops):
    layer = layers()[name].eval()
    cost = network_cost(layer, (1, *SHAPE[1:]))
    with contextlib.redirect_stdout(io.StringIO()):
        macs, _ = ptflops.get_model_complexity_info(
            layer, SHAPE[1:], as_strings=False, print_per_layer_stat=False, backend="aten"
        )
    assert macs == cost.macs_executed + cost.bias_adds


@pytest.mark.parametrize("executed", [False, True])
@pytest.mark.parametrize("name", list(layers()))
def test_fvcore_counts_every_family(name, executed):
    layer = layers()[name].eval()
    cost = network_cost(layer, SHAPE)
    analysis = fvcore_flop_count(layer, (torch.randn(*SHAPE),), executed=executed)
    analysis.uncalled_modules_warnings(False)
    analysis.tracer_warnings("none")
    assert analysis.total() == (cost.macs_executed if executed else cost.macs)
    unsupported = analysis.unsupported_ops()
    assert not {"aten::index_copy", "aten::index_select"} & set(unsupported)


@pytest.fixture(scope="module")
def vggs():
    return {conv: build_model("small_vgg", conv).eval() for conv in ("standard", "hetconv:4")}


def test_without_the_helpers_the_tools_miss_the_package_layers(vggs, ptflops):
    """The issue's observation: thop sees the same small number for both networks (it matches
    types exactly), ptflops misses HetConv2d; the helpers fix both."""
    x = torch.randn(1, 3, 32, 32)
    thop_plain = {conv: thop_profile(m, x, None)[0] for conv, m in vggs.items()}
    thop_fixed = {conv: thop_profile(m, x, thop_custom_ops(m))[0] for conv, m in vggs.items()}
    assert thop_plain["standard"] == thop_plain["hetconv:4"] < 1e6
    cost = {conv: network_cost(m, (1, 3, 32, 32)) for conv, m in vggs.items()}
    # thop's own extra counts (batch norm, pooling) are the same for both networks
    extra = thop_fixed["standard"] - cost["standard"].macs
    assert thop_fixed["hetconv:4"] - cost["hetconv:4"].macs == extra
    het = vggs["hetconv:4"]
    plain, _ = ptflops.get_model_complexity_info(
        het, (3, 32, 32), as_strings=False, print_per_layer_stat=False
    )
    fixed, _ = ptflops.get_model_complexity_info(
        het,
        (3, 32, 32),
        as_strings=False,
        print_per_layer_stat=False,
        custom_modules_hooks=ptflops_custom_hooks(het),
    )
    assert plain < 1e6 < cost["hetconv:4"].macs < fixed


@pytest.mark.parametrize("conv", ["standard", "hetconv:4"])
def test_per_layer_counts_of_a_network_equal_network_cost(conv, vggs, ptflops):
    model = vggs[conv]
    x = torch.randn(2, 3, 32, 32)
    cost = network_cost(model, x.shape)
    _, tree = thop_profile(model, x, thop_custom_ops(model))
    analysis = fvcore_flop_count(model, (x,))
    analysis.unsupported_ops_warnings(False)
    by_module = analysis.by_module()
    for row in cost.rows:
        assert thop_layer(tree, row.name) == row.macs, row.name
        assert by_module[row.name] == row.macs, row.name
    # ptflops, its own counts of batch norm, activations and pooling left out
    ignored = [nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d, nn.AdaptiveAvgPool2d]
    macs, _ = ptflops.get_model_complexity_info(
        model,
        (3, 32, 32),
        as_strings=False,
        print_per_layer_stat=False,
        ignore_modules=ignored,
        custom_modules_hooks=ptflops_custom_hooks(model),
        backend_specific_config={"count_functional": False},
    )
    assert macs * 2 == cost.macs + cost.bias_adds


def test_converted_torchvision_network_counts(ptflops):
    from hetconv_edu.convert import convert
    from hetconv_edu.networks import build_network

    model = convert(build_network("resnet18"), 4)
    x = torch.randn(1, 3, 32, 32)
    cost = network_cost(model, x.shape)
    _, tree = thop_profile(model, x, thop_custom_ops(model))
    analysis = fvcore_flop_count(model, (x,))
    analysis.unsupported_ops_warnings(False)
    by_module = analysis.by_module()
    for row in cost.rows:
        assert thop_layer(tree, row.name) == row.macs, row.name
        assert by_module[row.name] == row.macs, row.name


def test_counted_types():
    model = nn.Sequential(
        nn.Conv2d(4, 4, 3), make_conv("standard", 4, 4, 3), make_conv("hetconv:2", 4, 4, 3)
    )
    names = [t.__name__ for t in counted_types(model)]
    assert names == ["StandardConv2d", "HetConv2d"]
    assert counted_types(make_conv("naive_hetconv:2", 4, 4, 3)) == ()
    with pytest.raises(ValueError, match=r"model must be a torch\.nn\.Module"):
        counted_types("small_vgg")
    with pytest.raises(ValueError, match="executed must be True or False"):
        thop_custom_ops(model, executed="no")


def test_fvcore_inputs_must_be_a_tuple_not_one_tensor():
    model = nn.Sequential(nn.Conv2d(3, 4, 3))
    x = torch.zeros(2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"inputs must be a tuple .* e\.g\. \(x,\), got a "
                       r"tensor of shape \(2, 3, 8, 8\)"):  # fmt: skip
        fvcore_flop_count(model, x)
    with pytest.raises(ValueError, match=r"inputs must be a tuple .* got None"):
        fvcore_flop_count(model, None)
    assert fvcore_flop_count(model, [x]).total() == fvcore_flop_count(model, (x,)).total() > 0
