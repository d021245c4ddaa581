"""How long does the kernel explorer's Python update take when a student moves P?

Times :class:`hetconv_edu.apps.explorer.ExplorerApp`'s whole update path — read the controls,
build the map/filter figure data and the counters, assign them to the two live figures and
serialize each whole figure for the page — triggered the way a student triggers it: by setting
the P control.
Each candidate cycles P through the valid values of its layer; medians over many rounds
(:func:`hetconv_edu.timing.time_candidates`, interleaved). Target: under 50 ms at M = N = 512.

Outside a kernel the widget messages are serialized but not sent, so this is the Python side
only (the browser's redraw comes on top).

    python benchmarks/explorer_update.py            # 512 and 64, HetConv alone and compared
    python benchmarks/explorer_update.py --rounds 200
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable

from hetconv_edu.apps.explorer import ExplorerApp
from hetconv_edu.timing import time_candidates

TARGET_MS = 50.0


def p_stepper(app: ExplorerApp) -> Callable[[], None]:
    """A callable that moves the app's P control to the next valid value (as a click would)."""
    options = itertools.cycle(list(app.controls.p.options))
    next(options)  # start away from the current value so every call changes P

    def step() -> None:
        app.controls.p.value = next(options)

    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60, help="timed rounds (default 60)")
    args = parser.parse_args(argv)
    settings = {
        "M=N=512 HetConv": {"in_channels": 512, "out_channels": 512, "p": 8},
        "M=N=64 HetConv": {"in_channels": 64, "out_channels": 64, "p": 8},
        "M=N=512 vs naive": {
            "in_channels": 512,
            "out_channels": 512,
            "p": 8,
            "compare": "naive_hetconv",
        },
        "M=N=512 dw+pw vs gw+pw": {
            "in_channels": 512,
            "out_channels": 512,
            "p": 8,
            "family": "depthwise_pointwise",
            "compare": "groupwise_pointwise",
        },
    }
    apps = {name: ExplorerApp(**kw) for name, kw in settings.items()}
    timings = time_candidates(
        {name: p_stepper(app) for name, app in apps.items()}, rounds=args.rounds, warmup=3
    )
    print(f"explorer update after a P change (median of {args.rounds} rounds, Python side)")
    main_ms = 0.0
    for name, t in timings.items():
        ms = 1000 * t.median_s
        print(f"  {name:26s} {ms:7.2f} ms   (min {1000 * min(t.times_s):.2f}, "
              f"max {1000 * max(t.times_s):.2f})")  # fmt: skip
        assert apps[name].last_error is None, apps[name].last_error
        if name.startswith("M=N=512 HetConv"):
            main_ms = ms
    verdict = "OK" if main_ms < TARGET_MS else "TOO SLOW"
    print(f"target: M=N=512 under {TARGET_MS:.0f} ms -> {verdict}")
    return 0 if main_ms < TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
