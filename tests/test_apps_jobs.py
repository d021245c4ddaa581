"""The sliced-job helpers of :mod:`hetconv_edu.apps.jobs`: :func:`observed` watches every slice
of a job without changing what the job receives (values of offloaded steps, their errors)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from hetconv_edu.apps.jobs import Offload, SlicedJob, observed


def _failing() -> int:
    raise ZeroDivisionError("offloaded step failed")


def _work(log: list[Any]) -> Generator[Offload | None, Any, None]:
    """Two offloaded steps, one that fails (its error caught here), and a plain slice."""
    log.append(("got", (yield Offload(lambda: 6 * 7))))
    try:
        yield Offload(_failing)
    except ZeroDivisionError as err:
        log.append(("caught", str(err)))
    log.append(("plain", (yield None)))


def test_observed_sees_every_slice_and_hands_values_and_errors_to_the_work() -> None:
    log: list[Any] = []
    seen: list[str] = []

    def job() -> Generator[Offload | None, Any, None]:
        yield from observed(_work(log), lambda item: seen.append(type(item).__name__))
        log.append("after")

    SlicedJob(job).run_blocking()
    assert seen == ["Offload", "Offload", "NoneType"]
    assert log == [("got", 42), ("caught", "offloaded step failed"), ("plain", None), "after"]


def test_an_error_of_the_watcher_is_raised_at_the_yield_from() -> None:
    def watcher(item: Any) -> None:
        if item is None:
            raise RuntimeError("watcher broke")

    caught: list[str] = []

    def job() -> Generator[Offload | None, Any, None]:
        try:
            yield from observed(_work([]), watcher)
        except RuntimeError as err:
            caught.append(str(err))

    SlicedJob(job).run_blocking()
    assert caught == ["watcher broke"]


def test_an_uncaught_error_of_the_work_reaches_the_job() -> None:
    def work() -> Generator[Offload | None, Any, None]:
        yield Offload(_failing)

    def job() -> Generator[Offload | None, Any, None]:
        yield from observed(work(), lambda _item: None)

    with pytest.raises(ZeroDivisionError, match="offloaded step failed"):
        SlicedJob(job).run_blocking()
