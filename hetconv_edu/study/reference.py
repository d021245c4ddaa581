"""Are the best-P results still what this code computes? A short reference computation.

A results file of the best-P study (:mod:`hetconv_edu.study`) takes half an hour to make.
Instead of fingerprinting source bytes, the file records the outcome of a small deterministic
computation that runs every piece of the study's arithmetic on seeded synthetic data, in about
a second on a CPU, and the test suite and the best-P app replay it:

* ``split``: which images the study's train/validation split
  (:func:`.study.measure.split_validation`) gives to each side, on a synthetic data set whose
  images carry their index;
* ``costs``: the analytic MACs and parameters of every switchable layer at every choice of P,
  of the standard network, of every uniform P and the fixed part (integers, compared exactly);
* ``forward``: the logits of the study's weight-sharing network at its smallest, largest and a
  mixed configuration, and of the exported and directly built networks, on a seeded input;
* ``training``: three seeded steps of the study's training recipe
  (:func:`.study.measure.study_config`) for a uniform-P network and for the weight-sharing network
  (sandwich rule), on a seeded synthetic batch: the losses, learning rates and test loss;
* ``sensitivity``: the per-layer sensitivities measured on that weight-sharing network
  (:func:`.study.measure.evaluate_config` with batch-norm recalibration on the validation split);
* ``search``: the knapsack front and best plans at the study's budgets over the layers' real
  MACs with seeded synthetic losses, an evolutionary search, and a rank correlation.

No wall-clock time is recorded. Floats are compared with a relative tolerance
(:data:`REFERENCE_RTOL`, of the largest magnitude in the same list) that survives other CPUs and
thread counts; integers, configurations and strings must be equal. A change that alters what
the study computes (a recipe value, a layer's arithmetic, a cost, the split, the search) changes
some recorded value; a refactor that computes the same numbers does not.
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from hetconv_edu.data import ImageDataset
from hetconv_edu.flops import network_cost
from hetconv_edu.models import build_model
from hetconv_edu.study.costs import analytic_layers
from hetconv_edu.study.measure import (
    evaluate_config,
    git_commit,
    measure_sensitivity,
    split_validation,
    study_config,
)
from hetconv_edu.study.results import Costs, LayerCosts, OptimalPResults, fixed_costs
from hetconv_edu.study.search import evolutionary_search, spearman
from hetconv_edu.study.supernet import SuperNet, SuperNetTrainer
from hetconv_edu.train import Trainer

__all__ = [
    "REFERENCE_BUDGETS",
    "REFERENCE_RTOL",
    "compare_reference",
    "reference_computation",
    "stale_reasons",
    "stamp_reference",
]

REFERENCE_RTOL = 1e-4
"""Relative tolerance of a replayed float (of the largest magnitude in its list): float32
reductions on another CPU or thread count differ by about 1e-6."""

REFERENCE_BUDGETS = (0.3, 0.45, 0.6)
"""MAC budgets (fractions of the standard network) at which the reference plans are taken."""

_TRAIN, _VAL, _EXTRA, _TEST, _BATCH, _STEPS = 48, 16, 8, 16, 8, 3
_SIZE = 8
"""Side of the synthetic images that run through the networks (every network of the study ends
in a global average pool): small, so the whole computation takes about a second. The costs
are counted at the study's own input shape."""


def _synthetic_dataset(input_shape: Sequence[int], num_classes: int = 10) -> ImageDataset:
    """Seeded uint8 images; image i of the training split has the value i in its first pixel
    (so the split can be read back from the images)."""
    g = torch.Generator().manual_seed(20_190_615)
    n_train = _TRAIN + _VAL + _EXTRA
    train = torch.randint(0, 256, (n_train, *input_shape), generator=g, dtype=torch.uint8)
    train[:, 0, 0, 0] = torch.arange(n_train, dtype=torch.uint8)
    test = torch.randint(0, 256, (_TEST, *input_shape), generator=g, dtype=torch.uint8)
    return ImageDataset.from_tensors(
        "reference",
        train,
        torch.randint(0, num_classes, (n_train,), generator=g),
        test,
        torch.randint(0, num_classes, (_TEST,), generator=g),
        tuple(f"class {i}" for i in range(num_classes)),
    )


