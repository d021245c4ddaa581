"""The page of ``python -m hetconv_edu export-site`` in Chromium, opened from ``file://``.

The page is exported once with the default grid (what students get). Every request the page
makes must stay inside its folder: anything else is blocked and fails the test. Each control
is moved (on a CPU slowed 4×, like every browser test) and must change the figures; after each
change the map, the counters, the cost table and the ratio marker must equal what the package
computes for that setting. Screenshots at 1280×720 and at phone size 390×844 go to
test-artifacts/. Fails (never skips) when Chromium is missing.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_harness import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    SLOW_DEVICE_RATE,
    playwright_driver,
    require_chromium,
)

from hetconv_edu.__main__ import main
from hetconv_edu.flops import hetconv_ratio, layer_cost
from hetconv_edu.pattern import hetconv_pattern, valid_parts
from hetconv_edu.site import DEFAULT_GRID
from hetconv_edu.site.export import start_setting
from hetconv_edu.site.views import explorer_state
from hetconv_edu.viz.explorer import KINDS, family_numbers, filter_figure_data, map_figure_data
from hetconv_edu.viz.flops_lab import family_costs, fmt_count

pytestmark = pytest.mark.browser

GRID = DEFAULT_GRID
D_O = GRID.out_size


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site") / "page"
    assert main(["export-site", str(out)]) == 0
    return out


# ------------------------------------------------------------------------------ the browser


@dataclass
class SitePage:
    """A Chromium page on the exported folder, with every request it made."""

    page: Any
    root: str
    """``file:///…/page/``: the only place the page may load from."""
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def outside(self) -> list[str]:
        loaded = self.page.evaluate(
            "() => performance.getEntriesByType('resource').map((e) => e.name)"
        )
        urls = [*self.requests, *self.blocked, *loaded]
        return sorted({u for u in urls if not u.startswith(self.root)})

    def open(self, fragment: str = "") -> None:
        """Load the page afresh (a new document, not a jump within it), opening ``#fragment``."""
        self.page.goto("about:blank")
        self.page.goto(self.root + "index.html" + (f"#{fragment}" if fragment else ""))
        self.wait_shown()

    def wait_shown(self, shown: str | None = None) -> dict[str, Any]:
        """Wait until the page has drawn (``shown``: that setting) and return its state."""
        self.page.wait_for_function(
            "(shown) => { const s = window.hetconvSite; return !!s && (!!s.error || "
            "(s.ready && !document.body.hasAttribute('aria-busy') && "
            "(shown === null || s.shown === shown))); }",
            arg=shown,
            timeout=60_000,
        )
        site = self.page.evaluate("() => window.hetconvSite")
        assert site["error"] is None, site["error"]
        return site

    def signatures(self) -> dict[str, str]:
        return self.page.evaluate(SIGNATURES_JS)

    def screenshot(self, name: str, *, full_page: bool = False) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


@contextlib.contextmanager
def chromium(site: Path, viewport: tuple[int, int], label: str) -> Iterator[SitePage]:
    """Chromium on ``site/index.html`` with the viewport ``viewport``, its CPU slowed
    :data:`SLOW_DEVICE_RATE` times; at the end no request may have left the folder and no
    script error may have happened. On a failure a screenshot goes to test-artifacts/."""
    executable = require_chromium()
    root = site.resolve().as_uri() + "/"
    browser = playwright_driver().chromium.launch(
        executable_path=executable, headless=True, args=list(CHROMIUM_ARGS)
    )
    try:
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        page = context.new_page()
        view = SitePage(page, root)

        def route(route: Any) -> None:
            if route.request.url.startswith(root):
                route.continue_()
            else:
                view.blocked.append(route.request.url)
                route.abort()

        context.route("**/*", route)
        page.on("request", lambda request: view.requests.append(request.url))
        page.on("websocket", lambda ws: view.blocked.append(ws.url))
        page.on("pageerror", lambda error: view.errors.append(str(error)))
        cdp = context.new_cdp_session(page)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": SLOW_DEVICE_RATE})
        try:
            yield view
        except BaseException:
            with contextlib.suppress(Exception):
                view.screenshot(f"{label}-failure", full_page=True)
            raise
        assert view.outside() == [], f"requests outside the page's folder: {view.outside()}"
        assert view.requests and all(u.startswith(root) for u in view.requests)
        assert view.errors == []
    finally:
        browser.close()


