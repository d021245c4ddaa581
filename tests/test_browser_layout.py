"""Every section of every notebook on a 1280×720 projector, in the default and the projector
style: one screen per section, nothing clipped, no overlapping text in a figure.

The session's shared JupyterLab (``lab_notebooks``, tests/conftest.py): a Chromium page at
1280×720 (the left sidebar closed, as on a projector). For each notebook: its page after Run
All Cells (run once per session, before the other tests of that notebook), then for each
style (the default, then after a press of **Projector style**), every *section* — the widget
output of a code cell — is scrolled to the top of the notebook and checked with
:data:`_CHECK_JS`, which reads what the browser laid out:

* **one screen**: the section is no taller than the part of the notebook the page shows at once
  (JupyterLab's menu, toolbar and status bar take the rest of the 720 px);
* **clipped controls**: an input, select, label, button or slider readout whose text is wider
  than its box (``scrollWidth > clientWidth``, or the measured width of an input's value /
  a select's choice against its inner width);
* **overlapping text in figures**: the boxes of a plotly figure's titles, axis titles, tick
  labels, legend entries, annotations and colour-bar labels, from the rendered SVG, pairwise
  (overlapping by more than :data:`OVERLAP_PX`), and any of them sticking out of the figure
  (cut off) or lying on a plotting area. A text's box is the box it is drawn in: its own
  upright box turned by its transform, so two slanted tick labels side by side (rotated bar
  labels) are compared as the slanted strips they are, not as the upright rectangles around
  them, which overlap although no letters do (that false positive failed notebook 02's bar
  charts); the overlap of two such boxes is measured by separating axes;
* **too many legend entries** (more than :data:`MAX_LEGEND_ENTRIES`);
* **a scroll box inside the section** (it traps the mouse wheel);
* **small text**: visible text smaller than :data:`MIN_FONT_PX` of the style;
* **width**: nothing drawn in the section reaches past the notebook's right edge (what an
  svg clips is not drawn: see ``drawnRight``).

What a closed disclosure holds (a long table, the provenance) is not on the screen and not
checked. The page's CPU is not slowed for these checks (a layout does not depend on the CPU's
speed; the live checks of the other browser tests run on the slow device).

Each section's height is written, per notebook and style, to
``test-artifacts/layout-heights-<notebook>.json`` (with the screen's height), and what the class
sees of it to ``test-artifacts/layout-<notebook>-<cell>-<style>.png``. Fails (never skips) when
Chromium is missing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser_harness import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

SCREEN = (1280, 720)
"""The projector: the page's viewport."""
NOTEBOOKS = (
    "01_kernel_explorer.ipynb",
    "02_flops_lab.ipynb",
    "03_train_cifar10.ipynb",
    "04_best_p.ipynb",
)
OVERLAP_PX = 1.5
"""Two text boxes overlap when they share more than this many px in x and in y."""
MAX_LEGEND_ENTRIES = 9
MIN_FONT_PX = {"default": 12.0, "projector": 15.0}
"""Smallest readable text per style (HTML and SVG text, px)."""

_CELLS = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell"

_SECTIONS_JS = """
() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const cells = [...panel.querySelectorAll('.jp-Notebook .jp-Cell')];
  const out = [];
  cells.forEach((cell, i) => {
    if (!cell.classList.contains('jp-CodeCell')) return;
    // a section: an output holding a widget with the package's classes (the setup report's
    // widget probe too: the class sees the report on the projector)
    const views = [...cell.querySelectorAll('.jp-OutputArea-output .jupyter-widgets')];
    const ours = '[class*="hetconv-"]';
    if (views.some((w) => w.matches(ours) || w.querySelector(ours))) out.push(i);
  });
  return out;
}
"""

