"""The best-P study command (``benchmarks/optimal_p.py`` → :mod:`hetconv_edu.study.driver`) on
fake CIFAR-10 with ``--quick``: a valid results file whose every derived figure recomputes, the
test set kept away from the search, the answer printed as computed, an interrupted study that
continues where it stopped, other settings refused, and the timing stage measured again alone."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

import pytest
import torch

import hetconv_edu.study.driver as study_driver
from hetconv_edu.data import load_dataset
from hetconv_edu.study.answer import answer_sentence, budget_verdicts
from hetconv_edu.study.folder import study_folder_for
from hetconv_edu.study.reference import stale_reasons
from hetconv_edu.study.results import SCHEMA, load_results
from tests.datasets import write_fake_cifar10
from tests.test_study_results import TAMPERINGS, _benchmark, caught, check_derived_figures


def _images(t: torch.Tensor) -> set[bytes]:
    return {bytes(x.numpy()) for x in t}


def _main(data: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    """Run the command in-process; (exit status, stdout, stderr)."""
    argv = [str(data), "--quick", "--out", str(out), *extra]
    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", ["benchmarks/optimal_p.py", *argv])
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            status = _benchmark().main(argv)
    return status, stdout.getvalue(), stderr.getvalue()


class Spies:
    """What the study's trainers and evaluations were given."""

    def __init__(self) -> None:
        self.supernet_data: list = []
        self.trained: list[tuple[str, object, bool]] = []  # (run name, data, resumed)
        self.evaluated_on: list = []


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    write_fake_cifar10(folder, n_train=600, n_test=100)
    return folder


def _spied(mp: pytest.MonkeyPatch, spies: Spies, stop_at: str | None = None) -> None:
    """Spy on the driver's trainers and evaluations; ``stop_at``: the run (by name) whose
    training is stopped after its second batch, as Ctrl-C would."""

    class SpyTrainer(study_driver.Trainer):
        def __init__(self, config, dataset, **kwargs):
            spies.trained.append((config.name, dataset, kwargs.get("resume", False)))
            super().__init__(config, dataset, **kwargs)
            if config.name == stop_at:
                self.on_batch(lambda t, step, loss: t.request_stop() if step == 2 else None)

    class SpySuperNet(study_driver.SuperNetTrainer):
        def __init__(self, config, dataset, **kwargs):
            spies.supernet_data.append(dataset)
            super().__init__(config, dataset, **kwargs)

    real = study_driver.evaluate_config

    def evaluate(trainer, config, **kwargs):
        spies.evaluated_on.append(trainer.dataset)
        return real(trainer, config, **kwargs)

    mp.setattr(study_driver, "Trainer", SpyTrainer)
    mp.setattr(study_driver, "SuperNetTrainer", SpySuperNet)
    mp.setattr(study_driver, "evaluate_config", evaluate)


@pytest.fixture(scope="module")
def quick(data: Path, tmp_path_factory: pytest.TempPathFactory):
    """One uninterrupted quick study: (results path, its stdout, the spies)."""
    out = tmp_path_factory.mktemp("quick") / "op.json"
    spies = Spies()
    with pytest.MonkeyPatch.context() as mp:
        _spied(mp, spies)
        status, stdout, stderr = _main(data, out)
    assert status == 0, stderr
    return out, stdout, spies


def test_quick_study_writes_a_results_file_whose_derived_figures_all_recompute(
    quick, data: Path
) -> None:
    out, _, _ = quick
    r = load_results(out)
    assert json.loads(out.read_text())["schema"] == SCHEMA
    assert r.provenance["data"]["train_images"] == 300
    assert r.provenance["data"]["validation_images"] == 200
    assert {run.kind for run in r.runs} == {"uniform", "searched"} and r.evolution
    assert set(r.time_model) == {"infer_ms", "train_ms"}
    timing = r.provenance["timing"]
    assert timing["rounds"] == 1 and "load_average_before" in timing and timing["date"]
    check_derived_figures(r, load_dataset("cifar10", data, download=False).test_labels)
    assert r.provenance["reference"]["commit"] and stale_reasons(r) == []


