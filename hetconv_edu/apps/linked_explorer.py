"""The linked explorer: a HetConv layer on one screen, every view linked (notebook 01).

:class:`LinkedExplorerApp` wires controls to the pure views of
:mod:`hetconv_edu.viz.linked_explorer` and the filter responses of
:mod:`hetconv_edu.filter_response`: one compact bar of controls (M, N, K, P, filter n, D_o, a
family to compare with, the image, the weights), one figure (the kernel map; filter n at its
real kernel sizes over its input channels and applied to a test image) and beside it the
formula (FL_H with today's numbers).

How the views are linked, and why this way. Figures are shown by
:class:`~hetconv_edu.apps.live_figure.LiveFigure` (the whole figure rendered by plotly's own
renderer inside an ``ipywidgets.Output``; plotly's ``FigureWidget`` lost updates on slow
machines and is not used), so there are no Python callbacks on plotly events. The linking
therefore happens in the page:

* **Hover** (no kernel round-trip). Every trace names its link in ``meta`` (``"kxk"`` for
  everything the K×K term counts, ``"1x1"`` for the 1×1 term); the formula's terms carry
  ``data-link``. A small script, run by the page when it draws the app (the ``onerror`` of a
  hidden image inside an ``ipywidgets.HTML``, whose content the widget manager inserts as it
  is, in JupyterLab and Voilà alike), listens to plotly's own ``plotly_hover`` /
  ``plotly_unhover`` events on every figure of the app (re-attached whenever a figure is
  redrawn) and to the mouse on the formula, and sets the hovered link as an attribute of the
  app's root element. CSS rules (:func:`~hetconv_edu.viz.linked_explorer.link_css`, sent with
  each figure) then highlight the formula term, the filter's kernels and input channels and the
  path's response map of that link. Nothing runs in Python on a hover, so it is instant even
  while the kernel is busy.
* **Click** on a map cell (one kernel round-trip): the script writes the clicked filter into a
  hidden ``IntText``, which ipywidgets syncs to the kernel; the app moves the filter slider
  there and redraws like any other control change.

Every control change recomputes all views in Python (``benchmarks/explorer_update.py``
measures it at M = N = 512). A setting that cannot be drawn is said in the status line, never
as a traceback.
"""

from __future__ import annotations

import html
import logging
import os
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from hetconv_edu.apps.controls import ChannelControls, LayerValues
from hetconv_edu.apps.explorer import OUT_SIZES
from hetconv_edu.apps.live_figure import NO_FIGURE_CLASS, LiveFigure
from hetconv_edu.apps.training import RUNS_ENV
from hetconv_edu.data.samples import SampleImages, sample_images
from hetconv_edu.filter_response import (
    FilterResponder,
    RandomWeights,
    TrainedRun,
    TrainedWeights,
    find_trained_runs,
)
from hetconv_edu.viz import style
from hetconv_edu.viz.explorer import ExplorerState
from hetconv_edu.viz.linked_explorer import (
    FIGURE_CLASS,
    FIGURE_WIDTH,
    LINK_ATTRIBUTE,
    ROOT_CLASS,
    formula_html,
    link_css,
    linked_figure_data,
    unchecked_figure,
)
from hetconv_edu.viz.style import css_width

__all__ = ["COMPARE_CHOICES", "LINK_SCRIPT", "PICK_CLASS", "LinkedExplorerApp"]

log = logging.getLogger(__name__)

PICK_CLASS = "hetconv-pick-filter"
"""CSS class of the hidden box the page writes a clicked filter into."""
COMPARE_CHOICES: tuple[tuple[str, str | None], ...] = (
    ("nothing", None),
    ("standard", "standard"),
    ("naive HetConv", "naive_hetconv"),
    ("depthwise+pointwise", "depthwise_pointwise"),
    ("groupwise+pointwise", "groupwise_pointwise"),
)
"""The families the formula can compare with (short label, family key of
:data:`~hetconv_edu.viz.explorer.EXPLORER_FAMILIES`)."""
_RANDOM = "random"