_CHECK_JS = r"""
([index, minFont, overlapPx, maxLegend]) => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const cell = panel.querySelectorAll('.jp-Notebook .jp-Cell')[index];
  const area = cell.querySelector('.jp-Cell-outputArea');
  const roots = [...area.querySelectorAll('.jp-OutputArea-output > *')];
  const problems = [];
  const say = (kind, text, detail) => problems.push(
      {kind, text: String(text || '').replace(/\s+/g, ' ').trim().slice(0, 60), detail});
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) return false;
    for (let e = el; e && e !== area; e = e.parentElement) {
      const cs = getComputedStyle(e);
      if (cs.display === 'none' || cs.visibility === 'hidden' || cs.opacity === '0') return false;
    }
    return true;
  };
  const canvas = document.createElement('canvas').getContext('2d');
  const textWidth = (el, text) => {
    const cs = getComputedStyle(el);
    canvas.font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
    return canvas.measureText(text).width;
  };
  const inner = (el) => {
    const cs = getComputedStyle(el);
    return el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
  };
  // A text's drawn box as four screen points: its own (unrotated) box mapped through its
  // transform, so a rotated tick label is its slanted box, not the upright box around it.
  const corners = (t) => {
    const b = t.getBBox(), m = t.getScreenCTM();
    return [[b.x, b.y], [b.x + b.width, b.y], [b.x + b.width, b.y + b.height],
            [b.x, b.y + b.height]].map(([x, y]) => [m.a * x + m.c * y + m.e,
                                                    m.b * x + m.d * y + m.f]);
  };
  // How deep two convex quadrilaterals overlap (px; <= 0: apart), by separating axes: the
  // smallest overlap of their projections on the normals of all their edges.
  const overlap = (p, q) => {
    let depth = Infinity;
    for (const poly of [p, q]) {
      for (let i = 0; i < poly.length; i++) {
        const [x1, y1] = poly[i], [x2, y2] = poly[(i + 1) % poly.length];
        const len = Math.hypot(x2 - x1, y2 - y1);
        if (len < 1e-9) continue;
        const nx = (y1 - y2) / len, ny = (x2 - x1) / len;
        const span = (pts) => {
          const v = pts.map(([x, y]) => x * nx + y * ny);
          return [Math.min(...v), Math.max(...v)];
        };
        const [a0, a1] = span(p), [b0, b1] = span(q);
        depth = Math.min(depth, Math.min(a1, b1) - Math.max(a0, b0));
      }
    }
    return depth;
  };
  // How far right an element is drawn. Inside an <svg> that clips what overflows it (a
  // plotly figure's, as every inline svg by default), only as far as that svg: its box from
  // getBoundingClientRect is the geometry's, not what is drawn. (A figure that fills its
  // column has invisible drag handles reaching 20 px past its plot area, into and past a
  // small right margin; clipped by the figure's svg, nothing of them is on the screen or
  // can be grabbed, so they made false "wider than the notebook" findings.)
  const drawnRight = (el) => {
    let right = el.getBoundingClientRect().right;
    for (let svg = el.ownerSVGElement; svg; svg = svg.ownerSVGElement) {
      if (['hidden', 'clip'].includes(getComputedStyle(svg).overflowX)) {
        right = Math.min(right, svg.getBoundingClientRect().right);
      }
    }
    return right;
  };
  let right = 0, widest = '';
  for (const root of roots) {
    for (const el of [root, ...root.querySelectorAll('*')]) {
      const r = drawnRight(el);
      if (r > right && shown(el)) {
        right = r;
        widest = String(el.className.baseVal ?? el.className);
      }
    }
    // 1. clipped controls
    const controls = root.querySelectorAll(
      'input, select, label, button, .widget-readout, .widget-label, .widget-label-basic');
    for (const el of controls) {
      if (!shown(el) || el.closest('.js-plotly-plot')) continue;
      const tag = el.tagName;
      if (tag === 'INPUT' && ['text', 'number', ''].includes(el.type)) {
        const need = textWidth(el, el.value || el.placeholder || '');
        if (need > inner(el) + 1) say('clipped input', el.value || el.placeholder,
                                      `${need.toFixed(0)} px of text in ${inner(el)} px`);
      } else if (tag === 'SELECT') {
        const opt = el.options[el.selectedIndex];
        const need = opt ? textWidth(el, opt.text) : 0;
        if (need > inner(el) - 14) say('clipped select', opt && opt.text,
                                       `${need.toFixed(0)} px of text in ${inner(el)} px`);
      } else if (el.scrollWidth > el.clientWidth + 1) {
        say(`clipped ${tag.toLowerCase()}`, el.textContent,
            `${el.scrollWidth} px of text in ${el.clientWidth} px`);
      }
    }
    // 2. scroll boxes inside the section
    for (const el of root.querySelectorAll('*')) {
      if (el.closest('.js-plotly-plot') || !shown(el)) continue;
      const cs = getComputedStyle(el);
      if (/(auto|scroll)/.test(cs.overflowY) && el.scrollHeight > el.clientHeight + 2) {
        say('scroll box', el.className, `${el.scrollHeight} px in ${el.clientHeight} px`);
      }
    }
    // 3. small HTML text
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    const seen = new Set();
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (!node.textContent.trim() || !el || seen.has(el) || el.closest('svg, sub, sup')) {
        continue;
      }
      seen.add(el);
      if (!shown(el) || el.closest('style')) continue;
      const size = parseFloat(getComputedStyle(el).fontSize);
      if (size < minFont - 0.01) say('small text', node.textContent, `${size} px`);
    }
    // 4. figures
    for (const gd of root.querySelectorAll('.js-plotly-plot')) {
      if (!shown(gd)) continue;
      // what can be seen of the figure: its own box, within the notebook's output area
      const own = gd.getBoundingClientRect(), shownArea = area.getBoundingClientRect();
      const box = {left: Math.max(own.left, shownArea.left), top: own.top, bottom: own.bottom,
                   right: Math.min(own.right, shownArea.right)};
      const title = (gd.layout && gd.layout.title && gd.layout.title.text) || 'figure';
      const texts = [];
      const add = (sel, kind) => gd.querySelectorAll(sel).forEach((t) => {
        if (!t.textContent.trim() || !shown(t)) return;
        texts.push({t, kind, r: t.getBoundingClientRect(), q: corners(t)});
      });
      add('.infolayer .g-gtitle text', 'title');
      add('.infolayer [class$="title"] text:not(.legendtitletext), '
          + '.infolayer text[class$="title"]:not(.gtitle)', 'axis title');
      add('.xaxislayer-above text, .yaxislayer-above text', 'tick label');
      add('.legend text.legendtext, .legend text.legendtitletext', 'legend');
      add('.annotation text', 'annotation');
      add('.colorbar text', 'colour bar');
      const uniq = [...new Map(texts.map((x) => [x.t, x])).values()];
      for (const x of uniq) {
        const size = parseFloat(getComputedStyle(x.t).fontSize);
        if (size < minFont - 0.01) say('small figure text', x.t.textContent,
                                        `${size} px in "${title}"`);
        const r = x.r;
        if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1
            || r.bottom > box.bottom + 1) {
          say('text cut off', x.t.textContent, `${x.kind} outside "${title}"`);
        }
      }
      for (let i = 0; i < uniq.length; i++) {
        for (let j = i + 1; j < uniq.length; j++) {
          if (overlap(uniq[i].q, uniq[j].q) > overlapPx) {
            say('overlapping text', `${uniq[i].t.textContent} / ${uniq[j].t.textContent}`,
                `${uniq[i].kind} on ${uniq[j].kind} in "${title}"`);
          }
        }
      }
      // axis titles and tick labels sit outside every plotting area
      const areas = [...gd.querySelectorAll('.draglayer .nsewdrag')].map(
          (d) => d.getBoundingClientRect()).filter((r) => r.width > 1 && r.height > 1);
      for (const x of uniq) {
        if (x.kind !== 'axis title' && x.kind !== 'tick label') continue;
        for (const a of areas) {
          const rect = [[a.left, a.top], [a.right, a.top], [a.right, a.bottom], [a.left, a.bottom]];
          if (overlap(x.q, rect) > overlapPx) {
            say('text over a plot', x.t.textContent, `${x.kind} in "${title}"`);
            break;
          }
        }
      }
      const entries = gd.querySelectorAll('.legend .traces').length;
      if (entries > maxLegend) say('long legend', title, `${entries} entries`);
    }
  }
  const avail = area.getBoundingClientRect().right;
  if (right > avail + 1) say('wider than the notebook', widest, `${Math.round(right)} > ${avail}`);
  // 5. one screen: the section fits in what the notebook shows at once
  const height = Math.round(area.getBoundingClientRect().height);
  const view = (panel.querySelector('.jp-WindowedPanel-outer')
                || panel.querySelector('.jp-Notebook'));
  const screen = view.clientHeight;
  if (height > screen) say('taller than the screen', '', `${height} px > ${screen} px`);
  return {problems, height, screen};
}
"""


