"""The best-P study's measurements: what each configuration costs and loses, on which data.

* **Costs** — :func:`measure_layers` (each layer's analytic MACs and parameters,
  :mod:`hetconv_edu.study.costs`, with its measured inference and training-step milliseconds
  per image at each P, timed interleaved by
  :func:`hetconv_edu.timing.time_layers`), :func:`measure_network` (whole networks), and
  :func:`fit_time_model` (the line from the layers' summed time to the whole network's).
* **Accuracy** — :func:`evaluate_config` (the weight-sharing network in one configuration, after
  re-estimating batch-norm statistics) and :func:`measure_sensitivity` (each layer's accuracy
  lost when only it takes a larger P).
* **Data and recipe** — :func:`split_validation` (training images and a disjoint validation
  split for the search) and :func:`study_config` (the training recipe of every network).
* **Provenance** — :func:`provenance` (command, date, versions, machine) and
  :func:`git_commit`.

What the measurements fill in is :mod:`hetconv_edu.study.results`.
"""

from __future__ import annotations

import datetime
import math
import platform
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hetconv_edu.data import ImageDataset
from hetconv_edu.flops import network_cost
from hetconv_edu.layers import HetConv2d
from hetconv_edu.study.costs import analytic_layers
from hetconv_edu.study.results import Costs, LayerCosts
from hetconv_edu.study.supernet import (
    SuperNet,
    SuperNetTrainer,
    recalibrate_batchnorm,
)
from hetconv_edu.timing import time_layers
from hetconv_edu.train import TrainConfig

__all__ = [
    "evaluate_config",
    "fit_time_model",
    "git_commit",
    "measure_layers",
    "measure_network",
    "measure_sensitivity",
    "provenance",
    "split_validation",
    "study_config",
]


def provenance(
    command: Sequence[str], data: dict[str, Any], training_budget: dict[str, Any]
) -> dict[str, Any]:
    """Where results come from: the command line, the date, package and torch versions, the
    machine (CPU, cores, threads, device), the data and the training budget."""
    from hetconv_edu import __version__
    from hetconv_edu.train import physical_cores

    return {
        "command": " ".join(command),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "package_version": __version__,
        "torch_version": torch.__version__,
        "python_version": sys.version.split()[0],
        "git_commit": git_commit(),
        "machine": {
            "platform": platform.platform(),
            "processor": _cpu_name(),
            "physical_cores": physical_cores(),
            "torch_threads": torch.get_num_threads(),
        },
        "data": dict(data),
        "training_budget": dict(training_budget),
    }


_ROOT = Path(__file__).resolve().parents[2]


def git_commit() -> str:
    """The checkout's commit, with "+changes" when its files differ from it ("" outside git)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=_ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return ""
    return head + ("+changes" if dirty else "")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# ---- the study's data and recipe -------------------------------------------------------------


def split_validation(
    dataset: ImageDataset, train: int, val: int, seed: int
) -> tuple[ImageDataset, ImageDataset]:
    """The study's two data sets from one: ``train`` training images drawn by a seeded
    permutation, with the test set (to report accuracies) and with a validation split of the
    next ``val`` training images, disjoint from them, as its test split (for the search).

    Raises:
        ValueError: ``train + val`` exceeds the training images.
    """
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(dataset.train_labels), generator=g)
    if train + val > len(order):
        raise ValueError(
            f"{train} training + {val} validation images exceed the {len(order)} training "
            f"images of {dataset.name}"
        )
    tr, va = order[:train], order[train : train + val]
    images, labels = dataset.train_images, dataset.train_labels
    for_test = ImageDataset.from_tensors(
        dataset.name, images[tr], labels[tr], dataset.test_images, dataset.test_labels,
        dataset.classes,
    )  # fmt: skip
    for_search = ImageDataset.from_tensors(
        dataset.name, images[tr], labels[tr], images[va], labels[va], dataset.classes
    )
    return for_test, for_search


def study_config(
    model: str,
    conv: str | list[str],
    model_kwargs: dict[str, Any],
    *,
    seed: int,
    epochs: int,
    batch_size: int,
    device: str,
    threads: int | None,
    run_dir: str,
) -> TrainConfig:
    """The training recipe of every network of the study (uniform, searched, weight-sharing):
    :class:`~hetconv_edu.train.TrainConfig` defaults (SGD Nesterov, one-cycle, label smoothing
    0.1) with the study's model, data budget and device."""
    return TrainConfig(
        model=model, conv=conv, model_kwargs=model_kwargs, epochs=epochs, batch_size=batch_size,
        seed=seed, device=device, threads=threads, run_dir=run_dir,
    )  # fmt: skip


# ---- measurements ----------------------------------------------------------------------------


def _ms_per_image(seconds: float, batch: int) -> float:
    return seconds * 1000.0 / batch


