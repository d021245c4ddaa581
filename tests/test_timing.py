"""The interleaved timer (hetconv_edu.timing): call counts, rotation, progress, and the layer
steps it times."""

from __future__ import annotations

import statistics
import time

import pytest
import torch
from torch import nn

from hetconv_edu.layers import HetConv2d, StandardConv2d
from hetconv_edu.timing import Timing, layer_step, time_candidates, time_layers


def recorder(names):
    calls: list[str] = []
    candidates = {name: (lambda name=name: calls.append(name)) for name in names}
    return calls, candidates


def test_warmup_then_rotated_rounds():
    names = ["a", "b", "c"]
    calls, candidates = recorder(names)
    result = time_candidates(candidates, rounds=5, warmup=2)
    warm, timed = calls[:6], calls[6:]
    assert warm == ["a", "a", "b", "b", "c", "c"]
    assert len(timed) == 15
    for r in range(5):
        s = r % 3
        assert timed[3 * r : 3 * r + 3] == names[s:] + names[:s]
    assert list(result) == names
    for name, timing in result.items():
        assert isinstance(timing, Timing) and timing.name == name
        assert len(timing.times_s) == 5
        assert all(t >= 0 for t in timing.times_s)
        assert timing.median_s == statistics.median(timing.times_s)


def test_no_warmup_and_single_candidate():
    calls, candidates = recorder(["only"])
    result = time_candidates(candidates, rounds=3, warmup=0)
    assert calls == ["only"] * 3
    assert len(result["only"].times_s) == 3


def test_progress_callback():
    _, candidates = recorder(["a", "b"])
    seen: list[tuple[int, int]] = []
    time_candidates(candidates, rounds=4, warmup=1, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(i, 8) for i in range(1, 9)]


def test_times_measure_the_call():
    result = time_candidates(
        {"sleep": lambda: time.sleep(0.01), "noop": lambda: None}, rounds=3, warmup=0
    )
    assert min(result["sleep"].times_s) >= 0.009
    assert result["sleep"].median_s > 10 * result["noop"].median_s


def test_spread():
    timing = Timing("x", 2.0, (1.0, 2.0, 5.0))
    assert timing.spread == 2.0


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"rounds": 0}, "rounds"),
        ({"rounds": -3}, "rounds"),
        ({"rounds": 2.5}, "rounds"),
        ({"rounds": True}, "rounds"),
        ({"warmup": -1}, "warmup"),
        ({"warmup": 1.0}, "warmup"),
    ],
)
def test_bad_settings_raise_before_any_call(kwargs, pattern):
    calls, candidates = recorder(["a"])
    with pytest.raises(ValueError, match=pattern):
        time_candidates(candidates, **kwargs)
    assert calls == []


def test_no_candidates():
    with pytest.raises(ValueError, match="candidate"):
        time_candidates({}, rounds=2)


def watch(module: nn.Module) -> list[dict]:
    """Record, for every forward call, the input's memory format and the autograd state."""
    seen: list[dict] = []

    def hook(mod, inputs):
        x = inputs[0]
        seen.append(
            {
                "channels_last": x.is_contiguous(memory_format=torch.channels_last)
                and not x.is_contiguous(),
                "inference": torch.is_inference_mode_enabled(),
                "requires_grad": x.requires_grad,
                "training": mod.training,
            }
        )

    module.register_forward_pre_hook(hook)
    return seen


@pytest.mark.parametrize("channels_last", [True, False])
def test_layer_step_forward(channels_last):
    module = HetConv2d(4, 4, 3, p=2)
    module.train()
    seen = watch(module)
    step = layer_step(module, (2, 4, 5, 5), channels_last=channels_last)
    assert not module.training
    assert module.weight_kxk.is_contiguous(memory_format=torch.channels_last) == channels_last
    step()
    step()
    assert len(seen) == 2
    assert all(s["channels_last"] == channels_last for s in seen)
    assert all(s["inference"] and not s["training"] for s in seen)
    assert all(t.grad is None for t in module.parameters())


