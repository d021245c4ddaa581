"""What is the best P? Costs per layer and choice, sensitivities, and the results file.

The study (``benchmarks/optimal_p.py``, the notebook ``04_best_p``) has three costs and one
accuracy for every configuration of a network (one P per switchable layer):

* MACs and parameters, analytic (:func:`hetconv_edu.flops.layer_cost`; exact and additive);
* measured milliseconds per image for inference and for a training step, from the package's one
  timer (:mod:`hetconv_edu.timing`) — per layer and choice, and for whole networks (per-layer
  times add up only approximately: the network figures are the measured truth). A results file
  of schema 2 holds a *calibrated* time model (:attr:`OptimalPResults.time_model`): a straight
  line from the per-layer sum to the whole network's measured time, fitted on the standard and
  uniform-P networks (:func:`fit_time_model`); schema 1 files add the per-layer times to the
  standard network's remainder;
* accuracy: trained from scratch (uniform P, searched configurations), or predicted by the
  additive model ``reference − Σ sensitivity`` measured on a weight-sharing
  :class:`~hetconv_edu.supernet.SuperNet`.

:class:`OptimalPResults` holds all of it with its provenance; :func:`load_results` validates a
results file and says clearly what is wrong with a malformed one.
"""

from __future__ import annotations

import datetime
import itertools
import json
import math
import platform
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hetconv_edu.checks import check_choice, check_int, check_number
from hetconv_edu.data import ImageDataset
from hetconv_edu.fileio import atomic_write
from hetconv_edu.flops import layer_cost, network_cost
from hetconv_edu.layers import HetConv2d
from hetconv_edu.models import MODELS, build_model, conv_slots, slot_module_names
from hetconv_edu.search import (
    LayerOptions,
    Plan,
    best_under_budget,
    check_divisor_chain,
    knapsack_front,
    spearman,
)
from hetconv_edu.supernet import (
    SuperNet,
    SuperNetTrainer,
    power_of_two_choices,
    recalibrate_batchnorm,
)
from hetconv_edu.timing import time_layers
from hetconv_edu.train import TrainConfig

__all__ = [
    "METRICS",
    "SCHEMA",
    "Costs",
    "EvolutionCheck",
    "LayerCosts",
    "OptimalPResults",
    "ResultsFileError",
    "Run",
    "analytic_layers",
    "default_results_path",
    "evaluate_config",
    "fit_time_model",
    "fixed_costs",
    "git_commit",
    "load_results",
    "measure_layers",
    "measure_network",
    "measure_sensitivity",
    "model_costs",
    "provenance",
    "save_results",
    "split_validation",
    "study_config",
]

SCHEMA = "hetconv_edu.optimal_p/2"
READABLE_SCHEMAS = ("hetconv_edu.optimal_p/1", SCHEMA)
"""Schema 1 (one seed per searched configuration, time budgets on the per-layer sum) is still
read; schema 2 adds the calibrated time model and each run's confusion matrix."""
TIME_METRICS = ("infer_ms", "train_ms")
METRICS: dict[str, str] = {
    "macs": "MACs per image",
    "infer_ms": "inference time per image (ms)",
    "train_ms": "training-step time per image (ms)",
}
"""The costs a budget can be set in, with their axis titles."""

PROVENANCE_KEYS = ("command", "date", "package_version", "machine", "data", "training_budget")


class ResultsFileError(ValueError):
    """A results file that cannot be used: missing, not JSON, or not the expected schema."""


@dataclass(frozen=True)
class Costs:
    """The costs of a network, or of the part of one that the search does not change."""

    macs: int
    params: int
    infer_ms: float
    train_ms: float

    def get(self, metric: str) -> float:
        """The cost in ``metric`` (a key of :data:`METRICS`)."""
        _check_metric(metric)
        return getattr(self, metric)


