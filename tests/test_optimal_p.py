"""The best-P study: costs per layer, sensitivities, the results file and its benchmark."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hetconv_edu.flops import layer_cost, network_cost
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
    provenance,
    save_results,
)
from hetconv_edu.search import brute_force_front
from hetconv_edu.study_reference import stale_reasons
from hetconv_edu.supernet import SuperNet
from tests.datasets import write_fake_cifar10

ROOT = Path(__file__).resolve().parents[1]


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
    runs = (
        Run("uniform", (1, 1), 0, 0.9, costs, 1.0),
        Run("uniform", (2, 2), 0, 0.8, costs, 1.0),
        Run("uniform", (4, 4), 0, 0.7, costs, 1.0),
        Run("searched", (4, 4), 0, 0.7, costs, 1.0, "macs", 2000.0, 0.6),
    )
    r = _results(runs)
    assert r.rank_correlation() == pytest.approx(1.0)
    reversed_runs = tuple(
        Run(run.kind, run.config, run.seed, 1.6 - run.test_acc, costs, 1.0) for run in runs
    )
    assert _results(reversed_runs).rank_correlation() == pytest.approx(-1.0)


def test_results_round_trip_through_a_file(tmp_path: Path) -> None:
    costs = Costs(10, 2, 0.25, 0.75)
    r = _results((Run("searched", (2, 4), 1, 0.75, costs, 3.5, "macs", 1800.0, 0.7),))
    path = save_results(r, tmp_path / "sub" / "r.json")
    assert not list(path.parent.glob("*.tmp"))
    assert load_results(path) == r
    assert json.loads(path.read_text())["schema"] == SCHEMA


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(schema="other/9"), "schema is 'other/9'"),
        (lambda d: d["provenance"].pop("machine"), "provenance lacks machine"),
        (lambda d: d.pop("layers"), "missing field 'layers'"),
        (lambda d: d["layers"][0].update(macs=[1, 2]), "macs has not one value per choice"),
        (lambda d: d.update(reference_acc=80), "accuracy between 0 and 1"),
        (lambda d: d["layers"][1].update(choices=["1", "2", "4", "8"]), "list of integers"),
        (
            lambda d: d["runs"].append({**d["runs"][0], "config": [3, 1]}),
            r"a takes P ∈ \{1, 2, 4\}, got 3",
        ),
        (lambda d: d["runs"][0].update(kind="lucky"), "run kind must be"),
    ],
)
def test_malformed_results_files_give_clear_errors(tmp_path: Path, edit, message: str) -> None:
    costs = Costs(10, 2, 0.25, 0.75)
    data = json.loads(json.dumps(_results((Run("uniform", (1, 1), 0, 0.5, costs, 1.0),)).to_dict()))
    edit(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ResultsFileError, match=message):
        load_results(path)


def test_missing_or_non_json_results_files_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ResultsFileError, match=r"no results file at .*benchmarks/optimal_p\.py"):
        load_results(tmp_path / "none.json")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(ResultsFileError, match="not valid JSON"):
        load_results(tmp_path / "x.json")


def test_provenance_names_command_date_version_machine_data_and_budget() -> None:
    p = provenance(["python", "b.py", "--quick"], {"name": "CIFAR-10"}, {"epochs": 3})
    assert p["command"] == "python b.py --quick"
    assert p["date"][:2] == "20" and "T" in p["date"]
    assert p["package_version"] and p["torch_version"] == torch.__version__
    assert p["machine"]["physical_cores"] >= 1
    assert p["data"] == {"name": "CIFAR-10"} and p["training_budget"] == {"epochs": 3}


def test_measured_layer_table_has_analytic_macs_and_positive_times() -> None:
    net = SuperNet("small_vgg", seed=0, widths=(8, 16, 16))
    layers = measure_layers(net, (3, 32, 32), batch=4, rounds=1)
    assert [layer.choices for layer in layers] == list(net.choices)
    rows = {r.name: r for r in network_cost(net.export(net.largest()).eval(), (1, 3, 32, 32)).rows}
    for layer, name, slot in zip(layers, net.slot_names, net.slots, strict=True):
        assert layer.out_size == rows[name].out_size
        for p, macs in zip(layer.choices, layer.macs, strict=True):
            m, n = slot.in_channels, slot.out_channels
            assert macs == layer_cost(f"hetconv:{p}", m, n, 3, layer.out_size).macs
        assert all(t > 0 for t in (*layer.infer_ms, *layer.train_ms))
        assert layer.loss == ()


def test_measure_network_costs_match_network_cost() -> None:
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


def test_shipped_results_file_is_valid_and_comes_from_the_benchmark() -> None:
    r = load_results(default_results_path())
    assert "benchmarks/optimal_p.py" in r.provenance["command"]
    assert r.provenance["data"]["name"] == "CIFAR-10"
    assert r.provenance["data"]["test_images"] == 10_000
    assert {run.kind for run in r.runs} == {"uniform", "searched"}
    assert {run.config[0] for run in r.runs if run.kind == "uniform"} >= {1, 2, 4, 8}
    for run in r.runs:
        assert run.costs.macs == pytest.approx(r.cost(run.config, "macs"))
    # the standard network and the fixed part come from one timing: they add up
    assert r.fixed == fixed_costs(r.standard, r.layers)
    stamp = r.provenance["reference"]
    assert len(stamp["commit"].split("+")[0]) == 40 and "--stamp-reference" in stamp["command"]
    stale = stale_reasons(r)
    assert not stale, (
        "the shipped best-P results are stale: this code computes other numbers than the code "
        f"that made them ({'; '.join(stale)}); make them again: python benchmarks/optimal_p.py "
        "DATA (see its docstring)"
    )


def test_benchmark_quick_run_writes_a_valid_results_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_fake_cifar10(data, n_train=600, n_test=100)
    out = tmp_path / "op.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "optimal_p.py"),
            str(data),
            "--quick",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    r = load_results(out)
    assert r.provenance["data"]["train_images"] == 300
    assert {run.kind for run in r.runs} == {"uniform", "searched"}
    assert len(r.evolution) >= 1
    for check in r.evolution:
        assert r.cost(check.best_config, check.metric) <= check.budget + 1e-9
    assert "rank correlation" in proc.stdout
    assert r.provenance["reference"]["commit"] and stale_reasons(r) == []
    assert not list(tmp_path.glob("optimal_p_runs_*"))