def test_the_search_never_sees_the_test_set_and_validation_is_not_training(
    quick, data: Path
) -> None:
    _, _, spies = quick
    full = load_dataset("cifar10", data, download=False)
    test_set = _images(full.test_images)
    assert spies.supernet_data and len(spies.evaluated_on) > 1 and spies.trained
    for dataset in (*spies.supernet_data, *spies.evaluated_on):
        validation = _images(dataset.test_images)
        assert len(validation) == 200 and not validation & test_set
        assert not validation & _images(dataset.train_images)
    training = _images(spies.supernet_data[0].train_images)
    for _, dataset, _ in spies.trained:  # every network from scratch: tested on the test set
        assert torch.equal(dataset.test_images, full.test_images)
        assert _images(dataset.train_images) == training


def test_the_printed_tables_and_answer_are_the_computed_ones(quick) -> None:
    out, stdout, _ = quick
    r = load_results(out)
    assert f"Answer: {answer_sentence(r)}" in stdout
    for v in budget_verdicts(r):
        assert v.sentence() in stdout
    assert "uniform P, trained from scratch (test accuracy: mean ± sample std over seeds)" in stdout
    assert "(2 seeds)" in stdout  # --quick trains every network with two seeds


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_each_tampering_of_a_study_file_is_caught(
    quick, data: Path, tmp_path: Path, name: str
) -> None:
    out, _, _ = quick
    labels = load_dataset("cifar10", data, download=False).test_labels
    tampered = json.loads(out.read_text())
    assert caught(json.loads(json.dumps(tampered)), tmp_path, labels) == ""
    TAMPERINGS[name](tampered)
    assert caught(tampered, tmp_path, labels), name


def _records(out: Path) -> dict[str, dict]:
    folder = study_folder_for(out) / "records"
    return {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}


def test_an_interrupted_study_continues_where_it_stopped(quick, data: Path, tmp_path: Path) -> None:
    out = tmp_path / "op.json"
    spies = Spies()
    with pytest.MonkeyPatch.context() as mp:
        _spied(mp, spies, stop_at="run-4,4,4,4-s0")
        status, _, stderr = _main(data, out)
    assert status == 130 and not out.exists()
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("stopped: the training of P = (4,4,4,4) seed 0 was stopped")
    assert last.endswith("run the same command to continue.")
    done = _records(out)
    assert sorted(done) == ["run-1,1,1,1-s0"]  # stored the moment it ended
    assert (study_folder_for(out) / "runs" / "run-4,4,4,4-s0" / "checkpoint.pt").exists()
    status, _, stderr = _main(data, out, "--retime")  # no sensitivities yet: nothing to time
    assert status == 1 and "comes after the sensitivities" in stderr.strip().splitlines()[-1]

    spies = Spies()
    with pytest.MonkeyPatch.context() as mp:
        _spied(mp, spies)
        status, _, stderr = _main(data, out)
    assert status == 0, stderr
    names = [name for name, _, _ in spies.trained]
    assert "run-1,1,1,1-s0" not in names  # finished: not trained again
    assert ("run-4,4,4,4-s0", True) in [(n, resumed) for n, _, resumed in spies.trained]
    assert len(names) == len(set(names))
    # the same networks and accuracies as the uninterrupted study (training is deterministic)
    fresh, resumed = _records(quick[0]), _records(out)
    for name in [n for n in fresh if n.startswith("run-") and n in resumed]:
        assert resumed[name]["test_acc"] == fresh[name]["test_acc"], name
        assert resumed[name]["confusion"] == fresh[name]["confusion"], name
    assert resumed["sensitivity"] == fresh["sensitivity"]
    assert resumed["evolution-macs-0.5"] == fresh["evolution-macs-0.5"]
    check_derived_figures(load_results(out))

    # a command with other settings is refused, naming them; nothing is trained
    status, _, stderr = _main(data, out, "--supernet-epochs", "2")
    last = stderr.strip().splitlines()[-1]
    assert (
        status == 1
        and last.startswith("error: the study in")
        and "supernet_epochs: null there, 2 now" in last
    )

    # --retime measures the timing stage again; only a changed time plan is trained
    before = _records(out)
    spies = Spies()
    with pytest.MonkeyPatch.context() as mp:
        _spied(mp, spies)
        status, _, stderr = _main(data, out, "--retime")
    assert status == 0, stderr
    after = _records(out)
    assert after["timing"]["date"] >= before["timing"]["date"]
    assert after["timing"]["networks"] != before["timing"]["networks"]  # measured again
    new_runs = {n for n in after if n.startswith("run-")} - set(before)
    assert {name for name, _, _ in spies.trained} == new_runs
    assert all(after[n] == before[n] for n in before if n.startswith("run-"))
    check_derived_figures(load_results(out))