@dataclass(frozen=True)
class LayerCosts:
    """One switchable layer: its shape, its choices of P and each choice's costs and
    sensitivity (validation accuracy lost, as a fraction, when only this layer takes that P)."""

    name: str
    in_channels: int
    out_channels: int
    out_size: int
    stride: int
    choices: tuple[int, ...]
    macs: tuple[int, ...]
    params: tuple[int, ...]
    infer_ms: tuple[float, ...]
    train_ms: tuple[float, ...]
    loss: tuple[float, ...] = ()

    def options(self, metric: str) -> LayerOptions:
        """The layer as a knapsack item (:class:`~hetconv_edu.search.LayerOptions`)."""
        _check_metric(metric)
        if len(self.loss) != len(self.choices):
            raise ValueError(f"layer {self.name!r} has no sensitivity measured yet")
        return LayerOptions(self.name, self.choices, tuple(getattr(self, metric)), self.loss)


@dataclass(frozen=True)
class Run:
    """A network trained from scratch: uniform P (``kind="uniform"``) or a searched per-layer
    configuration (``kind="searched"``, with the metric and budget it was searched for and
    the accuracy the weight-sharing network measured for it on the validation split). Every
    seed of one configuration is its own run; ``costs`` are the network's (the same for every
    seed). ``confusion``: the test confusion matrix (row = true class, column = predicted), from
    which ``test_acc`` follows (schema 2; empty in schema 1 files)."""

    kind: str
    config: tuple[int, ...]
    seed: int
    test_acc: float
    costs: Costs
    seconds: float
    metric: str | None = None
    budget: float | None = None
    supernet_acc: float | None = None
    confusion: tuple[tuple[int, ...], ...] = ()

    @property
    def label(self) -> str:
        """``P=4`` for a uniform run, ``P=(2, 4, 4, 8)`` for a per-layer one."""
        if self.kind == "uniform":
            return f"P={self.config[0]}"
        return "P=(" + ", ".join(map(str, self.config)) + ")"


@dataclass(frozen=True)
class EvolutionCheck:
    """The additive model checked at one budget: the knapsack's plan and the best configuration
    a small evolutionary search found, both evaluated on the weight-sharing network."""

    metric: str
    budget: float
    knapsack_config: tuple[int, ...]
    knapsack_predicted: float
    knapsack_measured: float
    best_config: tuple[int, ...]
    best_measured: float
    evaluations: int


