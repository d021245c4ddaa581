"""The best-P study: costs per layer, sensitivities, the results file and its benchmark."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest
import torch

import hetconv_edu.optimal_p as optimal_p
from hetconv_edu.data import ImageDataset, load_dataset
from hetconv_edu.flops import layer_cost, network_cost
from hetconv_edu.models import build_model
from hetconv_edu.optimal_p import (
    SCHEMA,
    Costs,
    LayerCosts,
    OptimalPResults,
    ResultsFileError,
    Run,
    default_results_path,
    fixed_costs,
    load_results,
    measure_layers,
    measure_network,
    measure_sensitivity,
    model_costs,
    provenance,
    save_results,
    split_validation,
)
from hetconv_edu.search import brute_force_front
from hetconv_edu.study_reference import stale_reasons
from hetconv_edu.supernet import SuperNet
from tests.datasets import write_fake_cifar10

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
    path = save_results(r, tmp_path / "sub" / "r.json")
    assert not list(path.parent.glob("*.tmp"))
    assert load_results(path) == r
    assert json.loads(path.read_text())["schema"] == SCHEMA


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


def test_provenance_names_command_date_version_machine_data_and_budget() -> None:
    p = provenance(["python", "b.py", "--quick"], {"name": "CIFAR-10"}, {"epochs": 3})
    assert p["command"] == "python b.py --quick"
    assert p["date"][:2] == "20" and "T" in p["date"]
    assert p["package_version"] and p["torch_version"] == torch.__version__
    assert p["machine"]["physical_cores"] >= 1
    assert p["data"] == {"name": "CIFAR-10"} and p["training_budget"] == {"epochs": 3}
    assert len(p["git_commit"].split("+")[0]) == 40  # the code that made the results


def _fake_timer(calls: list):
    """A stand-in for time_layers: forward passes take 1 ms per call, backward ones 3 ms."""
    from hetconv_edu.timing import time_layers

    def fake(modules, shape, *, backward=False, rounds=5, **kwargs):
        calls.append((tuple(modules), tuple(shape), backward))
        real = time_layers(modules, shape, backward=backward, rounds=1, **kwargs)
        seconds = 0.003 if backward else 0.001
        return {name: dataclasses.replace(t, median_s=seconds) for name, t in real.items()}

    return fake


def test_measured_layer_table_has_analytic_costs_and_the_right_timings(monkeypatch) -> None:
    calls: list = []
    monkeypatch.setattr(optimal_p, "time_layers", _fake_timer(calls))
    net = SuperNet("small_vgg", seed=0, widths=(8, 16, 16))
    layers = measure_layers(net, (3, 32, 32), batch=4, rounds=1)
    assert [layer.choices for layer in layers] == list(net.choices)
    rows = {r.name: r for r in network_cost(net.export(net.largest()).eval(), (1, 3, 32, 32)).rows}
    for layer, name, slot in zip(layers, net.slot_names, net.slots, strict=True):
        assert layer.out_size == rows[name].out_size
        m, n = slot.in_channels, slot.out_channels
        for p, macs, params in zip(layer.choices, layer.macs, layer.params, strict=True):
            assert macs == layer_cost(f"hetconv:{p}", m, n, 3, layer.out_size).macs
            exported = net.export(tuple(p if i == slot.index else c[0]
                                        for i, c in enumerate(net.choices)))  # fmt: skip
            module = exported.get_submodule(name)
            assert params == sum(w.numel() for w in module.parameters())  # bias included
        assert layer.infer_ms == pytest.approx([1.0 / 4] * len(layer.choices))  # forward timing
        assert layer.train_ms == pytest.approx([3.0 / 4] * len(layer.choices))  # backward
        assert layer.loss == ()
    assert sorted({c[2] for c in calls}) == [False, True]


def test_measure_network_costs_match_network_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    from hetconv_edu.models import build_model

    models = {
        "std": build_model("small_vgg", "standard", widths=(8, 16, 16)),
        "p4": build_model("small_vgg", "hetconv:4", widths=(8, 16, 16)),
    }
    costs = measure_network(models, (3, 32, 32), batch=4, rounds=1)
    for name, model in models.items():
        expected = network_cost(model.eval(), (1, 3, 32, 32))
        assert costs[name].macs == expected.macs and costs[name].params == expected.params
        assert costs[name].infer_ms > 0 and costs[name].train_ms > 0
    calls: list = []
    monkeypatch.setattr(optimal_p, "time_layers", _fake_timer(calls))
    faked = measure_network(models, (3, 32, 32), batch=4, rounds=1)
    assert all(c.infer_ms == pytest.approx(0.25) and c.train_ms == pytest.approx(0.75)
               for c in faked.values())  # fmt: skip
    assert costs["p4"].macs < costs["std"].macs


def test_sensitivity_changes_one_layer_at_a_time() -> None:
    seen = []

    def evaluate(config: tuple[int, ...]) -> float:
        seen.append(config)
        return 0.9 - 0.01 * config[0] - 0.001 * config[1]

    ticks = []
    base, losses = measure_sensitivity(
        evaluate, [(1, 2, 4), (1, 8)], progress=lambda d, t: ticks.append((d, t))
    )
    assert base == pytest.approx(0.9 - 0.011)
    assert losses[0] == pytest.approx((0.0, 0.01, 0.03))
    assert losses[1] == pytest.approx((0.0, 0.007))
    assert seen == [(1, 1), (2, 1), (4, 1), (1, 8)]
    assert ticks[-1] == (4, 4)


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


def check_derived_figures(r: OptimalPResults) -> None:
    """Recompute from the code every figure of a results file that follows from others: the
    budgets from the command's fractions, each knapsack plan and its prediction from the stored
    sensitivities and costs, the evolutionary check's invariants, which configurations were
    retrained and with what, every trained network's MACs and parameters from the network
    itself, and the rank correlation (by an independent Spearman)."""
    bench = _benchmark()
    args, _ = bench.build_parser().parse_known_args(r.provenance["command"].split()[2:])
    if args.quick:
        for key, value in bench.QUICK.items():
            setattr(args, key, value)
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
    searched = {run.config: run for run in r.runs if run.kind == "searched"}
    assert set(searched) == set(first_check)
    seeds = r.provenance["training_budget"]["seeds"]
    for config, run in searched.items():
        check = first_check[config]
        assert (run.metric, run.budget) == (check.metric, check.budget)
        assert run.supernet_acc == check.knapsack_measured
        assert run.seed == seeds[0]
    uniform = {(run.config, run.seed): run for run in r.runs if run.kind == "uniform"}
    common = r.uniform_choices()
    expected_p = args.uniform or sorted({p for p in (1, 2, 4, 8, 16) if p in common} | {common[-1]})
    assert sorted(uniform) == sorted(((p,) * len(r.layers), s) for p in expected_p for s in seeds)
    for config, run in searched.items():
        if (config, run.seed) in uniform:  # retrained once: the same network and accuracy
            assert run.test_acc == uniform[config, run.seed].test_acc
    for run in r.runs:
        net = build_model(r.model, [f"hetconv:{p}" for p in run.config], **r.model_kwargs)
        cost = network_cost(net.eval(), (1, *r.input_shape))
        assert (run.costs.macs, run.costs.params) == (cost.macs, cost.params), run.label
    std = network_cost(
        build_model(r.model, "standard", **r.model_kwargs).eval(), (1, *r.input_shape)
    )
    assert (r.standard.macs, r.standard.params) == (std.macs, std.params)
    assert r.fixed == fixed_costs(r.standard, r.layers)
    unique = list({(run.config, run.seed): run for run in r.runs}.values())
    predicted = _average_ranks([r.predicted_acc(run.config) for run in unique])
    measured = _average_ranks([run.test_acc for run in unique])
    assert r.rank_correlation() == pytest.approx(_pearson(predicted, measured), abs=1e-12)


def test_shipped_results_file_is_valid_and_comes_from_the_benchmark() -> None:
    r = load_results(default_results_path())
    assert "benchmarks/optimal_p.py" in r.provenance["command"]
    assert r.provenance["data"]["name"] == "CIFAR-10"
    assert r.provenance["data"]["test_images"] == 10_000
    assert {run.kind for run in r.runs} == {"uniform", "searched"}
    check_derived_figures(r)
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


def test_benchmark_quick_run_writes_a_valid_results_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    data = tmp_path / "data"
    write_fake_cifar10(data, n_train=600, n_test=100)
    test_set = load_dataset("cifar10", data, download=False).test_images
    out = tmp_path / "op.json"
    bench = _benchmark()
    searched_on, evaluated_on, retrained_on = [], [], []

    def spy(cls, seen):
        class Spy(cls):
            def __init__(self, config, dataset, **kwargs):
                seen.append(dataset)
                super().__init__(config, dataset, **kwargs)

        return Spy

    real_evaluate = bench.evaluate_config

    def evaluate(trainer, config, **kwargs):
        evaluated_on.append(trainer.dataset)
        return real_evaluate(trainer, config, **kwargs)

    monkeypatch.setattr(bench, "SuperNetTrainer", spy(bench.SuperNetTrainer, searched_on))
    monkeypatch.setattr(bench, "Trainer", spy(bench.Trainer, retrained_on))
    monkeypatch.setattr(bench, "evaluate_config", evaluate)
    monkeypatch.setattr(
        sys, "argv", ["benchmarks/optimal_p.py", str(data), "--quick", "--out", str(out)]
    )
    assert bench.main(sys.argv[1:]) == 0
    r = load_results(out)
    assert r.provenance["data"]["train_images"] == 300
    assert {run.kind for run in r.runs} == {"uniform", "searched"}
    assert len(r.evolution) >= 1
    check_derived_figures(r)
    assert "rank correlation" in capsys.readouterr().out
    assert r.provenance["reference"]["commit"] and stale_reasons(r) == []
    # the search never sees the test set; its validation images are not training images
    assert searched_on and retrained_on and len(evaluated_on) > 1
    images = lambda t: {bytes(x.numpy()) for x in t}  # noqa: E731
    for dataset in (*searched_on, *evaluated_on):
        val = images(dataset.test_images)
        assert len(val) == 200 and not val & images(test_set)
        assert not val & images(dataset.train_images)
    for dataset in retrained_on:
        assert torch.equal(dataset.test_images, test_set)
        assert images(dataset.train_images) == images(searched_on[0].train_images)


def test_split_validation_is_disjoint_and_keeps_the_test_set() -> None:
    n = 50
    train = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 3, 4, 4).contiguous()
    test = torch.full((7, 3, 4, 4), 255, dtype=torch.uint8)
    full = ImageDataset.from_tensors(
        "ids", train, torch.arange(n) % 10, test, torch.zeros(7, dtype=torch.int64),
        tuple(map(str, range(10))),
    )  # fmt: skip
    for_test, for_search = split_validation(full, 30, 15, seed=3)
    tr = [int(v) for v in for_search.train_images[:, 0, 0, 0]]
    va = [int(v) for v in for_search.test_images[:, 0, 0, 0]]
    assert len(set(tr)) == 30 and len(set(va)) == 15 and not set(tr) & set(va)
    assert torch.equal(for_test.train_images, for_search.train_images)
    assert torch.equal(for_test.test_images, test)
    assert [int(v) for v in for_search.test_labels] == [i % 10 for i in va]
    with pytest.raises(ValueError, match="30 training \\+ 25 validation images exceed the 50"):
        split_validation(full, 30, 25, seed=0)


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
