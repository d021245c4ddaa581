"""How the linked explorer's views highlight together, in the page: the CSS that shows every
part of the hovered link while the app's root element carries it
(:data:`~hetconv_edu.viz.linked.state.LINK_ATTRIBUTE`). No Python runs on a hover.
"""

from __future__ import annotations

from typing import Any

from hetconv_edu.pattern import Kernel
from hetconv_edu.viz.explorer import FigureData
from hetconv_edu.viz.linked.state import FIGURE_CLASS, LINK_ATTRIBUTE, LINKS, ROOT_CLASS
from hetconv_edu.viz.style import KIND_COLORS

__all__ = ["link_css", "link_shape_indices"]


def link_shape_indices(layout: dict[str, Any]) -> dict[str, list[int]]:
    """Indices of the link shapes in ``layout["shapes"]``, by link."""
    out: dict[str, list[int]] = {link: [] for link in LINKS}
    for i, shape in enumerate(layout.get("shapes", ())):
        name = str(shape.get("name", ""))
        if name.startswith("link-") and name[5:] in out:
            out[name[5:]].append(i)
    return out


def link_css(data: FigureData) -> str:
    """The CSS that highlights every part of a link while the root carries it: the formula's
    term and bar segment (classes ``hetconv-term-<link>``) and the figure's link shapes."""
    rules = []
    for link, indices in link_shape_indices(data.layout).items():
        scope = f".{ROOT_CLASS}[{LINK_ATTRIBUTE}='{link}']"
        if indices:
            paths = ",".join(f"[data-index='{i}']" for i in indices)
            rules.append(
                f"{scope} .{FIGURE_CLASS} .shapelayer path:is({paths}) {{opacity: 1 !important}}"
            )
        rules.append(f"{scope} .hetconv-term-{link} {{{_HIGHLIGHT[link]}}}")
    return "\n".join(rules)


_HIGHLIGHT = {
    "kxk": f"background: {KIND_COLORS[Kernel.FULL]}; color: #FFFFFF; "
    f"outline: 2px solid {KIND_COLORS[Kernel.FULL]};",
    "1x1": f"background: {KIND_COLORS[Kernel.ONE]}; color: #000000; "
    f"outline: 2px solid {KIND_COLORS[Kernel.ONE]};",
}