@dataclass(frozen=True)
class OptimalPResults:
    """Everything the best-P study measured for one network (see the module docstring)."""

    provenance: dict[str, Any]
    model: str
    model_kwargs: dict[str, Any]
    input_shape: tuple[int, int, int]
    standard: Costs
    fixed: Costs
    reference_acc: float
    layers: tuple[LayerCosts, ...]
    runs: tuple[Run, ...] = ()
    evolution: tuple[EvolutionCheck, ...] = ()
    notes: dict[str, Any] = field(default_factory=dict)
    time_model: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Per time metric (``infer_ms``, ``train_ms``): (intercept ms, slope) of the line from the
    sum of the layers' measured times to the whole network's (:func:`fit_time_model`). Empty
    (schema 1): the fixed part's time plus the layers' sum."""

    # ---- the additive model ----------------------------------------------------------------

    def _line(self, metric: str) -> tuple[float, float]:
        """(intercept, slope) of ``metric``'s cost model: the calibrated line for a time with a
        :attr:`time_model`, else the fixed part and 1 (exact for MACs and parameters)."""
        _check_metric(metric)
        if metric in self.time_model:
            return self.time_model[metric]
        return self.fixed.get(metric), 1.0

    def fixed_cost(self, metric: str) -> float:
        """The cost of every configuration that the layers' choices do not change (the
        knapsack's fixed cost): the fixed part, or the time model's intercept."""
        return self._line(metric)[0]

    def options(self, metric: str) -> list[LayerOptions]:
        """Every layer as a knapsack item in ``metric`` (times scaled by the time model's
        slope, so that :meth:`fixed_cost` plus their sum is the modelled network cost)."""
        slope = self._line(metric)[1]
        items = [layer.options(metric) for layer in self.layers]
        if slope == 1.0:
            return items
        return [
            LayerOptions(o.name, o.choices, tuple(slope * c for c in o.costs), o.losses)
            for o in items
        ]

    def front(self, metric: str) -> list[Plan]:
        """The exact cost / predicted-loss Pareto front (:func:`.search.knapsack_front`)."""
        return knapsack_front(self.options(metric), self.fixed_cost(metric))

    def best(self, metric: str, budget: float) -> Plan | None:
        """The configuration of highest predicted accuracy within ``budget`` (None if none fits)."""
        return best_under_budget(self.front(metric), budget)

    def check_config(self, config: Sequence[int]) -> tuple[int, ...]:
        """``config`` as a tuple, or ``ValueError`` saying which layer cannot take its value."""
        config = tuple(config)
        if len(config) != len(self.layers):
            raise ValueError(
                f"{self.model} has {len(self.layers)} switchable layers, got {len(config)} values"
            )
        for layer, p in zip(self.layers, config, strict=True):
            if p not in layer.choices:
                raise ValueError(
                    f"{layer.name} takes P ∈ {{{', '.join(map(str, layer.choices))}}}, got {p!r}"
                )
        return config

    def cost(self, config: Sequence[int], metric: str) -> float:
        """The modelled cost of ``config``: the fixed part plus each layer's cost at its P
        (exact for MACs and parameters); for a time with a :attr:`time_model`, intercept +
        slope × the layers' sum (a model: a network's measured time is in its run)."""
        config = self.check_config(config)
        intercept, slope = self._line(metric)
        return intercept + slope * self.layer_sum(config, metric)

    def layer_sum(self, config: Sequence[int], metric: str) -> float:
        """The sum of the layers' costs in ``metric`` at the P of ``config``."""
        config = self.check_config(config)
        _check_metric(metric)
        return sum(
            getattr(layer, metric)[layer.choices.index(p)]
            for layer, p in zip(self.layers, config, strict=True)
        )

    def predicted_acc(self, config: Sequence[int]) -> float:
        """Reference accuracy minus the sum of the layers' sensitivities at their P."""
        config = self.check_config(config)
        return self.reference_acc - sum(
            layer.loss[layer.choices.index(p)] for layer, p in zip(self.layers, config, strict=True)
        )

    def uniform_choices(self) -> list[int]:
        """The P values every layer can take (the uniform configurations)."""
        common = set(self.layers[0].choices)
        for layer in self.layers[1:]:
            common &= set(layer.choices)
        return sorted(common)

    def rank_correlation(self) -> float:
        """Spearman correlation between predicted and retrained test accuracy over every run
        trained from scratch (how well the weight-sharing network ranks configurations). A
        searched configuration that is also a uniform run counts once."""
        runs = list({(r.config, r.seed): r for r in self.runs}.values())
        return spearman([self.predicted_acc(r.config) for r in runs], [r.test_acc for r in runs])

    # ---- files -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, with the schema tag."""
        values = asdict(self)
        values["time_model"] = {
            metric: {"intercept_ms": line[0], "slope": line[1]}
            for metric, line in self.time_model.items()
        }
        return {"schema": SCHEMA, **values}

    @classmethod
    def from_dict(cls, data: Any, source: str = "results") -> OptimalPResults:
        """Validate and build; raises :class:`ResultsFileError` with one message naming what
        is wrong: the schema and every field (types; counts non-negative integers, times
        finite and non-negative, accuracies in [0, 1], choices of P increasing), the model
        (a known network whose switchable layers, shapes and analytic MACs and parameters
        are those stored, recomputed by :func:`model_costs`), the fixed part (standard minus
        the layers), each run's configuration and MACs and parameters, and each run's test
        accuracy against its confusion matrix. Schemas :data:`READABLE_SCHEMAS` are read."""
        if not isinstance(data, dict):
            raise ResultsFileError(f"{source}: expected a JSON object, got {type(data).__name__}")
        if data.get("schema") not in READABLE_SCHEMAS:
            raise ResultsFileError(
                f"{source}: schema is {data.get('schema')!r}, expected {SCHEMA!r}; regenerate it "
                f"with `python benchmarks/optimal_p.py`"
            )
        try:
            prov = data["provenance"]
            if not isinstance(prov, dict):
                raise ValueError(f"provenance must be a JSON object, got {prov!r}")
            missing = [k for k in PROVENANCE_KEYS if k not in prov]
            if missing:
                raise ResultsFileError(f"{source}: provenance lacks {', '.join(missing)}")
            layers = tuple(_layer(item, i) for i, item in enumerate(data["layers"]))
            if not layers:
                raise ResultsFileError(f"{source}: no layers")
            model_kwargs = data["model_kwargs"]
            if not isinstance(model_kwargs, dict):
                raise ValueError(f"model_kwargs must be a JSON object, got {model_kwargs!r}")
            results = cls(
                provenance=dict(prov),
                model=check_choice("model", data["model"], MODELS),
                model_kwargs=dict(model_kwargs),
                input_shape=tuple(
                    check_int("input_shape", v, 1) for v in _list(data["input_shape"], 3)
                ),
                standard=_costs(data["standard"], "standard"),
                fixed=_costs(data["fixed"], "fixed"),
                reference_acc=_fraction(data["reference_acc"], "reference_acc"),
                layers=layers,
                runs=tuple(_run(item, f"runs[{i}]") for i, item in enumerate(data["runs"])),
                evolution=tuple(
                    _evolution(item, f"evolution[{i}]") for i, item in enumerate(data["evolution"])
                ),
                notes=dict(data.get("notes", {})),
                time_model=_time_model(data.get("time_model", {})),
            )
            for run in results.runs:
                results.check_config(run.config)
            for check in results.evolution:
                results.check_config(check.knapsack_config)
                results.check_config(check.best_config)
            mismatch = _cost_mismatch(results) or _accuracy_mismatch(results)
        except ResultsFileError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as err:
            what = f"missing field {err}" if isinstance(err, KeyError) else str(err)
            raise ResultsFileError(f"{source}: malformed results file ({what})") from None
        if mismatch:
            raise ResultsFileError(
                f"{source}: {mismatch}; the file was edited or does not belong to this network. "
                "Make it again with `python benchmarks/optimal_p.py`"
            )
        return results


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(map(repr, METRICS))}, got {metric!r}")


