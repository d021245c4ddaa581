"""Wall-clock timing of layers and networks: one timer for the benchmarks and the notebooks.

Machines are noisy, so candidates are timed interleaved: every round runs each candidate once,
in an order rotated from round to round, and each candidate's figure is its median over rounds.
Compare candidates only within one call.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from hetconv_edu.checks import input_refused

__all__ = ["Timing", "layer_step", "time_candidates", "time_layers"]


@dataclass(frozen=True)
class Timing:
    """Seconds per call of one candidate: the median over rounds, and every round's time."""

    name: str
    median_s: float
    times_s: tuple[float, ...]

    @property
    def spread(self) -> float:
        """(max − min) / median over the rounds, a quick noise gauge."""
        return (max(self.times_s) - min(self.times_s)) / self.median_s


def time_candidates(
    candidates: Mapping[str, Callable[[], object]],
    *,
    rounds: int = 7,
    warmup: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Timing]:
    """Time each zero-argument callable, interleaved over ``rounds`` rotated rounds.

    ``warmup`` untimed calls of each candidate come first. ``progress(done, total)`` is called
    after every timed call (for progress bars; total = rounds · len(candidates)).
    """
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (rounds, warmup)) or (
        rounds < 1 or warmup < 0
    ):
        raise ValueError(
            f"need integers rounds >= 1 and warmup >= 0, got rounds={rounds!r}, warmup={warmup!r}"
        )
    names = list(candidates)
    if not names:
        raise ValueError("time_candidates needs at least one candidate")
    for name in names:
        for _ in range(warmup):
            candidates[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    total, done = rounds * len(names), 0
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            candidates[name]()
            times[name].append(time.perf_counter() - start)
            done += 1
            if progress is not None:
                progress(done, total)
    return {n: Timing(n, statistics.median(t), tuple(t)) for n, t in times.items()}


def layer_step(
    module: nn.Module,
    input_shape: Iterable[int],
    *,
    backward: bool = False,
    channels_last: bool = True,
    device: torch.device | str = "cpu",
) -> Callable[[], object]:
    """A zero-argument callable running ``module`` once on a fixed random input.

    ``backward=False``: a forward pass under ``torch.inference_mode``. ``backward=True``: a
    forward and a backward pass (weight and input gradients, as inside a network), gradients
    reset to None each call. The backward pass starts from a fixed random gradient laid out like
    the output, as the next layer of a network hands one back; ``output.sum().backward()`` would
    start from a stride-0 tensor of ones instead, which layers that reorder channels turn into
    a contiguous NCHW gradient and then pay to convert. ``channels_last`` puts module and input
    in NHWC memory format, usually the faster one for convolutions on CPU.

    Raises:
        ValueError: ``module`` cannot run on that input, when the step is made or called (a
            map shrunk below a kernel, the wrong channels, not enough memory:
            :func:`~hetconv_edu.checks.input_refused`).
    """
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    module = module.to(device=device, memory_format=fmt)
    param = next(module.parameters(), None)
    dtype = param.dtype if param is not None and param.is_floating_point() else None
    shape = tuple(input_shape)
    network = type(module).__name__
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    try:
        x = torch.randn(*shape, device=device, dtype=dtype).contiguous(memory_format=fmt)
    except RuntimeError as error:
        raise input_refused(network, shape, error) from None

    if not backward:
        module.eval()

        def forward() -> None:
            try:
                with torch.inference_mode():
                    module(x)
            except RuntimeError as error:
                raise input_refused(network, shape, error) from None
            sync()

        return forward

    module.train()
    x.requires_grad_(True)
    try:
        with torch.no_grad():
            grad = torch.randn_like(module(x))
    except RuntimeError as error:
        raise input_refused(network, shape, error) from None

    def forward_backward() -> None:
        module.zero_grad(set_to_none=True)
        x.grad = None
        try:
            module(x).backward(grad)
        except RuntimeError as error:
            raise input_refused(network, shape, error) from None
        sync()

    return forward_backward


def time_layers(
    modules: Mapping[str, nn.Module],
    input_shape: Iterable[int],
    *,
    backward: bool = False,
    channels_last: bool | Mapping[str, bool] = True,
    rounds: int = 7,
    warmup: int = 2,
    device: torch.device | str = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Timing]:
    """Time several modules on the same input shape (:func:`layer_step` +
    :func:`time_candidates`). ``channels_last`` may be given per module name."""
    shape = tuple(input_shape)
    steps = {
        name: layer_step(
            module,
            shape,
            backward=backward,
            channels_last=channels_last
            if isinstance(channels_last, bool)
            else channels_last.get(name, True),
            device=device,
        )
        for name, module in modules.items()
    }
    return time_candidates(steps, rounds=rounds, warmup=warmup, progress=progress)
