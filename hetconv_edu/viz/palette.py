"""The colours of the package's messages and notes, and their CSS: no third-party import.

:mod:`hetconv_edu.viz.style` ships these rules inside every app (part of its ``PAGE_CSS``) and
re-exports every name here; :mod:`hetconv_edu.doctor` uses them for its setup report, which must
render where plotly or the widgets are broken, hence this module imports nothing but the
standard library.

* :data:`MESSAGE_COLORS` — the one palette of the message kinds (info, ok, warn, error).
* :data:`MESSAGE_CSS` — the rules of the classes ``hetconv-message hetconv-<kind>`` (a status
  box) and ``hetconv-text-<kind>`` (a coloured sentence).
* :func:`message_html`, :func:`text_html`, :func:`note_html`, :func:`note_details` — the HTML.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

__all__ = [
    "MESSAGE_COLORS",
    "MESSAGE_CSS",
    "NOTE_COLOR",
    "message_html",
    "note_details",
    "note_html",
    "text_html",
]

MESSAGE_COLORS: Mapping[str, tuple[str, str]] = {
    "info": ("#1B4F72", "#EAF2FB"),
    "ok": ("#17542D", "#E8F6EC"),
    "warn": ("#613B00", "#FFF4E0"),
    "error": ("#8A1818", "#FDECEC"),
}
"""Text and background colour of each kind of message (status lines, answer feedback, the
setup report): the package's one palette for them (text on background ≥ 7:1, WCAG AAA)."""

NOTE_COLOR = "#555555"
"""Grey of secondary text (notes under controls, formulas, captions): 7.5:1 on white."""

MESSAGE_CSS = (
    ".hetconv-message{padding:5px 10px;border-radius:4px;white-space:normal;line-height:1.4;"
    "margin:2px 0}"
    + "".join(
        f".hetconv-message.hetconv-{kind}{{color:{fg};background:{bg}}}"
        f".hetconv-text-{kind}{{color:{fg};font-weight:bold}}"
        for kind, (fg, bg) in MESSAGE_COLORS.items()
    )
    + f".hetconv-note{{color:{NOTE_COLOR}}}"
)
"""The rules of the message classes, one palette (:data:`MESSAGE_COLORS`)."""


def message_html(kind: str, text: str) -> str:
    """A status message box: ``kind`` is one of :data:`MESSAGE_COLORS` (info, ok, warn,
    error); ``text`` is plain text (escaped here; line breaks kept).

    Raises:
        ValueError: ``kind`` is not one of the message kinds.
    """
    if kind not in MESSAGE_COLORS:
        raise ValueError(f"kind must be one of {', '.join(MESSAGE_COLORS)}, got {kind!r}")
    body = html.escape(text).replace("\n", "<br>")
    return f"<div class='hetconv-message hetconv-{kind}'>{body}</div>"


def text_html(kind: str, markup: str) -> str:
    """``markup`` (HTML, not escaped) as a bold sentence in the colour of message ``kind``
    (e.g. an answer's feedback: ``text_html("ok", "✔ Right: 8.")``).

    Raises:
        ValueError: ``kind`` is not one of the message kinds.
    """
    if kind not in MESSAGE_COLORS:
        raise ValueError(f"kind must be one of {', '.join(MESSAGE_COLORS)}, got {kind!r}")
    return f"<span class='hetconv-text-{kind}'>{markup}</span>"


def note_details(label: str, text: str) -> str:
    """A grey note that shows ``label`` and the gist of ``text`` (plain text, escaped here; up
    to its first colon or full stop) in one line and opens to the whole of it: a long caveat
    (e.g. a data loader's) that must not push a section off the screen."""
    gist = text
    for mark, end in ((": ", "…"), (". ", ".")):
        if mark in text:
            gist = text[: text.index(mark)] + end
            break
    return (
        f"<details class='hetconv-note'><summary>{html.escape(label)}: {html.escape(gist)}"
        f"</summary>{html.escape(text)}</details>"
    )


def note_html(markup: str, *, tag: str = "div") -> str:
    """``markup`` (HTML, not escaped) as a grey secondary note (:data:`CSS_CLASSES`)."""
    return f"<{tag} class='hetconv-note'>{markup}</{tag}>"