def measure_layers(
    net: SuperNet,
    input_shape: Sequence[int] = (3, 32, 32),
    *,
    batch: int = 32,
    rounds: int = 5,
    device: str = "cpu",
    progress: Callable[[str], None] | None = None,
) -> list[LayerCosts]:
    """Costs of every switchable layer of ``net`` at each of its choices of P: analytic MACs and
    parameters (:func:`~hetconv_edu.study.costs.analytic_layers`), and measured inference and
    training-step milliseconds per image of a :class:`~hetconv_edu.layers.HetConv2d` alone (the
    arrangement the network uses), timed interleaved by :func:`hetconv_edu.timing.time_layers`
    on a batch of ``batch`` on ``device``. The ``loss`` (sensitivity) is left empty:
    :func:`measure_sensitivity` measures it. ``input_shape`` is one image's (C, H, W)."""
    layers = []
    for nested, layer in zip(net.layers, analytic_layers(net, input_shape), strict=True):
        m, n, stride = layer["in_channels"], layer["out_channels"], layer["stride"]
        in_size = layer["out_size"] * stride
        modules = {
            str(p): HetConv2d(m, n, 3, p=p, stride=stride, bias=nested.bias is not None,
                              arrangement=net.arrangement)
            for p in nested.choices
        }  # fmt: skip
        if progress is not None:
            progress(f"timing {layer['name']}")
        timings = {
            backward: time_layers(
                modules,
                (batch, m, in_size, in_size),
                backward=backward,
                rounds=rounds,
                device=device,
            )
            for backward in (False, True)
        }
        layers.append(
            LayerCosts(
                **layer,
                infer_ms=tuple(
                    _ms_per_image(timings[False][str(p)].median_s, batch) for p in nested.choices
                ),
                train_ms=tuple(
                    _ms_per_image(timings[True][str(p)].median_s, batch) for p in nested.choices
                ),
            )
        )
    return layers


def measure_network(
    models: dict[str, nn.Module],
    input_shape: Sequence[int],
    *,
    batch: int = 32,
    rounds: int = 5,
    device: str = "cpu",
) -> dict[str, Costs]:
    """Costs of whole networks on one input shape (C, H, W): analytic MACs (the paper's count)
    and parameters from :func:`hetconv_edu.flops.network_cost`, and measured milliseconds per
    image on ``device`` for inference and for a training step (forward and backward, no
    optimiser), the networks timed interleaved."""
    shape = tuple(input_shape)
    counted = {name: network_cost(model.eval(), (1, *shape)) for name, model in models.items()}
    timings = {
        backward: time_layers(
            models, (batch, *shape), backward=backward, rounds=rounds, device=device
        )
        for backward in (False, True)
    }
    out = {}
    for name in models:
        cost = counted[name]
        out[name] = Costs(
            macs=cost.macs,
            params=cost.params,
            infer_ms=_ms_per_image(timings[False][name].median_s, batch),
            train_ms=_ms_per_image(timings[True][name].median_s, batch),
        )
    return out


def evaluate_config(
    trainer: SuperNetTrainer, config: Sequence[int], *, calibration_batches: int = 8
) -> float:
    """Accuracy of the weight-sharing network in ``config`` on the trainer's test split (the
    validation split during a search), after re-estimating batch-norm statistics on
    ``calibration_batches`` training batches without augmentation."""
    from hetconv_edu.data import Batches

    net: SuperNet = trainer.model
    net.configure(config)
    batches = Batches(
        trainer.dataset,
        "train",
        trainer.config.batch_size,
        shuffle=True,
        augment=False,
        seed=trainer.config.seed,
        device=trainer.device,
    )
    fmt = torch.channels_last if trainer.channels_last else torch.contiguous_format

    def images() -> Iterable[torch.Tensor]:
        for i, (x, _) in enumerate(batches):
            if i == calibration_batches:
                return
            yield x.contiguous(memory_format=fmt)

    try:
        recalibrate_batchnorm(net, images())
        return trainer.evaluate("test")[1]
    finally:
        net.train()


def measure_sensitivity(
    evaluate: Callable[[tuple[int, ...]], float],
    choices: Sequence[Sequence[int]],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[float, list[tuple[float, ...]]]:
    """Each layer's sensitivity: with every layer at its smallest P (the reference), raise one
    layer's P to each of its choices and record the accuracy lost. ``evaluate(config)`` returns
    an accuracy. Returns (reference accuracy, per layer the loss at each choice, 0 at the
    smallest)."""
    reference = tuple(c[0] for c in choices)
    total = 1 + sum(len(c) - 1 for c in choices)
    done = 0
    base = evaluate(reference)
    done += 1
    if progress is not None:
        progress(done, total)
    losses = []
    for i, layer_choices in enumerate(choices):
        row = [0.0]
        for p in layer_choices[1:]:
            config = (*reference[:i], p, *reference[i + 1 :])
            row.append(base - evaluate(config))
            done += 1
            if progress is not None:
                progress(done, total)
        losses.append(tuple(row))
    return base, losses


def fit_time_model(layer_sums: Sequence[float], network_ms: Sequence[float]) -> tuple[float, float]:
    """(intercept, slope) of the line ``network ≈ intercept + slope × layer_sum`` through
    networks whose layers' summed measured time and whole-network measured time are given (ms
    per image; the study fits it on the standard and uniform-P networks, timed in one
    interleaved call): least squares; when noise makes that slope not positive, the line through
    the origin with the ratio of the sums (``slope = Σ network / Σ layer_sum``), so the model
    always grows with the layers' times.

    Raises:
        ValueError: fewer than two networks, different lengths, or times that are not
            positive.
    """
    x, y = [float(v) for v in layer_sums], [float(v) for v in network_ms]
    if len(x) != len(y) or len(x) < 2:
        raise ValueError(f"need two or more paired times, got {len(x)} and {len(y)}")
    if not all(v > 0 and math.isfinite(v) for v in (*x, *y)):
        raise ValueError(f"times must be positive finite numbers, got {x} and {y}")
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxx = sum((a - mx) ** 2 for a in x)
    slope = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True)) / sxx if sxx else 0.0
    if slope > 0:
        return my - slope * mx, slope
    return 0.0, sum(y) / sum(x)