def _list(values: Any, length: int | None = None) -> list[Any]:
    if not isinstance(values, list | tuple):
        raise ValueError(f"expected a list, got {values!r}")
    if length is not None and len(values) != length:
        raise ValueError(f"expected {length} values, got {values!r}")
    return list(values)


def _counts(values: Any, what: str) -> tuple[int, ...]:
    return tuple(check_int(f"{what}[{i}]", v, 0) for i, v in enumerate(_list(values)))


def _times(values: Any, what: str) -> tuple[float, ...]:
    return tuple(check_number(f"{what}[{i}]", v, minimum=0.0) for i, v in enumerate(_list(values)))


def _fraction(value: Any, what: str) -> float:
    return check_number(what, value, minimum=0.0, maximum=1.0)


def _costs(d: dict[str, Any], what: str) -> Costs:
    return Costs(
        macs=check_int(f"{what}.macs", d["macs"], 0),
        params=check_int(f"{what}.params", d["params"], 0),
        infer_ms=check_number(f"{what}.infer_ms", d["infer_ms"], minimum=0.0),
        train_ms=check_number(f"{what}.train_ms", d["train_ms"], minimum=0.0),
    )


def _layer(d: dict[str, Any], index: int) -> LayerCosts:
    what = f"layers[{index}]"
    choices = tuple(
        check_int(f"{what}.choices[{i}]", v, 1) for i, v in enumerate(_list(d["choices"]))
    )
    if not choices or any(a >= b for a, b in itertools.pairwise(choices)):
        raise ValueError(f"{what}.choices must be increasing values of P, got {list(choices)}")
    layer = LayerCosts(
        name=str(d["name"]),
        in_channels=check_int(f"{what}.in_channels", d["in_channels"], 1),
        out_channels=check_int(f"{what}.out_channels", d["out_channels"], 1),
        out_size=check_int(f"{what}.out_size", d["out_size"], 1),
        stride=check_int(f"{what}.stride", d["stride"], 1),
        choices=choices,
        macs=_counts(d["macs"], f"{what}.macs"),
        params=_counts(d["params"], f"{what}.params"),
        infer_ms=_times(d["infer_ms"], f"{what}.infer_ms"),
        train_ms=_times(d["train_ms"], f"{what}.train_ms"),
        loss=tuple(check_number(f"{what}.loss[{i}]", v) for i, v in enumerate(_list(d["loss"]))),
    )
    n = len(layer.choices)
    for name in ("macs", "params", "infer_ms", "train_ms", "loss"):
        if len(getattr(layer, name)) != n:
            raise ValueError(f"layer {layer.name!r}: {name} has not one value per choice of P")
    return layer


