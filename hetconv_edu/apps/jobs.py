"""Long work in the notebook apps (training, measuring): short slices on the kernel's event loop,
so that a click on Stop is heard, with progress bars and status messages.

A long job is written as a generator that does a short slice of work between two ``yield``\\ s.
:class:`SlicedJob` runs it:

* in a notebook, :meth:`SlicedJob.start` makes it an asyncio task on the kernel's running event
  loop that gives the loop a turn after every slice: widget events (a click on Stop) are handled
  between two slices;
* headless (scripts, tests), :meth:`SlicedJob.run_blocking` runs it at once and ``await``
  :meth:`SlicedJob.run_async` on the caller's loop.

A step that cannot be cut into slices (one library call that takes seconds) is yielded as an
:class:`~hetconv_edu.slices.Offload`: the task runs it in a worker thread, so the event loop
stays free (Stop is heard, widgets stay live) while it works, and sends its result back into the
generator (or throws its exception there). A blocking run calls it in place. ``Offload`` and
``Slices`` (the protocol, no widgets: :mod:`hetconv_edu.slices`, so that study code can be
written as a job) are re-exported here.

A job that shows something after each slice of another (a status line, a redrawn curve)
wraps it in :func:`observed`.

Also shared by the apps: :func:`message_html` (a status message in one of four kinds; made by
:func:`hetconv_edu.viz.style.message_html`, re-exported here) / :func:`message_text` (its plain
text) and :func:`progress_bar` (a tqdm notebook bar shown in a box).
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Callable
from typing import Any

import ipywidgets as W

from hetconv_edu.slices import Offload, Slices
from hetconv_edu.viz.style import MESSAGE_COLORS, message_html

__all__ = [
    "MESSAGE_KINDS",
    "Offload",
    "SlicedJob",
    "Slices",
    "message_html",
    "message_text",
    "observed",
    "progress_bar",
]

MESSAGE_KINDS: tuple[str, ...] = tuple(MESSAGE_COLORS)
"""The kinds of status message (their colours: :data:`hetconv_edu.viz.style.MESSAGE_COLORS`)."""


def message_text(markup: str) -> str:
    """The plain text of a message made by :func:`message_html` (for tests and scripts)."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup.replace("<br>", "\n")))


class SlicedJob:
    """Runs a job made by ``work()`` (a :data:`Slices` generator) one slice at a time.

    One run at a time: :meth:`start` returns None while a run is under way. Attributes:
    ``task`` (the asyncio task of the last :meth:`start`, None before), :attr:`active`.

    ``on_error(error)``: called with an ``Exception`` that escapes the job, which then ends
    normally (so an app can put the error on its page: in a notebook, an exception in a
    background task is seen by nobody). Without it the exception propagates.
    """

    def __init__(
        self, work: Callable[[], Slices], on_error: Callable[[Exception], object] | None = None
    ) -> None:
        self._work = work
        self._on_error = on_error
        self.task: asyncio.Task | None = None
        self._running = False

    @property
    def active(self) -> bool:
        """A run is under way (a task not done yet, or a blocking run)."""
        return self._running or (self.task is not None and not self.task.done())

    def start(self) -> asyncio.Task | None:
        """Start a run as a task on the running event loop (the kernel's) and return it.
        Without a running loop (a plain script) run it at once with :meth:`run_blocking` and
        return None; None too when a run is already under way."""
        if self.active:
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.run_blocking()
            return None
        self.task = loop.create_task(self.run_async())
        return self.task

    async def run_async(self) -> None:
        """Run the job, giving the event loop a turn after every slice; offloaded steps run in
        the loop's default executor (a worker thread)."""
        loop = asyncio.get_running_loop()
        await self._drive(lambda call: loop.run_in_executor(None, call))

    def run_blocking(self) -> None:
        """Run the job to its end without an event loop (offloaded steps run in place)."""
        driver = self._drive(None)
        try:
            driver.send(None)
        except StopIteration:
            return
        raise RuntimeError("a blocking run cannot await")  # pragma: no cover - by construction

    async def wait(self) -> None:
        """Wait until the run started by :meth:`start` ends (at once when none is under way)."""
        if self.task is not None and not self.task.done():
            await self.task

    async def _drive(self, submit: Callable[[Callable[[], Any]], Any] | None) -> None:
        self._running = True
        try:
            await self._steps(submit)
        except Exception as err:
            if self._on_error is None:
                raise
            self._on_error(err)
        finally:
            self._running = False

    async def _steps(self, submit: Callable[[Callable[[], Any]], Any] | None) -> None:
        gen = self._work()
        try:
            value: Any = None
            error: BaseException | None = None
            while True:
                try:
                    item = gen.throw(error) if error is not None else gen.send(value)
                except StopIteration:
                    return
                value, error = None, None
                if isinstance(item, Offload):
                    try:
                        value = item.call() if submit is None else await submit(item.call)
                    except Exception as err:  # handed to the job, which decides what to say
                        error = err
                elif submit is not None:
                    await asyncio.sleep(0)
        finally:
            gen.close()


def observed(work: Slices, on_slice: Callable[[Any], object]) -> Slices:
    """The slices of ``work``, each handed on unchanged after ``on_slice(item)`` was called
    with it; what the driver sends or throws back goes to ``work``. Use it as
    ``result = yield from observed(work, on_slice)``: an exception of ``on_slice`` or
    ``work`` is raised there."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            item = work.throw(error) if error is not None else work.send(value)
        except StopIteration as stop:
            return stop.value
        value, error = None, None
        on_slice(item)
        try:
            value = yield item
        except Exception as err:  # an offloaded step's error goes back to the work
            error = err


def progress_bar(box: W.Box, total: int, desc: str, unit: str = "step", initial: int = 0) -> Any:
    """A tqdm notebook progress bar of ``total`` steps (``initial`` done) appended to ``box``
    (returned; call ``update`` and ``close`` on it), or None where tqdm has no widget front
    end. With ``functools.partial(progress_bar, box, unit=...)`` it is a
    :class:`hetconv_edu.train.ProgressBar`'s ``make_bar``."""
    try:
        from tqdm.notebook import tqdm as tqdm_notebook

        bar = tqdm_notebook(
            total=total, initial=initial, desc=desc, unit=unit, display=False, leave=True
        )
    except Exception:  # no widgets front end: tqdm.auto's text bar is of no use here
        return None
    # the text after the bar wraps under it in a narrow column instead of running off it
    bar.container.layout.flex_flow = "row wrap"
    box.children = (*box.children, bar.container)
    return bar
