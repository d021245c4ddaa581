"""How many students can one machine serve a notebook to, with every figure live?

Serves one notebook as the class app (``scripts/app.sh``, what ``make app`` runs: one Voilà
kernel per student), opens it in N Chromium contexts on loopback at once (N students), then
has every student move the P slider of the first explorer one step at the same moment, several
rounds, and times each student's redraw: from the key press until the figure of that section
changed in that student's page. Prints one row per class size: students, median and maximum
redraw time, memory per kernel (resident, MiB), whether every redraw came within the target.

    python benchmarks/class_serving.py                       # 1, 2, 4, 8 students, notebook 01
    python benchmarks/class_serving.py --students 1,4,12 --rounds 5
    python benchmarks/class_serving.py --students 1,4 --arrive-after 60 --preheat 4

``--arrive-after S``: the students open the app S seconds after the server started (a teacher
starts it before the lesson). ``--preheat N``: Voilà keeps N kernels that have already run
the notebook (``--preheat_kernel=True --pool_size=N``); each student who opens the page takes
one and the pool refills. Compare the "open s" column with and without it.

The students' browsers run on this machine too (on loopback), so they take CPU the real class's
laptops would not: the figures are an upper bound on the server's own redraw time. Chromium at
full speed (no CPU slowdown). Needs Chromium, like the browser tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser_harness import (  # noqa: E402
    CHROMIUM_ARGS,
    SIGNATURES_JS,
    ExternalRequestGuard,
    VoilaServer,
    chromium_path,
)

TARGET_S = 1.0
"""Every figure must redraw within this many seconds of a control change."""

_DRAWN_JS = """() => { const figs = [...document.querySelectorAll('.hetconv-live-figure')];
  return figs.length > 0 && figs.every((f) => { const gd = f.querySelector('.js-plotly-plot');
  return !!gd && !!gd.data; }); }"""


def kernel_memory_mib(server: VoilaServer) -> list[float]:
    """Resident memory (MiB) of every kernel the server started."""
    proc = server._proc
    if proc is None:
        return []
    out = []
    for child in psutil.Process(proc.pid).children(recursive=True):
        try:
            if "ipykernel" in " ".join(child.cmdline()):
                out.append(child.memory_info().rss / 2**20)
        except psutil.NoSuchProcess:
            continue
    return out


async def student_page(browser, server: VoilaServer, guard: ExternalRequestGuard):
    context = await browser.new_context(viewport={"width": 1280, "height": 720})
    await context.route("**/*", lambda route: _route(route, guard))
    page = await context.new_page()
    page.set_default_timeout(600_000)
    await page.goto(server.url(), wait_until="domcontentloaded")
    await page.wait_for_function(_DRAWN_JS, polling=250)
    return page


async def _route(route, guard: ExternalRequestGuard) -> None:
    if guard.is_local(route.request.url):
        await route.continue_()
    else:
        guard.requests.append(route.request.url)
        await route.abort()


async def move_p(page, key: str) -> float:
    """Press ``key`` on the first explorer's P slider; seconds until its figures changed."""
    section = page.locator(".jp-Cell").filter(has=page.locator(".hetconv-explorer")).first
    handle = await section.element_handle()
    before = await section.evaluate(SIGNATURES_JS)
    slider = section.locator(".widget-slider").filter(has_text="P part").locator(".noUi-handle")
    await slider.first.focus()
    start = time.perf_counter()
    await slider.first.press(key)
    await page.wait_for_function(
        f"([root, before]) => JSON.stringify(({SIGNATURES_JS})(root)) !== before",
        arg=[handle, json.dumps(before, separators=(",", ":"))],
        polling=50,
        timeout=120_000,
    )
    return time.perf_counter() - start


async def one_class(
    notebook: str, students: int, rounds: int, *, arrive_after: float = 0.0, preheat: int = 0
) -> dict[str, float]:
    from playwright.async_api import async_playwright

    guard = ExternalRequestGuard()
    options = ["--preheat_kernel=True", f"--pool_size={preheat}"] if preheat else []
    with VoilaServer(notebook, options=options) as server:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=chromium_path(), args=list(CHROMIUM_ARGS)
            )
            await asyncio.sleep(arrive_after)
            started = time.perf_counter()
            pages = await asyncio.gather(
                *(student_page(browser, server, guard) for _ in range(students))
            )
            opened = time.perf_counter() - started
            times: list[float] = []
            for r in range(rounds):
                key = "ArrowRight" if r % 2 == 0 else "ArrowLeft"
                times += await asyncio.gather(*(move_p(page, key) for page in pages))
                await asyncio.sleep(0.5)
            memory = kernel_memory_mib(server)
            await browser.close()
    if guard.requests:
        raise RuntimeError(f"the app reached for external hosts: {guard.requests}")
    return {
        "students": students,
        "open_s": opened,
        "median_s": statistics.median(times),
        "max_s": max(times),
        "kernel_mib": statistics.mean(memory) if memory else float("nan"),
        "kernels": len(memory),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", default="01_kernel_explorer.ipynb")
    parser.add_argument("--students", default="1,2,4,8", help="class sizes, comma-separated")
    parser.add_argument("--rounds", type=int, default=3, help="slider moves per student")
    parser.add_argument(
        "--arrive-after", type=float, default=0.0, help="seconds between server start and class"
    )
    parser.add_argument("--preheat", type=int, default=0, help="Voilà's pre-heated kernel pool")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.students.split(",")]
    print(f"{args.notebook} served by Voilà on this machine ({os.cpu_count()} CPUs); each")
    print(f"student moves P {args.rounds}× at the same moment as the others; target ≤ {TARGET_S} s")
    print(
        f"students arrive {args.arrive_after:g} s after the server started; pre-heated kernels: "
        + (str(args.preheat) if args.preheat else "none")
    )
    print(f"{'students':>8} {'open s':>7} {'median s':>9} {'max s':>7} {'MiB/kernel':>11}  ok")
    for n in sizes:
        row = asyncio.run(
            one_class(
                args.notebook, n, args.rounds, arrive_after=args.arrive_after, preheat=args.preheat
            )
        )
        ok = "yes" if row["max_s"] <= TARGET_S else "no"
        print(
            f"{n:>8} {row['open_s']:>7.1f} {row['median_s']:>9.2f} {row['max_s']:>7.2f} "
            f"{row['kernel_mib']:>11.0f}  {ok}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
