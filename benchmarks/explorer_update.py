"""How long do the kernel explorers' Python updates take when a student moves a control?

Times the whole update path of notebook 01's two explorers — read the controls, compute the
views' data, build the figures and serialize each whole figure for the page — triggered the
way a student triggers it: by setting a control.

* The **linked explorer** (:class:`hetconv_edu.apps.linked_explorer.LinkedExplorerApp`, target
  ≤ 100 ms at M = N = 512): moving P to its next valid value with the responder's kept results
  cleared first (every P change computes filter n's block of the layer afresh: the worst case),
  and moving filter n by one (inside a block of P filters, the kept result is reused) or by P
  (a new block), and changing the image.
* The **kernel-arrangement explorer** (:class:`hetconv_edu.apps.explorer.ExplorerApp`, target
  < 50 ms): moving P through its valid values, alone and compared with another family.

Medians over many interleaved rounds (:func:`hetconv_edu.timing.time_candidates`), and for the
linked explorer also the CPU time this process spends per update (``time.process_time``, all
its threads): on a shared machine the wall-clock time includes waiting for a core, the CPU time
does not. Outside a kernel the widget messages are serialized but not sent, so this is the
Python side only (the browser's redraw comes on top). The linked explorer runs on a drawn test
image here (no data set needed); a CIFAR-10 image has the same 3×32×32 size.

    python benchmarks/explorer_update.py            # M = N = 512 and 64
    python benchmarks/explorer_update.py --rounds 200
    python benchmarks/explorer_update.py --threads 1   # torch on one thread
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from collections.abc import Callable

import torch

from hetconv_edu.apps.explorer import ExplorerApp
from hetconv_edu.apps.linked_explorer import LinkedExplorerApp
from hetconv_edu.data.samples import drawn_pattern
from hetconv_edu.timing import time_candidates

TARGET_MS = 50.0
"""The kernel-arrangement explorer's target at M = N = 512."""
LINKED_TARGET_MS = 100.0
"""The linked explorer's target at M = N = 512 (issue 16)."""


def p_stepper(app: ExplorerApp | LinkedExplorerApp, fresh: bool = False) -> Callable[[], None]:
    """A callable that moves the app's P control to the next valid value (as a click would);
    ``fresh``: the linked explorer's kept filter responses are cleared first."""
    options = itertools.cycle(list(app.controls.p.options))
    next(options)  # start away from the current value so every call changes P

    def step() -> None:
        if fresh:
            app.responder.clear()
        app.controls.p.value = next(options)

    return step


def filter_stepper(app: LinkedExplorerApp, stride: int) -> Callable[[], None]:
    """Moves filter n by ``stride`` (wrapping around), as the slider's arrow keys would."""

    def step() -> None:
        app.filter_index.value = (app.filter_index.value + stride) % (app.filter_index.max + 1)

    return step


def image_stepper(app: LinkedExplorerApp) -> Callable[[], None]:
    """Moves the image choice to the next image."""
    count = len(app.image.options)

    def step() -> None:
        app.image.value = (app.image.value + 1) % count

    return step


def cpu_ms(step: Callable[[], None], calls: int) -> float:
    """Mean CPU time of this process per call of ``step``, in ms."""
    start = time.process_time()
    for _ in range(calls):
        step()
    return 1000 * (time.process_time() - start) / calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="timed rounds (default 40)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's own)"
    )
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    images = drawn_pattern()
    # ten images (the drawn pattern, recoloured), so the image control has somewhere to go
    images = type(images)(
        images.dataset,
        images.images.repeat(10, 1, 1, 1).roll(1, dims=1),
        tuple(f"pattern {i}" for i in range(10)),
        images.mean,
        images.std,
        images.note,
    )
    linked = {
        m: LinkedExplorerApp(m, m, 3, 8, filter_index=5, images=images, run_dir="/nonexistent")
        for m in (512, 64)
    }
    old = {
        "M=N=512 HetConv": ExplorerApp(512, 512, p=8),
        "M=N=64 HetConv": ExplorerApp(64, 64, p=8),
        "M=N=512 vs naive": ExplorerApp(512, 512, p=8, compare="naive_hetconv"),
        "M=N=512 dw+pw vs gw+pw": ExplorerApp(
            512, 512, p=8, family="depthwise_pointwise", compare="groupwise_pointwise"
        ),
    }
    candidates: dict[str, Callable[[], None]] = {}
    for m, app in linked.items():
        candidates[f"linked M=N={m} P (new)"] = p_stepper(app, fresh=True)
        candidates[f"linked M=N={m} filter n+1"] = filter_stepper(app, 1)
        candidates[f"linked M=N={m} filter n+P"] = filter_stepper(app, 8)
        candidates[f"linked M=N={m} image"] = image_stepper(app)
    candidates |= {name: p_stepper(app) for name, app in old.items()}
    timings = time_candidates(candidates, rounds=args.rounds, warmup=3)
    cpu = {name: cpu_ms(step, args.rounds) for name, step in candidates.items() if "linked" in name}
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"explorer updates (median of {args.rounds} rounds, Python side; "
        f"{torch.get_num_threads()} torch threads; load average {load})"
    )
    for name, t in timings.items():
        ms = 1000 * t.median_s
        extra = f", CPU {cpu[name]:.2f} ms" if name in cpu else ""
        print(f"  {name:30s} {ms:7.2f} ms   (min {1000 * min(t.times_s):.2f}, "
              f"max {1000 * max(t.times_s):.2f}{extra})")  # fmt: skip
    for app in [*linked.values(), *old.values()]:
        assert app.last_error is None, app.last_error
    ok = True
    for label, names, target in (
        (
            "linked explorer",
            [n for n in timings if n.startswith("linked M=N=512")],
            LINKED_TARGET_MS,
        ),
        ("arrangement explorer", ["M=N=512 HetConv"], TARGET_MS),
    ):
        worst = max(1000 * timings[n].median_s for n in names)
        verdict = "OK" if worst <= target else "TOO SLOW"
        ok &= worst <= target
        print(f"target: {label} at M=N=512 within {target:.0f} ms -> {worst:.1f} ms {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
