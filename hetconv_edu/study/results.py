"""The best-P study's results: the schema of the results file and its validation (no torch).

The study (``benchmarks/optimal_p.py``, :mod:`hetconv_edu.study.driver`; the notebook
``04_best_p``) has three costs and one accuracy for every configuration of a network (one P per
switchable layer):

* MACs and parameters, analytic (:func:`hetconv_edu.flops.layer_cost`; exact and additive);
* measured milliseconds per image for inference and for a training step
  (:mod:`hetconv_edu.study.measure`) — per layer and choice, and for whole networks (per-layer
  times add up only approximately: the network figures are the measured truth). A results file
  of schema 2 holds a *calibrated* time model (:attr:`OptimalPResults.time_model`): a straight
  line from the per-layer sum to the whole network's measured time, fitted on the standard and
  uniform-P networks (:func:`hetconv_edu.study.measure.fit_time_model`); schema 1 files add the
  per-layer times to the standard network's remainder;
* accuracy: trained from scratch (uniform P, searched configurations), or predicted by the
  additive model ``reference − Σ sensitivity`` measured on a weight-sharing
  :class:`~hetconv_edu.study.supernet.SuperNet`.

:class:`OptimalPResults` holds all of it with its provenance; :func:`load_results` validates a
results file and says clearly what is wrong with a malformed one.

This module imports no torch, so the figures (:mod:`hetconv_edu.viz.best_p`) can read its types
without it. Only :meth:`OptimalPResults.from_dict` (and so :func:`load_results`) needs torch: it
checks the stored MACs and parameters against the named network, which it builds
(:func:`hetconv_edu.study.costs.model_costs`, imported on that call). The module is longer than
the package's usual 500 lines because the schema and the validation of each of its fields belong
together: one place says what a results file is.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hetconv_edu.checks import check_choice, check_int, check_number
from hetconv_edu.fileio import atomic_write
from hetconv_edu.study.search import LayerOptions, Plan, best_under_budget, knapsack_front, spearman

__all__ = [
    "METRICS",
    "SCHEMA",
    "Costs",
    "EvolutionCheck",
    "LayerCosts",
    "OptimalPResults",
    "ResultsFileError",
    "Run",
    "default_results_path",
    "fixed_costs",
    "load_results",
    "save_results",
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
        """The layer as a knapsack item (:class:`~hetconv_edu.study.search.LayerOptions`)."""
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
    sum of the layers' measured times to the whole network's
    (:func:`~hetconv_edu.study.measure.fit_time_model`). Empty
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
        """The exact cost / predicted-loss Pareto front (:func:`.study.search.knapsack_front`)."""
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
        are those stored, recomputed by :func:`~hetconv_edu.study.costs.model_costs`: this
        check builds the network, so it imports torch), the fixed part (standard minus the
        layers), each run's configuration and MACs and parameters, and each run's test
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
                model=check_choice("model", data["model"], _model_names()),
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


def _model_names() -> tuple[str, ...]:
    """The networks a results file may name (:data:`hetconv_edu.models.MODELS`; imports torch)."""
    from hetconv_edu.models import MODELS

    return tuple(MODELS)


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
    by :func:`~hetconv_edu.study.costs.model_costs`), or that does not add up (fixed part,
    runs); "" when all agree."""
    from hetconv_edu.study.costs import model_costs  # builds the network: torch

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


def default_results_path(model: str = "small_vgg") -> Path:
    """The results file shipped with the package for ``model``."""
    return Path(__file__).resolve().parents[1] / "results" / f"optimal_p_{model}.json"


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