@pytest.fixture
def lab(lab_notebooks, notebook: str):
    """``notebook`` in the session's JupyterLab: run once, as the only tab of its workspace,
    at 1280×720 with the left sidebar closed (as on a projector), before any other test moved
    a control; its CPU no longer slowed for the checks (a layout does not depend on it)."""
    lab = lab_notebooks.notebook(notebook, cpu_slowdown=1.0)
    assert lab.page.viewport_size == {"width": SCREEN[0], "height": SCREEN[1]}
    return lab


def _set_projector(lab, on: bool) -> None:
    switch = lab.page.locator("button.hetconv-projector-switch").first
    if ("mod-active" in (switch.get_attribute("class") or "")) != on:
        switch.click()
    lab.page.wait_for_function(
        """(on) => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) '
                 + '.hetconv-projector-switch')].every(
                   (b) => b.classList.contains('mod-active') === on)""",
        arg=on,
    )
    lab.page.wait_for_timeout(1500)  # figures and widgets restyled


def _check_sections(lab, name: str, style: str, heights: dict[str, int]) -> list[str]:
    stem = name.removesuffix(".ipynb")
    report = []
    sections = lab.page.evaluate(_SECTIONS_JS)
    assert len(sections) >= 4, f"{name}: only {len(sections)} sections found to check"
    for index in sections:
        output = lab.page.locator(_CELLS).nth(index).locator(".jp-Cell-outputArea").first
        output.evaluate("(el) => el.scrollIntoView({block: 'start'})")
        lab.page.wait_for_timeout(200)
        result = lab.page.evaluate(
            _CHECK_JS, [index, MIN_FONT_PX[style], OVERLAP_PX, MAX_LEGEND_ENTRIES]
        )
        heights[f"{style} cell {index}"] = result["height"]
        heights["screen"] = result["screen"]
        lab.screenshot(f"layout-{stem}-{index:02d}-{style}")  # what the class sees
        where = f"{stem} cell {index} ({style})"
        report += [f"{where}: {p['kind']}: {p['text']!r} {p['detail']}" for p in result["problems"]]
    return report


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_section_fits_a_projector_screen(lab, notebook: str) -> None:
    problems: list[str] = []
    heights: dict[str, int] = {}
    for style, on in (("default", False), ("projector", True)):
        _set_projector(lab, on)
        problems += _check_sections(lab, notebook, style, heights)
    _set_projector(lab, False)
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"layout-heights-{notebook.removesuffix('.ipynb')}.json"
    path.write_text(json.dumps(heights, indent=1))
    assert not problems, f"{len(problems)} layout problems:\n" + "\n".join(problems)
