"""The setup report in a notebook: the report, then a small widget that reads "Widgets work in
this page" only where the browser can draw widgets."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hetconv_edu.doctor.diagnosis import diagnose
from hetconv_edu.doctor.report import SETUP_CLASS, SETUP_CSS, Report
from hetconv_edu.doctor.server import RESTART_SERVER
from hetconv_edu.viz.palette import MESSAGE_CSS

__all__ = ["WIDGETS_BROKEN", "WIDGETS_WORK", "check_setup", "report_outputs"]

WIDGETS_WORK = "✔ Widgets work in this page."
WIDGETS_BROKEN = (
    "✘ Widgets do not work in this page: the browser has not loaded the widget extension, so "
    "sliders, buttons and live figures will be missing. " + RESTART_SERVER
)


@dataclass
class _WidgetProbe:
    """A small widget that reads :data:`WIDGETS_WORK` where widgets work; where they do not,
    the page falls back to the text (or HTML) version, which reads :data:`WIDGETS_BROKEN`."""

    widget: Any = field(repr=False)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.widget._repr_mimebundle_(**kwargs))
        bundle["text/plain"] = WIDGETS_BROKEN
        bundle["text/html"] = (
            f"<style>{MESSAGE_CSS}</style>"
            f"<div class='hetconv-text-error'>{html.escape(WIDGETS_BROKEN)}</div>"
        )
        return bundle


def report_outputs(report: Report) -> list[Any]:
    """What :func:`check_setup` displays: the report (plain HTML, readable even when widgets
    are broken), a hint for what the page alone can tell, and the widget probe."""
    outputs: list[Any] = [report]
    try:
        import ipywidgets
    except ImportError:
        return outputs
    from IPython.display import HTML

    outputs.append(
        HTML(
            f"<style>{SETUP_CSS}</style><div class='hetconv-note {SETUP_CLASS}'>Next line not <b>"
            f"{html.escape(WIDGETS_WORK)}</b> but 'Failed to load model class', 'Error "
            "displaying widget' or nothing? Restart the Jupyter server (not only the kernel), "
            "then reload the page.</div>"
        )
    )
    probe = ipywidgets.HTML(
        f"<style>{SETUP_CSS}</style>"
        f"<span class='hetconv-text-ok {SETUP_CLASS}'>{html.escape(WIDGETS_WORK)}</span>"
    )
    outputs.append(_WidgetProbe(probe))
    return outputs


def check_setup(data_root: str | Path | None = None) -> None:
    """Show the setup report in a notebook (for a first cell): green when all is well,
    otherwise each warning and error with its fix, then a widget that shows whether this page
    can draw widgets."""
    from IPython.display import display

    display(*report_outputs(diagnose(data_root)))
