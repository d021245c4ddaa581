"""The best-P study: costs per layer, sensitivities, the results file and its benchmark."""

from __future__ import annotations

import dataclasses
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
    model_costs,
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
    assert (
        len(stamp["commit"].split("+")[0]) == 40 and "benchmarks/optimal_p.py" in stamp["command"]
    )
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