LINK_SCRIPT = f"""
(function (img) {{
  var tries = 0;
  function setUp() {{
    var root = img.closest('.{ROOT_CLASS}');
    if (!root) {{ if (tries++ < 400) setTimeout(setUp, 50); return; }}
    if (root.hetconvLinked) return;
    root.hetconvLinked = true;
    function show(link) {{
      if (link) root.setAttribute('{LINK_ATTRIBUTE}', link);
      else root.removeAttribute('{LINK_ATTRIBUTE}');
    }}
    function metaOf(ev) {{
      var pt = ev && ev.points && ev.points[0];
      return pt ? [pt, pt.data && pt.data.meta ? pt.data.meta : {{}}] : [null, {{}}];
    }}
    function attach() {{
      root.querySelectorAll('.js-plotly-plot').forEach(function (gd) {{
        if (gd.hetconvLinked || typeof gd.on !== 'function') return;
        gd.hetconvLinked = true;
        show(null);  /* a redrawn figure: the part that was hovered is gone */
        gd.on('plotly_hover', function (ev) {{ show(metaOf(ev)[1].link); }});
        gd.on('plotly_unhover', function () {{ show(null); }});
        gd.on('plotly_click', function (ev) {{
          var hit = metaOf(ev);
          if (!hit[0] || hit[1].pick !== 'filter') return;
          var box = root.querySelector('.{PICK_CLASS} input');
          if (!box) return;
          box.value = String(Math.round(hit[0].y));
          box.dispatchEvent(new Event('change', {{bubbles: true}}));
        }});
      }});
    }}
    root.addEventListener('mouseover', function (ev) {{
      var term = ev.target.closest ? ev.target.closest('[data-link]') : null;
      if (term) show(term.getAttribute('data-link'));
    }});
    root.addEventListener('mouseleave', function () {{ show(null); }});
    root.addEventListener('mouseout', function (ev) {{
      var term = ev.target.closest ? ev.target.closest('[data-link]') : null;
      if (term) show(null);
    }});
    new MutationObserver(attach).observe(root, {{childList: true, subtree: true}});
    attach();
  }}
  setUp();
}})(this);
"""
"""The page's side of the linking (see the module): run once per drawn app. It is sent as one
line (an attribute), so it holds no ``//`` comments."""


def _hidden_html(value: str) -> widgets.HTML:
    return widgets.HTML(value, layout=widgets.Layout(display="none"))


_LABEL_STYLE = {"description_width": "initial"}


def _menu(description: str, tooltip: str, width: int, **kw: Any) -> widgets.Dropdown:
    """A compact labelled menu of the bar, ``width`` px wide at the projector scale."""
    return widgets.Dropdown(
        description=description,
        tooltip=tooltip,
        style=_LABEL_STYLE,
        layout=widgets.Layout(width=css_width(width)),
        **kw,
    )


def _short(name: str) -> str:
    """``"cat (test image 3)"`` → ``"cat"``."""
    return name.split(" (")[0]