@pytest.mark.parametrize("channels_last", [True, False])
def test_layer_step_backward_produces_fresh_gradients(channels_last):
    torch.manual_seed(0)
    module = HetConv2d(4, 6, 3, p=2, arrangement="grouped")
    seen = watch(module)
    upstream: list[torch.Tensor] = []

    def keep_upstream(mod, inputs, out):
        if out.requires_grad:
            out.register_hook(upstream.append)

    module.register_forward_hook(keep_upstream)
    step = layer_step(module, (2, 4, 5, 5), backward=True, channels_last=channels_last)
    step()
    assert module.training
    assert seen[0]["channels_last"] == channels_last
    assert seen[0]["requires_grad"] and not seen[0]["inference"]
    grads = {name: t.grad.clone() for name, t in module.named_parameters()}
    assert set(grads) == {"weight_kxk", "weight_1x1", "bias"}
    assert all(torch.count_nonzero(g) > 0 for g in grads.values())
    # the backward pass starts from a dense random gradient in the output's layout, as a
    # network's next layer hands back (not the stride-0 ones of output.sum())
    (g,) = upstream
    assert 0 not in g.stride() and g.std() > 0.5
    assert g.is_contiguous(memory_format=torch.channels_last) == channels_last
    torch.testing.assert_close(grads["bias"], g.sum(dim=(0, 2, 3)))
    step()  # same input and upstream gradient again: gradients are reset, not accumulated
    torch.testing.assert_close(upstream[1], g)
    for name, t in module.named_parameters():
        torch.testing.assert_close(t.grad, grads[name])


def test_time_layers():
    modules = {"std": StandardConv2d(4, 4, 3), "het": HetConv2d(4, 4, 3, p=2)}
    seen = {name: watch(m) for name, m in modules.items()}
    progress: list[int] = []
    result = time_layers(
        modules,
        (1, 4, 6, 6),
        rounds=3,
        warmup=1,
        channels_last={"std": False},
        progress=lambda d, t: progress.append(d),
    )
    assert set(result) == {"std", "het"}
    assert all(len(t.times_s) == 3 for t in result.values())
    assert progress == list(range(1, 7))
    assert len(seen["std"]) == len(seen["het"]) == 4
    assert not any(s["channels_last"] for s in seen["std"])  # per-module setting
    assert all(s["channels_last"] for s in seen["het"])  # default: channels_last


@pytest.mark.parametrize("backward", [False, True])
def test_layer_step_uses_the_module_dtype(backward):
    module = HetConv2d(4, 4, 3, p=2, dtype=torch.float64)
    seen: list[torch.dtype] = []
    module.register_forward_pre_hook(lambda mod, inputs: seen.append(inputs[0].dtype))
    layer_step(module, (1, 4, 5, 5), backward=backward)()
    assert seen and set(seen) == {torch.float64}


class OutOfMemory(nn.Module):
    """Runs out of memory as a GPU does with a batch too large."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


@pytest.mark.parametrize("backward", [False, True])
def test_an_input_the_module_cannot_take_is_one_line_naming_the_shape(backward):
    step = lambda: layer_step(nn.Sequential(nn.Conv2d(3, 4, 5)), (2, 3, 4, 4), backward=backward)()  # noqa: E731
    with pytest.raises(ValueError) as refused:
        step()
    message = str(refused.value)
    assert message.startswith("Sequential cannot run on an input of shape (2, 3, 4, 4): ")
    assert "Kernel size can't be greater than actual input size" in message
    assert "\n" not in message and "height and width" in message
    with pytest.raises(ValueError, match=r"OutOfMemory cannot run on .*\(64, 3, 8, 8\).* "
                       r"out of memory.*use a smaller batch or input size"):  # fmt: skip
        layer_step(OutOfMemory(), (64, 3, 8, 8), backward=backward)()


def test_an_input_too_large_to_allocate_is_one_line(monkeypatch):
    def cannot_allocate(*shape, **_):
        raise RuntimeError(f"DefaultCPUAllocator: can't allocate memory: {shape}")

    monkeypatch.setattr(torch, "randn", cannot_allocate)
    shape = r"\(10000, 3, 9999, 9999\)"
    with pytest.raises(ValueError, match=rf"Conv2d cannot run on an input of shape {shape}: "
                       r".*use a smaller batch or input size$"):  # fmt: skip
        layer_step(nn.Conv2d(3, 4, 3), (10000, 3, 9999, 9999))