def _run(d: dict[str, Any], what: str) -> Run:
    kind = check_choice(f"{what}.kind", d["kind"], ("uniform", "searched"))
    searched = kind == "searched"
    return Run(
        kind=kind,
        config=tuple(check_int(f"{what}.config", v, 1) for v in _list(d["config"])),
        seed=check_int(f"{what}.seed", d["seed"], 0),
        test_acc=_fraction(d["test_acc"], f"{what}.test_acc"),
        costs=_costs(d["costs"], f"{what}.costs"),
        seconds=check_number(f"{what}.seconds", d["seconds"], minimum=0.0),
        metric=check_choice(f"{what}.metric", d.get("metric"), METRICS) if searched else None,
        budget=check_number(f"{what}.budget", d.get("budget"), minimum=0.0,
                            exclusive_minimum=True) if searched else None,
        supernet_acc=_fraction(d.get("supernet_acc"), f"{what}.supernet_acc") if searched
        else None,
        confusion=_confusion(d.get("confusion", []), f"{what}.confusion"),
    )  # fmt: skip


def _confusion(values: Any, what: str) -> tuple[tuple[int, ...], ...]:
    rows = tuple(_counts(row, f"{what}[{i}]") for i, row in enumerate(_list(values)))
    if any(len(row) != len(rows) for row in rows):
        raise ValueError(f"{what} must be a square matrix (one row and column per class)")
    return rows


def _accuracy_mismatch(results: OptimalPResults) -> str:
    """The first run whose test accuracy is not its confusion matrix's diagonal over its total
    (runs without a matrix, schema 1, are not checked); "" when all agree."""
    for run in results.runs:
        if not run.confusion:
            continue
        total = sum(map(sum, run.confusion))
        acc = sum(row[i] for i, row in enumerate(run.confusion)) / total if total else math.nan
        if not abs(acc - run.test_acc) <= 1e-9:
            return (
                f"run {run.label} seed {run.seed} stores test_acc {run.test_acc}, its "
                f"confusion matrix gives {acc}"
            )
    return ""


def _time_model(d: Any) -> dict[str, tuple[float, float]]:
    if not isinstance(d, dict):
        raise ValueError(f"time_model must be a JSON object, got {d!r}")
    model = {}
    for metric, line in d.items():
        check_choice("time_model metric", metric, TIME_METRICS)
        model[metric] = (
            check_number(f"time_model.{metric}.intercept_ms", line["intercept_ms"]),
            check_number(
                f"time_model.{metric}.slope", line["slope"], minimum=0.0, exclusive_minimum=True
            ),
        )
    return model


def _evolution(d: dict[str, Any], what: str) -> EvolutionCheck:
    return EvolutionCheck(
        metric=check_choice(f"{what}.metric", d["metric"], METRICS),
        budget=check_number(f"{what}.budget", d["budget"], minimum=0.0, exclusive_minimum=True),
        knapsack_config=tuple(
            check_int(f"{what}.knapsack_config", v, 1) for v in _list(d["knapsack_config"])
        ),
        knapsack_predicted=check_number(f"{what}.knapsack_predicted", d["knapsack_predicted"]),
        knapsack_measured=_fraction(d["knapsack_measured"], f"{what}.knapsack_measured"),
        best_config=tuple(check_int(f"{what}.best_config", v, 1) for v in _list(d["best_config"])),
        best_measured=_fraction(d["best_measured"], f"{what}.best_measured"),
        evaluations=check_int(f"{what}.evaluations", d["evaluations"], 1),
    )


