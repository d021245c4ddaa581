"""Deploying HetConv: ``torch.export.export`` works on every layer family and on a converted
network, and ONNX export (both of torch's exporters) runs in onnxruntime with the outputs
PyTorch computes."""

from __future__ import annotations

import io
import warnings

import numpy as np
import onnxruntime
import pytest
import torch
from torch import nn

from hetconv_edu.convert import convert
from hetconv_edu.layers import MaskedHetConv2d, make_conv
from hetconv_edu.networks import build_network

FAMILIES = {
    "standard": lambda: make_conv("standard", 8, 12, 3),
    "hetconv shifted": lambda: make_conv("hetconv:4", 8, 12, 3, stride=2),
    "hetconv grouped": lambda: make_conv("hetconv:4", 8, 12, 3, arrangement="grouped"),
    "hetconv P=1": lambda: make_conv("hetconv:1", 8, 12, 3),
    "masked reference": lambda: MaskedHetConv2d(8, 12, 3, p=2),
    "naive hetconv": lambda: make_conv("naive_hetconv:4", 8, 12, 3),
    "groupwise": lambda: make_conv("groupwise:4", 8, 12, 3),
    "depthwise+pointwise": lambda: make_conv("depthwise_pointwise", 8, 12, 3),
    "groupwise+pointwise": lambda: make_conv("groupwise_pointwise:2", 8, 12, 3),
}


def converted_resnet() -> nn.Module:
    """The package's small ResNet with every eligible convolution turned HetConv (shifted)."""
    return convert(build_network("small_resnet"), 4)


def inputs(channels: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(2, channels, 12, 12, generator=generator)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_torch_export_of_every_family_computes_the_same(name):
    torch.manual_seed(0)
    layer = FAMILIES[name]().eval()
    x = inputs(8)
    program = torch.export.export(layer, (x,))
    x2 = inputs(8, seed=1)
    torch.testing.assert_close(program.module()(x2), layer(x2), rtol=0, atol=0)


def test_torch_export_of_a_converted_network_computes_the_same():
    torch.manual_seed(0)
    model = converted_resnet().eval()
    x = torch.randn(2, 3, 32, 32)
    program = torch.export.export(model, (x,))
    x2 = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(program.module()(x2), model(x2), rtol=0, atol=0)


def onnx_bytes(model: nn.Module, x: torch.Tensor, dynamo: bool) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporters' deprecation and progress notes
        if dynamo:
            return torch.onnx.export(model, (x,), dynamo=True, verbose=False).model_proto
        buffer = io.BytesIO()
        torch.onnx.export(model, (x,), buffer, dynamo=False)
        return buffer.getvalue()


def run_onnx(model_bytes, x: torch.Tensor) -> np.ndarray:
    if not isinstance(model_bytes, bytes):
        model_bytes = model_bytes.SerializeToString()
    session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]


@pytest.mark.parametrize("dynamo", [True, False], ids=["dynamo", "torchscript"])
@pytest.mark.parametrize("name", ["hetconv shifted", "hetconv grouped", "masked reference"])
def test_onnx_export_of_hetconv_runs_in_onnxruntime(name, dynamo):
    """The shifted layer's channel shuffle was the construct the TorchScript-based exporter
    could not export; it exports now, through both exporters."""
    torch.manual_seed(0)
    layer = FAMILIES[name]().eval()
    x = inputs(8)
    got = run_onnx(onnx_bytes(layer, x, dynamo), x)
    np.testing.assert_allclose(got, layer(x).detach().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "name", ["standard", "naive hetconv", "depthwise+pointwise", "groupwise+pointwise"]
)
def test_onnx_export_of_the_other_families_runs_in_onnxruntime(name):
    torch.manual_seed(0)
    layer = FAMILIES[name]().eval()
    x = inputs(8)
    got = run_onnx(onnx_bytes(layer, x, dynamo=True), x)
    np.testing.assert_allclose(got, layer(x).detach().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dynamo", [True, False], ids=["dynamo", "torchscript"])
def test_onnx_export_of_a_converted_network_runs_in_onnxruntime(dynamo):
    torch.manual_seed(0)
    model = converted_resnet().eval()
    x = torch.randn(2, 3, 32, 32)
    got = run_onnx(onnx_bytes(model, x, dynamo), x)
    np.testing.assert_allclose(got, model(x).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_traced_shifted_layer_has_no_channel_shuffle_and_computes_the_same():
    """Traced (TorchScript exporter, fvcore) the shifted layer uses its reshape/permute form of
    the shuffle; both forms give the same numbers in either memory format."""
    torch.manual_seed(0)
    layer = make_conv("hetconv:4", 8, 8, 3).eval()
    for fmt in (torch.contiguous_format, torch.channels_last):
        x = inputs(8).contiguous(memory_format=fmt)
        traced = torch.jit.trace(layer, (x,))
        assert "channel_shuffle" not in str(traced.graph)
        torch.testing.assert_close(traced(x), layer(x), rtol=0, atol=0)