SIGNATURES_JS = """
() => {
  // What each figure and table shows: a hash of the drawn traces and layout, or the HTML.
  const hash = (value) => {
    let h = 2166136261;
    const add = (s) => {
      for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
    };
    const walk = (v) => {
      if (v === null || v === undefined) { add('~'); return; }
      if (ArrayBuffer.isView(v)) {
        add('T' + v.length);
        v.forEach((x) => add(String(x) + ','));
        return;
      }
      if (Array.isArray(v)) { add('[' + v.length); v.forEach(walk); add(']'); return; }
      if (typeof v === 'object') {
        for (const k of Object.keys(v).sort()) {
          if (k.startsWith('_') || k === 'template' || k === 'uid') continue;
          add(k + ':'); walk(v[k]);
        }
        return;
      }
      add(typeof v + String(v) + ';');
    };
    walk(value);
    return (h >>> 0).toString(16);
  };
  const out = {};
  for (const id of ['fig-map', 'fig-filter', 'fig-ratio']) {
    const gd = document.getElementById(id);
    out[id] = gd && gd.data ? hash([gd.data, gd.layout]) : 'none';
  }
  for (const id of ['counters', 'lab-numbers']) {
    out[id] = hash(document.getElementById(id).innerHTML);
  }
  return out;
}
"""

FIGURE_JS = """
(id) => {
  // The drawn figure's traces with typed arrays (or plotly's typed-array specs) as lists.
  const TYPES = {i1: Int8Array, u1: Uint8Array, i2: Int16Array, u2: Uint16Array,
    i4: Int32Array, u4: Uint32Array, f4: Float32Array, f8: Float64Array};
  const list = (v) => {
    if (v && typeof v === 'object' && typeof v.bdata === 'string') {
      const raw = atob(v.bdata);
      const bytes = Uint8Array.from(raw, (c) => c.charCodeAt(0));
      v = new TYPES[v.dtype](bytes.buffer);
    }
    if (v == null || typeof v === 'string') return v;
    return Array.from(v, (x) => (typeof x === 'number' && Number.isNaN(x) ? null : x));
  };
  const gd = document.getElementById(id);
  const full = gd._fullLayout;
  return {
    data: gd.data.map((t) => ({name: t.name, x: list(t.x), y: list(t.y), z: list(t.z)})),
    title: ((gd.layout.title || {}).text) || '',
    ranges: {xaxis: Array.from(full.xaxis.range), yaxis: Array.from(full.yaxis.range)},
  };
}
"""


# --------------------------------------------------------------------------- what it shows


def _setting(shown: str) -> tuple[int, int, int, int, int]:
    values = dict(part.split("=") for part in shown.split("&"))
    return tuple(int(values[key]) for key in "mnkpf")  # type: ignore[return-value]


def _map(view: SitePage, shape: tuple[int, int]) -> np.ndarray:
    out = np.full(shape, -1)
    traces = view.page.evaluate(FIGURE_JS, "fig-map")["data"][:4]
    for kind, trace in zip(KINDS, traces, strict=True):
        for x, y, z in zip(trace["x"] or [], trace["y"] or [], trace["z"] or [], strict=True):
            if z is not None:
                out[int(y), int(x)] = int(kind)
    return out


def _text(view: SitePage, selector: str) -> str:
    return " ".join(view.page.locator(selector).inner_text().split())