def _floats(t: torch.Tensor) -> list[float]:
    return [float(v) for v in t.detach().double().flatten()]


def _ids(images: torch.Tensor) -> list[int]:
    return [int(v) for v in images[:, 0, 0, 0]]


def reference_computation(
    model: str, model_kwargs: dict[str, Any], input_shape: Sequence[int]
) -> dict[str, Any]:
    """Run the reference computation for the study's network; plain JSON values (see the
    module docstring). Takes a few seconds of CPU for small_vgg; writes nothing that stays
    (the trainers' run folder is a temporary one, removed); torch's thread count is restored.

    Args:
        model: the study's network (a name of :data:`hetconv_edu.models.MODELS`).
        model_kwargs: its keyword arguments (e.g. ``{"widths": [8, 16, 32]}``).
        input_shape: one image's (C, H, W).
    """
    threads = torch.get_num_threads()
    try:
        return _reference(model, model_kwargs, input_shape)
    finally:
        torch.set_num_threads(threads)  # the trainers run it with one thread


def _reference(
    model: str, model_kwargs: dict[str, Any], input_shape: Sequence[int]
) -> dict[str, Any]:
    shape = tuple(input_shape)
    small = (shape[0], _SIZE, _SIZE)
    full = _synthetic_dataset(small)
    for_test, for_search = split_validation(full, _TRAIN, _VAL, seed=0)
    out: dict[str, Any] = {
        "split": {
            "train": _ids(for_search.train_images),
            "validation": _ids(for_search.test_images),
            "test_is_test_set": bool(torch.equal(for_test.test_images, full.test_images)),
        }
    }

    net = SuperNet(model, seed=0, **model_kwargs)
    layers = analytic_layers(net, shape)
    standard_cost = network_cost(build_model(model, "standard", seed=0, **model_kwargs).eval(),
                                 (1, *shape))  # fmt: skip
    common = sorted(set.intersection(*(set(c) for c in net.choices)))
    uniform = {}
    for p in common:
        cost = network_cost(
            build_model(model, f"hetconv:{p}", seed=0, **model_kwargs).eval(), (1, *shape)
        )
        uniform[str(p)] = [cost.macs, cost.params]
    as_costs = [
        LayerCosts(**{**layer, "infer_ms": (0.0,) * len(layer["choices"]),
                      "train_ms": (0.0,) * len(layer["choices"])})
        for layer in layers
    ]  # fmt: skip
    standard = Costs(standard_cost.macs, standard_cost.params, 0.0, 0.0)
    fixed = fixed_costs(standard, as_costs)
    out["costs"] = {
        "layers": [
            {k: list(v) if isinstance(v, tuple) else v for k, v in layer.items()}
            for layer in layers
        ],
        "standard": [standard.macs, standard.params],
        "uniform": uniform,
        "fixed": [fixed.macs, fixed.params],
    }

    x = torch.randn((2, *small), generator=torch.Generator().manual_seed(7))
    mixed = tuple(c[len(c) // 2] for c in net.choices)
    forward: dict[str, Any] = {}
    net.eval()
    with torch.no_grad():
        for name, config in (("smallest", net.smallest()), ("largest", net.largest()),
                             ("mixed", mixed)):  # fmt: skip
            net.configure(config)
            forward[f"supernet {name}"] = _floats(net(x))
            forward[f"exported {name}"] = _floats(net.export(config).eval()(x))
        for p in (common[0], common[len(common) // 2], common[-1]):
            built = build_model(model, [f"hetconv:{p}"] * len(net.slots), seed=0, **model_kwargs)
            forward[f"built P={p}"] = _floats(built.eval()(x))
    out["forward"] = forward

    with tempfile.TemporaryDirectory(prefix="hetconv_reference_") as run_dir:
        training: dict[str, Any] = {}
        p = common[len(common) // 2]
        trainer = Trainer(
            study_config(model, [f"hetconv:{p}"] * len(net.slots), model_kwargs, seed=0,
                         epochs=1, batch_size=_BATCH, device="cpu", threads=1,
                         run_dir=run_dir),
            for_test,
        )  # fmt: skip
        trainer.step(_STEPS)
        training[f"uniform P={p}"] = {
            "losses": [s[1] for s in trainer.history.steps],
            "lrs": [s[2] for s in trainer.history.steps],
            "test": list(trainer.evaluate("test")),
        }
        sn = SuperNetTrainer(
            study_config(model, "standard", model_kwargs, seed=0, epochs=1, batch_size=_BATCH,
                         device="cpu", threads=1, run_dir=run_dir),
            for_search,
        )  # fmt: skip
        sn.step(_STEPS)
        training["supernet"] = {
            "losses": [s[1] for s in sn.history.steps],
            "lrs": [s[2] for s in sn.history.steps],
            "configs": [list(c) for c in sn.step_configs()],
        }
        out["training"] = training

        evaluations: dict[str, float] = {}

        def evaluate(config: tuple[int, ...]) -> float:
            acc = evaluate_config(sn, config, calibration_batches=2)
            evaluations[",".join(map(str, config))] = sn.evaluate("test")[0]
            return acc

        first_two = [c[:2] for c in sn.model.choices]
        reference_acc, losses = measure_sensitivity(evaluate, first_two)
        out["sensitivity"] = {
            "reference_acc": reference_acc,
            "losses": [list(row) for row in losses],
            "validation_loss": evaluations,
        }

    g = random.Random(1)
    synthetic = [
        replace(layer, loss=tuple(sorted(round(g.random() * 0.05, 6) for _ in layer.choices)))
        for layer in as_costs
    ]
    synthetic = [replace(layer, loss=(0.0, *layer.loss[1:])) for layer in synthetic]
    draft = OptimalPResults(
        provenance={}, model=model, model_kwargs=dict(model_kwargs), input_shape=shape,
        standard=standard, fixed=fixed, reference_acc=0.8, layers=tuple(synthetic),
    )  # fmt: skip
    front = draft.front("macs")
    plans = {}
    for fraction in REFERENCE_BUDGETS:
        plan = draft.best("macs", fraction * standard.macs)
        plans[str(fraction)] = None if plan is None else [list(plan.config), plan.cost, plan.loss]
    found = evolutionary_search(
        draft.options("macs"),
        lambda c: draft.predicted_acc(c) - 0.001 * (len(set(c)) - 1),
        REFERENCE_BUDGETS[1] * standard.macs,
        fixed_cost=fixed.macs,
        population=4,
        generations=2,
    )
    out["search"] = {
        "front": [[list(p.config), p.cost, p.loss] for p in front],
        "plans": plans,
        "evolution": [[list(c), s] for c, s in found],
        "spearman": spearman([p.cost for p in front], [p.loss for p in front]),
    }
    return out


def compare_reference(recorded: Any, now: Any, where: str = "", rtol: float = REFERENCE_RTOL,
                      scale: float | None = None) -> list[str]:  # fmt: skip
    """Where ``now`` differs from ``recorded`` (nested dicts and lists of JSON values): one line
    per difference, ``path: recorded X, now Y``. Floats agree within ``rtol`` of the largest
    magnitude in their list (or of themselves); everything else must be equal."""

    def name() -> str:
        return where or "reference"

    if isinstance(recorded, dict) and isinstance(now, dict):
        if set(recorded) != set(now):
            return [f"{name()}: recorded keys {sorted(recorded)}, now {sorted(now)}"]
        return [
            line
            for key in recorded
            for line in compare_reference(
                recorded[key], now[key], f"{where}.{key}".lstrip("."), rtol
            )
        ]
    if isinstance(recorded, list) and isinstance(now, list):
        if len(recorded) != len(now):
            return [f"{name()}: recorded {len(recorded)} values, now {len(now)}"]
        numbers = [abs(v) for v in recorded if isinstance(v, float)]
        list_scale = max(numbers, default=0.0)
        return [
            line
            for i, (a, b) in enumerate(zip(recorded, now, strict=True))
            for line in compare_reference(a, b, f"{name()}[{i}]", rtol, list_scale)
        ]
    if isinstance(recorded, float) and isinstance(now, int | float) and not isinstance(now, bool):
        tolerance = rtol * max(abs(recorded), scale or 0.0)
        if math.isfinite(now) and abs(now - recorded) <= tolerance:
            return []
        return [f"{name()}: recorded {recorded!r}, now {now!r}"]
    if type(recorded) is not type(now) or recorded != now:
        return [f"{name()}: recorded {recorded!r}, now {now!r}"]
    return []


def stale_reasons(results: OptimalPResults, *, in_child: bool = False) -> list[str]:
    """Why ``results`` may no longer be what this code computes: the differences between the
    reference computation recorded in its provenance and the one run now (at most 10 lines,
    then a count); empty when the results are current. The computation runs once per process
    and network (about a second).

    ``in_child``: run it in a child process (:func:`_reference_in_child`), as a check in a
    background thread must: the computation seeds torch's global random generator, which the
    process's other threads share.

    Raises:
        RuntimeError: ``in_child`` and the child process failed.
    """
    recorded = results.provenance.get("reference")
    if not isinstance(recorded, dict) or not isinstance(recorded.get("values"), dict):
        return ["the results record no reference computation"]
    replay = _reference_in_child if in_child else _reference_now
    now = replay(results.model, json.dumps(results.model_kwargs, sort_keys=True),
                 tuple(results.input_shape))  # fmt: skip
    lines = compare_reference(recorded["values"], now)
    if len(lines) > 10:
        lines = [*lines[:10], f"... and {len(lines) - 10} more differences"]
    return lines


@functools.lru_cache(maxsize=4)
def _reference_now(model: str, model_kwargs: str, input_shape: tuple[int, ...]) -> Any:
    """The reference computation as JSON values, once per process and network (the code does
    not change while a process runs)."""
    return _json(reference_computation(model, json.loads(model_kwargs), input_shape))


@functools.lru_cache(maxsize=4)
def _reference_in_child(model: str, model_kwargs: str, input_shape: tuple[int, ...]) -> Any:
    """:func:`_reference_now` computed in a child process, once per process and network.

    The computation seeds torch's global random generator (networks are built and trained from
    seeds). Run in a background thread of a notebook's kernel, the notebook's own work (building
    or training a network) would draw from the same generator between a seed and its use: the
    replay would see other weights and call current results stale, and the notebook's seeded
    work would change. A child process shares neither.

    Raises:
        RuntimeError: the child process failed (its last lines of error output).
    """
    package_root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    argv = json.dumps([model, json.loads(model_kwargs), list(input_shape)])
    done = subprocess.run(
        [sys.executable, "-m", "hetconv_edu.study.reference", argv],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": path}, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"the reference computation failed (exit {done.returncode}): {tail}")
    return json.loads(done.stdout)


def _json(values: Any) -> Any:
    """``values`` as they read back from a JSON file (tuples as lists, keys as strings)."""
    return json.loads(json.dumps(values))


def stamp_reference(results: OptimalPResults, command: str, note: str = "") -> OptimalPResults:
    """``results`` with the reference computation of this code recorded in its provenance
    (``provenance["reference"]``: the values, the git commit and date of the stamping, the
    command, and ``note``)."""
    values = _reference_now(results.model, json.dumps(results.model_kwargs, sort_keys=True),
                            tuple(results.input_shape))  # fmt: skip
    stamp = {
        "commit": git_commit(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": command,
        **({"note": note} if note else {}),
        "values": _json(values),
    }
    return replace(results, provenance={**results.provenance, "reference": stamp})


if __name__ == "__main__":  # the child process of _reference_now: JSON in argv, JSON out
    _model, _kwargs, _shape = json.loads(sys.argv[1])
    print(json.dumps(reference_computation(_model, _kwargs, tuple(_shape))))