def _cost_mismatch(results: OptimalPResults) -> str:
    """The first stored MAC or parameter count that the named model does not give (recomputed
    by :func:`model_costs`), or that does not add up (fixed part, runs); "" when all agree."""
    model = results.model
    standard_macs, standard_params, layers = model_costs(
        model, results.model_kwargs, results.input_shape, [x.choices for x in results.layers]
    )
    if (results.standard.macs, results.standard.params) != (standard_macs, standard_params):
        return (
            f"the standard network stores {results.standard.macs} MACs and "
            f"{results.standard.params} parameters, {model} has {standard_macs} and "
            f"{standard_params}"
        )
    for stored, computed in zip(results.layers, layers, strict=True):
        for key in ("in_channels", "out_channels", "out_size", "stride"):
            if getattr(stored, key) != computed[key]:
                return (
                    f"{stored.name} stores {key} = {getattr(stored, key)}, {model} has "
                    f"{computed[key]}"
                )
        for key in ("macs", "params"):
            for p, a, b in zip(stored.choices, getattr(stored, key), computed[key], strict=True):
                if a != b:
                    return f"{stored.name} at P={p} stores {a} {key}, {model} computes {b}"
    fixed = fixed_costs(results.standard, results.layers)
    if (results.fixed.macs, results.fixed.params) != (fixed.macs, fixed.params):
        return (
            f"the fixed part stores {results.fixed.macs} MACs and {results.fixed.params} "
            f"parameters, the standard network minus its switchable layers gives {fixed.macs} "
            f"and {fixed.params}"
        )
    for run in results.runs:
        for key in ("macs", "params"):
            expected = getattr(results.fixed, key) + sum(
                getattr(layer, key)[layer.choices.index(p)]
                for layer, p in zip(results.layers, run.config, strict=True)
            )
            stored = getattr(run.costs, key)
            if stored != expected:
                return f"run {run.label} stores {stored} {key}, its layers add up to {expected}"
    return ""


def fixed_costs(standard: Costs, layers: Sequence[LayerCosts]) -> Costs:
    """The part of the network the search does not change: the standard network's costs minus
    its switchable layers' at their smallest P (times clipped at 0: per-layer times add up only
    approximately)."""
    return Costs(
        macs=standard.macs - sum(layer.macs[0] for layer in layers),
        params=standard.params - sum(layer.params[0] for layer in layers),
        infer_ms=max(0.0, standard.infer_ms - sum(layer.infer_ms[0] for layer in layers)),
        train_ms=max(0.0, standard.train_ms - sum(layer.train_ms[0] for layer in layers)),
    )


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


def default_results_path(model: str = "small_vgg") -> Path:
    """The results file shipped with the package for ``model``."""
    return Path(__file__).resolve().parent / "results" / f"optimal_p_{model}.json"