class LinkedExplorerApp:
    """The linked explorer (see the module). Display it (or ``.widget``).

    Args:
        in_channels, out_channels, kernel_size, p: the layer (P moves to a valid value).
        filter_index: filter n (clamped to 0 … N − 1).
        out_size: D_o of the cost.
        compare: a family of :data:`~hetconv_edu.viz.explorer.EXPLORER_FAMILIES` whose cost
            the formula compares with, or None.
        images: the test images (default :func:`~hetconv_edu.data.samples.sample_images`:
            CIFAR-10, else Fashion-MNIST, else a drawn pattern).
        run_dir: where notebook 03's runs are (default ``$HETCONV_EDU_RUNS`` or ``runs``);
            runs with a HetConv layer trained on the images' data set are offered as weights.
        seed: of the random weights and of the random first layer.

    Raises:
        ValueError: an unknown ``compare`` family.
    """

    def __init__(
        self,
        in_channels: int = 16,
        out_channels: int = 16,
        kernel_size: int = 3,
        p: int = 4,
        *,
        filter_index: int = 0,
        out_size: int = 32,
        compare: str | None = "naive_hetconv",
        images: SampleImages | None = None,
        run_dir: str | Path | None = None,
        seed: int = 0,
    ) -> None:
        keys = [key for _label, key in COMPARE_CHOICES]
        if compare not in keys:
            raise ValueError(
                f"unknown compare family {compare!r}; choose one of {keys[1:]} or None"
            )
        self.update_count = 0
        self.last_error: str | None = None
        self._busy = False
        self.images = images if images is not None else sample_images()
        self.responder = FilterResponder(self.images)
        self._random = RandomWeights(seed)
        self._weights: RandomWeights | TrainedWeights = self._random
        self._trained: dict[str, TrainedWeights] = {}
        folder = run_dir or os.environ.get(RUNS_ENV) or "runs"
        self.runs: list[TrainedRun] = [
            r for r in find_trained_runs(folder) if r.dataset == self.images.dataset
        ]

        self.controls = ChannelControls(in_channels, out_channels, kernel_size, p)
        self._compact_controls()
        self._build_controls(int(filter_index), int(out_size), compare, seed)
        self._build_outputs()
        self.figure = LiveFigure(css_class=FIGURE_CLASS)
        """The kernel map and filter n's detail views (one figure)."""
        self.widget = self._build_page()
        style.track_widget(self.widget)
        self.update()
        self._wire()

    # ------------------------------------------------------------------ building

    def _build_controls(
        self, filter_index: int, out_size: int, compare: str | None, seed: int
    ) -> None:
        """The bar's own controls beside the shared M/N/P: K as a menu, filter n, D_o, the
        compared family, the image and the weights."""
        self.kernel_size = _menu(
            "K",
            "K: the large kernels are K×K",
            92,
            options=self.controls.kernel_size.options,
            value=self.controls.kernel_size.value,
        )
        # the shared K buttons, as a compact menu: either one changes the other
        widgets.link((self.kernel_size, "value"), (self.controls.kernel_size, "value"))
        n = self.controls.values.out_channels
        self.filter_index = widgets.IntSlider(
            value=min(max(0, filter_index), n - 1),
            min=0,
            max=n - 1,
            description="filter n",
            tooltip="the filter drawn in detail; or click a row of the map",
            style=_LABEL_STYLE,
            layout=widgets.Layout(width=css_width(190)),
        )
        self.out_size = _menu(
            "D<sub>o</sub>",
            "output size D_o × D_o of the cost",
            118,
            options=[(f"{d}×{d}", d) for d in sorted({*OUT_SIZES, out_size})],
            value=out_size,
            description_allow_html=True,
        )
        self.compare = _menu(
            "vs",
            "a family whose cost the formula compares with",
            190,
            options=list(COMPARE_CHOICES),
            value=compare,
        )
        for control in (self.out_size, self.compare):
            control.add_class(NO_FIGURE_CLASS)  # they change the formula only
        self.image = _menu(
            "image",
            self.images.note,
            180,
            options=[(_short(name), i) for i, name in enumerate(self.images.names)],
            value=0,
        )
        self.weights = self._weights_menu(seed)

    def _weights_menu(self, seed: int) -> widgets.Dropdown:
        """Random weights, or the first HetConv layer of each of notebook 03's runs found."""
        return _menu(
            "weights",
            (
                "train a HetConv network in notebook 03 to see its first HetConv layer here"
                if not self.runs
                else "random weights, or the first HetConv layer of a run of notebook 03"
            ),
            218,
            options=[(f"random (seed {seed})", _RANDOM)]
            + [(r.label, str(r.path)) for r in self.runs],
            value=_RANDOM,
            disabled=not self.runs,
        )

    def _build_outputs(self) -> None:
        """The status line, the formula, and the hidden parts the page uses: the picked-filter
        box, the link CSS and the linking script."""
        self.pick = widgets.IntText(value=-1, layout=widgets.Layout(display="none"))
        self.pick.add_class(PICK_CLASS)
        self.status = widgets.HTML(value="")
        self.status.add_class("hetconv-status")
        self.formula = widgets.HTML(value="")
        self.formula.add_class("hetconv-formula-box")
        self.link_style = _hidden_html("")
        script = html.escape(" ".join(LINK_SCRIPT.split()), quote=True)
        self._script = _hidden_html(f'<img src="data:," alt="" onerror="{script}">')

    def _control_bar(self) -> widgets.HBox:
        items = [
            self.controls.in_channels,
            self.controls.out_channels,
            self.kernel_size,
            self.controls.p,
            self.filter_index,
            self.out_size,
            self.compare,
            self.image,
            self.weights,
        ]
        for item in items:
            item.layout.flex = "0 0 auto"
            item.layout.margin = "2px 10px 2px 0"
        bar = widgets.HBox(items, layout=widgets.Layout(flex_flow="row wrap", align_items="center"))
        bar.add_class("hetconv-linked-bar")
        return bar

    def _build_page(self) -> widgets.VBox:
        """The control bar over the figure with the formula, note and status beside it; the
        root carries :data:`ROOT_CLASS` (where the page sets the hovered link)."""
        figure_box = widgets.Box(
            [self.figure.widget],
            layout=widgets.Layout(width=f"{FIGURE_WIDTH}px", flex="0 0 auto"),
        )
        side = widgets.VBox(
            [self.formula, self.controls.note, self.status],
            layout=widgets.Layout(flex="1 1 0", min_width="0", padding="0 0 0 10px"),
        )
        root = widgets.VBox(
            [
                self._control_bar(),
                widgets.HBox([figure_box, side], layout=widgets.Layout(align_items="flex-start")),
                self.pick,
                self.link_style,
                self._script,
            ]
        )
        root.add_class(ROOT_CLASS)
        return root

    def _wire(self) -> None:
        self.controls.on_change(self._on_layer)
        for control in (self.filter_index, self.out_size, self.compare, self.image):
            control.observe(self._on_change, names="value")
        self.weights.observe(self._on_weights, names="value")
        self.pick.observe(self._on_pick, names="value")

    def _compact_controls(self) -> None:
        """The shared M/N/P controls with one-letter labels (their tooltips say more)."""
        c = self.controls
        c.in_channels.description, c.in_channels.layout.width = "M", css_width(88)
        c.out_channels.description, c.out_channels.layout.width = "N", css_width(88)
        c.p.description, c.p.layout.width = "P", css_width(190)

    # ------------------------------------------------------------------ state and update

    @property
    def state(self) -> ExplorerState:
        """The setting the controls show now (the layer is HetConv)."""
        v = self.controls.values
        return ExplorerState(
            in_channels=v.in_channels,
            out_channels=v.out_channels,
            kernel_size=v.kernel_size,
            p=v.p,
            family="hetconv",
            compare=self.compare.value,
            filter_index=int(self.filter_index.value),
            out_size=int(self.out_size.value),
        )

    @property
    def weights_in_use(self) -> RandomWeights | TrainedWeights:
        """The weights the views show."""
        return self._weights

    def update(self) -> None:
        """Recompute every view from the controls. Never raises: a failure is shown in the
        status line (and kept in ``last_error``) instead of a traceback."""
        try:
            state = self.state
            response = self.responder.response(
                self._weights,
                state.in_channels,
                state.out_channels,
                state.kernel_size,
                state.p,
                state.filter_index,
                int(self.image.value),
            )
            data = linked_figure_data(state, response)
            self.figure.show(unchecked_figure(data))
            self.formula.value = formula_html(state)
            self.link_style.value = f"<style>{link_css(data)}</style>"
        except Exception as exc:  # a student's click must never end in a traceback
            log.exception("linked explorer update failed")
            self.last_error = f"{type(exc).__name__}: {exc}"
            self._say(f"This setting could not be drawn: {' '.join(str(exc).split())[:300]}")
            return
        self.last_error = None
        self.update_count += 1

    def _say(self, text: str, kind: str = "error") -> None:
        """Show ``text`` in the status line as a message of ``kind`` (empty: clear it)."""
        self.status.value = style.message_html(kind, text) if text else ""

    def set(self, **values: Any) -> ExplorerState:
        """Set several controls at once and redraw once (presets, tests).

        Keys: ``in_channels``, ``out_channels``, ``kernel_size``, ``p`` (moved to the nearest
        valid value), ``filter_index`` (clamped), ``out_size``, ``compare``, ``image`` (an
        index of the images).
        """
        layer_keys = ("in_channels", "out_channels", "kernel_size", "p")
        unknown = set(values) - {*layer_keys, "filter_index", "out_size", "compare", "image"}
        if unknown:
            raise ValueError(f"unknown explorer settings: {sorted(unknown)}")
        self._busy = True
        try:
            layer = {k: values[k] for k in layer_keys if k in values}
            if layer:
                self.controls.set(**layer)
                self._keep_weights_fitting()
            self._sync_filter_range()
            if "filter_index" in values:
                self.filter_index.value = min(
                    max(0, int(values["filter_index"])), self.filter_index.max
                )
            for key, control in (
                ("out_size", self.out_size),
                ("compare", self.compare),
                ("image", self.image),
            ):
                if key in values:
                    control.value = values[key]
        finally:
            self._busy = False
        self.update()
        return self.state

    # ------------------------------------------------------------------ callbacks

    def _sync_filter_range(self) -> None:
        n = self.controls.values.out_channels
        if self.filter_index.max != n - 1:
            if self.filter_index.value > n - 1:
                self.filter_index.value = n - 1
            self.filter_index.max = n - 1

    def _keep_weights_fitting(self) -> None:
        """Back to random weights when the setting is no longer the trained layer's."""
        w = self._weights
        if isinstance(w, TrainedWeights) and not w.fits(*self._layer_tuple()):
            self._weights = self._random
            self.weights.value = _RANDOM
            self._say(
                f"The trained layer is M={w.in_channels}, N={w.out_channels}, K={w.kernel_size}, "
                f"P={w.p}: this setting shows random weights.",
                "info",
            )

    def _layer_tuple(self) -> tuple[int, int, int, int]:
        v = self.controls.values
        return v.in_channels, v.out_channels, v.kernel_size, v.p

    def _on_layer(self, _values: LayerValues) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            self._sync_filter_range()
            self._keep_weights_fitting()
        finally:
            self._busy = False
        self.update()

    def _on_change(self, _change: dict) -> None:
        if not self._busy:
            self.update()

    def _on_pick(self, change: dict) -> None:
        picked = int(change["new"])
        if picked < 0:
            return
        self.pick.value = -1  # a later click on the same row is a change again
        if 0 <= picked <= self.filter_index.max:
            self.filter_index.value = picked  # redraws through _on_change

    def _on_weights(self, change: dict) -> None:
        if self._busy:
            return
        if change["new"] == _RANDOM:
            self._weights = self._random
            self._say("")
            self.update()
            return
        run = next(r for r in self.runs if str(r.path) == change["new"])
        try:
            if run.name not in self._trained:
                self._trained[run.name] = TrainedWeights(run)
        except Exception as exc:  # a damaged checkpoint is a message, not a traceback
            log.exception("loading %s failed", run.path)
            self._busy = True
            try:
                self.weights.value = _RANDOM
            finally:
                self._busy = False
            self._say(f"The weights of {run.name} could not be read: {exc}")
            return
        trained = self._trained[run.name]
        self._weights = trained
        self._say("")
        self.set(
            in_channels=trained.in_channels,
            out_channels=trained.out_channels,
            kernel_size=trained.kernel_size,
            p=trained.p,
        )

    def _repr_mimebundle_(self, **kwargs):  # display the app itself in a notebook
        return self.widget._repr_mimebundle_(**kwargs)
