"""The behavioural staleness gate of best-P results: the recorded reference computation is
replayed; a change of what the study computes is stale, a refactor computing the same is not."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import hetconv_edu.study.costs as costs
import hetconv_edu.study.measure as measure
import hetconv_edu.study.reference as study_reference
import hetconv_edu.study.results as results
import hetconv_edu.study.search as search
from hetconv_edu.layers import HetConv2d, MaskedHetConv2d
from hetconv_edu.study.reference import (
    compare_reference,
    stale_reasons,
    stamp_reference,
)
from hetconv_edu.study.results import load_results, save_results
from hetconv_edu.viz.best_p import provenance_html
from tests.test_study_results import SMALL, file_results

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fresh() -> Iterator[None]:
    """Each stale check recomputes (the per-process cache would hide a monkeypatched change)."""
    study_reference._reference_now.cache_clear()
    yield
    study_reference._reference_now.cache_clear()


@pytest.fixture
def stamped(fresh: None):
    r = file_results()
    assert r.model_kwargs == SMALL
    return stamp_reference(r, "python benchmarks/optimal_p.py --stamp-reference r.json", "note")


def _changed(stamped, monkeypatch: pytest.MonkeyPatch, target, name: str, value) -> list[str]:
    monkeypatch.setattr(target, name, value)
    study_reference._reference_now.cache_clear()
    return stale_reasons(stamped)


def test_stamp_records_commit_date_command_and_values_that_replay(stamped) -> None:
    stamp = stamped.provenance["reference"]
    assert stamp["command"].endswith("--stamp-reference r.json") and stamp["note"] == "note"
    assert stamp["date"][:2] == "20" and stamp["commit"] == measure.git_commit()
    values = stamp["values"]
    assert set(values) == {"split", "costs", "forward", "training", "sensitivity", "search"}
    # the split: disjoint, of the sizes asked, the test set untouched
    train, val = values["split"]["train"], values["split"]["validation"]
    assert len(train) == 48 and len(val) == 16 and not set(train) & set(val)
    assert values["split"]["test_is_test_set"] is True
    assert stale_reasons(stamped) == []
    shown = provenance_html(stamped)  # the app shows who stamped it, not the numbers
    assert stamp["commit"] in shown and "note" in shown and "test_is_test_set" not in shown
    study_reference._reference_now.cache_clear()  # recomputed, not the cached copy
    assert stale_reasons(stamped) == []


def test_the_reference_survives_a_file_and_another_thread_count(stamped, tmp_path: Path) -> None:
    import torch

    loaded = load_results(save_results(stamped, tmp_path / "r.json"))
    threads = torch.get_num_threads()
    other = 1 if threads > 1 else 2
    try:
        torch.set_num_threads(other)
        study_reference._reference_now.cache_clear()
        assert stale_reasons(loaded) == []
        assert torch.get_num_threads() == other  # the replay leaves the thread count alone
    finally:
        torch.set_num_threads(threads)


def test_results_without_a_reference_are_stale() -> None:
    assert stale_reasons(file_results()) == ["the results record no reference computation"]


def test_a_changed_cost_is_stale(stamped, monkeypatch: pytest.MonkeyPatch) -> None:
    real = costs.layer_cost

    def one_mac_more(*args, **kwargs):
        cost = real(*args, **kwargs)
        return dataclasses.replace(cost, macs=cost.macs + 1)

    reasons = _changed(stamped, monkeypatch, costs, "layer_cost", one_mac_more)
    assert any(line.startswith("costs.layers[0].macs[0]: recorded") for line in reasons)


def test_a_changed_recipe_is_stale(stamped, monkeypatch: pytest.MonkeyPatch) -> None:
    real = study_reference.study_config

    def smoother(*args, **kwargs):
        return dataclasses.replace(real(*args, **kwargs), label_smoothing=0.2)

    reasons = _changed(stamped, monkeypatch, study_reference, "study_config", smoother)
    assert any(line.startswith("training.") for line in reasons)
    assert not any(line.startswith(("costs.", "forward.", "split.")) for line in reasons)


@pytest.mark.parametrize("layer", [HetConv2d, MaskedHetConv2d])
def test_changed_layer_arithmetic_is_stale(stamped, monkeypatch, layer) -> None:
    real = layer.forward

    def slightly_off(self, x):
        return real(self, x) * 1.001

    reasons = _changed(stamped, monkeypatch, layer, "forward", slightly_off)
    assert any(line.startswith(("forward.", "training.")) for line in reasons)


def test_a_changed_split_or_search_is_stale(stamped, monkeypatch: pytest.MonkeyPatch) -> None:
    real_split = study_reference.split_validation
    reasons = _changed(stamped, monkeypatch, study_reference, "split_validation",
                       lambda d, t, v, seed: real_split(d, t, v, seed + 1))  # fmt: skip
    assert any(line.startswith("split.") for line in reasons)
    monkeypatch.undo()
    real_best = results.best_under_budget
    reasons = _changed(stamped, monkeypatch, results, "best_under_budget",
                       lambda front, budget: real_best(front, budget * 0.9))  # fmt: skip
    assert any(line.startswith("search.plans") for line in reasons)


def test_a_refactor_computing_the_same_numbers_is_not_stale(stamped, monkeypatch) -> None:
    # the exhaustive front is the knapsack's, computed another way
    assert _changed(stamped, monkeypatch, results, "knapsack_front",
                    search.brute_force_front) == []  # fmt: skip
    real = HetConv2d.forward
    assert _changed(stamped, monkeypatch, HetConv2d, "forward",
                    lambda self, x: real(self, x.contiguous())) == []  # fmt: skip


def test_compare_reference_tolerates_float_noise_not_changes() -> None:
    recorded = {"a": [1.0, 0.001, 2], "b": {"c": "x", "d": [[1, 2]]}}
    assert (
        compare_reference(recorded, {"a": [1.00005, 0.00105, 2], "b": {"c": "x", "d": [[1, 2]]}})
        == []
    )
    assert compare_reference(
        recorded, {"a": [1.0005, 0.001, 2], "b": {"c": "x", "d": [[1, 2]]}}
    ) == ["a[0]: recorded 1.0, now 1.0005"]
    assert compare_reference(recorded, {"a": [1.0, 0.001, 3], "b": {"c": "x", "d": [[1, 2]]}}) == [
        "a[2]: recorded 2, now 3"
    ]
    assert compare_reference(
        recorded, {"a": [1.0, float("nan"), 2], "b": {"c": "y", "d": [[1]]}}
    ) == [
        "a[1]: recorded 0.001, now nan",
        "b.c: recorded 'x', now 'y'",
        "b.d[0]: recorded 2 values, now 1",
    ]
    assert compare_reference({"a": 1}, {"b": 1}) == ["reference: recorded keys ['a'], now ['b']"]


def test_benchmark_stamps_a_results_file(tmp_path: Path) -> None:
    path = save_results(file_results(), tmp_path / "r.json")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "optimal_p.py"), "--stamp-reference",
         str(path), "--data-source", "CIFAR-10 (python batches), test copy",
         "--stamp-note", "checked"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    r = load_results(path)
    assert r.provenance["data"]["source"] == "CIFAR-10 (python batches), test copy"
    assert "--stamp-reference" in r.provenance["reference"]["command"]
    assert r.provenance["reference"]["note"] == "checked"
    assert stale_reasons(r) == []
    assert r.layers == file_results().layers  # nothing else changed


def test_a_check_in_a_child_process_agrees_and_leaves_this_process_alone(stamped) -> None:
    """The best-P app replays in a background thread: in a child process, so the replay's
    seeding never meets a notebook's own seeded work in the kernel's other threads."""
    import torch

    state = torch.random.get_rng_state()
    study_reference._reference_in_child.cache_clear()
    assert stale_reasons(stamped, in_child=True) == []
    assert torch.equal(torch.random.get_rng_state(), state)
    with pytest.raises(RuntimeError, match=r"reference computation failed \(exit 1\).*model"):
        study_reference._reference_in_child("no_such_model", "{}", (3, 32, 32))