def check_numbers(view: SitePage, shown: str) -> None:
    """Everything the page shows for ``shown`` equals the package's (and the paper's) values."""
    m, n, k, p, f = _setting(shown)
    assert view.page.evaluate("() => window.location.hash") == f"#{shown}"
    # the map is the paper's arrangement: K×K iff (m − n) mod P == 0
    assert np.array_equal(_map(view, (n, m)), hetconv_pattern(m, n, p))
    state = explorer_state(m, n, k, p, f, D_O)
    # drawn over the package's axes: M channels across, N filters down, no stale range
    drawn_map = view.page.evaluate(FIGURE_JS, "fig-map")
    package_map = map_figure_data(state).layout
    for axis in ("xaxis", "yaxis"):
        assert drawn_map["ranges"][axis] == pytest.approx(package_map[axis]["range"]), axis
    assert package_map["xaxis"]["range"] == [-0.5, m - 0.5]
    # the counters
    nums = family_numbers(state)

    def counter(key: str) -> str:
        return _text(view, f"#counters td[data-counter='{key}'][data-family='hetconv']")

    assert counter("full_in_filter") == str(m // p)
    assert counter("one_in_filter") == str(m - m // p)
    assert counter("weights").startswith(f"{n * (m * k * k // p + m - m // p):,}")
    assert (
        counter("macs") == f"{nums.macs:,}" == f"{layer_cost(f'hetconv:{p}', m, n, k, D_O).macs:,}"
    )
    assert counter("ratio").startswith(f"{hetconv_ratio(k, p):.4f}")
    assert f"M = {m} input channels, N = {n} filters, K = {k}, P = {p}." in _text(view, "#counters")
    # the cost lab: every family's MACs and parameters, FL_H with this layer's numbers
    for row in family_costs(D_O, m, n, k, p, p):
        assert _text(view, f"#lab-numbers td[data-key='{row.key}-work']") == fmt_count(
            row.cost.macs
        )
        assert _text(view, f"#lab-numbers td[data-key='{row.key}-params']") == fmt_count(
            row.cost.params
        )
    fl_h = D_O * D_O * m * n * k * k // p + (m - m // p) * D_O * D_O * n
    assert f"= {fl_h:,} MACs" in _text(view, "#lab-numbers [data-key='formula']")
    ratio = view.page.evaluate(FIGURE_JS, "fig-ratio")["data"][-1]
    assert ratio["x"] == [p] and ratio["y"] == [pytest.approx(hetconv_ratio(k, p))]
    # the selected filter, as the package draws it
    drawn = view.page.evaluate(FIGURE_JS, "fig-filter")
    assert re.match(rf"Filter {f}\b", drawn["title"]), drawn["title"]
    expected = filter_figure_data(state)
    for axis in ("xaxis", "yaxis"):
        assert drawn["ranges"][axis] == pytest.approx(expected.layout[axis]["range"]), axis
    for trace, want in zip(drawn["data"][:4], expected.traces[:4], strict=True):
        cells = sum(z is not None for z in trace["z"] or [])
        assert cells == int(np.sum(~np.isnan(np.asarray(want["z"], float))))


# ----------------------------------------------------------------------------------- tests


def test_the_page_opens_from_the_disk_with_the_packages_numbers(site):
    with chromium(site, (1280, 720), "site-1280") as view:
        view.open()
        s = start_setting(GRID)
        shown = f"m={s['m']}&n={s['n']}&k={s['k']}&p={s['p']}&f={s['f']}"
        assert view.page.evaluate("() => window.hetconvSite.shown") == shown
        check_numbers(view, shown)
        assert view.page.evaluate("() => document.documentElement.scrollWidth") <= 1280
        # the controls and the map are in the first screen
        for selector in ("#ctl-m", "#ctl-p", "#fig-map .main-svg"):
            box = view.page.locator(selector).first.bounding_box()
            assert box is not None and box["y"] < 720, selector
        assert GRID.describe() in _text(view, ".about")
        shot = view.screenshot("site-1280x720")
        assert shot.stat().st_size > 20_000
        view.screenshot("site-1280x720-full", full_page=True)


def _chip(view: SitePage, name: str, value: int) -> Any:
    return view.page.locator(f"#controls input[name='{name}'][value='{value}']")


def test_every_control_changes_the_figures_and_the_numbers_follow(site):
    report = []
    with chromium(site, (1280, 720), "site-controls") as view:
        view.open("m=16&n=16&k=3&p=4&f=0")
        moves = [
            ("M", lambda: view.page.select_option("#ctl-m", "12"), {"fig-map", "counters"}),
            ("N", lambda: view.page.select_option("#ctl-n", "24"), {"fig-map", "counters"}),
            ("K", lambda: _chip(view, "k", 5).check(), {"fig-filter", "fig-ratio", "counters"}),
            ("P", lambda: _chip(view, "p", 2).check(), {"fig-map", "fig-filter", "fig-ratio"}),
            ("filter n", lambda: _chip(view, "f", 1).check(), {"fig-map", "fig-filter"}),
        ]
        for name, move, must_change in moves:
            before = view.signatures()
            shown_before = view.page.evaluate("() => window.hetconvSite.shown")
            move()
            view.page.wait_for_function(
                "(old) => window.hetconvSite.shown !== old", arg=shown_before, timeout=60_000
            )
            shown = view.wait_shown()["shown"]
            after = view.signatures()
            changed = {key for key in before if before[key] != after[key]}
            report.append(f"{name}: {shown_before} → {shown}; changed {sorted(changed)}")
            assert must_change <= changed, report[-1]
            check_numbers(view, shown)
        # the keyboard moves P too (arrow keys on the selected P)
        m, n, k, p, f = _setting(view.page.evaluate("() => window.hetconvSite.shown"))
        parts = valid_parts(m, n)
        _chip(view, "p", p).focus()
        view.page.keyboard.press("ArrowRight")
        following = parts[parts.index(p) + 1]
        f = f if f in GRID.filter_choices(following) else 0
        shown = view.wait_shown(f"m={m}&n={n}&k={k}&p={following}&f={f}")["shown"]
        report.append(f"P by keyboard: → {shown}")
        check_numbers(view, shown)
        # a layer whose P is not allowed by the new M: the page offers only valid P
        view.page.select_option("#ctl-m", "4")
        shown = view.wait_shown()["shown"]
        m, n, k, p, f = _setting(shown)
        offered = view.page.eval_on_selector_all(
            "#controls input[name='p']", "(inputs) => inputs.map((i) => Number(i.value))"
        )
        assert offered == valid_parts(m, n) and p in offered
        check_numbers(view, shown)
        view.screenshot("site-1280x720-after-controls")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "site-controls.txt").write_text("\n".join(report) + "\n")


def test_the_page_is_readable_at_phone_size(site):
    with chromium(site, (390, 844), "site-390") as view:
        view.open()
        shown = view.page.evaluate("() => window.hetconvSite.shown")
        check_numbers(view, shown)
        # nothing makes the page wider than the phone (wide figures and tables scroll inside)
        assert view.page.evaluate("() => document.documentElement.scrollWidth") <= 390
        box = view.page.locator("#fig-map .main-svg").first.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
        shot = view.screenshot("site-390x844")
        assert shot.stat().st_size > 20_000
        view.screenshot("site-390x844-full", full_page=True)
        # the controls stay in view while the student scrolls to the numbers
        view.page.locator("#lab-numbers").scroll_into_view_if_needed()
        controls = view.page.locator("#controls").bounding_box()
        assert controls is not None and -1 <= controls["y"] <= 1
        assert controls["height"] < 844 / 3
        _chip(view, "p", 8).check()
        shown = view.wait_shown(re.sub(r"p=\d+", "p=8", shown))["shown"]
        check_numbers(view, shown)


def test_a_link_opens_the_page_on_its_setting(site):
    with chromium(site, (1280, 720), "site-link") as view:
        view.open("m=8&n=24&k=5&p=8&f=2")
        assert view.page.evaluate("() => window.hetconvSite.shown") == "m=8&n=24&k=5&p=8&f=2"
        check_numbers(view, "m=8&n=24&k=5&p=8&f=2")
        # a P this layer does not allow: the largest allowed below it
        view.open("m=8&n=24&k=5&p=3&f=0")
        assert view.page.evaluate("() => window.hetconvSite.shown") == "m=8&n=24&k=5&p=2&f=0"
        # a layer the page does not hold: the page opens on its start
        view.open("m=5&n=24&k=5&p=1&f=0")
        s = start_setting(GRID)
        start = f"m={s['m']}&n={s['n']}&k={s['k']}&p={s['p']}&f={s['f']}"
        assert view.page.evaluate("() => window.hetconvSite.shown") == start