def load_results(path: str | Path | None = None) -> OptimalPResults:
    """Read and validate a results file (default: the shipped one for small_vgg).

    Raises:
        ResultsFileError: one message saying what is wrong: no file, unreadable, not UTF-8
            text, not JSON, or content that :meth:`OptimalPResults.from_dict` refuses.
    """
    path = Path(path) if path is not None else default_results_path()
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ResultsFileError(
            f"no results file at {path}; make one with `python benchmarks/optimal_p.py`"
        ) from None
    except UnicodeDecodeError as err:
        raise ResultsFileError(
            f"{path}: not a UTF-8 text file (byte {err.start} cannot be decoded); a results "
            "file is JSON written by `python benchmarks/optimal_p.py`"
        ) from None
    except OSError as err:
        raise ResultsFileError(f"{path}: cannot be read ({err.strerror or err})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ResultsFileError(f"{path}: not valid JSON ({err})") from None
    return OptimalPResults.from_dict(data, source=str(path))


def save_results(results: OptimalPResults, path: str | Path) -> Path:
    """Write ``results`` as JSON atomically (:func:`hetconv_edu.fileio.atomic_write`: a reader
    sees the old file or the new one, also with several writers at once)."""
    return atomic_write(path, json.dumps(results.to_dict(), indent=1) + "\n")


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


_ROOT = Path(__file__).resolve().parents[1]


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


def model_costs(
    model: str,
    model_kwargs: dict[str, Any],
    input_shape: Sequence[int],
    choices: Sequence[Sequence[int]] | None = None,
) -> tuple[int, int, list[dict[str, Any]]]:
    """The analytic costs of network ``model`` (built with ``model_kwargs``): the standard
    network's MACs and parameters (:func:`hetconv_edu.flops.network_cost`) and every
    switchable layer with the :class:`LayerCosts` fields ``name``, ``in_channels``,
    ``out_channels``, ``out_size``, ``stride``, ``choices`` and, at each choice of P, ``macs``
    and ``params`` (:func:`hetconv_edu.flops.layer_cost`, with the layer's bias).
    ``choices``: per layer (default: the powers of two that divide both channel counts, as a
    :class:`~hetconv_edu.supernet.SuperNet`). ``input_shape`` is one image's (C, H, W).

    Raises:
        ValueError: unknown model, bad keyword arguments, or choices that are not an
            increasing divisor chain of a layer's channels.
    """
    shape = tuple(input_shape)
    net = build_model(model, "standard", seed=None, **{"in_channels": shape[0], **model_kwargs})
    cost = network_cost(net.eval(), (1, *shape))
    rows = {row.name: row for row in cost.rows}
    slots, names = conv_slots(net), slot_module_names(net)
    if choices is None:
        choices = [power_of_two_choices(s.in_channels, s.out_channels) for s in slots]
    if len(choices) != len(slots):
        raise ValueError(f"{model} has {len(slots)} switchable layers, got {len(choices)}")
    layers = []
    for slot, name, layer_choices in zip(slots, names, choices, strict=True):
        m, n, out_size = slot.in_channels, slot.out_channels, rows[name].out_size
        chain = check_divisor_chain(m, n, layer_choices, name=f"layer {slot.index + 1} of {model}")
        bias = net.get_submodule(name).bias is not None
        costs = [layer_cost(f"hetconv:{p}", m, n, 3, out_size, bias=bias) for p in chain]
        layers.append(
            {
                "name": f"layer {slot.index + 1} ({m}→{n}, {out_size}×{out_size})",
                "in_channels": m,
                "out_channels": n,
                "out_size": out_size,
                "stride": slot.stride,
                "choices": tuple(chain),
                "macs": tuple(c.macs for c in costs),
                "params": tuple(c.params for c in costs),
            }
        )
    return cost.macs, cost.params, layers


def analytic_layers(
    net: SuperNet, input_shape: Sequence[int] = (3, 32, 32)
) -> list[dict[str, Any]]:
    """Every switchable layer of ``net`` with its analytic costs at each of its choices of P
    (:func:`model_costs` of the network it was built from)."""
    kwargs = {k: v for k, v in net.build_kwargs.items() if k != "in_channels"}
    return model_costs(net.name, kwargs, input_shape, net.choices)[2]


def measure_layers(
    net: SuperNet,
    input_shape: Sequence[int] = (3, 32, 32),
    *,
    batch: int = 32,
    rounds: int = 5,
    device: str = "cpu",
    progress: Callable[[str], None] | None = None,
) -> list[LayerCosts]:
    """Costs of every switchable layer of ``net`` at each of its choices of P: analytic MACs
    and parameters (:func:`analytic_layers`), and measured inference and training-step
    milliseconds per image of a :class:`~hetconv_edu.layers.HetConv2d` alone (the arrangement
    the network uses), timed interleaved by :func:`hetconv_edu.timing.time_layers` on a batch
    of ``batch`` on ``device``. The ``loss`` (sensitivity) is left empty:
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
