"""The best-P results file (:mod:`hetconv_edu.study.results`): the additive cost and accuracy
model and its calibrated time model, files written and read back, clear errors for malformed or
tampered files, and the shipped file checked against the benchmark that made it."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import statistics
from pathlib import Path

import pytest
import torch

from hetconv_edu.flops import network_cost
from hetconv_edu.models import build_model
from hetconv_edu.study.answer import budget_verdicts
from hetconv_edu.study.costs import model_costs
from hetconv_edu.study.measure import (
    fit_time_model,
    provenance,
)
from hetconv_edu.study.reference import stale_reasons
from hetconv_edu.study.results import (
    SCHEMA,
    Costs,
    LayerCosts,
    OptimalPResults,
    ResultsFileError,
    Run,
    default_results_path,
    fixed_costs,
    load_results,
    save_results,
)
from hetconv_edu.study.search import brute_force_front

ROOT = Path(__file__).resolve().parents[1]


BENCHMARK = ROOT / "benchmarks" / "optimal_p.py"


def _layer(name: str, choices: tuple[int, ...], base: int, loss_step: float) -> LayerCosts:
    n = len(choices)
    return LayerCosts(
        name=name,
        in_channels=16,
        out_channels=16,
        out_size=8,
        stride=1,
        choices=choices,
        macs=tuple(base // p for p in choices),
        params=tuple(100 // p for p in choices),
        infer_ms=tuple(1.0 / p for p in choices),
        train_ms=tuple(3.0 / p for p in choices),
        loss=tuple(loss_step * i for i in range(n)),
    )


def _results(runs: tuple[Run, ...] = ()) -> OptimalPResults:
    return OptimalPResults(
        provenance=provenance(["python", "x.py"], {"name": "fake"}, {"epochs": 1, "seeds": [0]}),
        model="small_vgg",
        model_kwargs={"widths": [8, 16, 16]},
        input_shape=(3, 32, 32),
        standard=Costs(macs=3000, params=300, infer_ms=3.0, train_ms=9.0),
        fixed=Costs(macs=1000, params=100, infer_ms=0.5, train_ms=1.0),
        reference_acc=0.8,
        layers=(
            _layer("a", (1, 2, 4), 1000, 0.01),
            _layer("b", (1, 2, 4, 8), 1000, 0.03),
        ),
        runs=runs,
    )


SMALL = {"widths": [8, 16, 16]}


def file_results(runs: tuple[tuple[str, tuple[int, ...]], ...] = ()) -> OptimalPResults:
    """Results of small_vgg (widths 8-16-16) as a results file must hold them: layers and
    standard costs from :func:`model_costs`, the fixed part from :func:`fixed_costs`, made-up
    times and losses, and one run per (kind, config) with its costs added up."""
    std_macs, std_params, rows = model_costs("small_vgg", SMALL, (3, 32, 32))
    layers = tuple(
        LayerCosts(
            **row,
            infer_ms=tuple(m / 1e8 + 0.001 * p
                           for m, p in zip(row["macs"], row["choices"], strict=True)),
            train_ms=tuple(3 * m / 1e8 for m in row["macs"]),
            loss=tuple(0.01 * i for i in range(len(row["choices"]))),
        )
        for row in rows
    )  # fmt: skip
    standard = Costs(std_macs, std_params, 0.2, 0.7)
    r = OptimalPResults(
        provenance=provenance(["python", "x.py"], {"name": "fake"}, {"epochs": 1, "seeds": [0]}),
        model="small_vgg", model_kwargs=SMALL, input_shape=(3, 32, 32), standard=standard,
        fixed=fixed_costs(standard, layers), reference_acc=0.8, layers=layers,
    )  # fmt: skip
    made = []
    for i, (kind, config) in enumerate(runs):
        params = r.fixed.params + sum(
            layer.params[layer.choices.index(p)] for layer, p in zip(layers, config, strict=True)
        )
        costs = Costs(int(r.cost(config, "macs")), params, 0.1, 0.3)
        extra = ("macs", costs.macs * 1.1, 0.6) if kind == "searched" else ()
        made.append(Run(kind, config, 0, 0.5 + 0.01 * i, costs, 1.0, *extra))
    return dataclasses.replace(r, runs=tuple(made))


def test_additive_model_costs_and_predictions_sum_over_layers() -> None:
    r = _results()
    assert r.cost((2, 8), "macs") == 1000 + 500 + 125
    assert r.cost((1, 1), "infer_ms") == pytest.approx(0.5 + 1.0 + 1.0)
    assert r.predicted_acc((4, 2)) == pytest.approx(0.8 - 0.02 - 0.03)
    assert r.uniform_choices() == [1, 2, 4]
    front = r.front("macs")
    brute = brute_force_front(r.options("macs"), r.fixed.macs)
    assert [(p.cost, p.loss) for p in front] == [(p.cost, p.loss) for p in brute]
    plan = r.best("macs", 1800)
    assert plan is not None and plan.cost <= 1800
    assert r.predicted_acc(plan.config) == pytest.approx(0.8 - plan.loss)
    assert r.best("macs", 100) is None


def test_a_time_model_calibrates_time_costs_and_the_time_front() -> None:
    plain = _results()
    intercept, slope = 0.25, 0.5
    r = dataclasses.replace(plain, time_model={"infer_ms": (intercept, slope)})
    for config in ((1, 1), (2, 8), (4, 2)):
        layers = plain.cost(config, "infer_ms") - plain.fixed.infer_ms
        assert r.layer_sum(config, "infer_ms") == pytest.approx(layers)
        assert r.cost(config, "infer_ms") == pytest.approx(intercept + slope * layers)
        assert r.cost(config, "macs") == plain.cost(config, "macs")  # MACs stay exact
        assert r.cost(config, "train_ms") == plain.cost(config, "train_ms")  # no model for it
    assert r.fixed_cost("infer_ms") == intercept and plain.fixed_cost("infer_ms") == 0.5
    # the line grows with the sum: the same configurations on the front, costs on the line
    front, base = r.front("infer_ms"), plain.front("infer_ms")
    assert [p.config for p in front] == [p.config for p in base]
    for p, q in zip(front, base, strict=True):
        assert p.cost == pytest.approx(intercept + slope * (q.cost - plain.fixed.infer_ms))
        assert p.loss == q.loss
    budget = 1.2
    plan = r.best("infer_ms", budget)
    assert plan is not None and r.cost(plan.config, "infer_ms") <= budget
    brute = brute_force_front(r.options("infer_ms"), r.fixed_cost("infer_ms"))
    best = min((p for p in brute if p.cost <= budget), key=lambda p: (p.loss, p.cost))
    assert plan.config == best.config


def test_bad_configurations_and_metrics_say_what_is_allowed() -> None:
    r = _results()
    with pytest.raises(ValueError, match=r"b takes P ∈ \{1, 2, 4, 8\}, got 16"):
        r.cost((1, 16), "macs")
    with pytest.raises(ValueError, match="2 switchable layers, got 3"):
        r.predicted_acc((1, 1, 1))
    with pytest.raises(ValueError, match="metric must be one of"):
        r.cost((1, 1), "joules")


def test_rank_correlation_counts_each_trained_network_once() -> None:
    costs = Costs(1, 1, 1.0, 1.0)
    # predicted accuracy falls with P in layer b; retrained accuracies rank them differently
    runs = (
        Run("uniform", (1, 1), 0, 0.70, costs, 1.0),
        Run("uniform", (2, 2), 0, 0.90, costs, 1.0),
        Run("uniform", (4, 4), 0, 0.80, costs, 1.0),
        Run("uniform", (4, 4), 1, 0.60, costs, 1.0),
        Run("searched", (2, 2), 0, 0.90, costs, 1.0, "macs", 2000.0, 0.6),
    )
    r = _results(runs)
    unique = runs[:4]
    predicted = _average_ranks([r.predicted_acc(run.config) for run in unique])
    measured = _average_ranks([run.test_acc for run in unique])
    expected = _pearson(predicted, measured)
    twice = runs
    counted_twice = _pearson(
        _average_ranks([r.predicted_acc(run.config) for run in twice]),
        _average_ranks([run.test_acc for run in twice]),
    )
    assert abs(expected - counted_twice) > 0.05  # the data can tell the two apart
    assert r.rank_correlation() == pytest.approx(expected, abs=1e-12)


def test_results_round_trip_through_a_file(tmp_path: Path) -> None:
    r = file_results((("uniform", (1, 1, 1, 1)), ("searched", (2, 4, 1, 8))))
    r = dataclasses.replace(
        r,
        time_model={"infer_ms": (0.05, 0.8), "train_ms": (0.1, 0.9)},
        runs=(dataclasses.replace(r.runs[0], test_acc=0.75, confusion=((2, 1), (0, 1))),
              r.runs[1]),
    )  # fmt: skip
    path = save_results(r, tmp_path / "sub" / "r.json")
    assert not list(path.parent.glob("*.tmp"))
    assert load_results(path) == r
    assert json.loads(path.read_text())["schema"] == SCHEMA


def test_schema_1_files_are_still_read_with_the_additive_time_model(tmp_path: Path) -> None:
    r = file_results((("uniform", (1, 1, 1, 1)),))
    data = json.loads(json.dumps(r.to_dict()))
    data["schema"] = "hetconv_edu.optimal_p/1"
    for key in ("time_model",):
        data.pop(key)
    for run in data["runs"]:
        run.pop("confusion")
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    old = load_results(path)
    assert old.time_model == {} and old.runs[0].confusion == ()
    config = (2, 4, 1, 8)
    assert old.cost(config, "infer_ms") == pytest.approx(
        old.fixed.infer_ms + old.layer_sum(config, "infer_ms")
    )


def _scale_layer_macs(d: dict, factor: int) -> None:
    for layer in d["layers"]:
        layer["macs"] = [m * factor for m in layer["macs"]]


TAMPERED = [
    (lambda d: d.update(schema="other/9"), "schema is 'other/9'"),
    (lambda d: d["provenance"].pop("machine"), "provenance lacks machine"),
    (lambda d: d.pop("layers"), "missing field 'layers'"),
    (
        lambda d: d["layers"][0]["macs"].__setitem__(0, 1),
        r"layer 1 \(8→16, 16×16\) at P=1 stores 1 macs, small_vgg computes "
        + f"{8 * 16 * 3 * 3 * 16 * 16};",
    ),
    (lambda d: d["layers"][0]["macs"].pop(), "macs has not one value per choice"),
    (lambda d: d.update(reference_acc=80), "reference_acc must be a finite number"),
    (lambda d: d["layers"][1].update(choices=["1", "2", "4", "8", "16"]), "choices"),
    (
        lambda d: d["runs"].append({**d["runs"][0], "config": [3, 1, 1, 1]}),
        r"takes P ∈ \{1, 2, 4, 8\}, got 3",
    ),
    (lambda d: d["runs"][0].update(kind="lucky"), r"runs\[0\].kind must be one of"),
    # issue 13 item 5: each tampering of the best-P app's file
    (
        lambda d: d["layers"][0]["macs"].__setitem__(0, -d["layers"][0]["macs"][0]),
        r"layers\[0\].macs\[0\] must be an integer >= 0",
    ),
    (lambda d: d["standard"].update(macs=-1), "standard.macs must be an integer >= 0"),
    (lambda d: _scale_layer_macs(d, 10), "stores .* macs, small_vgg computes"),
    (
        lambda d: d["standard"].update(macs=d["standard"]["macs"] * 10),
        "the standard network stores",
    ),
    (lambda d: d["fixed"].update(params=d["fixed"]["params"] + 1), "the fixed part stores"),
    (
        lambda d: d["runs"][1]["costs"].update(macs=d["runs"][1]["costs"]["macs"] * 2),
        "run P=\\(2, 4, 1, 8\\) stores",
    ),
    (
        lambda d: d["layers"][2]["infer_ms"].__setitem__(1, float("nan")),
        r"layers\[2\].infer_ms\[1\] must be a finite number",
    ),
    (
        lambda d: d["runs"][0].update(test_acc=float("nan")),
        r"runs\[0\].test_acc must be a finite number",
    ),
    (
        lambda d: d["layers"][3]["loss"].__setitem__(2, float("nan")),
        r"layers\[3\].loss\[2\] must be a finite number",
    ),
    (
        lambda d: d["standard"].update(infer_ms=float("inf")),
        "standard.infer_ms must be a finite number",
    ),
    (lambda d: d.update(model="huge_vgg"), "model must be one of"),
    (
        lambda d: d["layers"][1].update(choices=[2, 1, 4, 8, 16]),
        r"layers\[1\].choices must be increasing",
    ),
    (
        lambda d: d["layers"][1].update(choices=[1, 2, 4, 8, 3]),
        r"layers\[1\].choices must be increasing",
    ),
    (lambda d: d["layers"][1].update(choices=[1, 2, 4, 8, 32]), "layer 2 of small_vgg"),
    (lambda d: d.update(model_kwargs={"widths": [8, 16, 32]}), "small_vgg (has|computes)"),
    (lambda d: d["runs"][1].update(budget=-5.0), r"runs\[1\].budget must be a finite number"),
    (lambda d: d.update(input_shape=[3, 32]), "expected 3 values"),
    (
        lambda d: d.update(time_model={"infer_ms": {"intercept_ms": 0.1, "slope": -1.0}}),
        r"time_model.infer_ms.slope must be a finite number 0.0 < time_model.infer_ms.slope",
    ),
    (
        lambda d: d["runs"][0].update(confusion=[[3, 1], [0, 1]]),
        r"run P=1 seed 0 stores test_acc 0.5, its confusion matrix gives 0.8;",
    ),
    (lambda d: d["runs"][0].update(confusion=[[3, 1]]), r"must be a square matrix"),
]


def tampered_file(folder: Path, edit) -> Path:
    """A valid results file of :func:`file_results` (two runs) with ``edit`` applied to its
    JSON data."""
    r = file_results((("uniform", (1, 1, 1, 1)), ("searched", (2, 4, 1, 8))))
    data = json.loads(json.dumps(r.to_dict()))
    edit(data)
    path = folder / "bad.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(("edit", "message"), TAMPERED)
def test_malformed_results_files_give_clear_errors(tmp_path: Path, edit, message: str) -> None:
    path = tampered_file(tmp_path, edit)
    with pytest.raises(ResultsFileError, match=message) as caught:
        load_results(path)
    assert str(caught.value).startswith(f"{path}: ") and "\n" not in str(caught.value)


def test_missing_unreadable_or_non_json_results_files_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ResultsFileError, match=r"no results file at .*benchmarks/optimal_p\.py"):
        load_results(tmp_path / "none.json")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(ResultsFileError, match="not valid JSON"):
        load_results(tmp_path / "x.json")
    good = json.dumps(file_results().to_dict()).encode()
    (tmp_path / "latin.json").write_bytes(good.replace(b'"fake"', b'"caf\xe9"'))
    with pytest.raises(ResultsFileError, match=r"not a UTF-8 text file \(byte \d+"):
        load_results(tmp_path / "latin.json")
    with pytest.raises(ResultsFileError, match="cannot be read"):
        load_results(tmp_path)  # a folder


def _benchmark():
    """benchmarks/optimal_p.py as a module (its parser and main)."""
    spec = importlib.util.spec_from_file_location("bench_optimal_p", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _average_ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2
        i = j + 1
    return ranks


def _pearson(x: list[float], y: list[float]) -> float:
    mx, my = sum(x) / len(x), sum(y) / len(y)
    cov = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sx = math.sqrt(sum((a - mx) ** 2 for a in x))
    sy = math.sqrt(sum((b - my) ** 2 for b in y))
    return cov / (sx * sy)


def expected_verdicts(r: OptimalPResults) -> list[tuple]:
    """The rule of :mod:`hetconv_edu.study.answer`, computed here independently: at each
    budget, (plan, rival uniform config or None, margin, noise, better)."""
    accs: dict[tuple[int, ...], dict[int, float]] = {}
    costs = {}
    for run in r.runs:
        accs.setdefault(run.config, {}).setdefault(run.seed, run.test_acc)
        costs.setdefault(run.config, run.costs)
    uniform = {run.config for run in r.runs if run.kind == "uniform"}
    out = []
    for check in r.evolution:
        plan = check.knapsack_config
        if plan not in accs:
            out.append((plan, None, None, None, False))
            continue
        cost = costs[plan].get(check.metric)
        fits = [u for u in uniform if costs[u].get(check.metric) <= cost]
        if not fits:
            out.append((plan, None, None, None, False))
            continue
        mean = {c: statistics.mean(accs[c].values()) for c in (plan, *fits)}
        rival = max(fits, key=lambda u: (mean[u], -costs[u].get(check.metric)))
        margin = mean[plan] - mean[rival]
        sides = (list(accs[plan].values()), list(accs[rival].values()))
        noise = max(map(statistics.stdev, sides)) if min(map(len, sides)) > 1 else None
        out.append((plan, rival, margin, noise, noise is not None and margin > noise))
    return out


def check_derived_figures(r: OptimalPResults, test_labels: torch.Tensor | None = None) -> None:
    """Recompute from the code every figure of a results file that follows from others and
    compare: the budgets from the command's fractions and the standard network's costs, each
    knapsack plan and its prediction from the stored sensitivities and costs (and, schema 2,
    the time model from the standard and uniform networks' measured times), the evolutionary
    check's invariants, which configurations were retrained with which seeds and with what,
    every trained network's MACs and parameters from the network itself, each run's accuracy
    from its confusion matrix (whose rows hold ``test_labels``' class counts), the rank
    correlation (an independent Spearman) and each budget's verdict (an independent rule)."""
    bench = _benchmark()
    args, _ = bench.build_parser().parse_known_args(r.provenance["command"].split()[2:])
    if args.quick:
        for key, value in bench.QUICK.items():
            setattr(args, key, value)
    std = network_cost(
        build_model(r.model, "standard", **r.model_kwargs).eval(), (1, *r.input_shape)
    )
    assert (r.standard.macs, r.standard.params) == (std.macs, std.params)
    assert r.fixed == fixed_costs(r.standard, r.layers)
    seeds = r.provenance["training_budget"]["seeds"]
    uniform = {(run.config, run.seed): run for run in r.runs if run.kind == "uniform"}
    common = r.uniform_choices()
    expected_p = args.uniform or sorted({p for p in (1, 2, 4, 8, 16) if p in common} | {common[-1]})
    assert sorted(uniform) == sorted(((p,) * len(r.layers), s) for p in expected_p for s in seeds)
    if r.time_model:  # schema 2: the line through the standard and uniform networks' times
        smallest = tuple(layer.choices[0] for layer in r.layers)
        first = {config: run for (config, _), run in sorted(uniform.items(), reverse=True)}
        for metric in ("infer_ms", "train_ms"):
            fitted = fit_time_model(
                [r.layer_sum(smallest, metric)] + [r.layer_sum(c, metric) for c in first],
                [r.standard.get(metric)] + [run.costs.get(metric) for run in first.values()],
            )
            assert r.time_model[metric] == pytest.approx(fitted, rel=1e-12), metric
    budgets = [
        (metric, fraction * r.standard.get(metric))
        for metric, fractions in (("macs", args.mac_budgets), ("infer_ms", args.time_budgets))
        for fraction in fractions
    ]
    assert [(c.metric, c.budget) for c in r.evolution] == [
        (m, b) for m, b in budgets if r.best(m, b) is not None
    ]
    first_check: dict[tuple[int, ...], object] = {}
    for check in r.evolution:
        plan = r.best(check.metric, check.budget)
        assert check.knapsack_config == plan.config
        assert check.knapsack_predicted == pytest.approx(r.reference_acc - plan.loss, abs=1e-12)
        assert check.knapsack_predicted == pytest.approx(r.predicted_acc(plan.config), abs=1e-9)
        assert r.cost(check.best_config, check.metric) <= check.budget * (1 + 1e-12)
        assert check.best_measured >= check.knapsack_measured  # the plan was evaluated too
        first_check.setdefault(check.knapsack_config, check)
    searched: dict[tuple[int, ...], list[Run]] = {}
    for run in r.runs:
        if run.kind == "searched":
            searched.setdefault(run.config, []).append(run)
    assert set(searched) == set(first_check)
    for config, runs in searched.items():
        check = first_check[config]
        for run in runs:
            assert (run.metric, run.budget) == (check.metric, check.budget)
            assert run.supernet_acc == check.knapsack_measured
        # schema 2: every seed; schema 1 retrained each plan with the first seed only
        expected_seeds = seeds if r.time_model else seeds[:1]
        assert sorted(run.seed for run in runs) == sorted(expected_seeds)
        for run in runs:
            if (config, run.seed) in uniform:  # retrained once: the same network and accuracy
                assert run.test_acc == uniform[config, run.seed].test_acc
    by_config: dict[tuple[int, ...], Costs] = {}
    for run in r.runs:
        net = build_model(r.model, [f"hetconv:{p}" for p in run.config], **r.model_kwargs)
        cost = network_cost(net.eval(), (1, *r.input_shape))
        assert (run.costs.macs, run.costs.params) == (cost.macs, cost.params), run.label
        assert by_config.setdefault(run.config, run.costs) == run.costs  # one network's costs
        if r.time_model:
            matrix = torch.tensor(run.confusion)
            assert run.test_acc == float(matrix.diagonal().sum()) / float(matrix.sum())
            if test_labels is not None:
                counts = torch.bincount(test_labels, minlength=len(matrix))
                assert matrix.sum(1).tolist() == counts.tolist(), run.label
    unique = list({(run.config, run.seed): run for run in r.runs}.values())
    predicted = _average_ranks([r.predicted_acc(run.config) for run in unique])
    measured = _average_ranks([run.test_acc for run in unique])
    assert r.rank_correlation() == pytest.approx(_pearson(predicted, measured), abs=1e-12)
    verdicts = [
        (v.config, None if v.rival is None else v.rival.config, v.margin, v.noise, v.better)
        for v in budget_verdicts(r)
    ]
    expected = expected_verdicts(r)
    assert [(v[0], v[1], v[4]) for v in verdicts] == [(e[0], e[1], e[4]) for e in expected]
    for got, want in zip(verdicts, expected, strict=True):  # margin and noise, to rounding
        for g, w in zip(got[2:4], want[2:4], strict=True):
            assert (g is None) == (w is None) and (g is None or g == pytest.approx(w, abs=1e-12))


CIFAR10_TEST_LABELS = torch.arange(10).repeat_interleave(1000)
"""The class counts of CIFAR-10's test set: 1,000 of each class."""


def test_shipped_results_file_is_valid_and_comes_from_the_benchmark() -> None:
    r = load_results(default_results_path())
    assert "benchmarks/optimal_p.py" in r.provenance["command"]
    assert r.provenance["data"]["name"] == "CIFAR-10"
    assert r.provenance["data"]["test_images"] == 10_000
    assert {run.kind for run in r.runs} == {"uniform", "searched"}
    check_derived_figures(r, CIFAR10_TEST_LABELS)
    stamp = r.provenance["reference"]
    assert (
        len(stamp["commit"].split("+")[0]) == 40 and "benchmarks/optimal_p.py" in stamp["command"]
    )
    stale = stale_reasons(r)
    assert not stale, (
        "the shipped best-P results are stale: this code computes other numbers than the code "
        f"that made them ({'; '.join(stale)}); make them again: python benchmarks/optimal_p.py "
        "DATA (see its docstring)"
    )


def _double_macs(d: dict) -> None:
    """Every MAC count of the file doubled, consistently (layers, standard, fixed, runs,
    MAC budgets)."""
    for layer in d["layers"]:
        layer["macs"] = [2 * m for m in layer["macs"]]
    for costs in (d["standard"], d["fixed"], *(run["costs"] for run in d["runs"])):
        costs["macs"] *= 2
    for item in (*d["runs"], *d["evolution"]):
        if item.get("metric") == "macs":
            item["budget"] *= 2


def _replace_plan(d: dict) -> None:
    """The first knapsack plan (and its retrained runs) replaced by a uniform configuration."""
    old = d["evolution"][0]["knapsack_config"]
    new = next(run["config"] for run in d["runs"] if run["kind"] == "uniform")
    d["evolution"][0]["knapsack_config"] = new
    for run in d["runs"]:
        if run["kind"] == "searched" and run["config"] == old:
            run["config"] = new


def _searched_accuracy(d: dict) -> None:
    for run in d["runs"]:
        if run["kind"] == "searched":
            run["test_acc"] = 0.99


def _params_one(d: dict) -> None:
    for layer in d["layers"]:
        layer["params"] = [1] * len(layer["params"])


def _flip_sensitivities(d: dict) -> None:
    for layer in d["layers"]:
        layer["loss"] = [-v for v in layer["loss"]]


def _budgets_times_ten(d: dict) -> None:
    for item in (*d["runs"], *d["evolution"]):
        if item.get("budget") is not None:
            item["budget"] *= 10


TAMPERINGS = {
    "every MAC count doubled": _double_macs,
    "a knapsack plan replaced": _replace_plan,
    "searched accuracies set to 0.99": _searched_accuracy,
    "parameter counts set to 1": _params_one,
    "sensitivity signs flipped": _flip_sensitivities,
    "budgets scaled by 10": _budgets_times_ten,
}
"""Edits of a results file that its own contents cannot reveal (issue 17 §1): each must be
refused on load or by :func:`check_derived_figures`."""


def caught(data: dict, tmp_path: Path, test_labels: torch.Tensor | None = None) -> str:
    """How a results file's ``data`` is refused: the load error, the failed recomputation,
    or "" when both accept it."""
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(data))
    try:
        check_derived_figures(load_results(path), test_labels)
    except ResultsFileError as err:
        return f"load: {err}"
    except AssertionError as err:
        return f"derived: {str(err).splitlines()[0] if str(err) else 'assertion'}"
    return ""


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_each_tampering_of_the_shipped_file_is_caught(tmp_path: Path, name: str) -> None:
    data = json.loads(default_results_path().read_text())
    assert caught(json.loads(json.dumps(data)), tmp_path, CIFAR10_TEST_LABELS) == ""
    TAMPERINGS[name](data)
    if name == "searched accuracies set to 0.99" and data["schema"].endswith("/1"):
        return  # a schema 1 file holds no confusion matrix: test_study_driver checks schema 2
    assert caught(data, tmp_path, CIFAR10_TEST_LABELS), name


def _save_many(results: OptimalPResults, path: str, times: int) -> None:
    for _ in range(times):
        save_results(results, path)


def test_two_processes_saving_to_one_path_never_leave_a_broken_file(tmp_path: Path) -> None:
    import multiprocessing

    a = file_results((("uniform", (1, 1, 1, 1)),))
    b = file_results((("uniform", (2, 2, 2, 2)), ("searched", (2, 4, 1, 8))))
    path = save_results(a, tmp_path / "r.json")
    expected = {json.dumps(r.to_dict(), indent=1) + "\n" for r in (a, b)}
    ctx = multiprocessing.get_context("fork")
    writers = [ctx.Process(target=_save_many, args=(r, str(path), 150)) for r in (a, b)]
    for w in writers:
        w.start()
    reads = 0
    while any(w.is_alive() for w in writers) or reads == 0:
        assert path.read_text() in expected  # the old file or a new one, never a part
        reads += 1
    for w in writers:
        w.join()
        assert w.exitcode == 0
    assert load_results(path) in (a, b) and reads > 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]  # no temporary left
