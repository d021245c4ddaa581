"""A long piece of work as a generator of short slices: the protocol, with no widgets and no
event loop.

A job does a short slice of work between two ``yield``\\ s: ``yield None`` says a slice is
done; ``yield Offload(call)`` hands over a step that cannot be cut into slices (one library call
that takes seconds), and the ``yield`` evaluates to what ``call()`` returns (or raises what it
raised). The study's live run (:class:`hetconv_edu.study.live.LiveStudy`) is written this way;
the apps run such jobs with :class:`hetconv_edu.apps.jobs.SlicedJob`, which gives the notebook's
event loop a turn between slices and runs offloaded steps in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

__all__ = ["Offload", "Slices"]


@dataclass(frozen=True)
class Offload:
    """A step of a job that cannot be cut into slices: ``call()`` runs in a worker thread under
    :meth:`hetconv_edu.apps.jobs.SlicedJob.start` (in place in a blocking run); its return value
    is what the job's ``yield`` evaluates to. ``call`` must not touch widgets other than
    progress bars."""

    call: Callable[[], Any]


Slices = Generator[Offload | None, Any, None]
"""A job: a generator yielding None (a slice is done) or an :class:`Offload`."""
