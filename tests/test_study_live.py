"""The live best-P study of notebook 04's "Run it here" (:mod:`hetconv_edu.study.live`), run
as a sliced job without an app: Stop during a measurement ends it there (the app's own tests run
it end to end through the app)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hetconv_edu.apps.best_p import CI_LIVE_SETTINGS
from hetconv_edu.apps.jobs import SlicedJob
from hetconv_edu.data import load_dataset
from hetconv_edu.study.live import LiveStudy
from tests.datasets import write_fake_cifar10

TINY_LIVE = dataclasses.replace(CI_LIVE_SETTINGS, choices=(1, 2, 4), timing_batch=2)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("fake_cifar10")
    write_fake_cifar10(root, n_train=400, n_test=100, seed=0)
    return load_dataset("cifar10", root, subset=200, test_subset=100, seed=0)


@pytest.mark.parametrize("stage", ["time", "sensitivity"])
def test_stop_during_a_measurement_ends_the_study(tmp_path: Path, tiny_data, stage: str) -> None:
    seen: list[tuple[str, int, int]] = []

    def progress(name: str, done: int, total: int) -> None:
        seen.append((name, done, total))
        if name == stage and done >= 1:
            study.request_stop()  # what Stop does, while the measurement runs in its thread

    study = LiveStudy(TINY_LIVE, data=tiny_data, run_dir=str(tmp_path / "runs"), device="cpu",
                      progress=progress)  # fmt: skip
    SlicedJob(study.slices).run_blocking()
    assert study.stage == "stopped" and study.results is None
    assert study.trainer is not None and study.trainer.global_step == study.trainer.total_steps
    measured = [done for name, done, _ in seen if name == stage]
    total = next(t for name, _, t in seen if name == stage)
    assert max(measured) < total  # it did not measure to the end
    if stage == "time":
        assert not any(name == "sensitivity" for name, _, _ in seen)
